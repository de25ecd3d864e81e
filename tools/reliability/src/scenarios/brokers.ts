/** Broker faults under a reading group: rolling restarts (clean and SIGKILL), the coordinator and a leader killed. */

import { setTimeout as sleep } from 'node:timers/promises';
import { coordinatorOf } from '@sluice/tools-admin';
import {
  groupScenario,
  leaderOf,
  MEMBER_CONFIG,
  type Scenario,
  type ScenarioContext,
  staticSlot,
  waitForFullIsr,
} from '../scenario.ts';
import type { WorkloadControl } from '../workload.ts';

/** Every broker in turn: stopped (SIGTERM, a controlled shutdown) or killed, restarted, and back in sync. */
async function rollBrokers(
  context: ScenarioContext,
  control: WorkloadControl,
  how: 'stop' | 'kill',
  rounds: number,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const nodeId of context.cluster.nodeIds) {
      await sleep(3_000);
      control.fault(`broker ${nodeId} ${how === 'stop' ? 'stopped' : 'killed'} (round ${round + 1})`);
      if (how === 'stop') await context.cluster.stopBroker(nodeId);
      else await context.cluster.kill(nodeId);
      await sleep(how === 'stop' ? 2_000 : 5_000);
      await context.cluster.restart(nodeId);
      control.driver.write({ t: 'broker-restarted', ts: Date.now(), nodeId });
      await waitForFullIsr(context.metadata, [control.topic]);
    }
  }
  await sleep(3_000);
}

export const brokerRollingRestart: Scenario = {
  name: 'broker-rolling-restart',
  title: 'Rolling restart of every broker (clean shutdowns), static members',
  guarantee: '0 lost, 0 duplicates, 0 rebalances',
  run: (context) =>
    groupScenario(context, {
      partitions: 6,
      members: 3,
      processingMs: 20,
      memberConfig: { ...MEMBER_CONFIG, 'session.timeout.ms': 30_000 },
      slotConfig: staticSlot,
      allowed: { duplicates: 'none', rebalances: 'none' },
      script: async (control) => {
        await control.steady();
        await rollBrokers(context, control, 'stop', context.quick ? 1 : 3);
      },
    }),
};

export const brokerRollingKill: Scenario = {
  name: 'broker-rolling-kill',
  title: 'Rolling SIGKILL of every broker, static members',
  guarantee: '0 lost; duplicates only explained ones',
  run: (context) =>
    groupScenario(context, {
      partitions: 6,
      members: 3,
      processingMs: 20,
      memberConfig: { ...MEMBER_CONFIG, 'session.timeout.ms': 30_000 },
      slotConfig: staticSlot,
      allowed: { duplicates: 'explained' },
      script: async (control) => {
        await control.steady();
        await rollBrokers(context, control, 'kill', context.quick ? 1 : 3);
      },
    }),
};

export const coordinatorKill: Scenario = {
  name: 'coordinator-kill',
  title: "The group coordinator's broker killed and restarted while members commit",
  guarantee: '0 lost; duplicates only explained ones',
  run: (context) =>
    groupScenario(context, {
      partitions: 6,
      members: 3,
      processingMs: 20,
      memberConfig: MEMBER_CONFIG,
      allowed: { duplicates: 'explained' },
      script: async (control) => {
        await control.steady();
        for (let round = 0; round < (context.quick ? 1 : 3); round++) {
          await sleep(3_000);
          const coordinator = await coordinatorOf(context.pool, context.metadata, control.groupId);
          control.fault(`coordinator ${coordinator} killed`);
          await context.cluster.kill(coordinator);
          control.driver.write({ t: 'broker-killed', ts: Date.now(), nodeId: coordinator });
          await sleep(12_000);
          await context.cluster.restart(coordinator);
          control.driver.write({ t: 'broker-restarted', ts: Date.now(), nodeId: coordinator });
          await waitForFullIsr(context.metadata, [control.topic]);
        }
        await sleep(3_000);
      },
    }),
};

export const leaderKill: Scenario = {
  name: 'leader-kill',
  title: "A partition leader's broker killed during fetches",
  guarantee: '0 lost; duplicates only explained ones',
  run: (context) =>
    groupScenario(context, {
      partitions: 6,
      members: 3,
      processingMs: 20,
      memberConfig: MEMBER_CONFIG,
      allowed: { duplicates: 'explained' },
      script: async (control) => {
        await control.steady();
        const topic = control.topic;
        for (let round = 0; round < (context.quick ? 1 : 3); round++) {
          await sleep(3_000);
          const leader = await leaderOf(context.metadata, topic, round % 6);
          control.fault(`leader ${leader} of ${topic}-${round % 6} killed`);
          await context.cluster.kill(leader);
          await sleep(8_000);
          await context.cluster.restart(leader);
          control.driver.write({ t: 'broker-restarted', ts: Date.now(), nodeId: leader });
          await waitForFullIsr(context.metadata, [topic]);
        }
        await sleep(3_000);
      },
    }),
};
