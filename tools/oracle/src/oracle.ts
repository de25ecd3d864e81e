import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { DEFAULT_KAFKA_VERSION } from '../../kafka/src/versions.ts';
import { ensureOracleClasses } from './classes.ts';
import { fromBase64, parseLine, stringifyLine } from './json-lines.ts';
import { OracleError } from './oracle-error.ts';
import type {
  BatchReadout,
  BuildRecordsOptions,
  BytesInput,
  DecodeResult,
  Int64Input,
  KafkaErrorEntry,
  OracleAnswer,
  OracleAssignInput,
  OracleAssignorUserDataInput,
  OracleMemberAssignment,
  OracleRequest,
  OracleTopicPartition,
  OracleTransactionsInput,
  RandomResult,
  RecordReadout,
  RecordsReadout,
} from './protocol.ts';

export interface OracleOptions {
  /** The Kafka release whose classes answer (default: the harness's default, 4.4.0). */
  readonly kafkaVersion?: string;
  /** Progress lines while jars resolve and the oracle compiles (first use only). */
  readonly log?: (line: string) => void;
  /** The `java` executable (default: `java` on PATH). */
  readonly java?: string;
}

interface Pending {
  readonly resolve: (answer: OracleAnswer) => void;
  readonly reject: (error: Error) => void;
}

interface Referable {
  ref(): void;
  unref(): void;
}

const STDERR_TAIL_CHARACTERS = 4096;
const CLOSE_TIMEOUT_MS = 5000;

// Short-lived and single-threaded: the serial collector and the client compiler start fastest.
const JVM_FLAGS = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xss8m', '-Xmx512m'];

/**
 * A running oracle: one JVM answering requests in order over a pipe. Many requests may be in flight; each
 * promise settles with its own answer. The JVM exits when its stdin closes, so it never outlives this process,
 * and an idle oracle does not keep Node's event loop alive.
 */
export class Oracle {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending: Pending[] = [];
  readonly #exited: Promise<void>;
  #stderrTail = '';
  #failure: OracleError | undefined;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stdin.on('error', () => {}); // a dead JVM shows up as 'exit', with its stderr
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.#stderrTail = (this.#stderrTail + chunk).slice(-STDERR_TAIL_CHARACTERS);
    });
    // Answers are split on '\n' only: readline would also end lines at U+2028/U+2029, which Jackson leaves unescaped.
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#answer(line);
    });
    this.#exited = new Promise((resolve) => {
      child.on('error', (error) => {
        this.#fail(new OracleError(`could not run java: ${error.message}`));
        resolve();
      });
      // 'close' rather than 'exit': it comes after the last answer line has been read from the pipe.
      child.on('close', (code, signal) => {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        const detail = this.#stderrTail.trim();
        this.#fail(new OracleError(`the oracle's JVM exited (${how})${detail ? `:\n${detail}` : ''}`));
        resolve();
      });
    });
    this.#setReferenced(false);
  }

  static async start(options: OracleOptions = {}): Promise<Oracle> {
    const classes = await ensureOracleClasses(options.kafkaVersion ?? DEFAULT_KAFKA_VERSION, options.log);
    const child = spawn(options.java ?? 'java', [...JVM_FLAGS, '-cp', classes.classpath, classes.mainClass], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const oracle = new Oracle(child);
    try {
      oracle.#expect(await oracle.call({ op: 'ping' }));
    } catch (error) {
      await oracle.close();
      throw error;
    }
    return oracle;
  }

  /** Sends one request; settles with its answer line as Java wrote it, `{ error }` answers included. */
  call(request: OracleRequest): Promise<OracleAnswer> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      if (this.#pending.length === 0) this.#setReferenced(true);
      this.#pending.push({ resolve, reject });
      this.#child.stdin.write(`${stringifyLine(request)}\n`);
    });
  }

  /** Kafka's bytes for a message given as JSON (Kafka's converter field names, camelCase). */
  async encode(options: { message: string; version: number; json: Record<string, unknown> }): Promise<Uint8Array> {
    const answer = this.#expect(await this.call({ op: 'encode', ...options }));
    return fromBase64(answer.bytes as string);
  }

  /** Kafka's reading of a message's bytes, as JSON with int64 values as decimal strings. */
  async decode(options: { message: string; version: number; bytes: BytesInput }): Promise<DecodeResult> {
    const answer = this.#expect(await this.call({ op: 'decode', ...options }));
    return answer as unknown as DecodeResult;
  }

  /** A message filled from a seed by walking Kafka's schema of it: Java's JSON and Java's bytes. */
  async random(options: {
    message: string;
    version: number;
    seed?: Int64Input;
    maxArrayLength?: number;
  }): Promise<RandomResult> {
    const answer = this.#expect(await this.call({ op: 'random', ...options }));
    return { json: answer.json as Record<string, unknown>, bytes: fromBase64(answer.bytes as string) };
  }

  /** One record batch (magic 2) or message set (magic 0 and 1) written by Kafka's MemoryRecordsBuilder. */
  async buildRecords(options: BuildRecordsOptions): Promise<Uint8Array> {
    const answer = this.#expect(await this.call({ op: 'records-build', ...options }));
    return fromBase64(answer.bytes as string);
  }

  /** Kafka's reading of record batches: every batch's header fields, CRC check and records. */
  async readRecords(bytes: BytesInput): Promise<RecordsReadout> {
    const answer = this.#expect(await this.call({ op: 'records-read', bytes }));
    return toRecordsReadout(answer);
  }

  /** Kafka's error-code table, from the Errors enum of kafka-clients. */
  async errors(): Promise<KafkaErrorEntry[]> {
    const answer = this.#expect(await this.call({ op: 'errors' }));
    return answer.errors as KafkaErrorEntry[];
  }

  /**
   * Runs one of Kafka's own partition assignors (kafka-clients' RangeAssignor, RoundRobinAssignor, StickyAssignor,
   * CooperativeStickyAssignor) on the given cluster and group: each member's partitions, in Java's order.
   */
  async assign(input: OracleAssignInput): Promise<Record<string, OracleMemberAssignment>> {
    const answer = this.#expect(await this.call({ op: 'assign', ...input }));
    const byMember = answer.assignments as Record<string, Wire>;
    return Object.fromEntries(
      Object.entries(byMember).map(([memberId, wire]): [string, OracleMemberAssignment] => [
        memberId,
        { partitions: wire.partitions as OracleTopicPartition[], userData: bytesOrNull(wire.userData) },
      ]),
    );
  }

  /**
   * The subscription user data a fresh assignor sends after it was given `partitions` in `generationId`
   * (onAssignment, then subscriptionUserData); null when the assignor sends none.
   */
  async assignorUserData(input: OracleAssignorUserDataInput): Promise<Uint8Array | null> {
    const answer = this.#expect(await this.call({ op: 'assignor-user-data', ...input }));
    return bytesOrNull(answer.userData);
  }

  /**
   * Writes transactions to a broker with Kafka's own transactional producer (KafkaProducer with a transactional.id):
   * each transaction's values as UTF-8 records to one partition, then committed or aborted, in order.
   */
  async produceTransactions(input: OracleTransactionsInput): Promise<void> {
    this.#expect(await this.call({ op: 'produce-transactions', ...input }));
  }

  /** Closes the JVM's stdin, which ends it; kills it if it has not gone within a few seconds. */
  async close(): Promise<void> {
    if (!this.#failure) this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  #expect(answer: OracleAnswer): OracleAnswer {
    if (typeof answer.error === 'string') throw new OracleError(answer.error);
    return answer;
  }

  #answer(line: string): void {
    const pending = this.#pending.shift();
    if (!pending) {
      this.#fail(new OracleError(`the oracle answered a request it was not sent: ${line.slice(0, 200)}`));
      return;
    }
    if (this.#pending.length === 0) this.#setReferenced(false);
    try {
      pending.resolve(parseLine(line) as OracleAnswer);
    } catch (error) {
      pending.reject(new OracleError(`the oracle's answer is not JSON (${(error as Error).message}): ${line}`));
    }
  }

  #fail(error: OracleError): void {
    this.#failure ??= error;
    for (const pending of this.#pending.splice(0)) pending.reject(this.#failure);
    this.#setReferenced(false);
  }

  /** Keeps the event loop alive only while answers are awaited. */
  #setReferenced(referenced: boolean): void {
    const handles: Referable[] = [
      this.#child,
      this.#child.stdout as unknown as Referable,
      this.#child.stderr as unknown as Referable,
      this.#child.stdin as unknown as Referable,
    ];
    for (const handle of handles) {
      if (referenced) handle.ref?.();
      else handle.unref?.();
    }
  }
}

/** Starts an oracle: resolves Kafka's jars and compiles the Java side on first use, then spawns the JVM. */
export function startOracle(options: OracleOptions = {}): Promise<Oracle> {
  return Oracle.start(options);
}

type Wire = Record<string, unknown>;

function bytesOrNull(value: unknown): Uint8Array | null {
  return typeof value === 'string' ? fromBase64(value) : null;
}

function int64(value: unknown): bigint {
  return BigInt(value as string);
}

function toRecord(wire: Wire): RecordReadout {
  const record: RecordReadout = {
    offset: int64(wire.offset),
    sequence: wire.sequence as number,
    timestamp: int64(wire.timestamp),
    key: bytesOrNull(wire.key),
    value: bytesOrNull(wire.value),
    headers: (wire.headers as Wire[]).map((header) => ({
      key: header.key as string,
      value: bytesOrNull(header.value),
    })),
  };
  if (wire.controlType === undefined) return record;
  return { ...record, controlType: wire.controlType as string, coordinatorEpoch: wire.coordinatorEpoch as number };
}

function toBatch(wire: Wire): BatchReadout {
  const batch: BatchReadout = {
    position: wire.position as number,
    sizeInBytes: wire.sizeInBytes as number,
    magic: wire.magic as number,
    baseOffset: int64(wire.baseOffset),
    lastOffset: int64(wire.lastOffset),
    codec: wire.codec as BatchReadout['codec'],
    attributes: wire.attributes as number,
    crc: wire.crc as number,
    valid: wire.valid as boolean,
    timestampType: wire.timestampType as BatchReadout['timestampType'],
    maxTimestamp: int64(wire.maxTimestamp),
    producerId: int64(wire.producerId),
    producerEpoch: wire.producerEpoch as number,
    baseSequence: wire.baseSequence as number,
    lastSequence: wire.lastSequence as number,
    partitionLeaderEpoch: wire.partitionLeaderEpoch as number,
    transactional: wire.transactional as boolean,
    control: wire.control as boolean,
    count: wire.count as number | null,
    records: (wire.records as Wire[]).map(toRecord),
  };
  return {
    ...batch,
    ...(wire.invalidReason === undefined ? {} : { invalidReason: wire.invalidReason as string }),
    ...(wire.deleteHorizonMs === undefined ? {} : { deleteHorizonMs: int64(wire.deleteHorizonMs) }),
    ...(wire.recordsError === undefined ? {} : { recordsError: wire.recordsError as string }),
  };
}

function toRecordsReadout(answer: OracleAnswer): RecordsReadout {
  return {
    batches: (answer.batches as Wire[]).map(toBatch),
    size: answer.size as number,
    trailing: answer.trailing as number,
  };
}
