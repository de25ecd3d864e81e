// pnpm bench:consume [--json] [--quick] [--rows 100:none,1000:zstd | --sizes 100,1000 --codecs none,lz4,zstd]
//                    [--records 1000000] [--partitions 8] [--samples 3] [--batch-records 500] [--max-poll-records 500]
//                    [--only sluice,kafkajs,platformatic,crab,kafkaTs,java,bare] [--warm-up-reads 1] [--in-process]
//                    [--java-kafka-version 4.4.0]
// pnpm bench:consume --profile [--rows 100:none] [--records N]
//
// End to end: for each row (value size x codec; by default 100 B and 1 KB values, each uncompressed, lz4 and zstd) a
// topic of N partitions holding --records JSON-looking events, produced once by Sluice's encoder, read from the
// earliest offset to the end by every client against the same broker, interleaved per round (the order rotates each
// round), then deleted. The clients:
//   sluice        Sluice's KafkaConsumer (poll loop, CRCs checked)
//   kafkajs       KafkaJS (run + eachBatch)
//   platformatic  @platformatic/kafka (consume stream)
//   crab          kafka-crab-js (librdkafka in a native addon; Web Stream batches, its fastest documented API)
//   kafkaTs       kafka-ts (startConsumer + onBatch)
//   java          Kafka's own Java consumer: org.apache.kafka.tools.ConsumerPerformance of the broker's version
//   bare          the ceiling: one Sluice Connection per leader sending the same Fetch requests, reading only the
//                 record batches' headers (consume-bare.ts)
// --only also takes sluiceNoCrc: Sluice with check.crcs=false (most peers do not check CRCs); not in the default set.
//
// Each read is a fresh consumer group with no offset commits (kafka-ts commits after every batch: it cannot be
// turned off), timed from the first call that talks to the broker (so the group join is included) to the last
// record; records/s and MB/s (10^6) of key + value bytes. Every read must count exactly the produced records and
// bytes. Every (round, client) sample runs in a fresh process: Node (consume-child.ts, spawned with --expose-gc
// --conditions=@sluice/source) or, for Kafka's Java consumer, a JVM (consume-java.ts); each does its
// --warm-up-reads untimed reads and then the timed one, so no client's garbage, heap or JIT state reaches another's.
// Per sample: the process's peak RSS (Node: process.resourceUsage().maxRSS; JVM: VmHWM), and the CPU time of the
// timed read (user + system of every thread of the process, its close included; Node: process.cpuUsage(), JVM:
// OperatingSystemMXBean.getProcessCpuTime()), reported per million records. Figures are medians over the samples.
// A client that fails (does not install, does not load, miscounts, times out) is reported with its reason and the
// run goes on; the exit code is 1 only when Sluice fails or a topic cannot be made.
//
// --in-process runs the Node clients in this process instead (warm-up reads per row up front; no RSS figures).
// --profile runs Sluice alone on one row (the first of --rows, else 100:none) in a child whose timed read is
// profiled by V8's sampling profiler, and prints self time by function and the idle, (program) and GC shares.
//
// Starts its own one-broker cluster with the Kafka harness (stopped at the end, on error and on SIGINT) unless
// KAFKA_BOOTSTRAP=host:port names a broker; the topics it creates there are deleted.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@sluice/net';
import { DEFAULT_KAFKA_VERSION, KafkaCluster } from '@sluice/tools-kafka';
import { type ChildSpec, childExecArgv, killChildren, type ReadSpec, readOnce, runChild } from './consume-child.ts';
import { type Client, type ClientId, type ClientInfo, clients, type FetchSettings } from './consume-clients.ts';
import { ensureJavaConsumer, type JavaSetup, javaConsumer, killJavaChildren, runJavaSample } from './consume-java.ts';
import {
  type ClientOutcome,
  evaluateTargets,
  formatTarget,
  parseRows,
  type RowResult,
  renderRowTable,
  rowFigures,
  type Sample,
} from './consume-report.ts';
import { type ConsumeRow, type ConsumeTopicFill, fillPartitions } from './consume-topic.ts';
import { createTopic, deleteTopic } from './net-fetch.ts';
import { parseAddress } from './net-raw-socket.ts';
import { machineInfo } from './net-report.ts';
import { type CpuProfile, formatProfileLines, summariseProfile } from './profile-summary.ts';

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    rows: { type: 'string' },
    sizes: { type: 'string', default: '100,1000' },
    codecs: { type: 'string', default: 'none,lz4,zstd' },
    records: { type: 'string' },
    partitions: { type: 'string', default: '8' },
    samples: { type: 'string' },
    'batch-records': { type: 'string', default: '500' },
    'max-poll-records': { type: 'string', default: '500' },
    only: { type: 'string', default: 'sluice,kafkajs,platformatic,crab,kafkaTs,java,bare' },
    'warm-up-reads': { type: 'string', default: '1' },
    'in-process': { type: 'boolean', default: false },
    'java-kafka-version': { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});

const quick = flags.quick;
/** Every client of the tables: the Node ones, then Kafka's Java consumer (which reads in a JVM). */
const everyClient: readonly ClientInfo[] = [...clients, javaConsumer];
const only = new Set(flags.profile ? ['sluice'] : flags.only.split(',').map((id) => id.trim()));
for (const id of only) {
  if (!everyClient.some((client) => client.id === id)) throw new Error(`--only: unknown client ${id}`);
}
if (!only.has('sluice')) throw new Error('--only must include sluice: every ratio is to Sluice');
const active: readonly ClientInfo[] = everyClient.filter((client) => only.has(client.id));
const rows: readonly ConsumeRow[] = flags.profile
  ? parseRows({ rows: flags.rows ?? '100:none' }).slice(0, 1)
  : parseRows({ rows: flags.rows, sizes: flags.sizes, codecs: flags.codecs });
const settings = {
  rows: rows.map((row) => row.id),
  records: Number(flags.records ?? (quick ? 50_000 : 1_000_000)),
  partitions: Number(flags.partitions),
  recordsPerBatch: Number(flags['batch-records']),
  samples: Number(flags.samples ?? (quick || flags.profile ? 1 : 3)),
  warmUpReads: Number(flags['warm-up-reads']),
  /** Each sample in a fresh child process (the default), or the Node clients all in this one (--in-process). */
  isolation: flags['in-process'] ? ('in-process' as const) : ('process-per-sample' as const),
  maxPollRecords: Number(flags['max-poll-records']),
  fetch: {
    maxBytes: 52_428_800,
    partitionMaxBytes: 1_048_576,
    maxWaitMs: 500,
    minBytes: 1,
  } satisfies FetchSettings,
  clients: active.map((client) => client.id),
  exposeGc: (globalThis as { gc?: unknown }).gc !== undefined,
  childExecArgv: flags['in-process'] ? null : childExecArgv(),
};
for (const [name, value] of Object.entries(settings)) {
  if (name === 'warmUpReads') {
    if (!(Number.isInteger(value) && (value as number) >= 0)) throw new Error(`bad ${name}: ${value}`);
  } else if (typeof value === 'number' && !(Number.isInteger(value) && value > 0)) {
    throw new Error(`bad ${name}: ${value}`);
  }
}
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {});

const log = (line: string) => {
  if (!flags.json) process.stdout.write(`${line}\n`);
};
const progress = (line: string) => process.stderr.write(`${line}\n`);

// ---- broker ---------------------------------------------------------------------------------------------------

let cluster: KafkaCluster | null = null;
let admin: Connection | null = null;
const createdTopics = new Set<string>();
let cleaning: Promise<void> | null = null;
let interrupted = false;

function cleanUp(): Promise<void> {
  cleaning ??= closeAll();
  return cleaning;
}

async function closeAll(): Promise<void> {
  killChildren();
  killJavaChildren();
  if (admin && !admin.closed) {
    for (const topic of createdTopics) await deleteTopic(admin, topic).catch(() => {});
  }
  admin?.close();
  const running = cluster;
  cluster = null;
  await running?.stop();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping`);
    interrupted = true;
    void cleanUp().finally(() => process.exit(130));
  });
}

async function startBroker(): Promise<{ bootstrap: string; broker: string; kafkaVersion: string | null }> {
  const external = process.env.KAFKA_BOOTSTRAP;
  if (external) {
    return {
      bootstrap: external.split(',')[0]!.trim(),
      broker: `external (KAFKA_BOOTSTRAP=${external})`,
      kafkaVersion: null,
    };
  }
  progress('starting a one-broker Kafka cluster (harness)...');
  cluster = await KafkaCluster.start({ brokers: 1, log: progress });
  return {
    bootstrap: cluster.bootstrap(),
    broker: `harness Kafka ${cluster.version}, 1 broker, loopback`,
    kafkaVersion: cluster.version,
  };
}

// ---- topics ----------------------------------------------------------------------------------------------------

/** Creates and fills one row's topic; it is deleted after the row (and at exit if still there). */
async function produceRow(row: ConsumeRow): Promise<ConsumeTopicFill> {
  const topic = `sluice-bench-consume-${row.valueBytes}-${row.compression}-${randomUUID().slice(0, 8)}`;
  const topicId = await createTopic(admin!, topic, settings.partitions);
  createdTopics.add(topic);
  progress(
    `row ${row.id}: producing ${settings.records} records of ${row.valueBytes} B JSON-looking values ` +
      `(${row.compression}) into ${topic} (${settings.partitions} partitions)...`,
  );
  const fill = await fillPartitions(admin!, topic, topicId, row, {
    partitions: settings.partitions,
    records: settings.records,
    recordsPerBatch: settings.recordsPerBatch,
    window: 4,
  });
  progress(
    `row ${row.id}: produced ${fill.records} records (${(fill.payloadBytes / 1e6).toFixed(1)} MB of keys + values, ` +
      `${fill.batches} batches, ${(fill.batchBytes / 1e6).toFixed(1)} MB of batches) in ${fill.seconds.toFixed(1)} s`,
  );
  return fill;
}

async function dropRowTopic(fill: ConsumeTopicFill): Promise<void> {
  await deleteTopic(admin!, fill.topic).catch((error: unknown) => progress(`could not delete ${fill.topic}: ${error}`));
  createdTopics.delete(fill.topic);
}

// ---- samples ---------------------------------------------------------------------------------------------------

function readSpec(bootstrap: string, fill: ConsumeTopicFill): ReadSpec {
  // Generous: a read slower than 5 MB/s or 20 k records/s is taken to be stuck.
  const timeoutMs = Math.ceil(Math.max(120_000, (fill.payloadBytes / 1e6) * 200, fill.records * 0.05));
  return {
    bootstrap,
    topic: fill.topic,
    expectedRecords: fill.records,
    expectedBytes: fill.payloadBytes,
    fetch: settings.fetch,
    maxPollRecords: settings.maxPollRecords,
    timeoutMs,
  };
}

/** Kafka's Java consumer, once resolved; or why it cannot run. */
let javaSetup: JavaSetup | null = null;
let javaUnavailable: string | null = null;

/** --in-process: one read in this process, with the CPU time of the read. */
async function readHere(client: Client, spec: ReadSpec, label: string): Promise<Sample> {
  collectGarbage();
  const cpuAtStart = process.cpuUsage();
  const result = await readOnce(client, spec, label);
  const cpu = process.cpuUsage(cpuAtStart);
  return { ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMiB: null };
}

/** One timed sample of one client, in the process it runs in. */
async function sample(client: ClientInfo, spec: ReadSpec, label: string): Promise<Sample> {
  const childSpec: ChildSpec = { ...spec, client: client.id, label, warmUpReads: settings.warmUpReads };
  if (client.id === 'java') {
    if (javaSetup === null) throw new Error(javaUnavailable ?? 'not set up');
    return runJavaSample(javaSetup, childSpec);
  }
  if (settings.isolation === 'in-process') return readHere(client as Client, spec, label);
  const report = await runChild(childSpec);
  if (!report.exposeGc) throw new Error(`${client.id}: the child process has no gc() (--expose-gc)`);
  return {
    ...report.result,
    cpuSeconds: report.cpuSeconds,
    processCpuSeconds: report.processCpuSeconds,
    maxRssMiB: report.maxRssMiB,
  };
}

/** --in-process: the warm-up reads of one row, every Node client in turn, before its rounds. */
async function warmUpHere(spec: ReadSpec, failures: Map<ClientId, string>): Promise<void> {
  for (let index = 0; index < settings.warmUpReads; index++) {
    for (const client of active) {
      if (client.id === 'java' || failures.has(client.id)) continue;
      const label = settings.warmUpReads === 1 ? 'warm-up' : `warm-up ${index + 1}`;
      await readHere(client as Client, spec, label).catch((error: unknown) => {
        failures.set(client.id, (error as Error).message);
      });
    }
  }
}

/** The rounds of one row; a client's first failure is kept and its remaining samples on the row skipped. */
async function runRow(bootstrap: string, fill: ConsumeTopicFill): Promise<ClientOutcome[]> {
  const spec = readSpec(bootstrap, fill);
  const samples = new Map<ClientId, Sample[]>(active.map((client) => [client.id, []]));
  const failures = new Map<ClientId, string>();
  if (settings.isolation === 'in-process') await warmUpHere(spec, failures);
  for (let round = 0; round < settings.samples; round++) {
    for (let turn = 0; turn < active.length; turn++) {
      // The order rotates each round, so that drift in the machine's load spreads over every client alike.
      const client = active[(round + turn) % active.length]!;
      if (failures.has(client.id)) continue;
      const label = `${fill.row.id} sample ${round + 1}/${settings.samples}`;
      try {
        const startedAt = performance.now();
        const taken = { ...(await sample(client, spec, label)), wallSeconds: (performance.now() - startedAt) / 1000 };
        samples.get(client.id)!.push(taken);
        if (client.id === 'java') {
          progress(
            `  java ${label}: ${taken.records} records in ${taken.seconds.toFixed(2)} s ` +
              `(join ${((taken.joinSeconds ?? 0) * 1000).toFixed(0)} ms, CPU ${taken.cpuSeconds?.toFixed(2)} s, ` +
              `peak RSS ${taken.maxRssMiB} MiB)`,
          );
        }
      } catch (error) {
        if (interrupted) throw error;
        const reason = (error as Error).message;
        progress(`  ${client.id} ${label} FAILED: ${reason}`);
        failures.set(client.id, reason);
      }
    }
  }
  return active.map((client) => ({
    id: client.id,
    label: client.label,
    settings: client.describe({ fetch: settings.fetch, maxPollRecords: settings.maxPollRecords }),
    samples: samples.get(client.id)!,
    failure: failures.get(client.id) ?? null,
  }));
}

/** Makes each row's topic, runs its rounds, drops it; a topic that cannot be made fails its row, not the run. */
async function runRows(bootstrap: string): Promise<RowResult[]> {
  const results: RowResult[] = [];
  for (const row of rows) {
    const startedAt = performance.now();
    const wallSeconds = () => Math.round(performance.now() - startedAt) / 1000;
    let fill: ConsumeTopicFill;
    try {
      fill = await produceRow(row);
    } catch (error) {
      if (interrupted) throw error;
      const reason = (error as Error).message;
      progress(`row ${row.id}: could not make the topic: ${reason}`);
      results.push({ row, fill: null, failure: reason, clients: [], wallSeconds: wallSeconds() });
      continue;
    }
    const outcomes = await runRow(bootstrap, fill);
    await dropRowTopic(fill);
    const { row: _row, ...fillFigures } = fill;
    results.push({ row, fill: fillFigures, failure: null, clients: rowFigures(outcomes), wallSeconds: wallSeconds() });
  }
  return results;
}

// ---- --profile -------------------------------------------------------------------------------------------------

async function profileSluice(bootstrap: string): Promise<void> {
  const fill = await produceRow(rows[0]!);
  const spec = readSpec(bootstrap, fill);
  const file = join(
    tmpdir(),
    `sluice-bench-consume-${fill.row.valueBytes}-${fill.row.compression}-${Date.now()}.cpuprofile`,
  );
  const report = await runChild({
    ...spec,
    client: 'sluice',
    label: `${fill.row.id} profile`,
    warmUpReads: settings.warmUpReads,
    profileOut: file,
  });
  await dropRowTopic(fill);
  // Only the samples of the read itself: not the profiler's own start and stop.
  const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, {
    top: 25,
    ...(report.profileWindowMicros === undefined ? {} : { window: report.profileWindowMicros }),
  });
  const result = report.result;
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ machine: machineInfo(), settings, fill, result, profile: file, summary }, null, 2)}\n`,
    );
    return;
  }
  log(
    `Profile of Sluice alone, row ${fill.row.id}: ${fill.records} records, ${(fill.payloadBytes / 1e6).toFixed(1)} MB ` +
      `of keys + values, ${fill.partitions} partitions; ${settings.warmUpReads} untimed warm-up read(s), then the ` +
      "profiled read (V8's sampling profiler through the inspector, every 500 µs, that read only).",
  );
  log(
    `The read: ${(result.records / result.seconds / 1e3).toFixed(1)} k records/s, ` +
      `${(result.bytes / 1e6 / result.seconds).toFixed(1)} MB/s, first record after ` +
      `${(result.secondsToFirstRecord * 1000).toFixed(0)} ms, ${report.cpuSeconds.toFixed(2)} s CPU for ` +
      `${result.seconds.toFixed(2)} s (profiling slows it a little).`,
  );
  log(
    `Sampled ${summary.milliseconds.toFixed(0)} ms: idle (V8's "(idle)", the event loop waiting) ` +
      `${(summary.idle * 100).toFixed(1)} %, "(program)" (native code V8 cannot attribute) ` +
      `${(summary.program * 100).toFixed(1)} %, garbage collector ${(summary.garbageCollector * 100).toFixed(1)} %.`,
  );
  log('');
  log('Self time by function, top 25:');
  for (const line of formatProfileLines(summary)) log(line);
  log('');
  log(`Profile: ${file} (open in Chrome DevTools, or: node benchmarks/src/profile-summary.ts ${file} 50)`);
}

// ---- report ----------------------------------------------------------------------------------------------------

function printReport(results: readonly RowResult[], context: { broker: string; minutes: number }): void {
  const machine = machineInfo();
  log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.platform}`);
  log(`Node ${machine.node} (V8 ${machine.v8}); broker: ${context.broker}.`);
  if (javaSetup) log(`Java: ${javaSetup.javaVersion}, kafka-tools ${javaSetup.kafkaVersion}.`);
  log(
    `Topics: one per row, ${settings.partitions} partitions, batches of ${settings.recordsPerBatch} records (keys ` +
      "`user-<n>`, values JSON-looking events of the row's size, no headers), produced by Sluice's encoder. " +
      'MB = 10^6 key + value bytes.',
  );
  log(
    'Each read: a fresh consumer group, earliest offset, no commits, until every record is seen; timed from the ' +
      'first call that talks to the broker (group join included) to the last record.',
  );
  log(
    settings.isolation === 'in-process'
      ? `Node clients NOT isolated (--in-process): warm-up reads up front per row, then ${settings.samples} rounds.`
      : `Samples isolated: ${settings.samples} round(s) per row, the client order rotating; every sample in a fresh ` +
          `process (node ${settings.childExecArgv!.join(' ')}, or a JVM) doing ${settings.warmUpReads} untimed ` +
          'warm-up read(s), then the timed one.',
  );
  log(
    'Median (best in brackets); spread = interquartile range / median of records/s; "first record": median time ' +
      'from the first call to the first record (Java: n/a, its tool reports the join time instead); CPU: user + ' +
      'system of every thread of the process over the timed read, per million records; peak RSS: median of the ' +
      "sample processes' peaks (warm-up reads included).",
  );
  for (const result of results) {
    log('');
    if (result.fill === null) {
      log(`### ${result.row.id}: not run, the topic could not be made: ${result.failure}`);
      continue;
    }
    const fill = result.fill;
    log(
      `### ${result.row.id}: ${fill.records} records of ${result.row.valueBytes} B values, ${result.row.compression}: ` +
        `${(fill.payloadBytes / 1e6).toFixed(1)} MB of keys + values in ${(fill.batchBytes / 1e6).toFixed(1)} MB ` +
        `of batches (${(fill.payloadBytes / fill.batchBytes).toFixed(2)}x); the row took ${result.wallSeconds.toFixed(0)} s`,
    );
    log('');
    log(renderRowTable(result));
    const failed = result.clients.filter((client) => client.failure !== null);
    if (failed.length > 0) {
      log('');
      for (const client of failed) log(`- ${client.label} FAILED: ${client.failure}`);
    }
  }
  log('');
  log('Targets (ratios of medians in this run):');
  for (const target of evaluateTargets(results)) log(formatTarget(target));
  log('');
  log('Settings per client:');
  const described = results.find((result) => result.clients.length > 0)?.clients ?? [];
  for (const client of described) log(`- ${client.label}: ${client.settings}`);
  if (javaUnavailable !== null && only.has('java')) log(`Kafka's Java consumer could not run: ${javaUnavailable}`);
  const skipped = everyClient.filter((client) => !only.has(client.id)).map((client) => client.id);
  if (skipped.length > 0) log(`Not run (--only): ${skipped.join(', ')}`);
  log('');
  log(`Load average at end: ${machineInfo().loadAverage.join(' ')}; the run took ${context.minutes.toFixed(1)} min.`);
}

// ---- main ------------------------------------------------------------------------------------------------------

const machine = machineInfo();
const startedAt = performance.now();
let exitCode = 0;
try {
  const { bootstrap, broker, kafkaVersion } = await startBroker();
  admin = await Connection.open({ ...parseAddress(bootstrap), clientId: 'sluice-bench', requestTimeoutMs: 120_000 });
  if (flags.profile) {
    await profileSluice(bootstrap);
  } else {
    if (only.has('java')) {
      const version = flags['java-kafka-version'] ?? kafkaVersion ?? DEFAULT_KAFKA_VERSION;
      try {
        javaSetup = await ensureJavaConsumer(version, progress);
      } catch (error) {
        javaUnavailable = (error as Error).message;
        progress(`Kafka's Java consumer will not run: ${javaUnavailable}`);
      }
    }
    const results = await runRows(bootstrap);
    const targets = evaluateTargets(results);
    const minutes = (performance.now() - startedAt) / 60_000;
    if (flags.json) {
      const skipped = everyClient.filter((client) => !only.has(client.id)).map((client) => client.id);
      process.stdout.write(
        `${JSON.stringify(
          {
            machine,
            broker,
            kafkaVersion,
            java: javaSetup ?? { unavailable: javaUnavailable },
            settings,
            skipped,
            rows: results,
            targets,
            loadAverageAtEnd: machineInfo().loadAverage,
            minutes,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      printReport(results, { broker, minutes });
    }
    const sluiceFailed = results.some(
      (result) => result.failure !== null || result.clients.some((client) => client.id === 'sluice' && client.failure),
    );
    if (sluiceFailed) exitCode = 1;
  }
} catch (error) {
  if (interrupted) exitCode = 130;
  else {
    progress(`bench:consume failed: ${(error as Error).stack ?? error}`);
    exitCode = 1;
  }
} finally {
  await cleanUp();
}
process.exit(exitCode);
