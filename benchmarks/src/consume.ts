// pnpm bench:consume [--json] [--quick] [--megabytes 200] [--record-bytes 1000] [--partitions 4] [--samples 5]
//                    [--max-poll-records 500] [--only sluice,kafkajs,platformatic] [--warm-up-reads 1] [--in-process]
//
// --only also takes sluiceNoCrc: Sluice with check.crcs=false (neither peer checks CRCs); not in the default set.
//
// End to end: a topic of N partitions filled with fixed-size uncompressed records, then read from the earliest offset
// to the end by Sluice's KafkaConsumer, KafkaJS and @platformatic/kafka against the same broker, interleaved per
// round. Each read is a fresh consumer group with no offset commits, timed from the first call that talks to the
// broker (so the group join is included) to the last record; records/s and MB/s of key + value bytes. Every read must
// count exactly the produced records and bytes, or the run fails.
//
// Isolated by default: every (round, client) sample runs in a fresh Node process (consume-child.ts, spawned with
// --expose-gc --conditions=@sluice/source), which does its --warm-up-reads untimed reads and then the timed one, so no
// client's garbage, heap growth or JIT state reaches another's timings. A child that fails, times out or miscounts
// fails the run. --in-process restores the old way: everything in this process, --warm-up-reads per client up front.
//
// Starts its own one-broker cluster with the Kafka harness (stopped at the end, on error and on SIGINT) unless
// KAFKA_BOOTSTRAP=host:port names a broker; the topic it creates there is deleted at the end.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Connection } from '@sluice/net';
import { KafkaCluster } from '@sluice/tools-kafka';
import { childExecArgv, killChildren, type ReadSpec, readOnce, runChild } from './consume-child.ts';
import { type Client, type ClientId, clients, type FetchSettings, type ReadResult } from './consume-clients.ts';
import { type ConsumeTopicFill, fillPartitions } from './consume-topic.ts';
import { createTopic, deleteTopic } from './net-fetch.ts';
import { parseAddress } from './net-raw-socket.ts';
import { formatCount, formatRatio, machineInfo, renderTable, type Summary, summarise } from './net-report.ts';

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    megabytes: { type: 'string' },
    'record-bytes': { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '4' },
    samples: { type: 'string' },
    'max-poll-records': { type: 'string', default: '500' },
    only: { type: 'string', default: 'sluice,kafkajs,platformatic' },
    'warm-up-reads': { type: 'string', default: '1' },
    'in-process': { type: 'boolean', default: false },
  },
});

const quick = flags.quick;
const only = new Set(flags.only.split(',').map((id) => id.trim()));
for (const id of only) {
  if (!clients.some((client) => client.id === id)) throw new Error(`--only: unknown client ${id}`);
}
if (!only.has('sluice')) throw new Error('--only must include sluice: every ratio is to Sluice');
const active: readonly Client[] = clients.filter((client) => only.has(client.id));
const settings = {
  megabytes: Number(flags.megabytes ?? (quick ? 20 : 200)),
  recordBytes: Number(flags['record-bytes']),
  partitions: Number(flags.partitions),
  produceBatchBytes: 900_000,
  samples: Number(flags.samples ?? (quick ? 2 : 5)),
  warmUpReads: Number(flags['warm-up-reads']),
  /** Each sample in a fresh child process (the default), or all in this one (--in-process). */
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
  } else if (typeof value === 'number' && !(Number.isFinite(value) && value > 0)) {
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
let createdTopic: string | null = null;
let cleaning: Promise<void> | null = null;
let interrupted = false;

function cleanUp(): Promise<void> {
  cleaning ??= closeAll();
  return cleaning;
}

async function closeAll(): Promise<void> {
  killChildren();
  if (createdTopic !== null && cluster === null && admin && !admin.closed) {
    await deleteTopic(admin, createdTopic).catch(() => {});
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

// ---- the benchmark -------------------------------------------------------------------------------------------

interface ClientResult {
  readonly id: ClientId;
  readonly label: string;
  readonly settings: string;
  readonly recordsPerSecond: Summary;
  /** MB (10^6) of key + value bytes per second. */
  readonly megabytesPerSecond: Summary;
  /** Median seconds from the first call to the first record (bootstrap, join, offsets, first Fetch). */
  readonly medianSecondsToFirstRecord: number;
  /** Records/s from the first record to the last (the join left out). */
  readonly steadyRecordsPerSecond: Summary;
  readonly seconds: readonly number[];
  /** Isolated samples: each child's peak resident set, MiB (its warm-up reads included). */
  readonly maxRssMiB: readonly number[] | null;
  /** This client's median records/s over Sluice's median (the same ratio holds for MB/s: same bytes). */
  readonly overSluice: number;
  readonly bestOverSluiceBest: number;
}

function readSpec(bootstrap: string, fill: ConsumeTopicFill): ReadSpec {
  return {
    bootstrap,
    topic: fill.topic,
    expectedRecords: fill.records,
    expectedBytes: fill.payloadBytes,
    fetch: settings.fetch,
    maxPollRecords: settings.maxPollRecords,
    timeoutMs: Math.ceil(Math.max(120_000, (fill.payloadBytes / 1e6) * 1_000)),
  };
}

/** --in-process: the warm-up reads up front, then the rounds, all in this process. */
async function runInProcess(spec: ReadSpec): Promise<Map<ClientId, ReadResult[]>> {
  for (let index = 0; index < settings.warmUpReads; index++) {
    for (const client of active) {
      collectGarbage();
      await readOnce(client, spec, settings.warmUpReads === 1 ? 'warm-up' : `warm-up ${index + 1}`);
    }
  }
  const runs = new Map<ClientId, ReadResult[]>(active.map((client) => [client.id, []]));
  for (let round = 0; round < settings.samples; round++) {
    for (const client of active) {
      collectGarbage();
      runs.get(client.id)!.push(await readOnce(client, spec, `sample ${round + 1}/${settings.samples}`));
    }
  }
  return runs;
}

/** The default: each (round, client) sample in a fresh child process, its warm-up reads in that same process. */
async function runIsolated(
  spec: ReadSpec,
): Promise<{ runs: Map<ClientId, ReadResult[]>; rss: Map<ClientId, number[]> }> {
  const runs = new Map<ClientId, ReadResult[]>(active.map((client) => [client.id, []]));
  const rss = new Map<ClientId, number[]>(active.map((client) => [client.id, []]));
  for (let round = 0; round < settings.samples; round++) {
    for (const client of active) {
      const report = await runChild({
        ...spec,
        client: client.id,
        label: `sample ${round + 1}/${settings.samples}`,
        warmUpReads: settings.warmUpReads,
      });
      if (!report.exposeGc) throw new Error(`${client.id}: the child process has no gc() (--expose-gc)`);
      runs.get(client.id)!.push(report.result);
      rss.get(client.id)!.push(report.maxRssMiB);
    }
  }
  return { runs, rss };
}

async function benchmark(bootstrap: string, fill: ConsumeTopicFill): Promise<ClientResult[]> {
  const spec = readSpec(bootstrap, fill);
  let runs: Map<ClientId, ReadResult[]>;
  let rss: Map<ClientId, number[]> | null = null;
  if (settings.isolation === 'in-process') runs = await runInProcess(spec);
  else ({ runs, rss } = await runIsolated(spec));
  const summaries = active.map((client) => {
    const results = runs.get(client.id)!;
    const firsts = results.map((result) => result.secondsToFirstRecord).sort((left, right) => left - right);
    return {
      client,
      results,
      recordsPerSecond: summarise(results.map((result) => result.records / result.seconds)),
      megabytesPerSecond: summarise(results.map((result) => result.bytes / 1e6 / result.seconds)),
      medianSecondsToFirstRecord: firsts[Math.floor((firsts.length - 1) / 2)]!,
      steadyRecordsPerSecond: summarise(results.map((result) => result.records / result.steadySeconds)),
    };
  });
  const reference = summaries.find((summary) => summary.client.id === 'sluice')!;
  return summaries.map((summary) => ({
    id: summary.client.id,
    label: summary.client.label,
    settings: summary.client.describe({ fetch: settings.fetch, maxPollRecords: settings.maxPollRecords }),
    recordsPerSecond: summary.recordsPerSecond,
    megabytesPerSecond: summary.megabytesPerSecond,
    medianSecondsToFirstRecord: Math.round(summary.medianSecondsToFirstRecord * 1000) / 1000,
    steadyRecordsPerSecond: summary.steadyRecordsPerSecond,
    seconds: summary.results.map((result) => Math.round(result.seconds * 1000) / 1000),
    maxRssMiB: rss?.get(summary.client.id) ?? null,
    overSluice: summary.recordsPerSecond.median / reference.recordsPerSecond.median,
    bestOverSluiceBest: summary.recordsPerSecond.best / reference.recordsPerSecond.best,
  }));
}

// ---- main ------------------------------------------------------------------------------------------------------

const machine = machineInfo();
let exitCode = 0;
try {
  const { bootstrap, broker, kafkaVersion } = await startBroker();
  admin = await Connection.open({ ...parseAddress(bootstrap), clientId: 'sluice-bench', requestTimeoutMs: 120_000 });
  const topic = `sluice-bench-consume-${randomUUID().slice(0, 8)}`;
  const topicId = await createTopic(admin, topic, settings.partitions);
  createdTopic = topic;
  progress(
    `producing ${settings.megabytes} MB of ${settings.recordBytes} B records into ${topic} (${settings.partitions} partitions)...`,
  );
  const fill = await fillPartitions(admin, topic, topicId, {
    partitions: settings.partitions,
    targetBytes: settings.megabytes * 1e6,
    recordBytes: settings.recordBytes,
    batchBytes: settings.produceBatchBytes,
    window: 4,
  });
  progress(
    `produced ${fill.records} records (${(fill.payloadBytes / 1e6).toFixed(1)} MB of keys + values, ` +
      `${fill.batches} batches, ${(fill.batchBytes / 1e6).toFixed(1)} MB of batches) in ${fill.seconds.toFixed(1)} s`,
  );
  const results = await benchmark(bootstrap, fill);
  const loadAverageAtEnd = machineInfo().loadAverage;
  const skipped = clients.filter((client) => !only.has(client.id)).map((client) => client.id);

  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ machine, broker, kafkaVersion, settings, fill: { ...fill, topicId: undefined }, skipped, results, loadAverageAtEnd }, null, 2)}\n`,
    );
  } else {
    log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.platform}`);
    log(`Node ${machine.node} (V8 ${machine.v8}); load average ${machine.loadAverage.join(' ')} at start`);
    log(`Broker: ${broker}.`);
    log(
      `Topic: ${fill.partitions} partitions, ${fill.records} records of ${settings.recordBytes} B values ` +
        `(uncompressed, keys of a few bytes), ${(fill.payloadBytes / 1e6).toFixed(1)} MB of keys + values ` +
        `(${(fill.batchBytes / 1e6).toFixed(1)} MB of record batches). MB = 10^6 key + value bytes.`,
    );
    log(
      `Each read: a fresh consumer group, earliest offset, no commits, until all ${fill.records} records are seen; ` +
        'timed from the first call that talks to the broker (group join included) to the last record; close untimed.',
    );
    const order = active.map((client) => client.id).join(', ');
    const reads = (count: number) => `${count} warm-up read${count === 1 ? '' : 's'}`;
    log(
      settings.isolation === 'in-process'
        ? 'Samples NOT isolated (--in-process): every read in this one Node process, so clients share its heap, ' +
            `garbage and JIT state; ${reads(settings.warmUpReads)} per client up front, then ${settings.samples} rounds (${order} in turn).`
        : `Samples isolated: each of the ${settings.samples} rounds (${order} in turn) runs every client's sample in a fresh ` +
            `Node process (node ${settings.childExecArgv!.join(' ')}), which does ${reads(settings.warmUpReads)} ` +
            'untimed and then the timed read; the topic is produced once by the parent. Use --in-process for one process.',
    );
    log(
      'Median (best in brackets); spread = interquartile range / median of records/s. The last two columns are ' +
        'medians: the time to the first record (bootstrap, group join, offset lookup, first Fetch) and records/s ' +
        'from the first record to the last.',
    );
    log('');
    log(
      renderTable(
        [
          'client',
          'records/s',
          'MB/s',
          'spread',
          'over Sluice (median)',
          'best over best',
          'first record after',
          'records/s after first',
        ],
        results.map((result) => [
          result.label,
          `${formatCount(result.recordsPerSecond.median)} (${formatCount(result.recordsPerSecond.best)})`,
          `${result.megabytesPerSecond.median.toFixed(1)} (${result.megabytesPerSecond.best.toFixed(1)})`,
          `${(result.recordsPerSecond.spread * 100).toFixed(0)} %`,
          formatRatio(result.overSluice),
          formatRatio(result.bestOverSluiceBest),
          `${(result.medianSecondsToFirstRecord * 1000).toFixed(0)} ms`,
          formatCount(result.steadyRecordsPerSecond.median),
        ]),
      ),
    );
    log('');
    log('Settings per client:');
    for (const result of results) log(`- ${result.label}: ${result.settings}`);
    if (skipped.length > 0) log(`Not run (--only): ${skipped.join(', ')}`);
    if (settings.isolation !== 'in-process') {
      log("Peak resident set of each sample's child process (MiB, warm-up reads included):");
      for (const result of results) log(`- ${result.label}: ${(result.maxRssMiB ?? []).join(', ')}`);
    }
    log('');
    log(`Load average at end: ${loadAverageAtEnd.join(' ')}`);
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
