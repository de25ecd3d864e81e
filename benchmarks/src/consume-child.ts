// One sample of `pnpm bench:consume` in a process of its own, so that no client's garbage, heap growth or JIT state
// touches another client's timings. consume.ts starts this file once per (round, client) with
//   node --expose-gc --conditions=@sluice/source benchmarks/src/consume-child.ts --client sluice --bootstrap host:port
//        --topic t --records N --bytes B --label 'sample 1/5' [--warm-up-reads 1] [fetch and poll settings]
//        [--profile-out file.cpuprofile]
// It reads the topic --warm-up-reads times untimed (the JIT warms up in this very process), then once timed, each read
// with a fresh consumer group and a full GC before it, and prints its result as one JSON line on stdout (progress and
// the clients' own warnings go to stderr). Any failure, or a count other than N records / B bytes, exits non-zero.
// The CPU time it reports is the whole process's (every thread: the event loop, libuv's pool, a native client's own
// threads) over the timed read, its close included; with --profile-out, the inspector's CPU profile of that read.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { realpathSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Client, type ClientId, clients, type FetchSettings, type ReadResult } from './consume-clients.ts';
import { childFailureReason } from './consume-report.ts';
import { formatCount } from './net-report.ts';

/** Everything one read needs, as the parent knows it. */
export interface ReadSpec {
  readonly bootstrap: string;
  readonly topic: string;
  readonly expectedRecords: number;
  readonly expectedBytes: number;
  readonly fetch: FetchSettings;
  readonly maxPollRecords: number;
  readonly timeoutMs: number;
}

export interface ChildSpec extends ReadSpec {
  readonly client: ClientId;
  /** For progress lines and group ids, e.g. `sample 2/5`. */
  readonly label: string;
  /** Untimed reads in the child before the timed one. */
  readonly warmUpReads: number;
  /** Where to write the CPU profile of the timed read; null for none. */
  readonly profileOut?: string | null;
}

/** The JSON line a child prints on stdout. */
export interface ChildReport {
  readonly type: 'sluice-bench-consume-sample';
  readonly client: ClientId;
  readonly label: string;
  readonly pid: number;
  readonly exposeGc: boolean;
  readonly warmUps: readonly ReadResult[];
  readonly result: ReadResult;
  /** Peak resident set of the child, MiB (warm-up reads included). */
  readonly maxRssMiB: number;
  /** CPU seconds (user + system, all threads) of the timed read, its close included. */
  readonly cpuSeconds: number;
  /** CPU seconds of the whole child up to its report: start-up and warm-up reads included. */
  readonly processCpuSeconds: number;
  /** With a profile: process.hrtime (microseconds) when the timed read started and ended, the profile's clock. */
  readonly profileWindowMicros?: readonly [number, number];
}

const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {});
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** One read of the whole topic by `client` with a fresh consumer group; logs a progress line to stderr. */
export async function readOnce(client: Client, spec: ReadSpec, label: string, where = ''): Promise<ReadResult> {
  const result = await client.read({
    bootstrap: spec.bootstrap,
    topic: spec.topic,
    groupId: `sluice-bench-consume-${client.id}-${label.replace(/\W+/g, '-')}-${randomUUID().slice(0, 8)}`,
    expectedRecords: spec.expectedRecords,
    expectedBytes: spec.expectedBytes,
    fetch: spec.fetch,
    maxPollRecords: spec.maxPollRecords,
    timeoutMs: spec.timeoutMs,
  });
  progress(
    `  ${client.id} ${label}${where}: ${result.records} records in ${result.seconds.toFixed(2)} s ` +
      `(${formatCount(result.records / result.seconds)} records/s, ${(result.bytes / 1e6 / result.seconds).toFixed(1)} MB/s, ` +
      `first record after ${(result.secondsToFirstRecord * 1000).toFixed(0)} ms)`,
  );
  return result;
}

// ---- parent side -------------------------------------------------------------------------------------------------

const childScript = fileURLToPath(import.meta.url);

/** The Node flags of every child: the parent's own (minus debugger ones) plus --expose-gc and the source condition. */
export function childExecArgv(): string[] {
  const inherited = process.execArgv.filter((flag) => !/^--(inspect|debug)/.test(flag));
  for (const flag of ['--expose-gc', '--conditions=@sluice/source'])
    if (!inherited.includes(flag)) inherited.push(flag);
  return inherited;
}

function childArgs(spec: ChildSpec): string[] {
  return [
    ...childExecArgv(),
    childScript,
    '--client',
    spec.client,
    '--bootstrap',
    spec.bootstrap,
    '--topic',
    spec.topic,
    '--records',
    String(spec.expectedRecords),
    '--bytes',
    String(spec.expectedBytes),
    '--label',
    spec.label,
    '--warm-up-reads',
    String(spec.warmUpReads),
    '--max-poll-records',
    String(spec.maxPollRecords),
    '--fetch-max-bytes',
    String(spec.fetch.maxBytes),
    '--partition-max-bytes',
    String(spec.fetch.partitionMaxBytes),
    '--max-wait-ms',
    String(spec.fetch.maxWaitMs),
    '--min-bytes',
    String(spec.fetch.minBytes),
    '--timeout-ms',
    String(spec.timeoutMs),
    ...(spec.profileOut ? ['--profile-out', spec.profileOut] : []),
  ];
}

const running = new Set<ChildProcess>();

/** Kills every child still running (on SIGINT, or when the parent fails). */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Runs one sample in a fresh Node process and returns its report. Child stderr is passed through; stdout lines other
 * than the report go to stderr too. Rejects (and kills the child) when it exits non-zero, is killed, prints no report
 * or a malformed one, reports counts other than expected, or outlives every read's timeout plus a minute.
 */
export function runChild(spec: ChildSpec): Promise<ChildReport> {
  const what = `${spec.client} ${spec.label} (child process)`;
  const limitMs = (spec.warmUpReads + 1) * spec.timeoutMs + 60_000;
  return new Promise<ChildReport>((resolve, reject) => {
    const child = spawn(process.execPath, childArgs(spec), { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    let stdout = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
    });
    // Passed through, and the tail kept for the reason of a failure.
    let stderrTail = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk).slice(-8192);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`${what}: could not start: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      let report: ChildReport | null = null;
      for (const line of stdout.split('\n')) {
        const parsed = line.startsWith('{') ? tryParse(line) : null;
        if (parsed?.type === 'sluice-bench-consume-sample') report = parsed;
        else if (line.trim() !== '') process.stderr.write(`  [${spec.client} stdout] ${line}\n`);
      }
      if (timedOut) return reject(new Error(`${what}: no result within ${limitMs} ms, killed`));
      if (code !== 0) {
        const reason = childFailureReason(stderrTail);
        return reject(new Error(`${what}: exited with ${signal ?? `code ${code}`}${reason ? `: ${reason}` : ''}`));
      }
      if (report === null) return reject(new Error(`${what}: exited 0 but printed no result line`));
      const problem = checkReport(report, spec);
      if (problem) return reject(new Error(`${what}: ${problem}`));
      resolve(report);
    });
  });
}

function tryParse(line: string): ChildReport | null {
  try {
    return JSON.parse(line) as ChildReport;
  } catch {
    return null;
  }
}

function checkReport(report: ChildReport, spec: ChildSpec): string | null {
  if (report.client !== spec.client) return `reported client ${report.client}`;
  if (report.warmUps.length !== spec.warmUpReads) return `reported ${report.warmUps.length} warm-up reads`;
  for (const read of [...report.warmUps, report.result]) {
    if (read.records !== spec.expectedRecords || read.bytes !== spec.expectedBytes) {
      return (
        `reported ${read.records} records / ${read.bytes} bytes, ` +
        `expected exactly ${spec.expectedRecords} / ${spec.expectedBytes}`
      );
    }
    for (const seconds of [read.seconds, read.secondsToFirstRecord, read.steadySeconds]) {
      if (!(Number.isFinite(seconds) && seconds >= 0)) return `reported a bad time ${seconds}`;
    }
    if (!(read.seconds > 0)) return `reported a bad time ${read.seconds}`;
  }
  return null;
}

// ---- child side --------------------------------------------------------------------------------------------------

async function childMain(): Promise<void> {
  const { values } = parseArgs({
    options: {
      client: { type: 'string' },
      bootstrap: { type: 'string' },
      topic: { type: 'string' },
      records: { type: 'string' },
      bytes: { type: 'string' },
      label: { type: 'string', default: 'sample' },
      'warm-up-reads': { type: 'string', default: '1' },
      'max-poll-records': { type: 'string', default: '500' },
      'fetch-max-bytes': { type: 'string', default: '52428800' },
      'partition-max-bytes': { type: 'string', default: '1048576' },
      'max-wait-ms': { type: 'string', default: '500' },
      'min-bytes': { type: 'string', default: '1' },
      'timeout-ms': { type: 'string', default: '120000' },
      'profile-out': { type: 'string' },
    },
  });
  const required = (name: 'client' | 'bootstrap' | 'topic' | 'records' | 'bytes'): string => {
    const value = values[name];
    if (value === undefined) throw new Error(`--${name} is required`);
    return value;
  };
  const count = (name: keyof typeof values, text: string, minimum = 1): number => {
    const value = Number(text);
    if (!(Number.isInteger(value) && value >= minimum)) throw new Error(`bad --${name}: ${text}`);
    return value;
  };
  const client = clients.find((candidate) => candidate.id === required('client'));
  if (!client) throw new Error(`--client: unknown client ${values.client}`);
  const spec: ReadSpec = {
    bootstrap: required('bootstrap'),
    topic: required('topic'),
    expectedRecords: count('records', required('records')),
    expectedBytes: count('bytes', required('bytes')),
    fetch: {
      maxBytes: count('fetch-max-bytes', values['fetch-max-bytes']),
      partitionMaxBytes: count('partition-max-bytes', values['partition-max-bytes']),
      maxWaitMs: count('max-wait-ms', values['max-wait-ms']),
      minBytes: count('min-bytes', values['min-bytes']),
    },
    maxPollRecords: count('max-poll-records', values['max-poll-records']),
    timeoutMs: count('timeout-ms', values['timeout-ms']),
  };
  const warmUpReads = count('warm-up-reads', values['warm-up-reads'], 0);
  const where = ` [pid ${process.pid}]`;
  const warmUps: ReadResult[] = [];
  for (let index = 0; index < warmUpReads; index++) {
    collectGarbage();
    const label = warmUpReads === 1 ? `${values.label} warm-up` : `${values.label} warm-up ${index + 1}`;
    warmUps.push(await readOnce(client, spec, label, where));
  }
  collectGarbage();
  const profiler = values['profile-out'] === undefined ? null : await startProfiler();
  const cpuAtStart = process.cpuUsage();
  const readStart = Number(process.hrtime.bigint() / 1000n);
  const result = await readOnce(client, spec, values.label, where);
  const readEnd = Number(process.hrtime.bigint() / 1000n);
  const cpu = process.cpuUsage(cpuAtStart);
  if (profiler !== null) writeFileSync(values['profile-out']!, JSON.stringify(await stopProfiler(profiler)));
  const usage = process.resourceUsage();
  const report: ChildReport = {
    type: 'sluice-bench-consume-sample',
    client: client.id,
    label: values.label,
    pid: process.pid,
    exposeGc: (globalThis as { gc?: unknown }).gc !== undefined,
    warmUps,
    result,
    maxRssMiB: Math.round(usage.maxRSS / 1024),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    processCpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    ...(profiler === null ? {} : { profileWindowMicros: [readStart, readEnd] as const }),
  };
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(`${JSON.stringify(report)}\n`, (error) => (error ? reject(error) : resolve())),
  );
}

/** V8's sampling profiler through the inspector, started just before the timed read (every 500 µs). */
async function startProfiler(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return session;
}

async function stopProfiler(session: Session): Promise<unknown> {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  return profile;
}

const isMain = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(childScript);
  } catch {
    return false;
  }
})();
if (isMain) {
  // Exit explicitly: a client may leave timers or sockets behind after close().
  childMain().then(
    () => process.exit(0),
    (error: unknown) => {
      progress(`bench:consume child failed: ${(error as Error).stack ?? error}`);
      process.exit(1);
    },
  );
}
