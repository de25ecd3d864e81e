#!/usr/bin/env node
/**
 * pnpm test:matrix [--versions 3.9.2,4.0.2] [--consumer-protocol]
 *
 * For each Kafka version, one after another (a broker each, on two cores): resolve its jars when they are not in the
 * cache, then `vitest run --project integration <MATRIX_TEST_FILES>` with KAFKA_VERSION set, whose global setup starts
 * that version's broker with every listener. Prints a table (version, files, passed, failed, skipped, seconds),
 * writes it as JSON to test-results/matrix.json (each run's vitest report beside it, in test-results/matrix/), and
 * exits 1 when any version failed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureKafkaInstall } from './jars.ts';
import {
  countReport,
  formatMatrixSummary,
  MATRIX_TEST_FILES,
  MATRIX_USAGE,
  type MatrixOptions,
  type MatrixRow,
  MatrixUsageError,
  parseMatrixArgs,
  rowPassed,
  type VitestJsonReport,
} from './matrix.ts';
import { brokerFeatureGaps } from './versions.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RESULTS = join(ROOT, 'test-results');

function runVitest(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'vitest'), args, { cwd: ROOT, env, stdio: 'inherit' });
    child.once('error', (error) => {
      console.error(`cannot start vitest: ${error.message}`);
      done(null);
    });
    child.once('exit', (code, signal) => done(signal === null ? code : 128));
  });
}

async function runVersion(version: string, files: readonly string[], options: MatrixOptions): Promise<MatrixRow> {
  const started = Date.now();
  const lacks = Object.values(brokerFeatureGaps(version, { consumerProtocol: options.consumerProtocol }));
  const empty = { files: 0, passed: 0, failed: 0, skipped: 0, failures: [], skippedTests: [], lacks };
  const seconds = () => (Date.now() - started) / 1000;
  console.log(`\n=== Kafka ${version}: ${files.length} file(s)`);
  try {
    await ensureKafkaInstall(version, (line) => console.log(`[matrix] ${line}`));
  } catch (error) {
    return { version, ...empty, seconds: seconds(), exitCode: null, problem: (error as Error).message.split('\n')[0]! };
  }
  const reportFile = join(RESULTS, 'matrix', `${version}.json`);
  await rm(reportFile, { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_VERSION: version };
  // Each version gets a broker of its own from the global setup, never a cluster the caller's shell points at.
  delete env.KAFKA_BOOTSTRAP;
  if (options.consumerProtocol) env.KAFKA_CONSUMER_PROTOCOL = '1';
  else delete env.KAFKA_CONSUMER_PROTOCOL;
  // The reporters given here replace the config's, so CI's test-results/vitest.json (the main run's) stays as it is.
  const exitCode = await runVitest(
    [
      'run',
      '--project',
      'integration',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
      ...files,
    ],
    env,
  );
  let report: VitestJsonReport;
  try {
    report = JSON.parse(await readFile(reportFile, 'utf8')) as VitestJsonReport;
  } catch {
    return {
      version,
      ...empty,
      seconds: seconds(),
      exitCode,
      problem: `vitest exited with ${exitCode} and wrote no report (did the broker start? see the output above)`,
    };
  }
  const counts = countReport(report, ROOT);
  const problem =
    exitCode !== 0 && counts.failed === 0 ? `vitest exited with ${exitCode} though no test failed (see above)` : null;
  return { version, ...counts, seconds: seconds(), exitCode, problem, lacks };
}

async function main(argv: string[]): Promise<number> {
  const options = parseMatrixArgs(argv);
  if (options.help) {
    console.log(MATRIX_USAGE);
    return 0;
  }
  const files = MATRIX_TEST_FILES.filter((file) => existsSync(join(ROOT, file)));
  for (const file of MATRIX_TEST_FILES.filter((item) => !files.includes(item))) {
    console.log(`[matrix] ${file} does not exist (yet): left out`);
  }
  if (files.length === 0) throw new MatrixUsageError('none of the matrix test files exists');
  await mkdir(join(RESULTS, 'matrix'), { recursive: true });
  const rows: MatrixRow[] = [];
  for (const version of options.versions) rows.push(await runVersion(version, files, options));
  const summary = formatMatrixSummary(rows);
  console.log(`\n=== Kafka version matrix\n${summary}`);
  await writeFile(
    join(RESULTS, 'matrix.json'),
    `${JSON.stringify({ files, consumerProtocol: options.consumerProtocol, rows }, null, 2)}\n`,
  );
  return rows.every(rowPassed) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(
      error instanceof MatrixUsageError ? `${error.message}\n${MATRIX_USAGE}` : `${error.name}: ${error.message}`,
    );
    process.exitCode = 1;
  },
);
