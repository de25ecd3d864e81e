/**
 * Offsets by position or time (ListOffsets): where a partition begins and ends, and the first offset at or after a
 * timestamp. Used for `auto.offset.reset`, `seekToBeginning` / `seekToEnd`, `beginningOffsets`, `endOffsets` and
 * `offsetsForTimes`.
 *
 * Each partition is asked of its leader, all of a leader's partitions in one request. A partition whose leader
 * moved or is not ready (NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH, LEADER_NOT_AVAILABLE,
 * OFFSET_NOT_AVAILABLE ...) or whose request failed on the network gets fresh metadata and is asked again, with
 * KIP-580 backoff, until `default.api.timeout.ms`; the others keep their answers.
 */
import {
  type ClusterMetadata,
  type ConnectionPool,
  findPartition,
  KafkaError,
  kafkaErrorDefinition,
  NetworkError,
  RequestTimeoutError,
  RetryTimeoutError,
  withRetries,
} from '@sluice/net';
import { defaultListOffsetsRequest, listOffsetsApi } from '@sluice/protocol';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** ListOffsets' special timestamps. */
export const EARLIEST_TIMESTAMP = -2n;
export const LATEST_TIMESTAMP = -1n;

/** What `offsetsForTimes` found for a partition. */
export interface OffsetAndTimestamp {
  readonly offset: bigint;
  /** The timestamp of the record at `offset`. */
  readonly timestamp: bigint;
  /** -1 when the broker did not say. */
  readonly leaderEpoch: number;
}

export interface OffsetLookupOptions {
  readonly pool: ConnectionPool;
  readonly metadata: ClusterMetadata;
  /** `isolation.level`: the end of a partition for read_committed is its last stable offset. */
  readonly isolationLevel?: 'read_uncommitted' | 'read_committed';
  /** `request.timeout.ms`, default 30000. */
  readonly requestTimeoutMs?: number;
  /** `default.api.timeout.ms`, default 60000. */
  readonly defaultApiTimeoutMs?: number;
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
}

/** Some partitions could not be looked up before the time ran out. */
class PartitionsPending extends Error {
  readonly retriable = true;
}

export class OffsetLookup {
  readonly #options: OffsetLookupOptions;

  constructor(options: OffsetLookupOptions) {
    this.#options = options;
  }

  /** The first offset of each partition (its log start offset). */
  async beginningOffsets(
    partitions: readonly TopicPartition[],
    options: { timeoutMs?: number } = {},
  ): Promise<bigint[]> {
    const found = await this.#lookup(
      partitions.map((partition) => ({ ...partition, timestamp: EARLIEST_TIMESTAMP })),
      options,
    );
    return found.map((entry, index) => entry?.offset ?? missing(partitions[index]!));
  }

  /** The offset after the last record of each partition (the last stable offset under read_committed). */
  async endOffsets(partitions: readonly TopicPartition[], options: { timeoutMs?: number } = {}): Promise<bigint[]> {
    const found = await this.#lookup(
      partitions.map((partition) => ({ ...partition, timestamp: LATEST_TIMESTAMP })),
      options,
    );
    return found.map((entry, index) => entry?.offset ?? missing(partitions[index]!));
  }

  /**
   * For each partition, the earliest offset whose timestamp is at or after the given one (milliseconds since the
   * epoch); null when every record is older.
   */
  async offsetsForTimes(
    queries: ReadonlyArray<TopicPartition & { readonly timestamp: bigint }>,
    options: { timeoutMs?: number } = {},
  ): Promise<Array<OffsetAndTimestamp | null>> {
    for (const query of queries) {
      if (query.timestamp < 0n) {
        throw new RangeError(`the timestamp for ${query.topic}-${query.partition} is negative (${query.timestamp})`);
      }
    }
    return this.#lookup(queries, options);
  }

  async #lookup(
    queries: ReadonlyArray<TopicPartition & { readonly timestamp: bigint }>,
    options: { timeoutMs?: number },
  ): Promise<Array<OffsetAndTimestamp | null>> {
    const results = new Array<OffsetAndTimestamp | null>(queries.length).fill(null);
    let pending = queries.map((_, index) => index);
    const lastError = new Map<number, Error>();
    try {
      await withRetries(
        async () => {
          pending = await this.#round(queries, pending, results, lastError);
          if (pending.length > 0) {
            const first = lastError.get(pending[0]!);
            throw new PartitionsPending(
              `${pending.length} partition(s) not answered yet${first ? ` (${first.message})` : ''}`,
            );
          }
        },
        {
          initialMs: this.#options.retryBackoffMs ?? 100,
          maxMs: this.#options.retryBackoffMaxMs ?? 1_000,
          timeoutMs: options.timeoutMs ?? this.#options.defaultApiTimeoutMs ?? 60_000,
          isRetriable: (error) => error instanceof PartitionsPending,
          onRetry: () => {
            this.#options.metadata.requestUpdate();
          },
        },
      );
    } catch (error) {
      // A fatal answer for one partition (authorization, unsupported) is what the caller needs to see.
      if (error instanceof RetryTimeoutError) {
        const fatal = [...lastError.values()].find((cause) => cause instanceof KafkaError && !cause.retriable);
        if (fatal) throw fatal;
      }
      throw error;
    }
    return results;
  }

  /** One request per leader for the pending queries; returns the indexes still pending. */
  async #round(
    queries: ReadonlyArray<TopicPartition & { readonly timestamp: bigint }>,
    pending: readonly number[],
    results: Array<OffsetAndTimestamp | null>,
    lastError: Map<number, Error>,
  ): Promise<number[]> {
    const snapshot = await this.#options.metadata.ready();
    const topics = new Set(pending.map((index) => queries[index]!.topic));
    if ([...topics].some((topic) => !snapshot.topics.has(topic))) {
      // Describe the topics we are asked about from now on.
      const known = [...snapshot.topics.keys()];
      this.#options.metadata.setTopics([...new Set([...known, ...topics])]);
    }
    // Per leader, requests in which each partition appears once (the broker refuses a partition listed twice);
    // the same partition asked at several timestamps goes into as many requests.
    const byLeader = new Map<number, Array<{ indexes: number[]; keys: Set<string> }>>();
    const stillPending: number[] = [];
    for (const index of pending) {
      const { topic, partition } = queries[index]!;
      const info = findPartition(snapshot, topic, partition);
      const topicError = snapshot.topics.get(topic)?.error ?? null;
      if (topicError !== null && !topicError.retriable) {
        throw topicError;
      }
      if (info === undefined || info.leaderId < 0) {
        lastError.set(index, new Error(`no leader known for ${topic}-${partition}`));
        stillPending.push(index);
        continue;
      }
      const key = `${topic}\u0000${partition}`;
      let batches = byLeader.get(info.leaderId);
      if (batches === undefined) {
        batches = [];
        byLeader.set(info.leaderId, batches);
      }
      let batch = batches.find((candidate) => !candidate.keys.has(key));
      if (batch === undefined) {
        batch = { indexes: [], keys: new Set() };
        batches.push(batch);
      }
      batch.indexes.push(index);
      batch.keys.add(key);
    }
    const requests = [...byLeader].flatMap(([leader, batches]) =>
      batches.map((batch) => [leader, batch.indexes] as const),
    );
    const rounds = requests.map(async ([leader, indexes]) => {
      try {
        await this.#ask(leader, queries, indexes, results, lastError, stillPending, snapshot);
      } catch (error) {
        if (!(error instanceof NetworkError || error instanceof RequestTimeoutError)) throw error;
        this.#options.metadata.reportError(error, { nodeId: leader });
        for (const index of indexes) {
          lastError.set(index, error);
          stillPending.push(index);
        }
      }
    });
    await Promise.all(rounds);
    return stillPending.sort((a, b) => a - b);
  }

  async #ask(
    leader: number,
    queries: ReadonlyArray<TopicPartition & { readonly timestamp: bigint }>,
    indexes: readonly number[],
    results: Array<OffsetAndTimestamp | null>,
    lastError: Map<number, Error>,
    stillPending: number[],
    snapshot: NonNullable<ClusterMetadata['snapshot']>,
  ): Promise<void> {
    const byTopic = new Map<string, Array<{ index: number; partition: number; timestamp: bigint }>>();
    for (const index of indexes) {
      const { topic, partition, timestamp } = queries[index]!;
      const list = byTopic.get(topic);
      const entry = { index, partition, timestamp };
      if (list === undefined) byTopic.set(topic, [entry]);
      else list.push(entry);
    }
    const connection = await this.#options.pool.get({ nodeId: leader });
    const version = connection.versionFor(listOffsetsApi, { floor: 1 });
    const response = await connection.send(
      listOffsetsApi,
      version,
      {
        ...defaultListOffsetsRequest(),
        replicaId: -1,
        isolationLevel: this.#options.isolationLevel === 'read_committed' ? 1 : 0,
        timeoutMs: this.#options.requestTimeoutMs ?? 30_000,
        topics: [...byTopic].map(([name, entries]) => ({
          name,
          partitions: entries.map(({ partition, timestamp }) => ({
            partitionIndex: partition,
            currentLeaderEpoch: findPartition(snapshot, name, partition)?.leaderEpoch ?? -1,
            timestamp,
            maxNumOffsets: 1,
          })),
        })),
      },
      { timeoutMs: this.#options.requestTimeoutMs ?? 30_000 },
    );
    const answered = new Set<number>();
    for (const topic of response.topics) {
      const entries = byTopic.get(topic.name) ?? [];
      for (const partition of topic.partitions) {
        const entry = entries.find((candidate) => candidate.partition === partition.partitionIndex);
        if (entry === undefined) continue;
        answered.add(entry.index);
        if (partition.errorCode !== 0) {
          const error = new KafkaError(partition.errorCode, {
            context: `ListOffsets for ${topic.name}-${partition.partitionIndex}`,
          });
          lastError.set(entry.index, error);
          if (!kafkaErrorDefinition(partition.errorCode).retriable) throw error;
          if (error.invalidMetadata) this.#options.metadata.requestUpdate();
          stillPending.push(entry.index);
          continue;
        }
        results[entry.index] =
          partition.offset < 0n
            ? null
            : { offset: partition.offset, timestamp: partition.timestamp, leaderEpoch: partition.leaderEpoch };
      }
    }
    for (const index of indexes) {
      if (!answered.has(index)) {
        lastError.set(index, new Error('the leader did not answer for this partition'));
        stillPending.push(index);
      }
    }
  }
}

function missing(partition: TopicPartition): never {
  throw new Error(`ListOffsets gave no offset for ${partition.topic}-${partition.partition}`);
}
