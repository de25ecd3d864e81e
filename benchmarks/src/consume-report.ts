// Figures, tables and targets of `pnpm bench:consume`, kept apart from the run so that they can be unit-tested: the
// rows flags, the per-client summaries of one row, the tables, and the targets evaluated on the run's ratios.
import type { CompressionType } from '@sluice/protocol';
import type { ClientId } from './consume-clients.ts';
import type { ConsumeRow, ConsumeTopicFill } from './consume-topic.ts';
import { formatCount, formatRatio, quantile, renderTable, type Summary, summarise } from './net-report.ts';

/** One timed read, however the client ran (Node child, in-process, JVM). */
export interface Sample {
  readonly records: number;
  /** Key + value bytes. */
  readonly bytes: number;
  /** From the first call that talks to the broker to the last record. */
  readonly seconds: number;
  /** Null where the client cannot tell (Kafka's Java consumer: the tool reports its join time instead). */
  readonly secondsToFirstRecord: number | null;
  readonly steadySeconds: number | null;
  /** The Java tool's rebalance.time.ms: subscribe to the first assignment. */
  readonly joinSeconds?: number | null;
  /** CPU seconds (user + system, every thread of the process) of the timed read, its close included. */
  readonly cpuSeconds: number | null;
  /** CPU seconds of the whole process up to its report (start-up and warm-up reads included). */
  readonly processCpuSeconds?: number | null;
  /** Peak resident set of the sample's process, MiB (warm-up reads included); null when it shares this process. */
  readonly maxRssMiB: number | null;
  /** The whole sample as the parent saw it: process start, warm-up reads, the timed read, exit. */
  readonly wallSeconds?: number;
}

/** The reason a child gives for failing: the first line of its error, else the last line it wrote to stderr. */
export function childFailureReason(stderr: string): string | null {
  const lines = stderr.split('\n').map((line) => line.trim());
  const marker = 'bench:consume child failed: ';
  const failed = lines.find((line) => line.startsWith(marker));
  if (failed !== undefined) return failed.slice(marker.length).replace(/^Error: /, '');
  return lines.filter((line) => line !== '').at(-1) ?? null;
}

// ---- rows --------------------------------------------------------------------------------------------------------

export const rowCodecs: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

function row(valueBytes: number, compression: string): ConsumeRow {
  if (!(Number.isInteger(valueBytes) && valueBytes >= 8)) throw new Error(`bad value size ${valueBytes}`);
  if (!rowCodecs.includes(compression as CompressionType)) {
    throw new Error(`unknown codec ${compression} (${rowCodecs.join(', ')})`);
  }
  return { id: `${valueBytes}:${compression}`, valueBytes, compression: compression as CompressionType };
}

/**
 * The rows to run: `--rows 100:none,1000:zstd` as given, or every `--sizes` x `--codecs` pair (sizes first), each
 * once. The defaults make 100 B and 1 KB values, each uncompressed, lz4 and zstd.
 */
export function parseRows(flags: { rows?: string | undefined; sizes?: string; codecs?: string }): ConsumeRow[] {
  const list = (text: string) =>
    text
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '');
  let rows: ConsumeRow[];
  if (flags.rows !== undefined) {
    rows = list(flags.rows).map((spec) => {
      const [size, codec, extra] = spec.split(':');
      if (size === undefined || codec === undefined || extra !== undefined) {
        throw new Error(`--rows: ${spec} is not <value bytes>:<codec>`);
      }
      return row(Number(size), codec);
    });
  } else {
    const sizes = list(flags.sizes ?? '100,1000').map(Number);
    const codecs = list(flags.codecs ?? 'none,lz4,zstd');
    rows = sizes.flatMap((size) => codecs.map((codec) => row(size, codec)));
  }
  const unique = rows.filter((candidate, index) => rows.findIndex((other) => other.id === candidate.id) === index);
  if (unique.length === 0) throw new Error('no rows to run');
  return unique;
}

// ---- figures -----------------------------------------------------------------------------------------------------

/** The median of any numbers (NaN for none). */
export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((left, right) => left - right),
    0.5,
  );
}

/** What one client did on one row: its samples, or why it has none (or fewer than asked). */
export interface ClientOutcome {
  readonly id: ClientId;
  readonly label: string;
  readonly settings: string;
  readonly samples: readonly Sample[];
  /** The first failure; the client's remaining samples on the row were skipped. */
  readonly failure: string | null;
}

export interface ClientFigures extends ClientOutcome {
  /** Null when the client failed. */
  readonly recordsPerSecond: Summary | null;
  /** MB (10^6) of key + value bytes per second. */
  readonly megabytesPerSecond: Summary | null;
  readonly medianSecondsToFirstRecord: number | null;
  /** Kafka's Java consumer: the median of its own join time, in place of the first record. */
  readonly medianJoinSeconds: number | null;
  /** Records/s from the first record to the last (the join left out). */
  readonly steadyRecordsPerSecond: Summary | null;
  /** Median over the samples of the timed read's CPU seconds per million records. */
  readonly cpuSecondsPerMillionRecords: number | null;
  /** Median over the samples of each process's peak resident set, MiB. */
  readonly peakRssMiB: number | null;
  /** This client's median records/s over Sluice's (the same ratio holds for MB/s: same bytes). */
  readonly overSluice: number | null;
}

const present = <Value>(values: readonly (Value | null | undefined)[]): Value[] =>
  values.filter((value): value is Value => value !== null && value !== undefined);

/** Medians and ratios of one row; a client that failed has no figures (and Sluice failing leaves no ratios). */
export function rowFigures(outcomes: readonly ClientOutcome[]): ClientFigures[] {
  const figures = outcomes.map((outcome) => {
    const samples = outcome.failure === null ? outcome.samples : [];
    const some = samples.length > 0;
    const firsts = present(samples.map((sample) => sample.secondsToFirstRecord));
    const joins = present(samples.map((sample) => sample.joinSeconds));
    const steady = present(
      samples.map((sample) => (sample.steadySeconds ? sample.records / sample.steadySeconds : null)),
    );
    const cpu = present(
      samples.map((sample) => (sample.cpuSeconds === null ? null : sample.cpuSeconds / (sample.records / 1e6))),
    );
    const rss = present(samples.map((sample) => sample.maxRssMiB));
    return {
      ...outcome,
      recordsPerSecond: some ? summarise(samples.map((sample) => sample.records / sample.seconds)) : null,
      megabytesPerSecond: some ? summarise(samples.map((sample) => sample.bytes / 1e6 / sample.seconds)) : null,
      medianSecondsToFirstRecord: firsts.length > 0 ? median(firsts) : null,
      medianJoinSeconds: joins.length > 0 ? median(joins) : null,
      steadyRecordsPerSecond: steady.length > 0 ? summarise(steady) : null,
      cpuSecondsPerMillionRecords: cpu.length > 0 ? median(cpu) : null,
      peakRssMiB: rss.length > 0 ? median(rss) : null,
      overSluice: null as number | null,
    };
  });
  const reference = figures.find((figure) => figure.id === 'sluice')?.recordsPerSecond?.median ?? null;
  for (const figure of figures) {
    if (reference !== null && figure.recordsPerSecond !== null) {
      figure.overSluice = figure.recordsPerSecond.median / reference;
    }
  }
  return figures;
}

/** One row of the run: its topic, what was produced, and every client's figures (or why the row did not run). */
export interface RowResult {
  readonly row: ConsumeRow;
  readonly fill: Omit<ConsumeTopicFill, 'row'> | null;
  /** Set when the topic could not be made: no client ran. */
  readonly failure: string | null;
  readonly clients: readonly ClientFigures[];
  /** The row's wall time: producing its topic and every sample. */
  readonly wallSeconds: number;
}

// ---- tables ------------------------------------------------------------------------------------------------------

const milliseconds = (seconds: number) => `${(seconds * 1000).toFixed(0)} ms`;

function firstRecordCell(figure: ClientFigures): string {
  if (figure.medianSecondsToFirstRecord !== null) return milliseconds(figure.medianSecondsToFirstRecord);
  if (figure.medianJoinSeconds !== null) return `n/a (join ${milliseconds(figure.medianJoinSeconds)})`;
  return 'n/a';
}

/** A row's table: one line per client, medians with the best sample in brackets. */
export function renderRowTable(result: RowResult): string {
  const header = [
    'client',
    'records/s',
    'MB/s',
    'spread',
    'over Sluice',
    'first record',
    'records/s after first',
    'CPU s / M records',
    'peak RSS',
  ];
  const lines = result.clients.map((figure) => {
    if (figure.recordsPerSecond === null || figure.megabytesPerSecond === null) {
      return [figure.label, 'FAILED (below)', '-', '-', '-', '-', '-', '-', '-'];
    }
    const rate = figure.recordsPerSecond;
    return [
      figure.label,
      `${formatCount(rate.median)} (${formatCount(rate.best)})`,
      `${figure.megabytesPerSecond.median.toFixed(1)} (${figure.megabytesPerSecond.best.toFixed(1)})`,
      rate.samples.length > 1 ? `${(rate.spread * 100).toFixed(0)} %` : '-',
      figure.overSluice === null ? 'n/a' : formatRatio(figure.overSluice),
      firstRecordCell(figure),
      figure.steadyRecordsPerSecond === null ? 'n/a' : formatCount(figure.steadyRecordsPerSecond.median),
      figure.cpuSecondsPerMillionRecords === null ? 'n/a' : figure.cpuSecondsPerMillionRecords.toFixed(2),
      figure.peakRssMiB === null ? 'n/a' : `${figure.peakRssMiB.toFixed(0)} MiB`,
    ];
  });
  return renderTable(header, lines);
}

// ---- targets -----------------------------------------------------------------------------------------------------

export interface TargetResult {
  readonly target: string;
  /** `n/a` when a figure it needs is missing (a client failed or was not run) and no measured row misses it. */
  readonly status: 'met' | 'NOT met' | 'n/a';
  readonly details: string;
}

/** Peers in the sense of the targets: not Sluice itself, not its CRC-less variant, not the ceiling. */
const notPeers: ReadonlySet<ClientId> = new Set(['sluice', 'sluiceNoCrc', 'bare']);

function figure(result: RowResult, id: ClientId): ClientFigures | null {
  return result.clients.find((candidate) => candidate.id === id) ?? null;
}

/** Sluice's median records/s over another client's on one row; null when either has no figures. */
function sluiceOver(result: RowResult, id: ClientId): number | null {
  const sluice = figure(result, 'sluice')?.recordsPerSecond?.median;
  const other = figure(result, id)?.recordsPerSecond?.median;
  return sluice === undefined || other === undefined ? null : sluice / other;
}

function verdict(
  target: string,
  rows: readonly RowResult[],
  ratio: (result: RowResult) => number | null,
  minimum: number,
  format: (value: number) => string,
): TargetResult {
  if (rows.length === 0) return { target, status: 'n/a', details: 'no such row in this run' };
  const parts: string[] = [];
  let missing = false;
  let failed = false;
  for (const result of rows) {
    const value = ratio(result);
    if (value === null) {
      missing = true;
      parts.push(`${result.row.id} n/a`);
      continue;
    }
    if (value < minimum) failed = true;
    parts.push(`${result.row.id} ${format(value)}${value < minimum ? ' (below)' : ''}`);
  }
  return { target, status: failed ? 'NOT met' : missing ? 'n/a' : 'met', details: parts.join(', ') };
}

const times = (value: number) => `${value.toFixed(2)}x`;
const percent = (value: number) => `${(value * 100).toFixed(0)} %`;

/**
 * The targets, evaluated on this run's medians: Sluice >= 2x @platformatic/kafka and >= 3x KafkaJS on every row;
 * >= kafka-crab-js and >= Kafka's Java consumer on the uncompressed rows; >= 70 % of the bare ceiling on the 1 KB
 * uncompressed row (a compressed row's ceiling decompresses nothing, so it is shown, not judged); Sluice's peak RSS
 * no higher than any peer's on every row.
 */
export function evaluateTargets(results: readonly RowResult[]): TargetResult[] {
  const measured = results.filter((result) => result.failure === null);
  const uncompressed = measured.filter((result) => result.row.compression === 'none');
  const oneKilobyte = measured.filter((result) => result.row.valueBytes === 1000);
  const ceiling = (result: RowResult) => {
    const over = figure(result, 'bare')?.overSluice;
    return over === null || over === undefined ? null : 1 / over;
  };
  const ceilingTarget = verdict(
    'Sluice >= 70 % of the bare ceiling at 1 KB (uncompressed)',
    oneKilobyte.filter((result) => result.row.compression === 'none'),
    ceiling,
    0.7,
    percent,
  );
  const compressedCeilings = oneKilobyte
    .filter((result) => result.row.compression !== 'none')
    .map((result) => {
      const value = ceiling(result);
      return `${result.row.id} ${value === null ? 'n/a' : percent(value)}`;
    });
  const rss = peakRssTarget(measured);
  return [
    verdict('Sluice >= 2x @platformatic/kafka on every row', measured, (r) => sluiceOver(r, 'platformatic'), 2, times),
    verdict('Sluice >= 3x KafkaJS on every row', measured, (r) => sluiceOver(r, 'kafkajs'), 3, times),
    verdict(
      'Sluice >= kafka-crab-js (librdkafka) on the uncompressed rows',
      uncompressed,
      (r) => sluiceOver(r, 'crab'),
      1,
      times,
    ),
    verdict(
      "Sluice >= Kafka's Java consumer on the uncompressed rows",
      uncompressed,
      (r) => sluiceOver(r, 'java'),
      1,
      times,
    ),
    compressedCeilings.length > 0
      ? { ...ceilingTarget, details: `${ceilingTarget.details}; not judged: ${compressedCeilings.join(', ')}` }
      : ceilingTarget,
    rss,
  ];
}

/** Sluice's median peak RSS against the lowest peer's, row by row. */
function peakRssTarget(rows: readonly RowResult[]): TargetResult {
  const target = "Sluice's peak RSS no higher than any peer's";
  if (rows.length === 0) return { target, status: 'n/a', details: 'no row in this run' };
  const parts: string[] = [];
  let missing = false;
  let failed = false;
  for (const result of rows) {
    const sluice = figure(result, 'sluice')?.peakRssMiB ?? null;
    const peers = result.clients.filter((candidate) => !notPeers.has(candidate.id) && candidate.peakRssMiB !== null);
    if (sluice === null || peers.length === 0) {
      missing = true;
      parts.push(`${result.row.id} n/a`);
      continue;
    }
    const lowest = peers.reduce((best, peer) => (peer.peakRssMiB! < best.peakRssMiB! ? peer : best));
    const above = sluice > lowest.peakRssMiB!;
    if (above) failed = true;
    parts.push(
      `${result.row.id} Sluice ${sluice.toFixed(0)} MiB, lowest peer ${lowest.id} ${lowest.peakRssMiB!.toFixed(0)} MiB` +
        (above ? ' (above)' : ''),
    );
  }
  return { target, status: failed ? 'NOT met' : missing ? 'n/a' : 'met', details: parts.join('; ') };
}

export function formatTarget(target: TargetResult): string {
  return `- ${target.status === 'met' ? 'met' : target.status}: ${target.target} (${target.details})`;
}
