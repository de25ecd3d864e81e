/** A soak: the faults of the other scenarios, drawn at random, one after another, for `--minutes`. */

import { setTimeout as sleep } from 'node:timers/promises';
import { coordinatorOf } from '@sluice/tools-admin';
import { bounceBroker, groupScenario, MEMBER_CONFIG, type Scenario, type ScenarioContext } from '../scenario.ts';
import type { WorkloadControl } from '../workload.ts';

type Fault = (context: ScenarioContext, control: WorkloadControl) => Promise<void>;

const pick = <T>(control: WorkloadControl, list: readonly T[]): T => list[Math.floor(control.random() * list.length)]!;

const FAULTS: Readonly<Record<string, Fault>> = {
  'member killed': async (_context, control) => {
    await control.replace(Math.floor(control.random() * control.members.length), 'kill');
  },
  'member closed': async (_context, control) => {
    await control.replace(Math.floor(control.random() * control.members.length), 'stop');
  },
  'broker killed': (context, control) =>
    bounceBroker(context, control, pick(control, context.cluster.nodeIds), 'kill', 5_000),
  'broker restarted': (context, control) =>
    bounceBroker(context, control, pick(control, context.cluster.nodeIds), 'stop', 0),
  'coordinator killed': async (context, control) => {
    const nodeId = await coordinatorOf(context.pool, context.metadata, control.groupId);
    await bounceBroker(context, control, nodeId, 'kill', 8_000, `coordinator ${nodeId} killed`);
  },
  'network stall': async (context, control) => {
    const nodeId = pick(control, context.cluster.nodeIds);
    control.fault(`broker ${nodeId} stalled`);
    context.proxy.stall(nodeId);
    await sleep(2 * MEMBER_CONFIG['request.timeout.ms']);
    context.proxy.heal(nodeId);
  },
  'connections reset': async (context, control) => {
    const nodeId = pick(control, context.cluster.nodeIds);
    control.fault(`connections to broker ${nodeId} reset`);
    context.proxy.reset(nodeId);
  },
  'reset mid-response': async (context, control) => {
    const nodeId = pick(control, context.cluster.nodeIds);
    control.fault(`responses of broker ${nodeId} cut`);
    context.proxy.resetMidResponse(nodeId, { count: 2, minBytes: 1_000 });
  },
};

export const soak: Scenario = {
  name: 'soak',
  title:
    'A soak of mixed faults (members killed and closed, brokers killed and restarted, the coordinator killed, stalls, resets)',
  guarantee: '0 lost; duplicates only explained ones',
  run: (context) => {
    const counts = new Map<string, number>();
    return groupScenario(context, {
      proxied: true,
      processingMs: 50,
      memberConfig: MEMBER_CONFIG,
      allowed: { duplicates: 'explained' },
      script: async (control) => {
        await control.steady();
        const until = Date.now() + context.soakMinutes * 60_000;
        const names = Object.keys(FAULTS);
        while (Date.now() < until) {
          await sleep(4_000 + control.random() * 6_000);
          const name = pick(control, names);
          counts.set(name, (counts.get(name) ?? 0) + 1);
          await FAULTS[name]!(context, control);
        }
        await sleep(5_000);
      },
      notes: () => [
        `${context.soakMinutes} min of faults: ${[...counts].map(([name, count]) => `${name} x${count}`).join(', ')}`,
      ],
    });
  },
};
