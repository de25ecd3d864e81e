/**
 * A producer for fault scenarios: writes unique values (`<partition>:<sequence>`) to every partition in turn, with
 * acks=all, and logs each record the leader acknowledged with its offset. A request that fails (a leader moved, a
 * broker died, a timeout) is sent again with fresh metadata and new values, so every value is written at most once
 * under its name; a batch written whose answer was lost shows up as records nobody acknowledged, which the checker
 * counts apart.
 */
import { ClusterMetadata, ConnectionPool, KafkaError } from '@sluice/net';
import { defaultProduceRequest, encodeRecordBatchSync, produceApi } from '@sluice/protocol';
import { type AckEntry, JsonLinesLog } from './log.ts';

export interface LoggingProducerOptions {
  readonly bootstrap: string;
  readonly topic: string;
  readonly partitions: number;
  readonly logFile: string;
  /** Records per request (one batch to one partition). */
  readonly batchSize?: number;
  /** Pause between requests. */
  readonly intervalMs?: number;
}

export class LoggingProducer {
  readonly log: JsonLinesLog<AckEntry>;
  readonly #options: LoggingProducerOptions;
  readonly #pool = new ConnectionPool({
    connection: { clientId: 'sluice-reliability-producer', requestTimeoutMs: 10_000 },
  });
  readonly #metadata: ClusterMetadata;
  readonly #sequences: number[];
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
  }

  get acknowledged(): number {
    return this.#acknowledged;
  }

  /** Requests that failed and were sent again (to another leader, after a backoff). */
  get failures(): number {
    return this.#failures;
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
    const { partitions, batchSize = 20, intervalMs = 20 } = this.#options;
    for (let turn = 0; !this.#stopped; turn++) {
      await this.#produce(turn % partitions, batchSize);
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
      try {
        const snapshot = await this.#metadata.ready();
        const info = snapshot.topics.get(topic);
        const leader = info?.partitions[partition]?.leaderId ?? -1;
        if (info === undefined || leader < 0) throw new KafkaError(5, { context: `Produce to ${topic}-${partition}` });
        const batch = encodeRecordBatchSync({
          records: values.map((value) => ({ value: new TextEncoder().encode(value), timestamp: BigInt(Date.now()) })),
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
        this.log.write(
          ...values.map((value, index) => ({
            t: 'ack' as const,
            p: partition,
            o: String(answer.baseOffset + BigInt(index)),
            v: value,
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
