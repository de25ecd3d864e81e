/**
 * A producer for fault scenarios: writes unique values (`<partition>:<sequence>`, padded with `|...` to
 * `valueBytes` when asked) to every partition in turn, with acks=all, and logs each record the leader acknowledged
 * with its offset and when. A request that fails (a leader moved, a
 * broker died, a timeout) is sent again with fresh metadata and new values, so every value is written at most once
 * under its name; a batch written whose answer was lost shows up as records nobody acknowledged, which the checker
 * counts apart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterMetadata, ConnectionPool, KafkaError } from '@sluice/net';
import { defaultProduceRequest, encodeRecordBatchSync, produceApi } from '@sluice/protocol';
import { type AbortedEntry, type AckEntry, JsonLinesLog } from './log.ts';

export interface LoggingProducerOptions {
  readonly bootstrap: string;
  readonly topic: string;
  readonly partitions: number;
  readonly logFile: string;
  /** Records per request (one batch to one partition). */
  readonly batchSize?: number;
  /** Pause between requests. */
  readonly intervalMs?: number;
  /** Pads each value with `|` and filler to this many bytes (the members log what comes before the `|`). */
  readonly valueBytes?: number;
  /** Stops writing after this many records were acknowledged (default: writes until stopped). */
  readonly maxRecords?: number;
}

/** What a scenario's producer offers the workload: running, stopping, and its log read back. */
export interface ScenarioProducer {
  start(): void;
  stop(): Promise<void>;
  /** The records acknowledged (for a transactional producer: of committed transactions). */
  acks(): AckEntry[];
  /** Records written whose transaction was aborted, or whose outcome is unknown. */
  aborted(): AbortedEntry[];
  /** Requests (or transactions) that failed and were tried again. */
  readonly retries: number;
  /** Records acknowledged so far. */
  readonly acknowledged: number;
  /** Starts writing to partitions up to `count` too (after partitions were added). */
  grow?(count: number): void;
}

export class LoggingProducer implements ScenarioProducer {
  readonly log: JsonLinesLog<AckEntry>;
  readonly #options: LoggingProducerOptions;
  readonly #pool = new ConnectionPool({
    connection: { clientId: 'sluice-reliability-producer', requestTimeoutMs: 10_000 },
  });
  readonly #metadata: ClusterMetadata;
  #sequences: number[];
  #partitions: number;
  #running: Promise<void> | null = null;
  #stopped = false;
  #acknowledged = 0;
  #failures = 0;

  constructor(options: LoggingProducerOptions) {
    this.#options = options;
    this.log = new JsonLinesLog(options.logFile);
    this.#metadata = new ClusterMetadata({
      bootstrapServers: options.bootstrap,
      pool: this.#pool,
      topics: [options.topic],
      metadataMaxAgeMs: 5_000,
    });
    this.#sequences = new Array<number>(options.partitions).fill(0);
    this.#partitions = options.partitions;
  }

  acks(): AckEntry[] {
    return this.log.read().filter((entry) => entry.t === 'ack');
  }

  aborted(): AbortedEntry[] {
    return [];
  }

  /** Requests that failed and were sent again (to another leader, after a backoff). */
  get retries(): number {
    return this.#failures;
  }

  grow(count: number): void {
    while (this.#sequences.length < count) this.#sequences.push(0);
    this.#partitions = Math.max(this.#partitions, count);
  }

  get acknowledged(): number {
    return this.#acknowledged;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops after the request in flight; resolves when every acknowledgement is logged. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
    this.#metadata.close();
    this.#pool.close();
  }

  async #run(): Promise<void> {
    const { batchSize = 20, intervalMs = 20 } = this.#options;
    const limit = this.#options.maxRecords ?? Number.POSITIVE_INFINITY;
    for (let turn = 0; !this.#stopped && this.#acknowledged < limit; turn++) {
      await this.#produce(turn % this.#partitions, batchSize);
      await sleep(intervalMs);
    }
  }

  async #produce(partition: number, count: number): Promise<void> {
    const topic = this.#options.topic;
    for (;;) {
      if (this.#stopped) return;
      const first = this.#sequences[partition]!;
      this.#sequences[partition] = first + count;
      const values = Array.from({ length: count }, (_, index) => `${partition}:${first + index}`);
      const padding = this.#options.valueBytes ?? 0;
      try {
        const snapshot = await this.#metadata.ready();
        const info = snapshot.topics.get(topic);
        const leader = info?.partitions[partition]?.leaderId ?? -1;
        if (info === undefined || leader < 0) throw new KafkaError(5, { context: `Produce to ${topic}-${partition}` });
        const batch = encodeRecordBatchSync({
          records: values.map((value) => ({
            value: new TextEncoder().encode(value.length < padding ? `${value}|`.padEnd(padding, 'x') : value),
            timestamp: BigInt(Date.now()),
          })),
        });
        const response = await this.#pool.request(
          { nodeId: leader },
          produceApi,
          {
            ...defaultProduceRequest(),
            acks: -1,
            timeoutMs: 10_000,
            topicData: [{ name: topic, topicId: info.topicId, partitionData: [{ index: partition, records: batch }] }],
          },
          { timeoutMs: 15_000 },
        );
        const answer = response.responses[0]!.partitionResponses[0]!;
        if (answer.errorCode !== 0)
          throw new KafkaError(answer.errorCode, { context: `Produce to ${topic}-${partition}` });
        const ts = Date.now();
        this.log.write(
          ...values.map((value, index) => ({
            t: 'ack' as const,
            p: partition,
            o: String(answer.baseOffset + BigInt(index)),
            v: value,
            ts,
          })),
        );
        this.#acknowledged += count;
        return;
      } catch {
        this.#failures++;
        this.#metadata.requestUpdate();
        await sleep(200);
      }
    }
  }
}
