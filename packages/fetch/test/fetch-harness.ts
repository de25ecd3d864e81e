/**
 * The fetch manager on a real client loop against a real broker, with every Fetch recorded: what was asked
 * (session id, epoch, partitions, forgotten ones) and what the broker answered (its session id, error code).
 */
import { ClusterMetadata, ConnectionPool, ReusableFrameBuffers } from '@sluice/net';
import type { FetchRequest, FetchResponse } from '@sluice/protocol';
import {
  ClientLoop,
  PoolSender,
  type RequestSender,
  SubscriptionState,
  type TopicPartition,
  type UnsentRequest,
} from '@sluice/runtime';
import { FetchBuffer } from '../src/fetch-buffer.ts';
import { FetchManager } from '../src/fetch-manager.ts';
import type { DeserializableRecord } from '../src/fetched-record.ts';

export interface Exchange {
  readonly nodeId: number;
  readonly version: number;
  readonly request: FetchRequest;
  response: FetchResponse | null;
  error: Error | null;
}

/** What a Fetch named: `topic-partition@offset` for each partition, and the forgotten ones. */
export interface Named {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly partitions: string[];
  readonly forgotten: string[];
}

export class FetchHarness {
  readonly pool: ConnectionPool;
  readonly metadata: ClusterMetadata;
  readonly subscriptions = new SubscriptionState({ defaultResetStrategy: 'earliest' });
  readonly buffer: FetchBuffer;
  readonly manager: FetchManager;
  readonly frames = new ReusableFrameBuffers();
  readonly exchanges: Exchange[] = [];
  readonly errors: Error[] = [];
  readonly #loop: ClientLoop;
  readonly #names = new Map<string, string>();

  constructor(
    bootstrap: string,
    topics: readonly string[],
    options: { maxBufferBytes?: number; fetchMaxWaitMs?: number; clientRack?: string } = {},
  ) {
    this.pool = new ConnectionPool({
      connection: { clientId: 'sluice-fetch-harness' },
      frameBuffersFor: { fetch: this.frames },
    });
    this.metadata = new ClusterMetadata({
      bootstrapServers: bootstrap.split(','),
      pool: this.pool,
      topics: [...topics],
    });
    const onError = (error: Error) => this.errors.push(error);
    this.buffer = new FetchBuffer({
      maxBytes: options.maxBufferBytes ?? 100 * 1024 * 1024,
      frames: this.frames,
      onError,
    });
    this.manager = new FetchManager({
      subscriptions: this.subscriptions,
      buffer: this.buffer,
      metadata: this.metadata,
      fetchMinBytes: 1,
      fetchMaxBytes: 50 * 1024 * 1024,
      maxPartitionFetchBytes: 1024 * 1024,
      fetchMaxWaitMs: options.fetchMaxWaitMs ?? 100,
      isolationLevel: 'read_uncommitted',
      checkCrcs: true,
      clientRack: options.clientRack ?? null,
      requestTimeoutMs: 10_000,
      retryBackoffMs: 100,
      metadataMaxAgeMs: 300_000,
      onArrival: () => this.#loop.wake(),
      onError,
    });
    const inner = new PoolSender({ pool: this.pool, metadata: this.metadata });
    const sender: RequestSender = {
      send: async (request: UnsentRequest) => {
        let exchange: Exchange | null = null;
        const recorded: UnsentRequest = {
          ...request,
          build: (version) => {
            const body = request.build(version) as FetchRequest;
            const target = request.target === 'least-loaded' ? -1 : request.target.nodeId;
            exchange = { nodeId: target, version, request: body, response: null, error: null };
            this.exchanges.push(exchange);
            return body;
          },
        };
        try {
          const result = await inner.send(recorded);
          if (exchange !== null) (exchange as Exchange).response = result.response as FetchResponse;
          return result;
        } catch (error) {
          if (exchange !== null) (exchange as Exchange).error = error as Error;
          throw error;
        }
      },
    };
    this.#loop = new ClientLoop({ managers: [this.manager], sender, onError });
    this.metadata.onUpdate((snapshot) => {
      for (const [name, topic] of snapshot.topics) this.#names.set(topic.topicId, name);
      this.#loop.wake();
    });
  }

  async ready(): Promise<void> {
    const snapshot = await this.metadata.ready();
    for (const [name, topic] of snapshot.topics) this.#names.set(topic.topicId, name);
  }

  /** Assigns the partitions at these offsets. */
  assign(positions: ReadonlyArray<readonly [TopicPartition, bigint]>): void {
    this.subscriptions.assignFromUser(positions.map(([tp]) => tp));
    for (const [tp, offset] of positions) this.subscriptions.seek(tp, offset);
    this.#loop.wake();
  }

  wake(): void {
    this.#loop.wake();
  }

  /** Collects (as the application's poll would) until `count` records came, or throws after `timeoutMs`. */
  async collect(count: number, timeoutMs = 20_000): Promise<DeserializableRecord[]> {
    const records: DeserializableRecord[] = [];
    const deadline = Date.now() + timeoutMs;
    while (records.length < count) {
      if (this.errors.length > 0) throw this.errors[0];
      if (Date.now() > deadline) throw new Error(`collected ${records.length} of ${count} records in ${timeoutMs} ms`);
      const taken = this.buffer.collect(this.subscriptions, count - records.length);
      for (const record of taken) records.push(record.detach() as unknown as DeserializableRecord);
      this.#loop.wake();
      if (taken.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return records;
  }

  /** The Fetches answered so far, as they named their partitions. */
  named(from = 0): Named[] {
    return this.exchanges.slice(from).map((exchange) => ({
      sessionId: exchange.request.sessionId,
      sessionEpoch: exchange.request.sessionEpoch,
      partitions: exchange.request.topics.flatMap((topic) =>
        topic.partitions.map(
          (p) => `${this.#name(topic.topic, topic.topicId, exchange.version)}-${p.partition}@${p.fetchOffset}`,
        ),
      ),
      forgotten: exchange.request.forgottenTopicsData.flatMap((topic) =>
        topic.partitions.map((p) => `${this.#name(topic.topic, topic.topicId, exchange.version)}-${p}`),
      ),
    }));
  }

  /** Waits until `predicate` holds over the exchanges (the loop runs meanwhile). */
  async until(predicate: () => boolean, timeoutMs = 20_000, what = 'the condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
      this.buffer.collect(this.subscriptions, 0);
      this.#loop.wake();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.#loop.close();
    this.metadata.close();
    this.pool.close();
  }

  #name(topic: string, topicId: string, version: number): string {
    return version >= 13 ? (this.#names.get(topicId) ?? topicId) : topic;
  }
}
