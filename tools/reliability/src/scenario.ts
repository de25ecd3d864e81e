/**
 * What a fault scenario is, what it gets to run with (one 3-broker cluster per suite run, its fault proxy, admin
 * clients on the direct listener), and what it gives back: the checker's report, its own findings, and the lines
 * that say what it saw.
 */
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { createTopic } from '@sluice/tools-admin';
import type { KafkaCluster } from '@sluice/tools-kafka';
import { type Allowed, type CheckReport, violations } from './checker.ts';
import type { FaultProxy } from './fault-proxy.ts';
import { runWorkload, type WorkloadControl, type WorkloadOptions, type WorkloadResult } from './workload.ts';

export interface ScenarioContext {
  readonly cluster: KafkaCluster;
  readonly proxy: FaultProxy;
  /** Admin clients on the brokers' direct listener. */
  readonly pool: ConnectionPool;
  readonly metadata: ClusterMetadata;
  /** The short version (CI), or the full one. */
  readonly quick: boolean;
  /** The soak's length in minutes. */
  readonly soakMinutes: number;
  /** The members' `group.protocol` (`--group-protocol`): classic, or KIP-848's consumer protocol. */
  readonly groupProtocol: GroupProtocol;
  /** This scenario's log folder. */
  readonly directory: string;
  /** A unique name for a topic or group of this scenario. */
  name(what: string): string;
  /** Creates a topic (by default with a new name) with replication factor 3 and waits for its leaders. */
  newTopic(partitions: number, options?: { name?: string; configs?: Record<string, string> }): Promise<string>;
  say(line: string): void;
}

export interface ScenarioOutcome {
  /** The checker's figures, for scenarios that run a group. */
  readonly report?: CheckReport;
  /** Everything the scenario's guarantee rules out that happened; empty when it held. */
  readonly violations: readonly string[];
  /** What else it measured or saw, one line each. */
  readonly notes: readonly string[];
}

export interface Scenario {
  /** For `--only`: `broker-rolling-restart`. */
  readonly name: string;
  readonly title: string;
  /** What must hold, in one sentence (RELIABILITY.md and the table say it). */
  readonly guarantee: string;
  run(context: ScenarioContext): Promise<ScenarioOutcome>;
}

/** The group members' settings of most scenarios: fast failure detection, small batches, frequent metadata. */
export type GroupProtocol = 'classic' | 'consumer';

/**
 * A member configuration under `protocol`: under KIP-848's consumer protocol the broker assigns and sets the session
 * and heartbeat times (group.consumer.* on the harness's brokers: 10 s and 1 s), so the classic-only properties go.
 */
export function memberConfigFor(
  config: Readonly<Record<string, unknown>> | undefined,
  protocol: GroupProtocol,
): Readonly<Record<string, unknown>> | undefined {
  if (protocol === 'classic') return config;
  const {
    'session.timeout.ms': _session,
    'heartbeat.interval.ms': _heartbeat,
    'partition.assignment.strategy': _assignors,
    ...rest
  } = config ?? {};
  return { ...rest, 'group.protocol': 'consumer' };
}

export const MEMBER_CONFIG = {
  'session.timeout.ms': 10_000,
  'heartbeat.interval.ms': 1_000,
  'max.poll.interval.ms': 30_000,
  'max.poll.records': 100,
  'fetch.max.wait.ms': 100,
  'metadata.max.age.ms': 5_000,
  'request.timeout.ms': 10_000,
} as const;

/** Static members: one group.instance.id per slot, kept across restarts of the slot's process. */
export const staticSlot = (slot: number) => ({ 'group.instance.id': `static-${slot}` });

/** Waits until every partition of the topics and of the group offsets topic has all its replicas in sync. */
async function waitForFullIsr(metadata: ClusterMetadata, topics: readonly string[], timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snapshot = await metadata.refresh().catch(() => null);
    const partitions = snapshot
      ? [...topics, '__consumer_offsets'].flatMap((topic) => snapshot.topics.get(topic)?.partitions ?? [])
      : [];
    if (
      partitions.length > 0 &&
      partitions.every((partition) => partition.leaderId >= 0 && partition.isr.length === partition.replicas.length)
    )
      return;
    if (Date.now() > deadline) throw new Error(`replicas of ${topics.join(', ')} not back in sync in time`);
    await sleep(500);
  }
}

/**
 * Takes one broker down (SIGKILL, or SIGTERM for a controlled shutdown) for `downMs`, restarts it, and waits until
 * every replica of the workload's topic (and of the offsets topic) is back in sync; the driver logs both ends.
 */
export async function bounceBroker(
  context: ScenarioContext,
  control: WorkloadControl,
  nodeId: number,
  how: 'stop' | 'kill',
  downMs: number,
  what = `broker ${nodeId} ${how === 'stop' ? 'stopped' : 'killed'}`,
): Promise<void> {
  control.fault(what);
  if (how === 'stop') await context.cluster.stopBroker(nodeId);
  else await context.cluster.kill(nodeId);
  await sleep(downMs);
  await context.cluster.restart(nodeId);
  control.driver.write({ t: 'broker-restarted', ts: Date.now(), nodeId });
  await waitForFullIsr(context.metadata, [control.topic]);
}

/** The leader of one partition now. */
export async function leaderOf(metadata: ClusterMetadata, topic: string, partition: number): Promise<number> {
  const snapshot = await metadata.refresh();
  const leader = snapshot.topics.get(topic)?.partitions[partition]?.leaderId ?? -1;
  if (leader < 0) throw new Error(`${topic}-${partition} has no leader`);
  return leader;
}

/** Builds a scenario's context. */
export function scenarioContext(
  input: Omit<ScenarioContext, 'name' | 'newTopic'> & { readonly scenario: string },
): ScenarioContext {
  mkdirSync(input.directory, { recursive: true });
  const topics: string[] = [];
  let counter = 0;
  const name = (what: string) => `${input.scenario}-${what}-${Date.now().toString(36)}-${counter++}`;
  return {
    cluster: input.cluster,
    proxy: input.proxy,
    pool: input.pool,
    metadata: input.metadata,
    quick: input.quick,
    soakMinutes: input.soakMinutes,
    groupProtocol: input.groupProtocol,
    directory: input.directory,
    name,
    async newTopic(partitions, options = {}) {
      const topic = options.name ?? name('topic');
      if (!topics.includes(topic)) topics.push(topic);
      input.metadata.setTopics([...topics, '__consumer_offsets']);
      await createTopic(input.pool, input.metadata, topic, partitions, {
        replicationFactor: 3,
        ...(options.configs ? { configs: options.configs } : {}),
      });
      return topic;
    },
    say: (line) => input.say(`${input.scenario}: ${line}`),
  };
}

/** A group scenario: the workload on a new topic, with the scenario's faults, judged by what it allows. */
export async function groupScenario(
  context: ScenarioContext,
  input: Omit<
    WorkloadOptions,
    | 'bootstrap'
    | 'directBootstrap'
    | 'topic'
    | 'groupId'
    | 'directory'
    | 'say'
    | 'partitions'
    | 'members'
    | 'processingMs'
  > & {
    /** Default 6. */
    readonly partitions?: number;
    /** Default 3. */
    readonly members?: number;
    /** Default 20 ms. */
    readonly processingMs?: number;
    /** Members connect through the fault proxy (default: the direct listener). */
    readonly proxied?: boolean;
    readonly bootstrap?: string;
    readonly allowed: Allowed;
    /** More findings on the report (default: none). */
    readonly judge?: (result: WorkloadResult) => string[];
    /** More lines for the outcome's notes, asked for at the end. */
    readonly notes?: () => string[];
  },
): Promise<ScenarioOutcome> {
  const partitions = input.partitions ?? 6;
  const topic = await context.newTopic(partitions);
  const direct = context.cluster.bootstrap('PLAINTEXT');
  const memberConfig = memberConfigFor(input.memberConfig, context.groupProtocol);
  const result = await runWorkload({
    ...input,
    ...(memberConfig ? { memberConfig } : {}),
    partitions,
    members: input.members ?? 3,
    processingMs: input.processingMs ?? 20,
    bootstrap: input.bootstrap ?? (input.proxied ? context.cluster.bootstrap('PROXIED') : direct),
    directBootstrap: direct,
    topic,
    groupId: context.name('group'),
    directory: context.directory,
    say: context.say,
  });
  const found = [...violations(result.report, input.allowed), ...(input.judge?.(result) ?? [])];
  const { report } = result;
  return {
    report,
    violations: found,
    notes: [
      `${report.members} member processes, ${result.kills} killed, ${result.stops} closed; ${report.commitFailures} commits failed; the producer retried ${result.producerRetries} requests`,
      ...(input.notes?.() ?? []),
    ],
  };
}
