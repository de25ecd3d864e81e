/**
 * The churn scenario: a group of member processes reads a topic that a producer keeps writing to, while the driver
 * kills (SIGKILL) or stops (SIGTERM, a clean close) a random member every few seconds and starts a new one in its
 * place; broker faults may run on a schedule of their own. Afterwards production stops, the group reads to the end
 * (its committed offsets reach every partition's end), every member is stopped cleanly, and the checker reads the
 * logs.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaConsumer } from '@sluice/consumer';
import { type CheckReport, checkLogs } from './checker.ts';
import { type DriverEntry, JsonLinesLog } from './log.ts';
import { MemberProcess } from './members.ts';
import { LoggingProducer } from './producer.ts';

export interface ChurnOptions {
  readonly bootstrap: string;
  /** An existing topic with `partitions` partitions. */
  readonly topic: string;
  readonly partitions: number;
  readonly groupId: string;
  /** Where the logs go (one file per process). */
  readonly directory: string;
  readonly members: number;
  /** How many times a member is killed (or stopped) and replaced. */
  readonly replacements: number;
  /** The wait between two kills (or stops), drawn uniformly from [min, max]. */
  readonly intervalMs: readonly [number, number];
  readonly mode: 'kill' | 'graceful';
  readonly processingMs: number;
  /** Consumer properties of every member. */
  readonly memberConfig?: Readonly<Record<string, unknown>>;
  /** Broker faults, each started `atMs` after the churn begins. */
  readonly faults?: ReadonlyArray<{
    readonly atMs: number;
    readonly run: (log: JsonLinesLog<DriverEntry>) => Promise<void>;
  }>;
  /** How long the group may take to read everything after production stops. */
  readonly drainTimeoutMs?: number;
  readonly random?: () => number;
  readonly log?: (line: string) => void;
}

export interface ChurnResult {
  readonly report: CheckReport;
  readonly kills: number;
  readonly stops: number;
  readonly producerRetries: number;
}

export async function runChurn(options: ChurnOptions): Promise<ChurnResult> {
  const random = options.random ?? Math.random;
  const say = options.log ?? (() => {});
  mkdirSync(options.directory, { recursive: true });
  const driver = new JsonLinesLog<DriverEntry>(join(options.directory, 'driver.jsonl'));
  const producer = new LoggingProducer({
    bootstrap: options.bootstrap,
    topic: options.topic,
    partitions: options.partitions,
    logFile: join(options.directory, 'producer.jsonl'),
  });
  const everyone: MemberProcess[] = [];
  const generations = new Array<number>(options.members).fill(0);
  const start = (slot: number) => {
    const name = `m${slot}-${generations[slot]!++}`;
    const member = new MemberProcess(name, {
      bootstrap: options.bootstrap,
      topic: options.topic,
      groupId: options.groupId,
      processingMs: options.processingMs,
      directory: options.directory,
      ...(options.memberConfig ? { config: options.memberConfig } : {}),
    });
    everyone.push(member);
    driver.write({ t: 'member-started', ts: Date.now(), member: name, log: member.log.path });
    return member;
  };

  let kills = 0;
  let stops = 0;
  const running: MemberProcess[] = [];
  try {
    producer.start();
    for (let slot = 0; slot < options.members; slot++) running.push(start(slot));
    await Promise.all(running.map((member) => member.started()));
    const faults = (options.faults ?? []).map(async (fault) => {
      await sleep(fault.atMs);
      await fault.run(driver);
    });
    const [low, high] = options.intervalMs;
    for (let round = 0; round < options.replacements; round++) {
      await sleep(low + random() * (high - low));
      const slot = Math.floor(random() * running.length);
      const victim = running[slot]!;
      if (options.mode === 'kill') {
        await victim.kill();
        kills++;
        driver.write({ t: 'member-killed', ts: Date.now(), member: victim.name });
      } else {
        await victim.stop();
        stops++;
        driver.write({ t: 'member-stopped', ts: Date.now(), member: victim.name });
      }
      say(`${options.mode === 'kill' ? 'killed' : 'stopped'} ${victim.name}`);
      running[slot] = start(slot);
      await running[slot]!.started();
    }
    await Promise.all(faults);
    await producer.stop();
    say(`produced ${producer.acknowledged} records (${producer.failures} requests sent again)`);
    await drain(options);
  } finally {
    await producer.stop();
    await Promise.all(running.map((member) => member.stop()));
    for (const member of running) driver.write({ t: 'member-stopped', ts: Date.now(), member: member.name });
  }

  const report = checkLogs({
    acks: producer.log.read(),
    members: everyone.map((member) => ({ member: member.name, killed: member.killed, entries: member.log.read() })),
    driver: driver.read(),
  });
  return { report, kills, stops, producerRetries: producer.failures };
}

/** Waits until the group's committed offsets reach the end of every partition (without joining the group). */
async function drain(options: ChurnOptions): Promise<void> {
  const observer = new KafkaConsumer({ 'bootstrap.servers': options.bootstrap, 'group.id': options.groupId });
  const partitions = Array.from({ length: options.partitions }, (_, partition) => ({
    topic: options.topic,
    partition,
  }));
  const deadline = Date.now() + (options.drainTimeoutMs ?? 120_000);
  try {
    for (;;) {
      const [ends, committed] = await Promise.all([
        observer.endOffsets(partitions),
        observer.committed(partitions),
      ]).catch(() => [null, null] as const);
      if (ends !== null && committed.every((entry, index) => (entry?.offset ?? -1n) >= ends[index]!)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the group did not read to the end in time: committed ${committed?.map((entry) => entry?.offset ?? -1n).join(', ')} of ${ends?.join(', ')}`,
        );
      }
      await sleep(500);
    }
  } finally {
    await observer.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
