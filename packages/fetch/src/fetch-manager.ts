/**
 * The fetch request manager: Fetch requests from the fetchable partitions of the SubscriptionState, one in flight
 * per broker (on the pool's fetch connections), their records decoded into the FetchBuffer.
 *
 * Invariants:
 * - A partition is fetched from its leader while fewer than `PREFETCH_RECORDS` of its records wait in the buffer
 *   (at most one Fetch per partition in flight), so the next response is on its way while the application works
 *   through the last one. The next Fetch of a partition starts where its buffered data ends, or at its position.
 * - Every Fetch remembers the version of each partition it asked for; an answer for a partition sought, reset or
 *   reassigned since is dropped.
 * - OFFSET_OUT_OF_RANGE at the position makes the partition wait for a reset (SubscriptionState); errors that fresh
 *   metadata or time fixes (the leader moved, an unknown topic id, a lost connection) ask for a metadata update and
 *   fetch again after `retry.backoff.ms`; errors no retry fixes (authorization, corrupt data) go to the
 *   application (`onError`, thrown from its next poll) and are met again at the next attempt, until the
 *   application seeks past them.
 * - Full fetches (no KIP-227 fetch session yet): every Fetch names all its partitions.
 */
import {
  type ClusterMetadata,
  ErrorCode,
  findPartition,
  KafkaError,
  NetworkError,
  RequestTimeoutError,
} from '@sluice/net';
import {
  defaultFetchRequest,
  type FetchRequestFetchTopic,
  type FetchResponse,
  fetchApi,
  ZERO_UUID,
} from '@sluice/protocol';
import {
  type ManagerPoll,
  type RequestManager,
  type SubscriptionState,
  type TopicPartition,
  TopicPartitionMap,
  type UnsentRequest,
  unsent,
} from '@sluice/runtime';
import type { FetchBuffer } from './fetch-buffer.ts';
import { partitionRecords } from './partition-records.ts';

/** Below this many buffered records a partition is fetched again. */
export const PREFETCH_RECORDS = 1000;

export interface FetchManagerOptions {
  readonly subscriptions: SubscriptionState;
  readonly buffer: FetchBuffer;
  readonly metadata: Pick<ClusterMetadata, 'snapshot' | 'requestUpdate' | 'reportError'>;
  /** `fetch.min.bytes`. */
  readonly fetchMinBytes: number;
  /** `fetch.max.bytes`. */
  readonly fetchMaxBytes: number;
  /** `max.partition.fetch.bytes`. */
  readonly maxPartitionFetchBytes: number;
  /** `fetch.max.wait.ms`. */
  readonly fetchMaxWaitMs: number;
  readonly isolationLevel: 'read_uncommitted' | 'read_committed';
  /** `check.crcs`. */
  readonly checkCrcs: boolean;
  /** `client.rack` (Fetch v11+), or null. */
  readonly clientRack: string | null;
  /** `request.timeout.ms` (a Fetch may wait `fetch.max.wait.ms` on the broker on top). */
  readonly requestTimeoutMs: number;
  /** `retry.backoff.ms`: wait before fetching a partition again after an error. */
  readonly retryBackoffMs: number;
  /** Cap on one batch's decompressed size. Default 64 MiB. */
  readonly maxDecompressedBytes?: number;
  /** An error the application must hear of. */
  readonly onError: (error: Error) => void;
}

interface Asked {
  readonly tp: TopicPartition;
  readonly version: number;
  readonly fetchOffset: bigint;
  /** Whether the Fetch started at the position (not past buffered data). */
  readonly atPosition: boolean;
}

/** A retriable error: Fetch v13+ names topics by id and the metadata has not given this one yet. */
class MissingTopicIdError extends Error {
  readonly retriable = true;
}

const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export class FetchManager implements RequestManager {
  readonly #options: FetchManagerOptions;
  readonly #subscriptions: SubscriptionState;
  readonly #buffer: FetchBuffer;
  /** Brokers with a Fetch in flight (until its answer is decoded). */
  readonly #busyBrokers = new Set<number>();
  readonly #inFlight = new TopicPartitionMap<true>();
  readonly #notBefore = new TopicPartitionMap<number>();
  #retainedAt = -1;

  constructor(options: FetchManagerOptions) {
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.#buffer = options.buffer;
  }

  poll(now: number): ManagerPoll {
    const subscriptions = this.#subscriptions;
    if (subscriptions.changes !== this.#retainedAt) {
      // Buffered data of partitions that went (or were sought) does not wait for the application's next poll.
      this.#retainedAt = subscriptions.changes;
      this.#buffer.retain(subscriptions);
    }
    const snapshot = this.#options.metadata.snapshot;
    if (snapshot === null || subscriptions.assignedCount === 0) {
      return { requests: [], nextPollAt: Number.POSITIVE_INFINITY };
    }
    let next = Number.POSITIVE_INFINITY;
    let stale = false;
    const byLeader = new Map<number, Asked[]>();
    for (const state of subscriptions.partitions()) {
      if (state.fetchState !== 'fetching' || state.position === null || state.paused || state.pendingRevocation) {
        continue;
      }
      const tp = state.tp;
      if (this.#inFlight.has(tp)) continue;
      const notBefore = this.#notBefore.get(tp);
      if (notBefore !== undefined) {
        if (now < notBefore) {
          next = Math.min(next, notBefore);
          continue;
        }
        this.#notBefore.delete(tp);
      }
      if (this.#buffer.buffered(tp, state.version) >= PREFETCH_RECORDS) continue;
      const info = findPartition(snapshot, tp.topic, tp.partition);
      if (info === undefined || info.leaderId < 0) {
        stale = true;
        this.#backOff([tp], now);
        next = Math.min(next, now + this.#options.retryBackoffMs);
        continue;
      }
      if (this.#busyBrokers.has(info.leaderId)) continue;
      const buffered = this.#buffer.nextFetchOffset(tp, state.version);
      const asked: Asked = {
        tp,
        version: state.version,
        fetchOffset: buffered ?? state.position.offset,
        atPosition: buffered === null,
      };
      const list = byLeader.get(info.leaderId);
      if (list === undefined) byLeader.set(info.leaderId, [asked]);
      else list.push(asked);
    }
    if (stale) this.#options.metadata.requestUpdate();
    const requests: UnsentRequest[] = [];
    for (const [leader, asked] of byLeader) {
      this.#busyBrokers.add(leader);
      for (const entry of asked) this.#inFlight.set(entry.tp, true);
      requests.push(this.#request(leader, asked));
    }
    return { requests, nextPollAt: next };
  }

  #request(leader: number, asked: readonly Asked[]): UnsentRequest {
    const options = this.#options;
    return unsent({
      target: { nodeId: leader },
      purpose: 'fetch',
      api: fetchApi,
      versions: { floor: 4 },
      timeoutMs: options.requestTimeoutMs + options.fetchMaxWaitMs,
      build: (version) => {
        const snapshot = options.metadata.snapshot!;
        const topics = new Map<string, FetchRequestFetchTopic>();
        for (const { tp, fetchOffset } of asked) {
          let topic = topics.get(tp.topic);
          if (topic === undefined) {
            const topicId = snapshot.topics.get(tp.topic)?.topicId ?? ZERO_UUID;
            if (version >= 13 && topicId === ZERO_UUID) {
              throw new MissingTopicIdError(`the metadata has no topic id for ${tp.topic} yet`);
            }
            topic = { topic: tp.topic, topicId, partitions: [] };
            topics.set(tp.topic, topic);
          }
          topic.partitions.push({
            partition: tp.partition,
            currentLeaderEpoch: findPartition(snapshot, tp.topic, tp.partition)?.leaderEpoch ?? -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: options.maxPartitionFetchBytes,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: 9223372036854775807n,
          });
        }
        return {
          ...defaultFetchRequest(),
          replicaId: -1,
          maxWaitMs: options.fetchMaxWaitMs,
          minBytes: options.fetchMinBytes,
          maxBytes: options.fetchMaxBytes,
          isolationLevel: options.isolationLevel === 'read_committed' ? 1 : 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [...topics.values()],
          forgottenTopicsData: [],
          rackId: options.clientRack ?? '',
        };
      },
      onResponse: (response, { version, now }) => this.#answered(leader, asked, response, version, now),
      onFailure: (error, now) => {
        this.#done(leader, asked);
        if (error instanceof NetworkError || error instanceof RequestTimeoutError) {
          options.metadata.reportError(error, { nodeId: leader });
        } else if (error instanceof MissingTopicIdError) {
          options.metadata.requestUpdate();
        } else if ((error as { retriable?: boolean }).retriable !== true) {
          options.onError(error);
        }
        this.#backOff(
          asked.map((entry) => entry.tp),
          now,
        );
      },
    });
  }

  async #answered(
    leader: number,
    asked: readonly Asked[],
    response: FetchResponse,
    version: number,
    now: number,
  ): Promise<void> {
    const options = this.#options;
    try {
      if (response.errorCode !== 0) {
        const error = new KafkaError(response.errorCode, { context: `Fetch from node ${leader}` });
        if (!error.retriable) options.onError(error);
        this.#backOff(
          asked.map((entry) => entry.tp),
          now,
        );
        return;
      }
      const snapshot = options.metadata.snapshot;
      const byPartition = new TopicPartitionMap<Asked>(asked.map((entry) => [entry.tp, entry]));
      for (const topic of response.responses) {
        const name = version >= 13 ? snapshot?.topicNamesById.get(topic.topicId) : topic.topic;
        if (name === undefined) continue;
        for (const data of topic.partitions) {
          const entry = byPartition.get({ topic: name, partition: data.partitionIndex });
          if (entry === undefined) continue;
          // Sought, reset or reassigned since: an answer about a position nobody wants any more.
          if (this.#subscriptions.partition(entry.tp)?.version !== entry.version) continue;
          await this.#accept(entry, data, leader, now);
        }
      }
    } finally {
      this.#done(leader, asked);
    }
  }

  async #accept(
    entry: Asked,
    data: FetchResponse['responses'][number]['partitions'][number],
    leader: number,
    now: number,
  ): Promise<void> {
    const options = this.#options;
    const code = data.errorCode;
    if (code !== 0) {
      if (code === ErrorCode.OFFSET_OUT_OF_RANGE) {
        // Only an answer about the position itself: past buffered data, the position is fetched again first.
        if (entry.atPosition) {
          this.#subscriptions.requestReset(
            [entry.tp],
            { kind: 'out-of-range', offset: entry.fetchOffset },
            { version: entry.version },
          );
        } else {
          this.#backOff([entry.tp], now);
        }
        return;
      }
      const error = new KafkaError(code, {
        context: `Fetch of ${entry.tp.topic}-${entry.tp.partition} from node ${leader}`,
      });
      if (error.invalidMetadata || error.retriable) options.metadata.requestUpdate();
      else options.onError(error);
      this.#backOff([entry.tp], now);
      return;
    }
    this.#subscriptions.updateWatermarks(entry.tp, entry.version, data);
    let result: Awaited<ReturnType<typeof partitionRecords>>;
    try {
      result = await partitionRecords(entry.tp, data.records, {
        fetchOffset: entry.fetchOffset,
        isolationLevel: options.isolationLevel,
        abortedTransactions: data.abortedTransactions,
        checkCrcs: options.checkCrcs,
        maxDecompressedBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      });
    } catch (error) {
      options.onError(error as Error);
      this.#backOff([entry.tp], now);
      return;
    }
    if (this.#subscriptions.partition(entry.tp)?.version !== entry.version) return;
    if (result.records.length === 0 && result.nextOffset === entry.fetchOffset) return;
    this.#buffer.add(entry.tp, { version: entry.version, records: result.records, nextOffset: result.nextOffset });
  }

  #done(leader: number, asked: readonly Asked[]): void {
    this.#busyBrokers.delete(leader);
    for (const entry of asked) this.#inFlight.delete(entry.tp);
  }

  #backOff(partitions: readonly TopicPartition[], now: number): void {
    const until = now + this.#options.retryBackoffMs;
    for (const tp of partitions) this.#notBefore.set(tp, Math.max(this.#notBefore.get(tp) ?? 0, until));
  }
}
