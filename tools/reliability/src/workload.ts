/**
 * The workload every group scenario runs: a producer writing to the scenario's topic, a group of member processes
 * reading it, and the scenario's own script of faults in between. Afterwards production stops, the group reads to
 * the end (its committed offsets reach past the last acknowledged record of every partition), every member is
 * stopped cleanly, the group's committed offsets are read, and the checker reads the logs.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaConsumer } from '@sluice/consumer';
import { type CheckReport, checkLogs, type MemberLog } from './checker.ts';
import { type DriverEntry, JsonLinesLog, type MemberEntry } from './log.ts';
import type { MemberOptions } from './member.ts';
import { MemberProcess } from './members.ts';
import { LoggingProducer, type ScenarioProducer } from './producer.ts';

export interface WorkloadOptions {
  /** Where members connect (the proxy's addresses when the scenario injects network faults). */
  readonly bootstrap: string;
  /** Where the producer and the driver's own clients connect: the brokers' direct listener. */
  readonly directBootstrap: string;
  /** An existing topic with `partitions` partitions. */
  readonly topic: string;
  readonly partitions: number;
  readonly groupId: string;
  /** Where the logs go (one file per process). */
  readonly directory: string;
  readonly members: number;
  /** Consumer properties of every member, and of one slot (e.g. its group.instance.id). */
  readonly memberConfig?: Readonly<Record<string, unknown>>;
  readonly slotConfig?: (slot: number) => Readonly<Record<string, unknown>>;
  readonly processingMs: number;
  readonly otherTopics?: readonly string[];
  /** Makes one member process slow once (see MemberOptions.slow). */
  readonly slow?: (slot: number, incarnation: number) => MemberOptions['slow'];
  /** The producer; default: a LoggingProducer on the direct listener. */
  readonly producer?: (logFile: string, topic: string) => ScenarioProducer;
  /** Runs after the producer starts and before any member does (a backlog to read). */
  readonly prefill?: (producer: ScenarioProducer) => Promise<void>;
  /** The scenario's faults, run while the producer writes and the group reads. */
  readonly script: (control: WorkloadControl) => Promise<void>;
  /** How long the group may take to read everything after production stops. */
  readonly drainTimeoutMs?: number;
  readonly random?: () => number;
  readonly say?: (line: string) => void;
}

/** What a script can do to the group. */
export interface WorkloadControl {
  readonly topic: string;
  readonly groupId: string;
  readonly driver: JsonLinesLog<DriverEntry>;
  readonly producer: ScenarioProducer;
  /** The member process of each slot now. */
  readonly members: readonly MemberProcess[];
  /** Ends the slot's member (SIGKILL, or SIGTERM for a clean close) and starts a new one in its place. */
  replace(slot: number, how: 'kill' | 'stop'): Promise<void>;
  /** Resolves when every member is in the group, all in the newest generation; then logs `steady`. */
  steady(timeoutMs?: number): Promise<void>;
  /** Logs a fault (the checker times the recovery from it). */
  fault(what: string): void;
  readonly random: () => number;
  readonly say: (line: string) => void;
}

export interface WorkloadResult {
  readonly report: CheckReport;
  /** Every member process's log, as the checker read it. */
  readonly members: readonly MemberLog[];
  readonly kills: number;
  readonly stops: number;
  readonly producerRetries: number;
  readonly durationMs: number;
}

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const started = Date.now();
  const random = options.random ?? Math.random;
  const say = options.say ?? (() => {});
  mkdirSync(options.directory, { recursive: true });
  const driver = new JsonLinesLog<DriverEntry>(join(options.directory, 'driver.jsonl'));
  const producerLog = join(options.directory, 'producer.jsonl');
  const producer =
    options.producer?.(producerLog, options.topic) ??
    new LoggingProducer({
      bootstrap: options.directBootstrap,
      topic: options.topic,
      partitions: options.partitions,
      logFile: producerLog,
    });
  const everyone: MemberProcess[] = [];
  const incarnations = new Array<number>(options.members).fill(0);
  const start = (slot: number) => {
    const incarnation = incarnations[slot]!++;
    const name = `m${slot}-${incarnation}`;
    const slow = options.slow?.(slot, incarnation);
    const member = new MemberProcess(name, {
      bootstrap: options.bootstrap,
      topic: options.topic,
      groupId: options.groupId,
      processingMs: options.processingMs,
      directory: options.directory,
      config: { ...options.memberConfig, ...options.slotConfig?.(slot) },
      ...(options.otherTopics ? { otherTopics: options.otherTopics } : {}),
      ...(slow ? { slow } : {}),
    });
    everyone.push(member);
    driver.write({ t: 'member-started', ts: Date.now(), member: name, log: member.log.path });
    return member;
  };

  let kills = 0;
  let stops = 0;
  const running: MemberProcess[] = [];
  const control: WorkloadControl = {
    topic: options.topic,
    groupId: options.groupId,
    driver,
    producer,
    members: running,
    random,
    say,
    async replace(slot, how) {
      const victim = running[slot]!;
      if (how === 'kill') {
        await victim.kill();
        kills++;
        driver.write({ t: 'member-killed', ts: Date.now(), member: victim.name });
      } else {
        await victim.stop();
        stops++;
        driver.write({ t: 'member-stopped', ts: Date.now(), member: victim.name });
      }
      say(`${how === 'kill' ? 'killed' : 'stopped'} ${victim.name}`);
      running[slot] = start(slot);
      await running[slot]!.started();
    },
    async steady(timeoutMs = 90_000) {
      // Classic: every member's last assignment came in one generation. KIP-848 has no group generation (a member
      // epoch moves only with that member's own reconciliation), so there the members' logged assignments must
      // cover every partition once. Both also need that ownership.
      const byEpoch = options.memberConfig?.['group.protocol'] === 'consumer';
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const logs = running.map((member) => member.log.read());
        const latest = logs.map((entries) => {
          const last = entries.filter((entry) => entry.t === 'assigned').at(-1);
          return last?.t === 'assigned' ? (last.generation ?? -1) : -1;
        });
        let partitions = options.partitions;
        for (const ack of producer.acks()) partitions = Math.max(partitions, ack.p + 1);
        const settled =
          latest.every((generation) => generation >= 0 && (byEpoch || generation === latest[0])) &&
          ownedOnce(logs, partitions);
        if (settled) {
          driver.write({ t: 'steady', ts: Date.now() });
          say(
            byEpoch
              ? `the group is steady at member epochs ${latest.join(', ')}`
              : `the group is steady in generation ${latest[0]}`,
          );
          return;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `the group did not settle: ${byEpoch ? 'member epochs' : 'generations'} ${latest.join(', ')}`,
          );
        }
        await sleep(250);
      }
    },
    fault(what) {
      driver.write({ t: 'fault', ts: Date.now(), what });
      say(what);
    },
  };

  try {
    producer.start();
    await options.prefill?.(producer);
    for (let slot = 0; slot < options.members; slot++) running.push(start(slot));
    await Promise.all(running.map((member) => member.started()));
    await options.script(control);
    await producer.stop();
    say(`produced ${producer.acks().length} records (${producer.retries} retries)`);
    await drain(options, producer);
  } finally {
    await producer.stop();
    await Promise.all(running.map((member) => member.stop()));
    for (const member of running) driver.write({ t: 'member-stopped', ts: Date.now(), member: member.name });
  }
  let partitions = options.partitions;
  for (const ack of producer.acks()) partitions = Math.max(partitions, ack.p + 1);
  const committed = await committedOffsets(options, partitions);

  const members = everyone.map((member) => ({
    member: member.name,
    killed: member.killed,
    entries: member.log.read(),
  }));
  const report = checkLogs({
    acks: producer.acks(),
    aborted: producer.aborted(),
    members,
    driver: driver.read(),
    committed,
  });
  return { report, members, kills, stops, producerRetries: producer.retries, durationMs: Date.now() - started };
}

/** Whether the members' logs (assigned, then revoked or lost) leave partitions 0..count-1 each owned once. */
function ownedOnce(logs: ReadonlyArray<readonly MemberEntry[]>, count: number): boolean {
  const owners = new Array<number>(count).fill(0);
  for (const entries of logs) {
    const owned = new Set<number>();
    for (const entry of entries) {
      if (entry.t === 'assigned') for (const partition of entry.partitions) owned.add(partition);
      else if (entry.t === 'revoked' || entry.t === 'lost')
        for (const partition of entry.partitions) owned.delete(partition);
    }
    for (const partition of owned) {
      if (partition >= count) return false;
      owners[partition]!++;
    }
  }
  return owners.every((owner) => owner === 1);
}

/** The group's committed offsets of the topic's first `partitions` partitions (read without joining the group). */
async function committedOffsets(options: WorkloadOptions, partitions: number): Promise<Map<number, bigint>> {
  const observer = new KafkaConsumer({ 'bootstrap.servers': options.directBootstrap, 'group.id': options.groupId });
  try {
    const list = Array.from({ length: partitions }, (_, partition) => ({ topic: options.topic, partition }));
    const committed = await observer.committed(list);
    const offsets = new Map<number, bigint>();
    committed.forEach((entry, partition) => {
      if (entry !== null) offsets.set(partition, entry.offset);
    });
    return offsets;
  } finally {
    await observer.close();
  }
}

/**
 * Waits until the group's committed offsets are past the last acknowledged record of every partition (without
 * joining the group).
 */
async function drain(options: WorkloadOptions, producer: ScenarioProducer): Promise<void> {
  const last = new Map<number, bigint>();
  for (const ack of producer.acks()) {
    const offset = BigInt(ack.o);
    if (!(offset < (last.get(ack.p) ?? -1n))) last.set(ack.p, offset);
  }
  const partitions = [...last.keys()].map((partition) => ({ topic: options.topic, partition }));
  const observer = new KafkaConsumer({ 'bootstrap.servers': options.directBootstrap, 'group.id': options.groupId });
  const deadline = Date.now() + (options.drainTimeoutMs ?? 120_000);
  try {
    for (;;) {
      const committed = await observer.committed(partitions).catch(() => null);
      if (committed?.every((entry, index) => (entry?.offset ?? -1n) > last.get(partitions[index]!.partition)!)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the group did not read to the end in time: committed ${committed?.map((entry) => entry?.offset ?? -1n).join(', ')}, last acknowledged ${[...last.values()].join(', ')}`,
        );
      }
      await sleep(500);
    }
  } finally {
    await observer.close();
  }
}
