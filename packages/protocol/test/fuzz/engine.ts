import { getHeapStatistics } from 'node:v8';
import { repairChecksums } from './checksum-repair.ts';
import { buildBombs, compressedSeeds, decompressionCap } from './compressed-seeds.ts';
import type { FuzzTarget, Seed } from './corpus-types.ts';
import { hexDump, toHex } from './hex.ts';
import { messageSeeds } from './message-seeds.ts';
import { byteMutators, type MutationContext, mutateInner, structureMutators } from './mutators.ts';
import { type OracleResult, runOracle } from './oracle.ts';
import { caseSeed, Random } from './random.ts';
import { recordSeeds } from './record-seeds.ts';

// The fuzz engine: a corpus of valid encodings (every API x version, record batches in every codec and format,
// compressed payloads and bombs), deterministic mutation of one seed per case, and the oracle's verdict. A case is
// reproduced from its case seed alone (`generateCase(corpus, caseSeed)`), whatever run it came from.

export type TargetKind = FuzzTarget['kind'];

export interface Corpus {
  readonly seeds: readonly Seed[];
  readonly byKind: Readonly<Record<TargetKind, readonly Seed[]>>;
}

let cachedCorpus: Corpus | undefined;

/** Builds the corpus once per process (about a second: bombs are compressed, every message is encoded). */
export function buildCorpus(): Corpus {
  if (cachedCorpus !== undefined) return cachedCorpus;
  const bombs = buildBombs();
  const records = recordSeeds(bombs);
  const decodableRegions = records
    .filter((seed) => seed.expectation === 'decodes' && seed.bytes.length < 2048)
    .map((seed) => seed.bytes);
  const messages = messageSeeds(decodableRegions);
  const compressed = compressedSeeds(bombs);
  cachedCorpus = {
    seeds: [...messages, ...records, ...compressed],
    byKind: { message: messages, records, compressed },
  };
  return cachedCorpus;
}

/** Share of cases per target: messages are many and cheap; records and decompression reach native code. */
const targetWeights: readonly [TargetKind, number][] = [
  ['message', 0.55],
  ['records', 0.3],
  ['compressed', 0.15],
];

export interface FuzzCase {
  readonly caseSeed: number;
  readonly seed: Seed;
  readonly bytes: Uint8Array;
  readonly mutations: readonly string[];
  readonly checkCrcs: boolean;
  readonly asynchronous: boolean;
}

/** The case for `seedValue`: which seed, which mutations, which oracle options. Deterministic. */
export function generateCase(corpus: Corpus, seedValue: number): FuzzCase {
  const random = new Random(seedValue);
  let roll = random.uint32() / 0x1_0000_0000;
  let kind: TargetKind = 'message';
  for (const [candidate, weight] of targetWeights) {
    kind = candidate;
    if (roll < weight) break;
    roll -= weight;
  }
  const kin = corpus.byKind[kind];
  const seed = random.pick(kin);
  const context: MutationContext = { random, seed, kin };
  const mutations: string[] = [];
  let bytes: Uint8Array = seed.bytes;
  if (random.chance(0.06)) {
    mutations.push('none');
  } else if (seed.inner.length > 0 && random.chance(0.35)) {
    bytes = mutateInner(bytes, context, mutations) ?? bytes;
  } else {
    const steps = random.between(1, 3);
    for (let step = 0; step < steps; step++) {
      const structural = step === 0 && seed.positions.length > 0 && random.chance(0.5);
      const mutator = random.pick(structural ? structureMutators : byteMutators);
      const mutated = mutator.apply(bytes, context);
      if (mutated === null) continue;
      bytes = mutated;
      mutations.push(mutator.name);
    }
  }
  // A fresh buffer per case: views into it are the input's, anything else the decoder copied or allocated.
  bytes = Uint8Array.from(bytes);
  if (kind === 'records' && mutations[0] !== 'none' && random.chance(0.6)) {
    repairChecksums(bytes);
    mutations.push('repair-checksums');
  }
  const checkCrcs = random.chance(0.5);
  const asynchronous = kind !== 'message' && random.chance(0.05);
  return { caseSeed: seedValue, seed, bytes, mutations, checkCrcs, asynchronous };
}

/** A seed as it is, through the same checks as a mutated case (a valid seed must decode; a bomb must not). */
export function unmutatedCase(seed: Seed): FuzzCase {
  return {
    caseSeed: 0,
    seed,
    bytes: Uint8Array.from(seed.bytes),
    mutations: ['none'],
    checkCrcs: true,
    asynchronous: true,
  };
}

export type FindingKind =
  | 'exception'
  | 'slow'
  | 'allocation'
  | 'output-size'
  | 'sync-async-mismatch'
  | 'lz4-native-vs-javascript'
  | 'bad-seed';

export interface Finding {
  readonly kind: FindingKind;
  readonly caseIndex: number;
  readonly caseSeed: number;
  readonly seedName: string;
  readonly mutations: readonly string[];
  readonly checkCrcs: boolean;
  readonly asynchronous: boolean;
  readonly message: string;
  readonly stack: string;
  readonly input: Uint8Array;
  /** How many more cases failed the same way (same kind, error and seed name). */
  repeats: number;
}

export interface FuzzOptions {
  readonly cases: number;
  readonly seed: number;
  /** Stop after this long even if cases remain (the long run). */
  readonly minutes?: number;
  /** A case slower than this is a finding. Default 1000. */
  readonly slowCaseMilliseconds?: number;
  /** Called every `progressEvery` cases. */
  readonly onProgress?: (report: FuzzReport) => void;
  readonly progressEvery?: number;
  /** Called when a new (not repeated) finding appears. */
  readonly onFinding?: (finding: Finding) => void;
}

export interface TargetStatistics {
  cases: number;
  decoded: number;
  refused: number;
}

export interface FuzzReport {
  casesRun: number;
  elapsedMilliseconds: number;
  findings: Finding[];
  perTarget: Record<TargetKind, TargetStatistics>;
  slowest: { milliseconds: number; caseSeed: number; seedName: string; mutations: readonly string[] };
  /** Largest external (ArrayBuffer) memory growth of one case, and the allowance it was checked against. */
  largestExternalGrowth: { bytes: number; allowance: number; seedName: string };
  /** Largest decoded output units per input (and decompressed) byte of one case. */
  largestOutputRatio: number;
  asyncCases: number;
}

/**
 * The allocation bound, checked per case:
 * - Decoded output (array elements + string code units + bytes not viewing the input) <= 2 x (input bytes +
 *   decompressed bytes) + 64. Why it holds for a correct decoder: every array element costs at least one byte of
 *   its input (the Reader refuses counts above the bytes that remain), a string never has more UTF-16 code units
 *   than UTF-8 bytes, a record costs at least 7 bytes and a header 2, and bytes fields are views, not copies.
 *   So 1x would do; 2x leaves room without hiding a count that allocates before it is checked.
 * - Growth of V8's external memory (where ArrayBuffers live) over the case <= 8 x input bytes + 1 MiB + for each
 *   decompression (2 x cap + 8 x its compressed bytes). Why: message and record decoding allocate no buffers at
 *   all (views only); a decompressor holds at most its output (<= cap) plus one more cap while it grows or
 *   concatenates (node:zlib joins its chunks, the lz4 JavaScript decoder doubles its buffer, xerial snappy joins
 *   blocks), and lz4 copies its input once for KIP-57 or sizes its first buffer at 4x the input. The cap is 256 KiB
 *   (`decompressionCap`); bombs expand to 16x it.
 * Native libraries' internal allocations (outside V8's accounting) are not seen by this check.
 */
export const outputUnitsPerByte = 2;
export const externalGrowthPerInputByte = 8;
export const externalGrowthPerDecompression = (compressedBytes: number): number =>
  2 * decompressionCap + 8 * compressedBytes;
const allocationSlack = 1 << 20;

function describeError(error: unknown): { message: string; stack: string } {
  if (error instanceof Error) {
    return { message: `${error.name}: ${error.message}`, stack: error.stack ?? '' };
  }
  return { message: `non-Error thrown: ${String(error)}`, stack: '' };
}

function emptyStatistics(): Record<TargetKind, TargetStatistics> {
  return {
    message: { cases: 0, decoded: 0, refused: 0 },
    records: { cases: 0, decoded: 0, refused: 0 },
    compressed: { cases: 0, decoded: 0, refused: 0 },
  };
}

export interface CaseVerdict {
  readonly result: OracleResult | null;
  readonly problems: { kind: FindingKind; message: string; stack: string }[];
  readonly milliseconds: number;
  readonly externalGrowth: number;
  readonly externalAllowance: number;
}

/** Runs one case through the oracle and checks time, allocation and output size. */
export async function judgeCase(fuzzCase: FuzzCase, slowCaseMilliseconds = 1000): Promise<CaseVerdict> {
  const problems: { kind: FindingKind; message: string; stack: string }[] = [];
  const options = { cap: decompressionCap, checkCrcs: fuzzCase.checkCrcs, asynchronous: false };
  const input = fuzzCase.bytes;
  const externalBefore = getHeapStatistics().external_memory;
  const started = performance.now();
  let result: OracleResult | null = null;
  try {
    result = await runOracle(fuzzCase.seed.target, input, options);
  } catch (error) {
    problems.push({ kind: 'exception', ...describeError(error) });
  }
  const milliseconds = performance.now() - started;
  const externalGrowth = getHeapStatistics().external_memory - externalBefore;
  let externalAllowance = externalGrowthPerInputByte * input.length + allocationSlack;
  if (milliseconds > slowCaseMilliseconds) {
    problems.push({ kind: 'slow', message: `case took ${milliseconds.toFixed(0)} ms`, stack: '' });
  }
  if (result !== null) {
    externalAllowance += result.decompressions * 2 * decompressionCap + 8 * result.compressedBytes;
    if (externalGrowth > externalAllowance) {
      problems.push({
        kind: 'allocation',
        message: `external memory grew by ${externalGrowth} bytes, allowed ${externalAllowance}`,
        stack: '',
      });
    }
    for (const disagreement of result.disagreements) {
      problems.push({ kind: 'lz4-native-vs-javascript', message: disagreement, stack: '' });
    }
    const unitsAllowed = outputUnitsPerByte * (input.length + result.decompressedBytes) + 64;
    if (result.outputUnits > unitsAllowed) {
      problems.push({
        kind: 'output-size',
        message: `decoded ${result.outputUnits} units from ${input.length} bytes (+${result.decompressedBytes} decompressed), allowed ${unitsAllowed}`,
        stack: '',
      });
    }
    if (fuzzCase.mutations[0] === 'none') {
      const expected = fuzzCase.seed.expectation;
      const refusedForCap = result.refusals.includes('decompression-limit');
      if (expected === 'decodes' && !result.decoded) {
        problems.push({ kind: 'bad-seed', message: `valid seed refused: ${result.refusals.join(', ')}`, stack: '' });
      } else if (expected === 'refused' && result.refusals.length === 0) {
        problems.push({ kind: 'bad-seed', message: `lying seed accepted: ${result.fingerprint}`, stack: '' });
      } else if (expected === 'exceeds-cap' && !refusedForCap) {
        problems.push({ kind: 'bad-seed', message: `bomb not refused for its size: ${result.fingerprint}`, stack: '' });
      }
    }
  }
  if (fuzzCase.asynchronous) {
    try {
      const asynchronous = await runOracle(fuzzCase.seed.target, input, { ...options, asynchronous: true });
      if (result !== null && asynchronous.fingerprint !== result.fingerprint) {
        problems.push({
          kind: 'sync-async-mismatch',
          message: `sync: ${result.fingerprint} / async: ${asynchronous.fingerprint}`,
          stack: '',
        });
      }
    } catch (error) {
      const described = describeError(error);
      problems.push({ kind: 'exception', message: `async path: ${described.message}`, stack: described.stack });
    }
  }
  return { result, problems, milliseconds, externalGrowth, externalAllowance };
}

/** Runs `options.cases` cases (or until `options.minutes` pass) and reports findings, deduplicated. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const corpus = buildCorpus();
  const slowCaseMilliseconds = options.slowCaseMilliseconds ?? 1000;
  const deadline = options.minutes === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.minutes * 60_000;
  const report: FuzzReport = {
    casesRun: 0,
    elapsedMilliseconds: 0,
    findings: [],
    perTarget: emptyStatistics(),
    slowest: { milliseconds: 0, caseSeed: 0, seedName: '', mutations: [] },
    largestExternalGrowth: { bytes: 0, allowance: 0, seedName: '' },
    largestOutputRatio: 0,
    asyncCases: 0,
  };
  const findingsByKey = new Map<string, Finding>();
  const started = performance.now();
  for (let index = 0; index < options.cases; index++) {
    if ((index & 0xff) === 0 && Date.now() > deadline) break;
    const seedValue = caseSeed(options.seed, index);
    const fuzzCase = generateCase(corpus, seedValue);
    const verdict = await judgeCase(fuzzCase, slowCaseMilliseconds);
    const statistics = report.perTarget[fuzzCase.seed.target.kind];
    statistics.cases++;
    if (verdict.result?.decoded) statistics.decoded++;
    else statistics.refused++;
    if (fuzzCase.asynchronous) report.asyncCases++;
    if (verdict.milliseconds > report.slowest.milliseconds) {
      report.slowest = {
        milliseconds: verdict.milliseconds,
        caseSeed: seedValue,
        seedName: fuzzCase.seed.name,
        mutations: fuzzCase.mutations,
      };
    }
    if (verdict.externalGrowth > report.largestExternalGrowth.bytes) {
      report.largestExternalGrowth = {
        bytes: verdict.externalGrowth,
        allowance: verdict.externalAllowance,
        seedName: fuzzCase.seed.name,
      };
    }
    if (verdict.result !== null) {
      const ratio = verdict.result.outputUnits / Math.max(1, fuzzCase.bytes.length + verdict.result.decompressedBytes);
      report.largestOutputRatio = Math.max(report.largestOutputRatio, ratio);
    }
    for (const problem of verdict.problems) {
      const firstLine = problem.message.split('\n')[0]!.replace(/\d+/g, 'N');
      const key = `${problem.kind}|${firstLine}|${fuzzCase.seed.name.replace(/ #\d.*$/, '')}`;
      const existing = findingsByKey.get(key);
      if (existing !== undefined) {
        existing.repeats++;
        continue;
      }
      const finding: Finding = {
        kind: problem.kind,
        caseIndex: index,
        caseSeed: seedValue,
        seedName: fuzzCase.seed.name,
        mutations: fuzzCase.mutations,
        checkCrcs: fuzzCase.checkCrcs,
        asynchronous: fuzzCase.asynchronous,
        message: problem.message,
        stack: problem.stack,
        input: fuzzCase.bytes,
        repeats: 0,
      };
      findingsByKey.set(key, finding);
      report.findings.push(finding);
      options.onFinding?.(finding);
    }
    report.casesRun = index + 1;
    if (options.onProgress !== undefined && (index + 1) % (options.progressEvery ?? 10_000) === 0) {
      report.elapsedMilliseconds = performance.now() - started;
      options.onProgress(report);
    }
  }
  report.elapsedMilliseconds = performance.now() - started;
  return report;
}

/** A finding as text: enough to reproduce it (`replay <caseSeed>`, or the input as hex). */
export function formatFinding(finding: Finding): string {
  const lines = [
    `[${finding.kind}] ${finding.message}`,
    `  seed ${finding.seedName}, case #${finding.caseIndex}, case seed ${finding.caseSeed} (0x${finding.caseSeed.toString(16)})`,
    `  mutations: ${finding.mutations.join(', ') || 'no mutation applied'}; checkCrcs ${finding.checkCrcs}; async ${finding.asynchronous}`,
    `  same failure in ${finding.repeats} more cases`,
    `  input: ${hexDump(finding.input).replace(/\n/g, '\n         ')}`,
  ];
  if (finding.input.length <= 512) lines.push(`  full hex: ${toHex(finding.input)}`);
  if (finding.stack !== '') lines.push(`  ${finding.stack.split('\n').slice(0, 8).join('\n  ')}`);
  return lines.join('\n');
}

export function formatReport(report: FuzzReport): string {
  const targets = Object.entries(report.perTarget)
    .map(
      ([kind, statistics]) =>
        `${kind} ${statistics.cases} (${statistics.decoded} decoded, ${statistics.refused} refused)`,
    )
    .join(', ');
  return [
    `${report.casesRun} cases in ${(report.elapsedMilliseconds / 1000).toFixed(1)} s: ${targets}; ${report.asyncCases} also via async decompress`,
    `slowest case ${report.slowest.milliseconds.toFixed(1)} ms (case seed ${report.slowest.caseSeed}, ${report.slowest.seedName}, ${report.slowest.mutations.join(' + ') || 'no mutation applied'})`,
    `largest external memory growth ${report.largestExternalGrowth.bytes} bytes (allowed ${report.largestExternalGrowth.allowance}, ${report.largestExternalGrowth.seedName}); largest output ratio ${report.largestOutputRatio.toFixed(3)} units per byte`,
    `${report.findings.length} distinct findings`,
  ].join('\n');
}
