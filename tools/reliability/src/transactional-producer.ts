/**
 * A transactional producer for read_committed fault scenarios: Kafka's own Java producer (kafka-clients of the
 * harness's Kafka version) in a JVM of its own, running java/TransactionalProducer.java. It writes transactions of
 * unique values (`<partition>:<sequence>:t<transaction>`) over every partition, commits some and aborts others (a
 * fixed fraction, in a deterministic pattern), and logs every record that got an offset once its transaction's
 * outcome is known: `ack` (committed, with when), `aborted` (certainly not committed) or `unknown` (the commit's
 * outcome was never learnt). The Java file's header explains how each outcome is known; the checker takes the acks
 * as what must be read and the aborted records as what must not.
 *
 * The jars (kafka-clients, with slf4j-api 2 and slf4j-simple so that its WARN lines reach stderr) are resolved by
 * Maven once into the Kafka cache, and the program compiled once per source, as the harness does for the broker.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULT_KAFKA_VERSION, ensureCompiledJava, ensureMavenJars } from '@sluice/tools-kafka';
import { type AbortedEntry, type AckEntry, JsonLinesLog } from './log.ts';
import type { ScenarioProducer } from './producer.ts';

/** A line of the producer's log: a committed record (`ack`), or an `aborted` or `unknown` one. */
export type TransactionalLogEntry = AckEntry | AbortedEntry;

export interface TransactionalProducerOptions {
  readonly bootstrap: string;
  readonly topic: string;
  readonly partitions: number;
  readonly logFile: string;
  /** Default: a fresh `sluice-reliability-<random>` (the JVM keeps it when it makes a new producer). */
  readonly transactionalId?: string;
  /** Records per transaction, spread over the partitions in turn (default 20). */
  readonly recordsPerTransaction?: number;
  /** The share of transactions aborted on purpose (default 1/3: every third one). */
  readonly abortFraction?: number;
  /** Draws which transactions abort from this seed instead of spreading them evenly. */
  readonly seed?: number;
  /** Pause between transactions (default 50 ms). */
  readonly pauseMs?: number;
  /** Whose kafka-clients runs (default: the harness's DEFAULT_KAFKA_VERSION). */
  readonly kafkaVersion?: string;
  /** Producer settings over the program's own (see Settings.producerProperties in the Java file). */
  readonly producerConfig?: Readonly<Record<string, string | number | boolean>>;
  /** kafka-clients' log level through slf4j-simple (default warn). */
  readonly clientLogLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Where the JVM's stderr goes (default: the log file's path with `.stderr` added). */
  readonly stderrFile?: string;
}

/** The line the program prints when it stops: transactions by outcome, and records by what was logged. */
export interface TransactionalProducerSummary {
  readonly t: 'summary';
  readonly transactions: number;
  readonly committedTransactions: number;
  readonly abortedTransactions: number;
  readonly unknownTransactions: number;
  /** Transactions that did not end as planned: a send, the commit or the abort failed. */
  readonly failedTransactions: number;
  /** Producers made (one, plus one after each failure the old one could not go on from). */
  readonly producers: number;
  readonly committed: number;
  readonly aborted: number;
  readonly unknown: number;
  /** Records whose send failed (no offset, no line). */
  readonly unsent: number;
}

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'java', 'TransactionalProducer.java');
const SLF4J_VERSION = '2.0.17';
const READY_LINE = '[TransactionalProducer] ready';
/** Longer than the program's own grace for a SIGTERM (180 s): it may be finishing a transaction through an outage. */
const DEFAULT_STOP_TIMEOUT_MS = 200_000;
const JVM_FLAGS = ['-Xms32m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

const classpaths = new Map<string, Promise<string>>();

export class TransactionalProducer implements ScenarioProducer {
  readonly log: JsonLinesLog<TransactionalLogEntry>;
  readonly transactionalId: string;
  readonly stderrFile: string;
  readonly #options: TransactionalProducerOptions;
  #running: Promise<void> | null = null;
  #child: ChildProcess | null = null;
  #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  #stdout = '';
  #stopRequested = false;
  #stopping: Promise<void> | null = null;
  #summary: TransactionalProducerSummary | null = null;

  constructor(options: TransactionalProducerOptions) {
    this.#options = options;
    this.log = new JsonLinesLog(options.logFile);
    this.transactionalId = options.transactionalId ?? `sluice-reliability-${randomUUID().slice(0, 8)}`;
    this.stderrFile = options.stderrFile ?? `${options.logFile}.stderr`;
  }

  /**
   * Resolves the jars and compiles the program (once per Kafka version and process; Maven and javac only the first
   * time on a machine), and returns the JVM's classpath. `start` does it too; a scenario may call it first so that
   * the producer starts at once.
   */
  static prepare(kafkaVersion: string = DEFAULT_KAFKA_VERSION): Promise<string> {
    let classpath = classpaths.get(kafkaVersion);
    if (classpath === undefined) {
      classpath = compile(kafkaVersion);
      classpaths.set(kafkaVersion, classpath);
      classpath.catch(() => classpaths.delete(kafkaVersion));
    }
    return classpath;
  }

  /** Committed records, in the order their transactions committed. */
  acks(): AckEntry[] {
    return this.log.read().filter((entry): entry is AckEntry => entry.t === 'ack');
  }

  /** Records of aborted transactions, and those whose transaction's outcome is unknown (`t` tells which). */
  aborted(): AbortedEntry[] {
    return this.log.read().filter((entry): entry is AbortedEntry => entry.t !== 'ack');
  }

  /** Records committed so far (read from the log). */
  get acknowledged(): number {
    return this.acks().length;
  }

  /** What the program printed when it stopped; null before. */
  get summary(): TransactionalProducerSummary | null {
    return this.#summary;
  }

  /** Transactions that failed (a send, the commit or the abort) and were followed by new ones; known once stopped. */
  get retries(): number {
    return this.#summary?.failedTransactions ?? 0;
  }

  /** Starts the JVM (after `prepare`); a failure to do so is thrown by `started` and `stop`. */
  start(): void {
    if (this.#running !== null) return;
    this.#running = this.#launch();
    // Reported by started() and stop(), not as an unhandled rejection.
    this.#running.catch(() => {});
  }

  /** Resolves once the JVM's first producer has initialised its transactions (it is about to write). */
  async started(timeoutMs = 120_000): Promise<void> {
    this.start();
    await this.#running;
    if (this.#exited === null) throw new Error('the transactional producer was stopped before it started');
    const deadline = Date.now() + timeoutMs;
    while (!this.#stderr().includes(READY_LINE)) {
      const exited = await Promise.race([this.#exited, sleep(100).then(() => null)]);
      if (exited !== null) throw this.#failure(`exited before it was ready (${describeExit(exited)})`);
      if (Date.now() > deadline) throw this.#failure(`was not ready within ${timeoutMs} ms`);
    }
  }

  /**
   * SIGTERM: the program finishes the transaction in progress, closes its producer and exits; resolves then, with
   * every outcome logged. Rejects when the JVM could not be started, exited on its own with an error, or had to be
   * SIGKILLed after `timeoutMs`. Calling it again returns the same promise.
   */
  stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    this.#stopping ??= this.#stop(timeoutMs);
    return this.#stopping;
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#stopRequested = true;
    if (this.#running === null) return;
    await this.#running;
    const child = this.#child;
    if (child === null) return;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const exited = await this.#exited!;
    clearTimeout(timer);
    this.#summary = parseSummary(this.#stdout);
    if (killed) throw this.#failure(`did not stop within ${timeoutMs} ms and was killed`);
    if (exited.code !== 0) throw this.#failure(`exited with ${describeExit(exited)}`);
  }

  async #launch(): Promise<void> {
    const classpath = await TransactionalProducer.prepare(this.#options.kafkaVersion);
    if (this.#stopRequested) return;
    const options = this.#options;
    const settings: Record<string, string | number> = {
      'bootstrap.servers': options.bootstrap,
      topic: options.topic,
      partitions: options.partitions,
      log: options.logFile,
      'transactional.id': this.transactionalId,
      ...(options.recordsPerTransaction === undefined
        ? {}
        : { 'records.per.transaction': options.recordsPerTransaction }),
      ...(options.abortFraction === undefined ? {} : { 'abort.fraction': options.abortFraction }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.pauseMs === undefined ? {} : { 'pause.ms': options.pauseMs }),
    };
    for (const [name, value] of Object.entries(options.producerConfig ?? {}))
      settings[`producer.${name}`] = String(value);
    const stderr = openSync(this.stderrFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        'java',
        [
          ...JVM_FLAGS,
          `-Dorg.slf4j.simpleLogger.defaultLogLevel=${options.clientLogLevel ?? 'warn'}`,
          '-cp',
          classpath,
          'TransactionalProducer',
          ...Object.entries(settings).map(([name, value]) => `${name}=${value}`),
        ],
        { stdio: ['ignore', 'pipe', stderr] },
      );
    } finally {
      closeSync(stderr);
    }
    this.#child = child;
    // A parent that exits without stopping the producer takes it along.
    const orphaned = () => child.kill('SIGKILL');
    process.once('exit', orphaned);
    this.#exited = new Promise((resolve) => {
      child.once('error', (error) => {
        this.#stdout += `\n${error.message}`;
        process.removeListener('exit', orphaned);
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => {
        process.removeListener('exit', orphaned);
        resolve({ code, signal });
      });
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
    });
  }

  #stderr(): string {
    return existsSync(this.stderrFile) ? readFileSync(this.stderrFile, 'utf8') : '';
  }

  #failure(what: string): Error {
    const tail = this.#stderr()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(-8)
      .join('\n  ');
    return new Error(`the transactional producer ${what}; stderr (${this.stderrFile}) ends:\n  ${tail}`);
  }
}

async function compile(kafkaVersion: string): Promise<string> {
  const libsDir = await ensureMavenJars({
    folder: `clients/${kafkaVersion}`,
    artifacts: [
      { groupId: 'org.apache.kafka', artifactId: 'kafka-clients', version: kafkaVersion },
      // kafka-clients asks for slf4j-api 1.7 and no binding: without these two it logs nothing at all.
      { groupId: 'org.slf4j', artifactId: 'slf4j-api', version: SLF4J_VERSION },
      { groupId: 'org.slf4j', artifactId: 'slf4j-simple', version: SLF4J_VERSION },
    ],
    what: `org.apache.kafka:kafka-clients:${kafkaVersion} with slf4j-simple`,
    expectJar: (name) => name === `kafka-clients-${kafkaVersion}.jar`,
  });
  const jars = join(libsDir, '*');
  const programDir = await ensureCompiledJava(SOURCE, { folder: 'reliability-txn-producer', classpath: jars });
  return `${programDir}:${jars}`;
}

function parseSummary(stdout: string): TransactionalProducerSummary | null {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{"t":"summary"')) continue;
    try {
      return JSON.parse(line) as TransactionalProducerSummary;
    } catch {
      // A cut line: no summary.
    }
  }
  return null;
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal !== null ? `signal ${exit.signal}` : exit.code === null ? 'no exit code' : `code ${exit.code}`;
}
