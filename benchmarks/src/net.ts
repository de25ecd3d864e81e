// pnpm bench:net [--json] [--quick] [--requests N] [--windows 1,16,256] [--small-api metadata|apiversions]
//                [--megabytes 300] [--fetch-max-bytes 52428800] [--samples N] [--only small,fetch]
//                [--sluice-only] [--receive-buffer-bytes N]
//
// Measures Sluice's Connection against the local broker beside plain node:net sockets that only read the same
// bytes (the ceilings), in one process, interleaved:
// - small requests: N pipelined Metadata(topics: []) (or ApiVersions) requests through one connection with W in
//   flight: requests/s and latency percentiles; the plain socket writes the same pre-encoded request bytes and
//   only counts response frames.
// - large Fetch responses: a topic filled with ~300 MB of 1-10 KB uncompressed records by Sluice's Produce, read
//   from offset 0 to the end with ~50 MB Fetch responses, one Fetch in flight: MB/s of response bytes for Sluice
//   (frame assembly + Fetch response decode; the records are not walked: that is `pnpm bench:decode`), for Sluice
//   with `frameBuffers: ReusableFrameBuffers` (each response released once decoded and checked), and for
//   plain sockets that count the bytes (the ceiling), copy them into one frame buffer (what FrameAssembler does),
//   or read them straight into the frame buffer with net.Socket's `onread` (what FrameAssembler could do).
//
// Starts its own one-broker cluster with the Kafka harness (stopped at the end, on error and on SIGINT) unless
// KAFKA_BOOTSTRAP=host:port names a broker; the topic it creates there is deleted at the end.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Connection, type ConnectionOptions, ReusableFrameBuffers } from '@sluice/net';
import { KafkaCluster } from '@sluice/tools-kafka';
import {
  createTopic,
  deleteTopic,
  type FetchPlan,
  type FetchSettings,
  fillTopic,
  planFetches,
  RawFetcher,
  type RawMode,
  sluicePass,
  type TopicFill,
} from './net-fetch.ts';
import { type Address, parseAddress } from './net-raw-socket.ts';
import {
  formatCount,
  formatRatio,
  type LatencyPercentiles,
  machineInfo,
  percentiles,
  renderTable,
  type Summary,
  summarise,
} from './net-report.ts';
import { runRawSmall, runSluiceSmall, type SmallApi, type SmallRun, smallRequest } from './net-small.ts';

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    requests: { type: 'string' },
    windows: { type: 'string' },
    'small-api': { type: 'string', default: 'metadata' },
    megabytes: { type: 'string' },
    'fetch-max-bytes': { type: 'string' },
    samples: { type: 'string' },
    only: { type: 'string', default: 'small,fetch' },
    'sluice-only': { type: 'boolean', default: false },
    'receive-buffer-bytes': { type: 'string', default: '-1' },
  },
});

const quick = flags.quick;
const parts = new Set(flags.only.split(',').map((part) => part.trim()));
const smallApi = flags['small-api'] as SmallApi;
if (smallApi !== 'metadata' && smallApi !== 'apiversions') throw new Error('--small-api: metadata or apiversions');
const settings = {
  smallApi,
  requests: Number(flags.requests ?? (quick ? 3_000 : 10_000)),
  windows: (flags.windows ?? '1,16,256').split(',').map(Number),
  megabytes: Number(flags.megabytes ?? (quick ? 100 : 300)),
  recordSize: { min: 1_000, max: 10_000 },
  produceBatchBytes: 900_000,
  fetch: {
    maxBytes: Number(flags['fetch-max-bytes'] ?? 50 * 1024 * 1024),
    partitionMaxBytes: 1024 * 1024 * 1024,
    maxWaitMs: 500,
  } satisfies FetchSettings,
  samples: Number(flags.samples ?? (quick ? 3 : 7)),
  sluiceOnly: flags['sluice-only'],
  /** Sluice connections' receive.buffer.bytes (-1: the OS default and its automatic tuning; Kafka's default 65536). */
  receiveBufferBytes: Number(flags['receive-buffer-bytes']),
  exposeGc: (globalThis as { gc?: unknown }).gc !== undefined,
  /** glibc malloc settings change how often freed memory goes back to the system (and faults in again). */
  glibcTunables: process.env.GLIBC_TUNABLES ?? null,
};
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {});

const log = (line: string) => {
  if (!flags.json) process.stdout.write(`${line}\n`);
};
const progress = (line: string) => process.stderr.write(`${line}\n`);

// ---- broker ---------------------------------------------------------------------------------------------------

let cluster: KafkaCluster | null = null;
const connections: Connection[] = [];
const rawFetchers: RawFetcher[] = [];
let createdTopic: string | null = null;

let cleaning: Promise<void> | null = null;
let interrupted = false;

/** Closes everything and stops the broker; every caller waits for the same work. */
function cleanUp(): Promise<void> {
  cleaning ??= closeAll();
  return cleaning;
}

async function closeAll(): Promise<void> {
  for (const fetcher of rawFetchers.splice(0)) fetcher.close();
  if (createdTopic !== null && cluster === null && connections[0] && !connections[0].closed) {
    await deleteTopic(connections[0], createdTopic).catch(() => {});
  }
  for (const connection of connections.splice(0)) connection.close();
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

async function brokerAddress(): Promise<{ address: Address; broker: string }> {
  const bootstrap = process.env.KAFKA_BOOTSTRAP;
  if (bootstrap) return { address: parseAddress(bootstrap), broker: `external (KAFKA_BOOTSTRAP=${bootstrap})` };
  progress('starting a one-broker Kafka cluster (harness)...');
  cluster = await KafkaCluster.start({ brokers: 1, log: progress });
  return { address: parseAddress(cluster.bootstrap()), broker: `harness Kafka ${cluster.version}, 1 broker, loopback` };
}

async function open(address: Address, extra: Partial<ConnectionOptions> = {}): Promise<Connection> {
  const connection = await Connection.open({
    ...address,
    clientId: 'sluice-bench',
    requestTimeoutMs: 120_000,
    receiveBufferBytes: settings.receiveBufferBytes,
    ...extra,
  });
  connections.push(connection);
  return connection;
}

// ---- small requests --------------------------------------------------------------------------------------------

interface SmallSide {
  readonly requestsPerSecond: Summary;
  /** Latency percentiles (µs) of the run with the median rate. */
  readonly latencyMicroseconds: LatencyPercentiles;
}

interface SmallRow {
  readonly window: number;
  readonly sluice: SmallSide;
  readonly plainSocket: SmallSide | null;
  /** Sluice over the plain socket, median requests/s. */
  readonly ratio: number | null;
}

function sideOf(runs: readonly SmallRun[]): SmallSide {
  const rates = runs.map((run) => run.requests / run.seconds);
  const byRate = [...runs].sort((left, right) => left.requests / left.seconds - right.requests / right.seconds);
  return {
    requestsPerSecond: summarise(rates),
    latencyMicroseconds: percentiles(byRate[Math.floor((byRate.length - 1) / 2)]!.latencies),
  };
}

async function smallBenchmark(address: Address): Promise<{ label: string; rows: SmallRow[] }> {
  const connection = await open(address);
  const small = smallRequest(connection, settings.smallApi, 'sluice-bench');
  const rows: SmallRow[] = [];
  for (const window of settings.windows) {
    // Warm-up: JIT, socket buffers, the broker's request path.
    await runSluiceSmall(connection, small, Math.min(2_000, settings.requests), window);
    if (!settings.sluiceOnly) await runRawSmall(address, small, Math.min(2_000, settings.requests), window);
    const sluiceRuns: SmallRun[] = [];
    const rawRuns: SmallRun[] = [];
    for (let round = 0; round < settings.samples; round++) {
      const order = round % 2 === 0 ? ['sluice', 'raw'] : ['raw', 'sluice'];
      for (const who of order) {
        if (who === 'raw' && settings.sluiceOnly) continue;
        collectGarbage();
        if (who === 'sluice') sluiceRuns.push(await runSluiceSmall(connection, small, settings.requests, window));
        else rawRuns.push(await runRawSmall(address, small, settings.requests, window));
      }
    }
    const sluice = sideOf(sluiceRuns);
    const plainSocket = rawRuns.length > 0 ? sideOf(rawRuns) : null;
    rows.push({
      window,
      sluice,
      plainSocket,
      ratio: plainSocket ? sluice.requestsPerSecond.median / plainSocket.requestsPerSecond.median : null,
    });
    progress(
      `small W=${window}: Sluice ${formatCount(sluice.requestsPerSecond.median)} req/s, plain socket ` +
        `${plainSocket ? formatCount(plainSocket.requestsPerSecond.median) : '-'} req/s`,
    );
  }
  return { label: small.label, rows };
}

// ---- large Fetch responses -------------------------------------------------------------------------------------

const fetchCandidates = [
  { id: 'sluice', label: 'Sluice Connection (assemble + decode)' },
  { id: 'sluiceReuse', label: 'Sluice Connection + ReusableFrameBuffers (released after decode)' },
  { id: 'count', label: 'plain socket, count bytes (ceiling)' },
  { id: 'copy', label: 'plain socket + one copy into a new frame buffer' },
  { id: 'reuse', label: 'plain socket + one copy into a reused buffer' },
  { id: 'onread', label: 'plain socket, onread into a new frame buffer' },
  { id: 'onreadReuse', label: 'plain socket, onread into a reused buffer' },
] as const;
type FetchCandidateId = (typeof fetchCandidates)[number]['id'];

interface FetchResult {
  readonly fill: TopicFill;
  readonly version: number;
  readonly fetchesPerPass: number;
  readonly bytesPerPass: number;
  readonly largestResponseBytes: number;
  /** MB (10^6) of response bytes per second, by candidate. */
  readonly megabytesPerSecond: Partial<Record<FetchCandidateId, Summary>>;
  /** Each reader's MB/s over the counting socket's (the ceiling), from the median and from the best samples. */
  readonly overCeiling: Partial<Record<FetchCandidateId, { median: number; best: number }>>;
}

async function fetchBenchmark(address: Address): Promise<FetchResult> {
  const admin = await open(address);
  const topic = `sluice-bench-net-${randomUUID().slice(0, 8)}`;
  const topicId = await createTopic(admin, topic);
  createdTopic = topic;
  progress(`producing ${settings.megabytes} MB of 1-10 KB records into ${topic}...`);
  const fill = await fillTopic(admin, topic, topicId, {
    targetBytes: settings.megabytes * 1e6,
    batchBytes: settings.produceBatchBytes,
    window: 4,
    recordSize: settings.recordSize,
  });
  progress(
    `produced ${fill.records} records in ${fill.batches} batches (${(fill.bytes / 1e6).toFixed(0)} MB) in ` +
      `${fill.seconds.toFixed(1)} s`,
  );
  const connection = await open(address);
  const plan: FetchPlan = await planFetches(connection, fill, settings.fetch);
  const frameBuffers = new ReusableFrameBuffers();
  const reusing = await open(address, { frameBuffers });
  const passes: Record<FetchCandidateId, () => Promise<number>> = {
    sluice: () => sluicePass(connection, plan),
    sluiceReuse: () => sluicePass(reusing, plan, frameBuffers),
    count: async () => 0,
    copy: async () => 0,
    reuse: async () => 0,
    onread: async () => 0,
    onreadReuse: async () => 0,
  };
  const active: FetchCandidateId[] = ['sluice', 'sluiceReuse'];
  // The counting socket always runs once: it records each response's size in the plan.
  for (const mode of ['count', 'copy', 'reuse', 'onread', 'onreadReuse'] as const satisfies readonly RawMode[]) {
    if (mode !== 'count' && settings.sluiceOnly) continue;
    const fetcher = await RawFetcher.open(address, mode);
    rawFetchers.push(fetcher);
    passes[mode] = () => fetcher.pass(plan);
    if (mode === 'count' || !settings.sluiceOnly) await fetcher.pass(plan);
    if (!settings.sluiceOnly) active.push(mode);
  }
  // Warm-up passes of Sluice (the plain sockets had theirs above).
  await passes.sluice();
  await passes.sluiceReuse();
  const rates = new Map<FetchCandidateId, number[]>(active.map((id) => [id, []]));
  for (let round = 0; round < settings.samples; round++) {
    for (let turn = 0; turn < active.length; turn++) {
      const id = active[(round + turn) % active.length]!;
      collectGarbage();
      const seconds = await passes[id]();
      rates.get(id)!.push(plan.totalBytes / 1e6 / seconds);
    }
    progress(`fetch round ${round + 1}/${settings.samples} done`);
  }
  const megabytesPerSecond: Partial<Record<FetchCandidateId, Summary>> = {};
  for (const [id, values] of rates) megabytesPerSecond[id] = summarise(values);
  const over = (id: FetchCandidateId) => {
    const top = megabytesPerSecond[id];
    const ceiling = megabytesPerSecond.count;
    return top && ceiling ? { median: top.median / ceiling.median, best: top.best / ceiling.best } : null;
  };
  return {
    fill,
    version: plan.version,
    fetchesPerPass: plan.fetches.length,
    bytesPerPass: plan.totalBytes,
    largestResponseBytes: Math.max(...plan.fetches.map((fetch) => fetch.responseBytes)),
    megabytesPerSecond,
    overCeiling: Object.fromEntries(active.map((id) => [id, over(id)])),
  };
}

// ---- main ------------------------------------------------------------------------------------------------------

const machine = machineInfo();
let exitCode = 0;
try {
  const { address, broker } = await brokerAddress();
  const small = parts.has('small') ? await smallBenchmark(address) : null;
  const fetched = parts.has('fetch') ? await fetchBenchmark(address) : null;
  const targetFor = (id: 'sluice' | 'sluiceReuse') => {
    const over = fetched?.overCeiling[id];
    return over ? { ratio: over.median, best: over.best, met: over.median >= 0.9 } : null;
  };
  const target = fetched?.overCeiling.sluice
    ? {
        goal: 'Sluice >= 0.90x the plain-socket ceiling, MB/s of large Fetch responses',
        default: targetFor('sluice'),
        reusableFrameBuffers: targetFor('sluiceReuse'),
      }
    : null;
  const loadAverageAtEnd = machineInfo().loadAverage;

  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ machine, broker, settings, small, fetch: fetched, target, loadAverageAtEnd }, null, 2)}\n`,
    );
  } else {
    log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.platform}`);
    log(`Node ${machine.node} (V8 ${machine.v8}); load average ${machine.loadAverage.join(' ')} at start`);
    log(`Broker: ${broker}. ${settings.samples} interleaved samples per figure, median (best in brackets).`);
    if (settings.glibcTunables) log(`GLIBC_TUNABLES=${settings.glibcTunables}`);
    if (settings.receiveBufferBytes !== -1) {
      log(`Sluice connections: receive.buffer.bytes=${settings.receiveBufferBytes} (plain sockets: the OS default).`);
    }
    if (small) {
      log('');
      log(
        `Small requests: ${settings.requests} pipelined ${small.label} per sample through one connection, ` +
          'W in flight; latency = send to response, µs, from the median sample.',
      );
      log('');
      log(
        renderTable(
          ['W', 'Sluice req/s', 'plain socket req/s', 'Sluice / plain', 'Sluice p50 / p99 / p99.9', 'plain p50 / p99'],
          small.rows.map((row) => {
            const latency = row.sluice.latencyMicroseconds;
            const plain = row.plainSocket?.latencyMicroseconds;
            return [
              String(row.window),
              `${formatCount(row.sluice.requestsPerSecond.median)} (${formatCount(row.sluice.requestsPerSecond.best)})`,
              row.plainSocket
                ? `${formatCount(row.plainSocket.requestsPerSecond.median)} (${formatCount(row.plainSocket.requestsPerSecond.best)})`
                : '-',
              formatRatio(row.ratio),
              `${latency.p50} / ${latency.p99} / ${latency.p999}`,
              plain ? `${plain.p50} / ${plain.p99}` : '-',
            ];
          }),
        ),
      );
    }
    if (fetched) {
      log('');
      log(
        `Large Fetch responses: Fetch v${fetched.version}, 1 partition, ${(fetched.fill.bytes / 1e6).toFixed(0)} MB of ` +
          `${settings.recordSize.min}-${settings.recordSize.max} B uncompressed records (${fetched.fill.records} records), ` +
          `read from offset 0 to the end in ${fetched.fetchesPerPass} Fetches of up to ` +
          `${(fetched.largestResponseBytes / 1e6).toFixed(1)} MB (maxBytes ${settings.fetch.maxBytes}), one in flight. ` +
          'MB = 10^6 response bytes.',
      );
      log('');
      log(
        renderTable(
          ['reader', 'MB/s median', 'MB/s best', 'spread', 'over ceiling (median)'],
          fetchCandidates.flatMap((candidate) => {
            const summary = fetched.megabytesPerSecond[candidate.id];
            if (!summary) return [];
            const ceiling = fetched.megabytesPerSecond.count;
            return [
              [
                candidate.label,
                summary.median.toFixed(0),
                summary.best.toFixed(0),
                `${(summary.spread * 100).toFixed(0)} %`,
                ceiling ? formatRatio(summary.median / ceiling.median) : '-',
              ],
            ];
          }),
        ),
      );
      if (target) {
        log('');
        for (const [label, reached] of [
          ['default', target.default],
          ['ReusableFrameBuffers', target.reusableFrameBuffers],
        ] as const) {
          if (!reached) continue;
          log(
            `Target: Sluice (${label}) >= 0.90x the ceiling for large responses: ${reached.met ? 'met' : 'NOT met'} ` +
              `(median ${formatRatio(reached.ratio)}, best ${formatRatio(reached.best)})`,
          );
        }
      }
    }
    log('');
    log(`Load average at end: ${loadAverageAtEnd.join(' ')}`);
  }
} catch (error) {
  if (interrupted) exitCode = 130;
  else {
    progress(`bench:net failed: ${(error as Error).stack ?? error}`);
    exitCode = 1;
  }
} finally {
  await cleanUp();
}
process.exit(exitCode);
