/**
 * The Kafka version matrix (`./pnpmw test:matrix`): a subset of the integration suite run against older Kafka lines,
 * one version after another, each with its own broker from the vitest global setup (KAFKA_VERSION). This module is
 * the pure part: the subset, the options, reading vitest's JSON report, the summary table. matrix-cli.ts runs it.
 */
import { parseArgs } from 'node:util';
import { kafkaLine, MATRIX_KAFKA_VERSIONS } from './versions.ts';

/**
 * The subset, relative to the repository root: what differs between Kafka lines on the consumer's side (the group
 * coordinator, and the versions of the group, commit, offset and fetch APIs), kept to about a minute and a half per
 * version on two cores. A file that does not exist (yet) is left out of the run with a note.
 *
 * Not in it: fetch-failover.integration.test.ts starts a 3-broker cluster of its own with no version, so it runs
 * the default version whatever KAFKA_VERSION says, and takes as long as the rest together; security and the
 * protocol conformance tests exercise the connection and the codec, which the main run covers on the newest broker.
 */
export const MATRIX_TEST_FILES: readonly string[] = [
  // Classic group membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup): eager and cooperative rebalances, static
  // members, liveness, and commits of a member (OffsetCommit with the generation, CommitFailedError,
  // RebalanceInProgressError, leader epoch and metadata read back). 3.9 answers from the old group coordinator,
  // 4.x from the new one; OffsetCommit/OffsetFetch go up to v9 on 3.9 and 4.0, v10 on 4.2.
  'packages/consumer/test/group.integration.test.ts',
  // The poll loop end to end: a group that commits and a successor that resumes there, two members sharing a
  // topic, two groups, manual assignment with seeks.
  'packages/consumer/test/consumer.integration.test.ts',
  // Positions without a group: ListOffsets (earliest, latest, by time; v9 on 3.9, v10 on 4.0, v11 on 4.2),
  // out-of-range resets, OffsetFetch with nothing committed under auto.offset.reset=none, compressed batches.
  'packages/consumer/test/positions.integration.test.ts',
  // KIP-227 fetch sessions (full, then incremental Fetches; forgotten and re-added partitions): Fetch v17 on 3.9
  // and 4.0, v18 on 4.2.
  'packages/fetch/test/fetch-session.integration.test.ts',
  // KIP-848 consumer groups (ConsumerGroupHeartbeat v1 on 4.x; v0, the broker giving the member id, on 3.9's early
  // access), OffsetCommit with member epochs, mixed groups with Kafka's Java consumer (of the same version) and
  // classic members. Skipped where the broker lacks the protocol (3.9 unless --consumer-protocol), except the test
  // that says so: GroupProtocolUnsupportedError naming group.protocol.
  'packages/consumer/test/consumer-protocol.integration.test.ts',
];

export class MatrixUsageError extends Error {
  override name = 'MatrixUsageError';
}

export const MATRIX_USAGE = `usage: pnpm test:matrix [--versions ${MATRIX_KAFKA_VERSIONS.join(',')}] [--consumer-protocol]
  Runs ${MATRIX_TEST_FILES.length} integration test files against each Kafka version, one version after another,
  fetching its jars first when they are not in the cache, then prints a summary table. Exits 1 when any failed.
  --versions            comma-separated Kafka versions (3.9.x or 4.x); default ${MATRIX_KAFKA_VERSIONS.join(', ')}
  --consumer-protocol   start 3.9 brokers with their early-access KIP-848 consumer groups on (KAFKA_CONSUMER_PROTOCOL=1)`;

export interface MatrixOptions {
  readonly versions: readonly string[];
  readonly consumerProtocol: boolean;
  readonly help: boolean;
}

/** Parses the command line; an unknown option or a version the harness cannot run is a MatrixUsageError. */
export function parseMatrixArgs(args: readonly string[]): MatrixOptions {
  let values: { versions?: string; 'consumer-protocol'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        versions: { type: 'string' },
        'consumer-protocol': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    throw new MatrixUsageError((error as Error).message);
  }
  const versions =
    values.versions === undefined
      ? [...MATRIX_KAFKA_VERSIONS]
      : values.versions
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0);
  if (versions.length === 0) throw new MatrixUsageError('--versions names no version');
  for (const version of versions) {
    try {
      kafkaLine(version);
    } catch (error) {
      throw new MatrixUsageError((error as Error).message);
    }
  }
  return {
    versions: [...new Set(versions)],
    consumerProtocol: values['consumer-protocol'] ?? false,
    help: values.help ?? false,
  };
}

/** The part of vitest's JSON reporter output (Jest's format) that the matrix reads. */
export interface VitestJsonReport {
  readonly numPassedTests: number;
  readonly numFailedTests: number;
  readonly numPendingTests: number;
  readonly numTodoTests: number;
  readonly testResults: ReadonlyArray<{
    readonly name: string;
    readonly status: string;
    readonly message?: string;
    readonly assertionResults: ReadonlyArray<{
      readonly fullName: string;
      readonly status: string;
      readonly failureMessages?: readonly string[];
    }>;
  }>;
}

export interface RunCounts {
  readonly files: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** `file > test: first line of the failure`, and `file: message` for a file that failed outside any test. */
  readonly failures: readonly string[];
  /** `file > test` of every skipped test. */
  readonly skippedTests: readonly string[];
}

function relative(file: string, root: string): string {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return file.startsWith(prefix) ? file.slice(prefix.length) : file;
}

function firstLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n')[0] ?? '';
}

/** Counts one run's report. A file that failed outside its tests (an import or hook error) counts as one failure. */
export function countReport(report: VitestJsonReport, root = ''): RunCounts {
  const failures: string[] = [];
  const skippedTests: string[] = [];
  let fileErrors = 0;
  for (const file of report.testResults) {
    const name = relative(file.name, root);
    let failedHere = 0;
    for (const test of file.assertionResults) {
      if (test.status === 'failed') {
        failedHere++;
        failures.push(`${name} > ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
      } else if (test.status !== 'passed') {
        skippedTests.push(`${name} > ${test.fullName}`);
      }
    }
    if (file.status === 'failed' && failedHere === 0) {
      fileErrors++;
      failures.push(`${name}: ${firstLine(file.message) || 'failed outside its tests'}`);
    }
  }
  return {
    files: report.testResults.length,
    passed: report.numPassedTests,
    failed: report.numFailedTests + fileErrors,
    skipped: report.numPendingTests + report.numTodoTests,
    failures,
    skippedTests,
  };
}

export interface MatrixRow extends RunCounts {
  readonly version: string;
  readonly seconds: number;
  /** vitest's exit code; null when it could not be started. */
  readonly exitCode: number | null;
  /** What went wrong besides failed tests (no report, a broker that did not start, jars that did not resolve). */
  readonly problem: string | null;
  /** Why the broker lacks the features it lacks (brokerFeatureGaps): what its skipped tests would have needed. */
  readonly lacks: readonly string[];
}

/** A version's run passed: vitest exited 0, nothing failed, nothing else went wrong. */
export function rowPassed(row: MatrixRow): boolean {
  return row.exitCode === 0 && row.failed === 0 && row.problem === null;
}

/** The summary table, a total line, then what failed and what was skipped, per version. */
export function formatMatrixSummary(rows: readonly MatrixRow[]): string {
  const header = ['version', 'files', 'passed', 'failed', 'skipped', 'seconds', 'result'];
  const total = rows.reduce(
    (sum, row) => ({
      files: sum.files + row.files,
      passed: sum.passed + row.passed,
      failed: sum.failed + row.failed,
      skipped: sum.skipped + row.skipped,
      seconds: sum.seconds + row.seconds,
    }),
    { files: 0, passed: 0, failed: 0, skipped: 0, seconds: 0 },
  );
  const cells = [
    ...rows.map((row) => [
      row.version,
      String(row.files),
      String(row.passed),
      String(row.failed),
      String(row.skipped),
      row.seconds.toFixed(1),
      rowPassed(row) ? 'ok' : 'FAILED',
    ]),
    [
      'total',
      String(total.files),
      String(total.passed),
      String(total.failed),
      String(total.skipped),
      total.seconds.toFixed(1),
      rows.every(rowPassed) ? 'ok' : 'FAILED',
    ],
  ];
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const render = (line: readonly string[]) =>
    line
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  const lines = [render(header), ...cells.map(render)];
  for (const row of rows) {
    if (row.problem !== null) lines.push(`${row.version}: ${row.problem}`);
    for (const failure of row.failures) lines.push(`${row.version} failed: ${failure}`);
    const skippedByFile = new Map<string, number>();
    for (const test of row.skippedTests) {
      const file = test.split(' > ')[0]!;
      skippedByFile.set(file, (skippedByFile.get(file) ?? 0) + 1);
    }
    for (const [file, count] of skippedByFile) lines.push(`${row.version} skipped ${count} of ${file}`);
    for (const reason of row.lacks) lines.push(`${row.version} lacks: ${reason}`);
  }
  return lines.join('\n');
}
