/**
 * The fetch pipeline: keeps a position per assigned partition, fetches from each partition's leader (one Fetch in
 * flight per broker, on the pool's fetch connections), buffers what comes back and hands records out in `poll`.
 *
 * Invariants:
 * - Two offsets per partition: `position`, the next record the application gets, and the fetch offset, where the
 *   next Fetch starts. A partition is fetched again while fewer than 1000 of its records wait to be handed out
 *   (one Fetch per partition in flight), so the next response arrives while the application works through the
 *   last one, and memory stays bounded by about two responses per partition. A Fetch is built from the state at
 *   the time it is sent.
 * - `seek` (or a reassignment) drops what is buffered for the partition, and a response to a Fetch sent before it
 *   is ignored for that partition (each partition carries a seek generation that the request remembers).
 * - Errors that fresh metadata can fix (the leader moved, epochs, unknown topic id ...) ask for a metadata update
 *   and fetch again after `retry.backoff.ms`; OFFSET_OUT_OF_RANGE marks the partition as needing a new position
 *   (the consumer applies `auto.offset.reset`); errors no retry can fix (authorization, corrupt data) are thrown
 *   from the next `poll`.
 * - Full fetches (no KIP-227 fetch session yet): every Fetch names all its partitions.
 */
import {
  type ClusterMetadata,
  type ConnectionPool,
  ErrorCode,
  findPartition,
  KafkaError,
  kafkaErrorDefinition,
  NetworkError,
  RequestTimeoutError,
} from '@sluice/net';
import { defaultFetchRequest, type FetchRequestFetchTopic, fetchApi, ZERO_UUID } from '@sluice/protocol';
import { type ConsumerRecord, partitionRecords, type TopicPartition } from './partition-records.ts';

export interface FetcherOptions {
  readonly pool: ConnectionPool;
  readonly metadata: ClusterMetadata;
  /** `fetch.min.bytes`, default 1. */
  readonly fetchMinBytes?: number;
  /** `fetch.max.bytes`, default 52428800. */
  readonly fetchMaxBytes?: number;
  /** `max.partition.fetch.bytes`, default 1048576. */
  readonly maxPartitionFetchBytes?: number;
  /** `fetch.max.wait.ms`, default 500. */
  readonly fetchMaxWaitMs?: number;
  /** `isolation.level`, default read_uncommitted. */
  readonly isolationLevel?: 'read_uncommitted' | 'read_committed';
  /** `check.crcs`, default true. */
  readonly checkCrcs?: boolean;
  /** `client.rack` (sent in Fetch v11+). */
  readonly clientRack?: string | null;
  /** `request.timeout.ms`, default 30000 (a Fetch may also wait `fetch.max.wait.ms` on the broker). */
  readonly requestTimeoutMs?: number;
  /** `retry.backoff.ms`: wait before fetching again from a broker after an error. Default 100. */
  readonly retryBackoffMs?: number;
  /** Cap on one batch's decompressed size. Default 64 MiB. */
  readonly maxDecompressedBytes?: number;
}

interface PartitionState {
  readonly tp: TopicPartition;
  readonly key: string;
  /** The next offset handed to the application; null until the consumer sets one. */
  position: bigint | null;
  /** Where the next Fetch starts. */
  fetchOffset: bigint;
  /**
   * Responses received and not yet handed out, oldest first, the first one from `bufferStart` on. While fewer than
   * `PREFETCH_RECORDS` records wait, the partition is fetched again, so the next response is on its way while the
   * application works through this one.
   */
  buffer: ConsumerRecord[][];
  bufferStart: number;
  buffered: number;
  paused: boolean;
  /** Set by OFFSET_OUT_OF_RANGE: the consumer must give a new position. */
  outOfRange: boolean;
  /** Bumped by seek and reassignment: answers to older fetches are dropped. */
  seekGeneration: number;
  /** No Fetch before this time (after an error). */
  notBefore: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
}

const DEFAULTS = {
  fetchMinBytes: 1,
  fetchMaxBytes: 52_428_800,
  maxPartitionFetchBytes: 1_048_576,
  fetchMaxWaitMs: 500,
  requestTimeoutMs: 30_000,
  retryBackoffMs: 100,
  maxDecompressedBytes: 64 * 1024 * 1024,
};

export class Fetcher {
  readonly #options: FetcherOptions;
  readonly #partitions = new Map<string, PartitionState>();
  /** Brokers with a Fetch in flight. */
  readonly #inFlight = new Set<number>();
  #errors: Error[] = [];
  #wakers: Array<() => void> = [];
  #closed = false;
  #nextPartition = 0;

  constructor(options: FetcherOptions) {
    this.#options = options;
  }

  /** Sets the assigned partitions: new ones start without a position; dropped ones lose their buffered records. */
  assign(partitions: readonly TopicPartition[]): void {
    const keep = new Map<string, PartitionState>();
    for (const tp of partitions) {
      const key = keyOf(tp);
      keep.set(key, this.#partitions.get(key) ?? newState(tp, key));
    }
    this.#partitions.clear();
    for (const [key, state] of keep) this.#partitions.set(key, state);
    this.#wake();
  }

  get assignment(): TopicPartition[] {
    return [...this.#partitions.values()].map((state) => state.tp);
  }

  /** The next record's offset for the partition, or null without a position. */
  position(tp: TopicPartition): bigint | null {
    return this.#state(tp).position;
  }

  /** Sets where the partition is read from next; drops what was buffered. */
  seek(tp: TopicPartition, offset: bigint): void {
    if (offset < 0n) throw new RangeError(`cannot seek ${tp.topic}-${tp.partition} to a negative offset (${offset})`);
    const state = this.#state(tp);
    state.position = offset;
    state.fetchOffset = offset;
    state.buffer = [];
    state.bufferStart = 0;
    state.buffered = 0;
    state.outOfRange = false;
    state.seekGeneration++;
    state.notBefore = 0;
    this.#wake();
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#state(tp).paused = true;
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#state(tp).paused = false;
    this.#wake();
  }

  /** Assigned partitions without a position, or whose position was out of range: the consumer must seek them. */
  partitionsNeedingPosition(): TopicPartition[] {
    return [...this.#partitions.values()]
      .filter((state) => state.position === null || state.outOfRange)
      .map((state) => state.tp);
  }

  /** The high watermark, last stable offset and log start offset of the last response for the partition. */
  watermarks(tp: TopicPartition): { highWatermark: bigint; lastStableOffset: bigint; logStartOffset: bigint } {
    const state = this.#state(tp);
    return {
      highWatermark: state.highWatermark,
      lastStableOffset: state.lastStableOffset,
      logStartOffset: state.logStartOffset,
    };
  }

  /**
   * Up to `maxRecords` records (`max.poll.records`), taken from the partitions in turn; waits up to `timeoutMs`
   * for some to arrive. Throws the first error a fetch met that no retry can fix.
   */
  async poll(maxRecords: number, timeoutMs: number): Promise<ConsumerRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.#throwErrors();
      this.#sendFetches();
      const records = this.#drain(maxRecords);
      if (records.length > 0 || this.#closed) return records;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return records;
      await this.#waitForChange(remaining);
    }
  }

  /** Stops fetching; answers still in flight are dropped. */
  close(): void {
    this.#closed = true;
    this.#partitions.clear();
    this.#wake();
  }

  #state(tp: TopicPartition): PartitionState {
    const state = this.#partitions.get(keyOf(tp));
    if (state === undefined) throw new Error(`${tp.topic}-${tp.partition} is not assigned`);
    return state;
  }

  #throwErrors(): void {
    const error = this.#errors.shift();
    if (error !== undefined) throw error;
  }

  #drain(maxRecords: number): ConsumerRecord[] {
    const states = [...this.#partitions.values()];
    const records: ConsumerRecord[] = [];
    for (let turn = 0; turn < states.length && records.length < maxRecords; turn++) {
      const state = states[(this.#nextPartition + turn) % states.length]!;
      if (state.paused || state.position === null) continue;
      if (state.buffered === 0) continue;
      while (state.buffered > 0 && records.length < maxRecords) {
        const chunk = state.buffer[0]!;
        const take = Math.min(chunk.length - state.bufferStart, maxRecords - records.length);
        for (let index = 0; index < take; index++) records.push(chunk[state.bufferStart + index]!);
        state.bufferStart += take;
        state.buffered -= take;
        state.position = records[records.length - 1]!.offset + 1n;
        if (state.bufferStart === chunk.length) {
          state.buffer.shift();
          state.bufferStart = 0;
        }
      }
      // Skipped batches (control markers, aborted transactions) after the last record count as read.
      if (state.buffered === 0) state.position = state.fetchOffset;
    }
    this.#nextPartition = states.length === 0 ? 0 : (this.#nextPartition + 1) % states.length;
    if (records.length > 0) this.#sendFetches();
    return records;
  }

  #fetchable(state: PartitionState, now: number): boolean {
    return (
      !state.paused &&
      state.position !== null &&
      !state.outOfRange &&
      state.buffered < PREFETCH_RECORDS &&
      now >= state.notBefore
    );
  }

  #sendFetches(): void {
    if (this.#closed) return;
    const snapshot = this.#options.metadata.snapshot;
    if (snapshot === null) {
      void this.#options.metadata.ready().then(
        () => this.#wake(),
        () => {},
      );
      return;
    }
    const now = Date.now();
    const byLeader = new Map<number, PartitionState[]>();
    let needMetadata = false;
    for (const state of this.#partitions.values()) {
      if (!this.#fetchable(state, now)) continue;
      const info = findPartition(snapshot, state.tp.topic, state.tp.partition);
      if (info === undefined || info.leaderId < 0) {
        needMetadata = true;
        continue;
      }
      if (this.#inFlight.has(info.leaderId)) continue;
      const list = byLeader.get(info.leaderId);
      if (list === undefined) byLeader.set(info.leaderId, [state]);
      else list.push(state);
    }
    if (needMetadata) {
      const topics = [...new Set([...this.#partitions.values()].map((state) => state.tp.topic))];
      if (topics.some((topic) => !snapshot.topics.has(topic))) {
        this.#options.metadata.setTopics([...new Set([...snapshot.topics.keys(), ...topics])]);
      }
      this.#options.metadata.requestUpdate();
      this.#retryLater();
    }
    for (const [leader, states] of byLeader) void this.#fetch(leader, states);
  }

  async #fetch(leader: number, states: readonly PartitionState[]): Promise<void> {
    this.#inFlight.add(leader);
    const options = this.#options;
    const snapshot = options.metadata.snapshot!;
    const sent = states.map((state) => ({ state, generation: state.seekGeneration, fetchOffset: state.fetchOffset }));
    try {
      const connection = await options.pool.get({ nodeId: leader }, { purpose: 'fetch' });
      const version = connection.versionFor(fetchApi, { floor: 4 });
      const topics = new Map<string, FetchRequestFetchTopic>();
      for (const { state, fetchOffset } of sent) {
        let topic = topics.get(state.tp.topic);
        if (topic === undefined) {
          topic = {
            topic: state.tp.topic,
            topicId: snapshot.topics.get(state.tp.topic)?.topicId ?? ZERO_UUID,
            partitions: [],
          };
          topics.set(state.tp.topic, topic);
        }
        topic.partitions.push({
          partition: state.tp.partition,
          currentLeaderEpoch: findPartition(snapshot, state.tp.topic, state.tp.partition)?.leaderEpoch ?? -1,
          fetchOffset,
          lastFetchedEpoch: -1,
          logStartOffset: -1n,
          partitionMaxBytes: options.maxPartitionFetchBytes ?? DEFAULTS.maxPartitionFetchBytes,
          replicaDirectoryId: ZERO_UUID,
          highWatermark: 9223372036854775807n,
        });
      }
      if (version >= 13 && [...topics.values()].some((topic) => topic.topicId === ZERO_UUID)) {
        // Fetch v13+ names topics by id, and metadata has not given one yet: ask for fresh metadata, not the broker.
        options.metadata.requestUpdate();
        this.#backOff(states);
        return;
      }
      const maxWaitMs = options.fetchMaxWaitMs ?? DEFAULTS.fetchMaxWaitMs;
      const response = await connection.send(
        fetchApi,
        version,
        {
          ...defaultFetchRequest(),
          replicaId: -1,
          maxWaitMs,
          minBytes: options.fetchMinBytes ?? DEFAULTS.fetchMinBytes,
          maxBytes: options.fetchMaxBytes ?? DEFAULTS.fetchMaxBytes,
          isolationLevel: options.isolationLevel === 'read_committed' ? 1 : 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [...topics.values()],
          forgottenTopicsData: [],
          rackId: options.clientRack ?? '',
        },
        { timeoutMs: (options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs) + maxWaitMs },
      );
      if (response.errorCode !== 0) throw new KafkaError(response.errorCode, { context: `Fetch from node ${leader}` });
      const byKey = new Map(sent.map((entry) => [entry.state.key, entry]));
      for (const topic of response.responses) {
        const name = version >= 13 ? snapshot.topicNamesById.get(topic.topicId) : topic.topic;
        if (name === undefined) continue;
        for (const data of topic.partitions) {
          const entry = byKey.get(keyOf({ topic: name, partition: data.partitionIndex }));
          if (entry === undefined) continue;
          const { state, generation, fetchOffset } = entry;
          // Reassigned or sought since: this answer is about a position nobody wants any more.
          if (this.#partitions.get(state.key) !== state || state.seekGeneration !== generation) continue;
          await this.#accept(state, fetchOffset, generation, data, leader);
        }
      }
    } catch (error) {
      if (error instanceof NetworkError || error instanceof RequestTimeoutError) {
        options.metadata.reportError(error, { nodeId: leader });
        this.#backOff(states);
      } else if (error instanceof KafkaError && error.retriable) {
        this.#backOff(states);
      } else {
        this.#errors.push(error as Error);
      }
    } finally {
      this.#inFlight.delete(leader);
      this.#wake();
    }
  }

  async #accept(
    state: PartitionState,
    fetchOffset: bigint,
    generation: number,
    data: {
      errorCode: number;
      highWatermark: bigint;
      lastStableOffset: bigint;
      logStartOffset: bigint;
      abortedTransactions: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> | null;
      records: Uint8Array | null;
    },
    leader: number,
  ): Promise<void> {
    const code = data.errorCode;
    if (code !== 0) {
      const error = new KafkaError(code, {
        context: `Fetch of ${state.tp.topic}-${state.tp.partition} from node ${leader}`,
      });
      if (code === ErrorCode.OFFSET_OUT_OF_RANGE) {
        state.outOfRange = true;
        return;
      }
      if (error.invalidMetadata || kafkaErrorDefinition(code).retriable) {
        this.#options.metadata.requestUpdate();
        this.#backOff([state]);
        return;
      }
      this.#errors.push(error);
      return;
    }
    state.highWatermark = data.highWatermark;
    state.lastStableOffset = data.lastStableOffset;
    state.logStartOffset = data.logStartOffset;
    const result = await partitionRecords(state.tp, data.records, {
      fetchOffset,
      isolationLevel: this.#options.isolationLevel ?? 'read_uncommitted',
      abortedTransactions: data.abortedTransactions,
      checkCrcs: this.#options.checkCrcs ?? true,
      maxDecompressedBytes: this.#options.maxDecompressedBytes ?? DEFAULTS.maxDecompressedBytes,
    }).catch((error: unknown) => {
      this.#errors.push(error as Error);
      return null;
    });
    if (result === null || state.seekGeneration !== generation) return;
    state.fetchOffset = result.nextOffset;
    if (result.records.length > 0) {
      state.buffer.push(result.records);
      state.buffered += result.records.length;
    } else if (state.buffered === 0 && state.position !== null && state.position < result.nextOffset) {
      // Only skipped batches: the position moves past them.
      state.position = result.nextOffset;
    }
  }

  #backOff(states: readonly PartitionState[]): void {
    const until = Date.now() + (this.#options.retryBackoffMs ?? DEFAULTS.retryBackoffMs);
    for (const state of states) state.notBefore = Math.max(state.notBefore, until);
    this.#retryLater();
  }

  #retryLater(): void {
    setTimeout(() => this.#wake(), this.#options.retryBackoffMs ?? DEFAULTS.retryBackoffMs).unref();
  }

  #waitForChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waker = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakers.push(waker);
    });
  }

  #wake(): void {
    for (const waker of this.#wakers.splice(0)) waker();
  }
}

/** Below this many waiting records a partition is fetched again (at most one Fetch per partition is in flight). */
const PREFETCH_RECORDS = 1000;

function keyOf({ topic, partition }: TopicPartition): string {
  return `${topic}\u0000${partition}`;
}

function newState(tp: TopicPartition, key: string): PartitionState {
  return {
    tp,
    key,
    position: null,
    fetchOffset: 0n,
    buffer: [],
    bufferStart: 0,
    buffered: 0,
    paused: false,
    outOfRange: false,
    seekGeneration: 0,
    notBefore: 0,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
  };
}
