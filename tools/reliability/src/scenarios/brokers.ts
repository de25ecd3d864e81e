/** Broker faults under a reading group: rolling restarts (clean and SIGKILL), the coordinator and a leader killed. */
import { setTimeout as sleep } from 'node:timers/promises';
import { coordinatorOf } from '@sluice/tools-admin';
import {
  bounceBroker,
  groupScenario,
  leaderOf,
  MEMBER_CONFIG,
  type Scenario,
  type ScenarioContext,
  staticSlot,
} from '../scenario.ts';
import type { WorkloadControl } from '../workload.ts';

/**
 * Every broker in turn, for a number of rounds: stopped (SIGTERM, a controlled shutdown) or killed, restarted, back
 * in sync; three static members read meanwhile.
 */
function rollingBrokers(how: 'stop' | 'kill'): Scenario {
  return {
    name: how === 'stop' ? 'broker-rolling-restart' : 'broker-rolling-kill',
    title:
      how === 'stop'
        ? 'Rolling restart of every broker (clean shutdowns), static members'
        : 'Rolling SIGKILL of every broker, static members',
    guarantee: how === 'stop' ? '0 lost, 0 duplicates, 0 rebalances' : '0 lost; duplicates only explained ones',
    run: (context) =>
      groupScenario(context, {
        memberConfig: { ...MEMBER_CONFIG, 'session.timeout.ms': 30_000 },
        slotConfig: staticSlot,
        allowed: how === 'stop' ? { duplicates: 'none', rebalances: 'none' } : { duplicates: 'explained' },
        script: async (control) => {
          await control.steady();
          for (let round = 0; round < (context.quick ? 1 : 3); round++) {
            for (const nodeId of context.cluster.nodeIds) {
              await sleep(3_000);
              await bounceBroker(context, control, nodeId, how, how === 'stop' ? 2_000 : 5_000);
            }
          }
          await sleep(3_000);
        },
      }),
  };
}

export const brokerRollingRestart = rollingBrokers('stop');
export const brokerRollingKill = rollingBrokers('kill');

/**
 * A broker chosen per round (the coordinator, a partition's leader) SIGKILLed for `downMs` and restarted, 3 rounds
 * (1 with --quick), under a group that commits after every batch.
 */
function victimKill(
  scenario: Pick<Scenario, 'name' | 'title'>,
  downMs: number,
  victim: (context: ScenarioContext, control: WorkloadControl, round: number) => Promise<[number, string]>,
): Scenario {
  return {
    ...scenario,
    guarantee: '0 lost; duplicates only explained ones',
    run: (context) =>
      groupScenario(context, {
        memberConfig: MEMBER_CONFIG,
        allowed: { duplicates: 'explained' },
        script: async (control) => {
          await control.steady();
          for (let round = 0; round < (context.quick ? 1 : 3); round++) {
            await sleep(3_000);
            const [nodeId, what] = await victim(context, control, round);
            await bounceBroker(context, control, nodeId, 'kill', downMs, what);
          }
          await sleep(3_000);
        },
      }),
  };
}

export const coordinatorKill = victimKill(
  {
    name: 'coordinator-kill',
    title: "The group coordinator's broker killed and restarted while members commit",
  },
  12_000,
  async (context, control) => {
    const coordinator = await coordinatorOf(context.pool, context.metadata, control.groupId);
    return [coordinator, `coordinator ${coordinator} killed`];
  },
);

export const leaderKill = victimKill(
  { name: 'leader-kill', title: "A partition leader's broker killed during fetches" },
  8_000,
  async (context, control, round) => {
    const partition = round % 6;
    const leader = await leaderOf(context.metadata, control.topic, partition);
    return [leader, `leader ${leader} of ${control.topic}-${partition} killed`];
  },
);
