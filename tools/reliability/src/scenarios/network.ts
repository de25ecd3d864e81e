/** Network faults between the members and one broker, through the fault proxy: a stall, then resets. */

import { setTimeout as sleep } from 'node:timers/promises';
import { groupScenario, leaderOf, MEMBER_CONFIG, type Scenario } from '../scenario.ts';

/** The members' request timeout here; the stall lasts longer. */
const REQUEST_TIMEOUT_MS = 5_000;

export const networkFaults: Scenario = {
  name: 'network-faults',
  title: 'A network stall to one broker longer than request.timeout.ms, then connections reset mid-response',
  guarantee: '0 lost; duplicates only explained ones; the group goes on once the network heals',
  run: (context) =>
    groupScenario(context, {
      proxied: true,
      memberConfig: { ...MEMBER_CONFIG, 'request.timeout.ms': REQUEST_TIMEOUT_MS },
      allowed: { duplicates: 'explained' },
      script: async (control) => {
        await control.steady();
        const rounds = context.quick ? 1 : 3;
        for (let round = 0; round < rounds; round++) {
          await sleep(3_000);
          const stalled = await leaderOf(context.metadata, control.topic, round % 6);
          control.fault(`broker ${stalled} stalled`);
          context.proxy.stall(stalled);
          await sleep(REQUEST_TIMEOUT_MS * 2);
          context.proxy.heal(stalled);
          context.say(`broker ${stalled} healed`);
          await sleep(5_000);
          const other = context.cluster.nodeIds.find((nodeId) => nodeId !== stalled)!;
          control.fault(`connections to broker ${other} reset mid-response`);
          context.proxy.resetMidResponse(other, { count: 3, minBytes: 1_000 });
          await sleep(4_000);
          control.fault(`every connection to broker ${stalled} reset`);
          context.proxy.reset(stalled);
          await sleep(4_000);
        }
        await sleep(3_000);
      },
    }),
};
