import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  countReport,
  formatMatrixSummary,
  MATRIX_TEST_FILES,
  type MatrixRow,
  MatrixUsageError,
  parseMatrixArgs,
  rowPassed,
  type VitestJsonReport,
} from '../src/matrix.ts';
import { MATRIX_KAFKA_VERSIONS } from '../src/versions.ts';

const root = join(import.meta.dirname, '..', '..', '..');

describe('parseMatrixArgs', () => {
  it('runs the matrix versions by default, 3.9 without its early-access consumer protocol', () => {
    expect(parseMatrixArgs([])).toEqual({ versions: [...MATRIX_KAFKA_VERSIONS], consumerProtocol: false, help: false });
  });

  it('takes a comma-separated --versions (spaces and repeats ignored) and --consumer-protocol', () => {
    expect(parseMatrixArgs(['--versions', ' 3.9.1, 4.0.2,,3.9.1 ', '--consumer-protocol'])).toEqual({
      versions: ['3.9.1', '4.0.2'],
      consumerProtocol: true,
      help: false,
    });
    expect(parseMatrixArgs(['--versions=4.2.2']).versions).toEqual(['4.2.2']);
    expect(parseMatrixArgs(['-h']).help).toBe(true);
  });

  it('refuses versions the harness cannot run, an empty list, unknown options and positionals, with a typed error', () => {
    expect(() => parseMatrixArgs(['--versions', '3.8.1'])).toThrow(MatrixUsageError);
    expect(() => parseMatrixArgs(['--versions', '4.0'])).toThrow(/not of the form X.Y.Z/);
    expect(() => parseMatrixArgs(['--versions', ','])).toThrow(/names no version/);
    expect(() => parseMatrixArgs(['--version', '4.0.2'])).toThrow(MatrixUsageError);
    expect(() => parseMatrixArgs(['packages/x.integration.test.ts'])).toThrow(MatrixUsageError);
  });
});

describe('MATRIX_TEST_FILES', () => {
  it('names integration test files, each once; all but the KIP-848 file (being written) exist', () => {
    expect(new Set(MATRIX_TEST_FILES).size).toBe(MATRIX_TEST_FILES.length);
    for (const file of MATRIX_TEST_FILES)
      expect(file).toMatch(/^packages\/[a-z-]+\/test\/[a-z-]+\.integration\.test\.ts$/);
    const missing = MATRIX_TEST_FILES.filter((file) => !existsSync(join(root, file)));
    expect(missing.filter((file) => !file.endsWith('consumer-protocol.integration.test.ts'))).toEqual([]);
  });
});

const report: VitestJsonReport = {
  numPassedTests: 3,
  numFailedTests: 1,
  numPendingTests: 2,
  numTodoTests: 0,
  testResults: [
    {
      name: '/repo/packages/consumer/test/group.integration.test.ts',
      status: 'failed',
      assertionResults: [
        { fullName: 'a group rebalances', status: 'passed' },
        {
          fullName: 'a group commits',
          status: 'failed',
          failureMessages: ['AssertionError: expected 4n to be 5n\n    at test.ts:1'],
        },
        { fullName: 'a group heartbeats', status: 'passed' },
      ],
    },
    {
      name: '/repo/packages/consumer/test/consumer-protocol.integration.test.ts',
      status: 'passed',
      assertionResults: [
        { fullName: 'KIP-848 joins', status: 'skipped' },
        { fullName: 'KIP-848 leaves', status: 'pending' },
      ],
    },
    {
      name: '/repo/packages/fetch/test/fetch-session.integration.test.ts',
      status: 'failed',
      message: 'Error: Cannot find module x\nmore',
      assertionResults: [],
    },
    {
      name: '/elsewhere/positions.integration.test.ts',
      status: 'passed',
      assertionResults: [{ fullName: 'reads', status: 'passed' }],
    },
  ],
};

describe('countReport', () => {
  it('counts files and tests, and names failures (first line) and skipped tests relative to the root', () => {
    expect(countReport(report, '/repo')).toEqual({
      files: 4,
      passed: 3,
      failed: 2,
      skipped: 2,
      failures: [
        'packages/consumer/test/group.integration.test.ts > a group commits: AssertionError: expected 4n to be 5n',
        'packages/fetch/test/fetch-session.integration.test.ts: Error: Cannot find module x',
      ],
      skippedTests: [
        'packages/consumer/test/consumer-protocol.integration.test.ts > KIP-848 joins',
        'packages/consumer/test/consumer-protocol.integration.test.ts > KIP-848 leaves',
      ],
    });
  });

  it('counts a file that failed outside its tests, with no message, as one failure', () => {
    const counts = countReport({
      numPassedTests: 0,
      numFailedTests: 0,
      numPendingTests: 0,
      numTodoTests: 1,
      testResults: [{ name: 'x.integration.test.ts', status: 'failed', assertionResults: [] }],
    });
    expect(counts).toMatchObject({
      files: 1,
      failed: 1,
      skipped: 1,
      failures: ['x.integration.test.ts: failed outside its tests'],
    });
  });
});

function row(overrides: Partial<MatrixRow>): MatrixRow {
  return {
    version: '4.0.2',
    files: 5,
    passed: 37,
    failed: 0,
    skipped: 0,
    failures: [],
    skippedTests: [],
    seconds: 86.64,
    exitCode: 0,
    problem: null,
    lacks: [],
    ...overrides,
  };
}

describe('rowPassed', () => {
  it('needs exit code 0, no failed test and no other problem', () => {
    expect(rowPassed(row({}))).toBe(true);
    expect(rowPassed(row({ failed: 1 }))).toBe(false);
    expect(rowPassed(row({ exitCode: 1 }))).toBe(false);
    expect(rowPassed(row({ exitCode: null }))).toBe(false);
    expect(rowPassed(row({ problem: 'vitest exited with 1 and wrote no report' }))).toBe(false);
  });
});

describe('formatMatrixSummary', () => {
  it('prints an aligned table with a total, then failures, skipped tests per file and what each broker lacks', () => {
    const summary = formatMatrixSummary([
      row({
        version: '3.9.2',
        passed: 29,
        skipped: 2,
        seconds: 54.12,
        skippedTests: ['packages/a.integration.test.ts > one', 'packages/a.integration.test.ts > two'],
        lacks: ['Kafka 3.9.2 serves KIP-848 consumer groups only as early access'],
      }),
      row({}),
      row({
        version: '4.2.2',
        passed: 36,
        failed: 1,
        exitCode: 1,
        seconds: 120,
        failures: ['packages/b.integration.test.ts > commits: boom'],
      }),
    ]);
    expect(summary.split('\n')).toEqual([
      'version  files  passed  failed  skipped  seconds  result',
      '3.9.2        5      29       0        2     54.1      ok',
      '4.0.2        5      37       0        0     86.6      ok',
      '4.2.2        5      36       1        0    120.0  FAILED',
      'total       15     102       1        2    260.8  FAILED',
      '3.9.2 skipped 2 of packages/a.integration.test.ts',
      '3.9.2 lacks: Kafka 3.9.2 serves KIP-848 consumer groups only as early access',
      '4.2.2 failed: packages/b.integration.test.ts > commits: boom',
    ]);
  });

  it('names a run that went wrong without a failed test', () => {
    const summary = formatMatrixSummary([row({ files: 0, passed: 0, exitCode: 1, problem: 'vitest wrote no report' })]);
    expect(summary).toContain('4.0.2: vitest wrote no report');
    expect(summary.split('\n')[1]).toMatch(/FAILED$/);
  });
});
