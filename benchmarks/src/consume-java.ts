// Kafka's own Java consumer in `pnpm bench:consume`: org.apache.kafka.tools.ConsumerPerformance from the kafka-tools
// jar of the broker's Kafka version, run in a JVM of its own per sample with the same fetch settings as every other
// client, through benchmarks/java/SluiceConsumerPerf.java (which runs the tool for the warm-up reads and then once
// more, timed, in the same JVM, and reports that run's CPU time and the JVM's peak resident set).
//
// The jars: a pom with the one dependency, resolved by Maven (`dependency:copy-dependencies`) once into the Kafka
// cache outside the repo, as tools/kafka/src/jars.ts does for the broker; the wrapper: compiled once with javac into
// the same cache, keyed by its source's hash. The JVM runs with the flags bin/kafka-consumer-perf-test.sh gives it.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureCompiledJava, ensureMavenJars } from '@sluice/tools-kafka';
import type { ChildSpec } from './consume-child.ts';
import type { ClientInfo, FetchSettings } from './consume-clients.ts';
import type { Sample } from './consume-report.ts';

const run = promisify(execFile);

export const javaConsumer: ClientInfo = {
  id: 'java',
  label: "Kafka's Java consumer (ConsumerPerformance)",
  describe: ({ fetch, maxPollRecords }) =>
    `${Object.entries(consumerSettings(fetch, maxPollRecords))
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')} ` +
    'check.crcs=false (the tool forces it), group.protocol=classic (default), byte-array deserializers; ' +
    `ConsumerPerformance --num-records N --socket-buffer-size -1 (OS default, as the Node clients) --hide-header, ` +
    `JVM ${jvmFlags.join(' ')} (bin/kafka-consumer-perf-test.sh's); its own clock: from just before subscribe ` +
    '(group join included) to the last record (ms resolution)',
};

/** The flags bin/kafka-consumer-perf-test.sh (heap) and bin/kafka-run-class.sh (the rest) start the tool with. */
const jvmFlags = [
  '-Xmx512M',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:MaxInlineLevel=15',
  '-Djava.awt.headless=true',
];

/** The consumer properties of the --command-config file (group.id comes per run, from the wrapper's --group). */
export function consumerSettings(fetch: FetchSettings, maxPollRecords: number): Record<string, string | number> {
  return {
    'fetch.max.bytes': fetch.maxBytes,
    'max.partition.fetch.bytes': fetch.partitionMaxBytes,
    'fetch.max.wait.ms': fetch.maxWaitMs,
    'fetch.min.bytes': fetch.minBytes,
    'max.poll.records': maxPollRecords,
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': 'false',
    'isolation.level': 'read_uncommitted',
  };
}

// ---- ConsumerPerformance's output ------------------------------------------------------------------------------

/** One summary line of ConsumerPerformance (without --show-detailed-stats). MB there is MiB (2^20 bytes). */
export interface ConsumerPerformanceSummary {
  readonly mebibytes: number;
  readonly mebibytesPerSecond: number;
  readonly records: number;
  readonly recordsPerSecond: number;
  /** Time in the group join (from subscribe to the first assignment), ms. */
  readonly rebalanceMs: number;
  /** The rest of the run: elapsed minus the join, ms. */
  readonly fetchMs: number;
  readonly fetchMebibytesPerSecond: number;
  readonly fetchRecordsPerSecond: number;
}

/**
 * Every summary line in the tool's stdout, in order: `start.time, end.time, data.consumed.in.MB, MB.sec,
 * data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec`, the two times in
 * its date format (which has no comma by default). Header, warnings and other lines are skipped.
 */
export function parseConsumerPerformance(stdout: string): ConsumerPerformanceSummary[] {
  const summaries: ConsumerPerformanceSummary[] = [];
  for (const line of stdout.split('\n')) {
    const fields = line.split(',').map((field) => field.trim());
    if (fields.length !== 10) continue;
    const numbers = fields.slice(2).map(Number);
    if (!numbers.every(Number.isFinite) || !/^\d+$/.test(fields[4]!)) continue;
    const [mebibytes, mebibytesPerSecond, records, recordsPerSecond, rebalanceMs, fetchMs, fetchMiB, fetchRecords] =
      numbers as [number, number, number, number, number, number, number, number];
    summaries.push({
      mebibytes,
      mebibytesPerSecond,
      records,
      recordsPerSecond,
      rebalanceMs,
      fetchMs,
      fetchMebibytesPerSecond: fetchMiB,
      fetchRecordsPerSecond: fetchRecords,
    });
  }
  return summaries;
}

/** The wrapper's own JSON line. */
export interface JavaSampleLine {
  readonly type: 'sluice-bench-java-sample';
  readonly cpuNs: number;
  readonly wallNs: number;
  readonly processCpuNs: number;
  readonly vmHwmKiB: number;
}

export function parseJavaSampleLine(stdout: string): JavaSampleLine | null {
  let found: JavaSampleLine | null = null;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{"type":"sluice-bench-java-sample"')) continue;
    try {
      found = JSON.parse(line) as JavaSampleLine;
    } catch {
      // A cut line: not the report.
    }
  }
  return found;
}

/**
 * The timed run's figures, checked against what was produced: records exactly; key + value bytes to the tool's
 * precision (it prints MiB with 4 decimals, so within 2^20 * 0.00005 bytes), then taken as the fill's exact count.
 */
export function javaSample(
  summaries: readonly ConsumerPerformanceSummary[],
  line: JavaSampleLine | null,
  expected: { records: number; bytes: number; warmUpReads: number },
): Sample {
  if (summaries.length !== expected.warmUpReads + 1) {
    throw new Error(`ConsumerPerformance printed ${summaries.length} summaries, expected ${expected.warmUpReads + 1}`);
  }
  if (line === null) throw new Error('the wrapper printed no sample line');
  for (const summary of summaries) {
    if (summary.records !== expected.records) {
      throw new Error(`ConsumerPerformance read ${summary.records} records, expected exactly ${expected.records}`);
    }
    const bytes = summary.mebibytes * 2 ** 20;
    if (Math.abs(bytes - expected.bytes) > 2 ** 20 * 0.00005 + 1) {
      throw new Error(`ConsumerPerformance read ${bytes.toFixed(0)} key+value bytes, expected ${expected.bytes}`);
    }
  }
  const timed = summaries[summaries.length - 1]!;
  const seconds = (timed.rebalanceMs + timed.fetchMs) / 1000;
  if (!(seconds > 0)) throw new Error(`ConsumerPerformance reported ${seconds} s`);
  return {
    records: timed.records,
    bytes: expected.bytes,
    seconds,
    secondsToFirstRecord: null,
    steadySeconds: null,
    joinSeconds: timed.rebalanceMs / 1000,
    cpuSeconds: line.cpuNs / 1e9,
    processCpuSeconds: line.processCpuNs / 1e9,
    maxRssMiB: line.vmHwmKiB > 0 ? Math.round(line.vmHwmKiB / 1024) : null,
  };
}

// ---- set-up ----------------------------------------------------------------------------------------------------

export interface JavaSetup {
  readonly kafkaVersion: string;
  /** Folder of the compiled wrapper, then the kafka-tools jars. */
  readonly classpath: string;
  readonly javaVersion: string;
}

const WRAPPER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'java', 'SluiceConsumerPerf.java');
function failureOutput(error: unknown): string {
  const output = error as { stdout?: string; stderr?: string; message?: string };
  const text = `${output.stdout ?? ''}${output.stderr ?? ''}`.trim() || (output.message ?? String(error));
  return text.split('\n').slice(-20).join('\n');
}

/** The kafka-tools jars of `version` and their dependencies, resolved once by the Kafka harness's Maven helper. */
function ensureToolsJars(version: string, log: (line: string) => void): Promise<string> {
  return ensureMavenJars(
    {
      folder: `tools/${version}`,
      artifacts: [{ groupId: 'org.apache.kafka', artifactId: 'kafka-tools', version }],
      what: `org.apache.kafka:kafka-tools:${version}`,
      expectJar: (name) => name === `kafka-tools-${version}.jar`,
    },
    log,
  );
}

/** Compiles the wrapper once per source version against the tools jars. */
function ensureWrapper(libsDir: string): Promise<string> {
  return ensureCompiledJava(WRAPPER_SOURCE, { folder: 'bench-consumer-perf', classpath: join(libsDir, '*') });
}

/** Everything a Java sample needs; rejects with the reason when Java, Maven or the jars are not to be had. */
export async function ensureJavaConsumer(version: string, log: (line: string) => void): Promise<JavaSetup> {
  let javaVersion: string;
  try {
    const { stderr } = await run('java', ['-version']);
    javaVersion = stderr.split('\n')[0]?.trim() ?? 'java';
  } catch (error) {
    throw new Error(`no java on PATH: ${failureOutput(error)}`);
  }
  const libsDir = await ensureToolsJars(version, log);
  const wrapperDir = await ensureWrapper(libsDir);
  return { kafkaVersion: version, classpath: `${wrapperDir}:${join(libsDir, '*')}`, javaVersion };
}

// ---- one sample --------------------------------------------------------------------------------------------------

const running = new Set<ReturnType<typeof spawn>>();

/** Kills every JVM still running (on SIGINT, or when the parent fails). */
export function killJavaChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** One sample in a fresh JVM: the warm-up reads, then the timed one; rejects with the reason on any failure. */
export async function runJavaSample(setup: JavaSetup, spec: ChildSpec): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-java-'));
  try {
    const config = join(dir, 'consumer.properties');
    const settings = consumerSettings(spec.fetch, spec.maxPollRecords);
    await writeFile(
      config,
      `${Object.entries(settings)
        .map(([name, value]) => `${name}=${value}`)
        .join('\n')}\n`,
    );
    const group = `sluice-bench-consume-java-${spec.label.replace(/\W+/g, '-')}-${randomUUID().slice(0, 8)}`;
    const args = [
      ...jvmFlags,
      '-cp',
      setup.classpath,
      'SluiceConsumerPerf',
      String(spec.warmUpReads),
      group,
      '--bootstrap-server',
      spec.bootstrap,
      '--topic',
      spec.topic,
      '--num-records',
      String(spec.expectedRecords),
      '--command-config',
      config,
      '--fetch-size',
      String(spec.fetch.partitionMaxBytes),
      '--socket-buffer-size',
      '-1',
      '--timeout',
      String(spec.timeoutMs),
      '--hide-header',
    ];
    const limitMs = (spec.warmUpReads + 1) * spec.timeoutMs + 60_000;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      let out = '';
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        err = (err + chunk).slice(-16_384);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        running.delete(child);
        reject(new Error(`could not start java: ${error.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        running.delete(child);
        if (code === 0) return resolve({ stdout: out, stderr: err });
        const tail = `${err}\n${out}`
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line !== '' && !line.startsWith('SLF4J:'));
        reject(new Error(`the JVM exited with ${signal ?? `code ${code}`}: ${tail.slice(0, 3).join(' / ')}`));
      });
    });
    for (const line of stderr.split('\n')) {
      if (line.trim() !== '' && !line.startsWith('SLF4J:')) process.stderr.write(`  [java stderr] ${line}\n`);
    }
    return javaSample(parseConsumerPerformance(stdout), parseJavaSampleLine(stdout), {
      records: spec.expectedRecords,
      bytes: spec.expectedBytes,
      warmUpReads: spec.warmUpReads,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
