/** read_committed under transactions committed and aborted by Kafka's own Java producer, while a broker is killed. */

import { setTimeout as sleep } from 'node:timers/promises';
import { bounceBroker, groupScenario, MEMBER_CONFIG, type Scenario } from '../scenario.ts';
import { TransactionalProducer } from '../transactional-producer.ts';

export const transactions: Scenario = {
  name: 'transactions',
  title: 'read_committed, with transactions committed and aborted while a broker is killed',
  guarantee: 'no aborted record delivered, no committed one lost; duplicates only explained ones',
  run: async (context) => {
    let producer: TransactionalProducer | null = null;
    return groupScenario(context, {
      memberConfig: { ...MEMBER_CONFIG, 'isolation.level': 'read_committed' },
      producer: (logFile, topic) => {
        producer = new TransactionalProducer({
          bootstrap: context.cluster.bootstrap('PLAINTEXT'),
          topic,
          partitions: 6,
          logFile,
          transactionalId: context.name('txn'),
        });
        return producer;
      },
      prefill: async () => {
        await producer!.started();
      },
      allowed: { duplicates: 'explained' },
      script: async (control) => {
        await control.steady();
        for (let round = 0; round < (context.quick ? 1 : 3); round++) {
          await sleep(5_000);
          await bounceBroker(context, control, context.cluster.nodeIds[round % 3]!, 'kill', 10_000);
        }
        await sleep(5_000);
      },
      judge: (result) => {
        const found: string[] = [];
        const aborted = producer!.aborted().filter((entry) => entry.t === 'aborted').length;
        if (aborted === 0) found.push('the producer aborted no transaction: the scenario proved nothing');
        if (result.report.acknowledged === 0) found.push('the producer committed no transaction');
        return found;
      },
      notes: () => {
        const aborted = producer!.aborted();
        return [
          `transactions: ${producer!.acks().length} records committed, ${aborted.filter((entry) => entry.t === 'aborted').length} aborted, ${aborted.filter((entry) => entry.t === 'unknown').length} of unknown outcome`,
        ];
      },
    });
  },
};
