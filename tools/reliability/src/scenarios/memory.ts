/** A backlog many times the consumer's buffer cap: its memory stays within the documented bound. */

import { setTimeout as sleep } from 'node:timers/promises';
import { LoggingProducer } from '../producer.ts';
import { groupScenario, MEMBER_CONFIG, type Scenario } from '../scenario.ts';

const MiB = 1024 * 1024;
/** fetch.buffer.max.bytes, and fetch.max.bytes (one response in flight per broker). */
const CAP = 8 * MiB;
const BACKLOG_BYTES = 20 * CAP;
const VALUE_BYTES = 1024;
/**
 * The bound on the member's peak RSS over its baseline (its RSS before subscribing), as DESIGN.md states it and
 * packages/consumer's memory test holds it: the cap, a response in flight per broker, decompression and the
 * process's own growth.
 */
const BOUND = 64 * MiB;

export const memoryBound: Scenario = {
  name: 'memory-bound',
  title: 'A consumer reading a backlog 20x its buffered-bytes cap',
  guarantee: `peak RSS under ${BOUND / MiB} MiB over the baseline with fetch.buffer.max.bytes=${CAP / MiB} MiB; 0 lost, 0 duplicates`,
  run: (context) => {
    const records = Math.ceil(BACKLOG_BYTES / VALUE_BYTES);
    let growth = 0;
    return groupScenario(context, {
      partitions: 6,
      members: 1,
      processingMs: 0,
      memberConfig: {
        ...MEMBER_CONFIG,
        'max.poll.records': 500,
        'fetch.buffer.max.bytes': CAP,
        'fetch.max.bytes': CAP,
        'max.partition.fetch.bytes': MiB,
      },
      producer: (logFile, topic) =>
        new LoggingProducer({
          bootstrap: context.cluster.bootstrap('PLAINTEXT'),
          topic,
          partitions: 6,
          logFile,
          batchSize: 500,
          intervalMs: 0,
          valueBytes: VALUE_BYTES,
          maxRecords: records,
        }),
      prefill: async (producer) => {
        while (producer.acknowledged < records) await sleep(500);
        context.say(`${records} records of ${VALUE_BYTES} B written before the member starts`);
      },
      allowed: { duplicates: 'none' },
      script: async () => {},
      judge: (result) => {
        const rss = result.members[0]!.entries.flatMap((entry) => (entry.t === 'rss' ? [entry.rss] : []));
        growth = Math.max(...rss) - rss[0]!;
        context.say(`peak RSS ${(growth / MiB).toFixed(1)} MiB over the baseline of ${(rss[0]! / MiB).toFixed(1)} MiB`);
        return growth < BOUND
          ? []
          : [`peak RSS ${(growth / MiB).toFixed(1)} MiB over the baseline, above ${BOUND / MiB} MiB`];
      },
    });
  },
};
