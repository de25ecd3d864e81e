/** Faults of the group's own processes: rolling restarts, SIGKILLs, a member stuck past max.poll.interval.ms, static members restarted. */
import { setTimeout as sleep } from 'node:timers/promises';
import { groupScenario, MEMBER_CONFIG, type Scenario, type ScenarioContext, staticSlot } from '../scenario.ts';
import type { WorkloadControl } from '../workload.ts';

/** Every member in turn, for a number of rounds: closed and replaced, the new one in the group before the next. */
async function rollMembers(context: ScenarioContext, control: WorkloadControl): Promise<void> {
  await control.steady();
  for (let round = 0; round < (context.quick ? 1 : 3); round++) {
    for (let slot = 0; slot < control.members.length; slot++) {
      await sleep(3_000);
      await control.replace(slot, 'stop');
      await control.members[slot]!.assigned();
    }
  }
  await sleep(3_000);
}

export const consumerRollingRestart: Scenario = {
  name: 'consumer-rolling-restart',
  title: 'Rolling restart of the consumers (clean close), cooperative-sticky',
  guarantee: '0 lost, 0 duplicates, committed position == consumed',
  run: (context) =>
    groupScenario(context, {
      memberConfig: { ...MEMBER_CONFIG, 'partition.assignment.strategy': 'cooperative-sticky' },
      allowed: { duplicates: 'none' },
      script: (control) => rollMembers(context, control),
    }),
};

export const consumerKill: Scenario = {
  name: 'consumer-kill',
  title: 'Consumers SIGKILLed and replaced every 5-10 s',
  guarantee: "0 lost; duplicates only a killed member's reads after its last commit",
  run: (context) =>
    groupScenario(context, {
      // Long enough that a kill often lands between reading a batch and committing it.
      processingMs: 100,
      memberConfig: { ...MEMBER_CONFIG, 'session.timeout.ms': 6_000, 'heartbeat.interval.ms': 500 },
      allowed: { duplicates: 'killed' },
      script: async (control) => {
        await control.steady();
        for (let round = 0; round < (context.quick ? 3 : 10); round++) {
          await sleep(5_000 + control.random() * 5_000);
          await control.replace(Math.floor(control.random() * control.members.length), 'kill');
        }
        await sleep(3_000);
      },
    }),
};

/** The poll interval of the slow-consumer scenario, and how long its stuck member takes over one batch. */
const POLL_INTERVAL_MS = 8_000;
const STUCK_MS = 14_000;

export const slowConsumer: Scenario = {
  name: 'slow-consumer',
  title: 'A consumer stuck past max.poll.interval.ms',
  guarantee: 'it leaves, the others take over, its late commit fails with CommitFailedError, 0 lost',
  run: (context) =>
    groupScenario(context, {
      memberConfig: { ...MEMBER_CONFIG, 'max.poll.interval.ms': POLL_INTERVAL_MS },
      // The first process of slot 0, after 20 batches.
      slow: (slot, incarnation) => (slot === 0 && incarnation === 0 ? { afterBatches: 20, ms: STUCK_MS } : undefined),
      allowed: { duplicates: 'explained' },
      script: async (control) => {
        await control.steady();
        // The stuck member's 20 batches, its stall, and the group's recovery.
        await sleep(STUCK_MS + 12_000);
      },
      judge: (result) => {
        const stuck = result.members.find((member) => member.member === 'm0-0')!;
        const failed = stuck.entries.filter((entry) => entry.t === 'commit-failed');
        const found: string[] = [];
        if (!failed.some((entry) => entry.name === 'CommitFailedError'))
          found.push(
            `the stuck member's late commit did not fail with CommitFailedError (${failed.map((entry) => entry.name).join(', ') || 'no commit failed'})`,
          );
        if (!stuck.entries.some((entry) => entry.t === 'lost' || entry.t === 'revoked'))
          found.push('the stuck member was never told it lost its partitions');
        return found;
      },
    }),
};

export const staticRestart: Scenario = {
  name: 'static-restart',
  title: 'Static members restarted within session.timeout.ms',
  guarantee: '0 lost, 0 duplicates, 0 rebalances',
  run: (context) =>
    groupScenario(context, {
      memberConfig: { ...MEMBER_CONFIG, 'session.timeout.ms': 30_000 },
      slotConfig: staticSlot,
      allowed: { duplicates: 'none', rebalances: 'none' },
      script: (control) => rollMembers(context, control),
    }),
};
