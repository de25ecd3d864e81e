/**
 * The fetch request manager: one fetch source per broker (after franz-go's `source`), each holding that broker's
 * KIP-227 fetch session and at most one Fetch in flight, fed from the SubscriptionState and feeding the FetchBuffer.
 *
 * Invariants:
 * - Every fetchable partition (assigned, position known, not paused, not being revoked, not backing off after an
 *   error, not stopped on a failed read) is named in its leader's next Fetch, from where its buffered data ends
 *   (or its position): a broker answers as soon as any of them has data, and the next Fetch is on the wire while
 *   the application works through the last answer. What bounds the read-ahead is bytes: no Fetch is sent while the
 *   buffer holds `maxBytes` (`fetch.buffer.max.bytes`) or more, so memory stays within that plus one response per
 *   broker, whatever the record size.
 * - Partitions are placed on sources from the metadata when the metadata or the assignment changes, not per Fetch:
 *   a leader change moves the partition to the new leader's source (and out of the old one's session). Metadata
 *   that names an older leader epoch than the one the partition was placed with is stale: the partition stays and
 *   fresher metadata is asked for (KIP-320).
 * - KIP-392: a leader's answer naming a preferred read replica moves the partition to that replica's source for
 *   `metadata.max.age.ms` (or until the replica leaves the metadata); any error from the replica, or a failed
 *   Fetch to it, moves it back to the leader at once (an out-of-range answer from a replica is not a reset: the
 *   leader decides).
 * - Fairness: a full fetch names the partitions in a rotating order (those that returned data go to the end), as
 *   Kafka's consumer does; within a session the broker rotates them itself.
 * - Every Fetch remembers the version of each partition it asked for; an answer for a partition sought, reset or
 *   reassigned since is dropped.
 * - KIP-320: each partition is named with the leader epoch the metadata gives (`currentLeaderEpoch`, which fences a
 *   stale leader) and, from Fetch v12, with the epoch of the last batch before its fetch offset (`lastFetchedEpoch`:
 *   the position's, or that of the last buffered batch), so the leader checks that its log still holds what was
 *   read. An answer naming a diverging epoch is a truncation candidate: at the position, the answer is what
 *   OffsetForLeaderEpoch would say, and the partition awaits validation with it (the offsets manager decides, no
 *   request needed); past buffered data, the buffered data is dropped and the position is validated with a request.
 *   From a preferred read replica it only sends the partition back to its leader, as any error from a replica.
 * - OFFSET_OUT_OF_RANGE at the position makes the partition wait for a reset (SubscriptionState); errors that fresh
 *   metadata or time fixes (the leader moved, an unknown topic id, a lost connection) ask for a metadata update and
 *   fetch again after `retry.backoff.ms`; errors no retry fixes (authorization) go to the application (`onError`,
 *   thrown from its next poll) and are met again at the next attempt. Data that cannot be read goes to the buffer
 *   like any other (a CompletedFetch that fails where the data stops being readable), which stops the partition
 *   there until the application seeks. Session errors start a new session at once (FetchSession).
 */
import {
  type ClusterMetadata,
  type ClusterSnapshot,
  ErrorCode,
  findPartition,
  KafkaError,
  NetworkError,
  RequestTimeoutError,
} from '@sluice/net';
import {
  defaultFetchRequest,
  type FetchRequestFetchTopic,
  type FetchRequestForgottenTopic,
  type FetchResponse,
  fetchApi,
  type Uuid,
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
import { CompletedFetch } from './completed-fetch.ts';
import { DecompressionPipeline } from './decompression-pipeline.ts';
import type { FetchBuffer, ResponseLease } from './fetch-buffer.ts';
import { FetchSession, type SessionPartition, type SessionRequest } from './fetch-session.ts';

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
  /** `metadata.max.age.ms`: how long a preferred read replica (KIP-392) is fetched from. */
  readonly metadataMaxAgeMs: number;
  /** Cap on one batch's decompressed size. Default 64 MiB. */
  readonly maxDecompressedBytes?: number;
  /** Batches decompressing in the thread pool at once; default the pool's size. */
  readonly decompressionConcurrency?: number;
  /** Something arrived outside a response (a decompression finished): the loop should run. */
  readonly onArrival?: () => void;
  /** An error the application must hear of. */
  readonly onError: (error: Error) => void;
}

/** What a Fetch asked of one partition. */
interface Asked {
  readonly tp: TopicPartition;
  readonly version: number;
  readonly fetchOffset: bigint;
  /** The `lastFetchedEpoch` sent: the leader epoch of the batch before `fetchOffset`. */
  readonly fetchEpoch: number;
  /** The `currentLeaderEpoch` sent. */
  readonly currentLeaderEpoch: number;
  /** Whether the Fetch started at the position (not past buffered data). */
  readonly atPosition: boolean;
}

/** Where a partition is fetched from: its leader from the metadata, or the replica the leader prefers. */
interface Cursor {
  readonly tp: TopicPartition;
  readonly topicId: Uuid;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  /** The broker fetched from: the leader, or a preferred read replica (KIP-392). */
  readonly sourceId: number;
}

/** A preferred read replica the leader named, and until when it is used. */
interface Preferred {
  readonly nodeId: number;
  readonly until: number;
}

/** One broker: its fetch session and the partitions it leads. */
class FetchSource {
  readonly nodeId: number;
  readonly session = new FetchSession();
  /** The partitions of this source in the order a full fetch names them. */
  order: TopicPartition[] = [];
  readonly topicNames = new Map<Uuid, string>();
  inFlight = false;

  constructor(nodeId: number) {
    this.nodeId = nodeId;
  }
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
  readonly #decompression: DecompressionPipeline;
  readonly #sources = new Map<number, FetchSource>();
  readonly #cursors = new TopicPartitionMap<Cursor>();
  readonly #notBefore = new TopicPartitionMap<number>();
  /** Partitions named by a Fetch in flight (any source): not named again until it is answered. */
  readonly #inFlight = new TopicPartitionMap<true>();
  readonly #preferred = new TopicPartitionMap<Preferred>();
  /** Counts changes of `#preferred`; the placement is redone when it moved, or when a preference ran out. */
  #preferredChanges = 0;
  #placedPreferred = 0;
  #preferredUntil = Number.POSITIVE_INFINITY;
  #placedFor: ClusterSnapshot | null = null;
  #placedAt = -1;
  #retainedAt = -1;

  constructor(options: FetchManagerOptions) {
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.#buffer = options.buffer;
    this.#decompression = new DecompressionPipeline({
      maxDecompressedBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      ...(options.decompressionConcurrency === undefined ? {} : { concurrency: options.decompressionConcurrency }),
      onSettled: () => {
        this.#buffer.noteArrival();
        options.onArrival?.();
      },
    });
  }

  /** The sessions, by broker (for tests and metrics). */
  sessions(): ReadonlyMap<number, FetchSession> {
    return new Map([...this.#sources].map(([nodeId, source]) => [nodeId, source.session]));
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
    if (
      snapshot !== this.#placedFor ||
      subscriptions.changes !== this.#placedAt ||
      this.#preferredChanges !== this.#placedPreferred ||
      now >= this.#preferredUntil
    ) {
      this.#place(snapshot, now);
    }
    let next = Number.POSITIVE_INFINITY;
    const requests: UnsentRequest[] = [];
    for (const source of this.#sources.values()) {
      if (source.inFlight) continue;
      // The read-ahead is bounded by bytes: the application's next collect frees some and wakes the loop.
      if (this.#buffer.full) break;
      const partitions: SessionPartition[] = [];
      const asked = new TopicPartitionMap<Asked>();
      for (const tp of source.order) {
        const state = subscriptions.partition(tp);
        if (
          state === undefined ||
          state.fetchState !== 'fetching' ||
          state.position === null ||
          state.paused ||
          state.pendingRevocation
        ) {
          continue;
        }
        const notBefore = this.#notBefore.get(tp);
        if (notBefore !== undefined) {
          if (now < notBefore) {
            next = Math.min(next, notBefore);
            continue;
          }
          this.#notBefore.delete(tp);
        }
        if (this.#buffer.blocked(tp, state.version)) continue;
        // After a leader move, the old leader's answer may still be on its way: one Fetch per partition at a time.
        if (this.#inFlight.has(tp)) continue;
        const cursor = this.#cursors.get(tp)!;
        const buffered = this.#buffer.nextFetchPosition(tp, state.version);
        const from = buffered ?? state.position;
        partitions.push({
          tp,
          topicId: cursor.topicId,
          fetchOffset: from.offset,
          currentLeaderEpoch: cursor.leaderEpoch,
          lastFetchedEpoch: from.leaderEpoch,
          maxBytes: this.#options.maxPartitionFetchBytes,
        });
        asked.set(tp, {
          tp,
          version: state.version,
          fetchOffset: from.offset,
          fetchEpoch: from.leaderEpoch,
          currentLeaderEpoch: cursor.leaderEpoch,
          atPosition: buffered === null,
        });
      }
      if (partitions.length === 0) continue;
      source.inFlight = true;
      for (const tp of asked.keys()) this.#inFlight.set(tp, true);
      requests.push(this.#request(source, partitions, asked));
    }
    return { requests, nextPollAt: next };
  }

  /** Puts every assigned partition on its leader's source, or on its preferred read replica's. */
  #place(snapshot: ClusterSnapshot, now: number): void {
    this.#placedFor = snapshot;
    this.#placedAt = this.#subscriptions.changes;
    this.#placedPreferred = this.#preferredChanges;
    this.#preferredUntil = Number.POSITIVE_INFINITY;
    let stale = false;
    const placed = new TopicPartitionMap<Cursor>();
    const sourceOf = (tp: TopicPartition, leaderId: number): number => {
      const preferred = this.#preferred.get(tp);
      if (preferred === undefined) return leaderId;
      if (now < preferred.until && snapshot.brokers.has(preferred.nodeId)) {
        this.#preferredUntil = Math.min(this.#preferredUntil, preferred.until);
        return preferred.nodeId;
      }
      this.#preferred.delete(tp);
      return leaderId;
    };
    for (const state of this.#subscriptions.partitions()) {
      const tp = state.tp;
      const info = findPartition(snapshot, tp.topic, tp.partition);
      const previous = this.#cursors.get(tp);
      if (info === undefined || info.leaderId < 0) {
        stale = true;
        continue;
      }
      if (previous !== undefined && info.leaderEpoch >= 0 && info.leaderEpoch < previous.leaderEpoch) {
        // Metadata older than what the partition was placed with: keep it where it is until fresher comes.
        stale = true;
        placed.set(tp, previous);
        continue;
      }
      const topicId = snapshot.topics.get(tp.topic)?.topicId ?? ZERO_UUID;
      const sourceId = sourceOf(tp, info.leaderId);
      placed.set(
        tp,
        previous !== undefined &&
          previous.leaderId === info.leaderId &&
          previous.leaderEpoch === info.leaderEpoch &&
          previous.topicId === topicId &&
          previous.sourceId === sourceId
          ? previous
          : { tp, topicId, leaderId: info.leaderId, leaderEpoch: info.leaderEpoch, sourceId },
      );
    }
    // Preferences of partitions no longer assigned go too.
    for (const tp of [...this.#preferred.keys()]) if (!placed.has(tp)) this.#preferred.delete(tp);
    if (stale) this.#options.metadata.requestUpdate();
    this.#cursors.clear();
    for (const [tp, cursor] of placed) this.#cursors.set(tp, cursor);
    // Each source keeps its rotation: partitions it had stay in their order, new ones go to the end.
    const orders = new Map<number, TopicPartition[]>();
    const known = new TopicPartitionMap<true>();
    for (const source of this.#sources.values()) {
      const kept: TopicPartition[] = [];
      for (const tp of source.order) {
        const key = this.#cursors.key(tp);
        if (key === undefined || this.#cursors.get(key)!.sourceId !== source.nodeId) continue;
        kept.push(key);
        known.set(key, true);
      }
      orders.set(source.nodeId, kept);
    }
    for (const [tp, cursor] of this.#cursors) {
      if (known.has(tp)) continue;
      const order = orders.get(cursor.sourceId);
      if (order === undefined) orders.set(cursor.sourceId, [tp]);
      else order.push(tp);
    }
    for (const [nodeId, order] of orders) {
      let source = this.#sources.get(nodeId);
      if (source === undefined) {
        source = new FetchSource(nodeId);
        this.#sources.set(nodeId, source);
      }
      source.order = order;
      source.topicNames.clear();
      for (const tp of order) source.topicNames.set(this.#cursors.get(tp)!.topicId, tp.topic);
    }
  }

  #request(
    source: FetchSource,
    partitions: readonly SessionPartition[],
    asked: TopicPartitionMap<Asked>,
  ): UnsentRequest {
    const options = this.#options;
    let built: SessionRequest | null = null;
    return unsent({
      target: { nodeId: source.nodeId },
      purpose: 'fetch',
      api: fetchApi,
      versions: { floor: 4 },
      timeoutMs: options.requestTimeoutMs + options.fetchMaxWaitMs,
      build: (version) => {
        const session = source.session.build(partitions, version);
        built = session;
        const topics = new Map<string, FetchRequestFetchTopic>();
        for (const partition of session.toSend) {
          if (version >= 13 && partition.topicId === ZERO_UUID) {
            throw new MissingTopicIdError(`the metadata has no topic id for ${partition.tp.topic} yet`);
          }
          let topic = topics.get(partition.tp.topic);
          if (topic === undefined) {
            topic = { topic: partition.tp.topic, topicId: partition.topicId, partitions: [] };
            topics.set(partition.tp.topic, topic);
          }
          topic.partitions.push({
            partition: partition.tp.partition,
            currentLeaderEpoch: partition.currentLeaderEpoch,
            fetchOffset: partition.fetchOffset,
            // Fetch v12+ (KIP-595's field, which KIP-320's truncation check reuses); -1 below.
            lastFetchedEpoch: version >= 12 ? partition.lastFetchedEpoch : -1,
            logStartOffset: -1n,
            partitionMaxBytes: partition.maxBytes,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: 9223372036854775807n,
          });
        }
        const forgotten = new Map<string, FetchRequestForgottenTopic>();
        for (const { tp, topicId } of session.toForget) {
          const key = version >= 13 ? topicId : tp.topic;
          let topic = forgotten.get(key);
          if (topic === undefined) {
            topic = { topic: tp.topic, topicId, partitions: [] };
            forgotten.set(key, topic);
          }
          topic.partitions.push(tp.partition);
        }
        return {
          ...defaultFetchRequest(),
          replicaId: -1,
          maxWaitMs: options.fetchMaxWaitMs,
          minBytes: options.fetchMinBytes,
          maxBytes: options.fetchMaxBytes,
          isolationLevel: options.isolationLevel === 'read_committed' ? 1 : 0,
          sessionId: session.sessionId,
          sessionEpoch: session.sessionEpoch,
          topics: [...topics.values()],
          forgottenTopicsData: [...forgotten.values()],
          rackId: options.clientRack ?? '',
        };
      },
      onResponse: (response, { version, now }) => {
        this.#done(source, asked);
        this.#answered(source, built!, asked, response, version, now);
      },
      onFailure: (error, now) => {
        this.#done(source, asked);
        source.session.handleFailure();
        // A replica that cannot be reached is no longer preferred: the leader serves at once.
        for (const tp of asked.keys()) this.#leaveReplica(tp, source.nodeId);
        if (error instanceof NetworkError || error instanceof RequestTimeoutError) {
          options.metadata.reportError(error, { nodeId: source.nodeId });
        } else if (error instanceof MissingTopicIdError) {
          options.metadata.requestUpdate();
        } else if ((error as { retriable?: boolean }).retriable !== true) {
          options.onError(error);
        }
        this.#backOff(asked.keys(), now);
      },
    });
  }

  #answered(
    source: FetchSource,
    session: SessionRequest,
    asked: TopicPartitionMap<Asked>,
    response: FetchResponse,
    version: number,
    now: number,
  ): void {
    const lease = this.#buffer.lease(firstRecords(response));
    try {
      if (!source.session.handleResponse(session, response)) {
        // The broker and we disagree about a topic id (deleted and created again): as Kafka's consumer, ask anew.
        if (response.errorCode === ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR) this.#options.metadata.requestUpdate();
        return;
      }
      if (response.errorCode !== 0) {
        const error = new KafkaError(response.errorCode, { context: `Fetch from node ${source.nodeId}` });
        if (!error.retriable) this.#options.onError(error);
        this.#backOff(asked.keys(), now);
        return;
      }
      const returned: TopicPartition[] = [];
      for (const topic of response.responses) {
        const name = version >= 13 ? source.topicNames.get(topic.topicId) : topic.topic;
        if (name === undefined) continue;
        for (const data of topic.partitions) {
          const entry = asked.get({ topic: name, partition: data.partitionIndex });
          if (entry === undefined) continue;
          // Sought, reset or reassigned since: an answer about a position nobody wants any more.
          const state = this.#subscriptions.partition(entry.tp);
          if (state === undefined || state.version !== entry.version) continue;
          // Data must start where the buffered data (or the position) ends, or it is a duplicate or a gap.
          const expected = this.#buffer.nextFetchPosition(entry.tp, entry.version)?.offset ?? state.position?.offset;
          if (expected !== entry.fetchOffset) continue;
          if (this.#accept(entry, data, source.nodeId, lease, now)) returned.push(entry.tp);
        }
      }
      if (session.full && returned.length > 0) rotate(source, returned);
    } finally {
      this.#buffer.settle(lease);
    }
  }

  /** Returns whether the partition's data went to the buffer. */
  #accept(
    entry: Asked,
    data: FetchResponse['responses'][number]['partitions'][number],
    answeredBy: number,
    lease: ResponseLease,
    now: number,
  ): boolean {
    const options = this.#options;
    const code = data.errorCode;
    // Any error from a preferred read replica (not the leader, out of range, not available yet): back to the leader,
    // which decides (KIP-392).
    if (code !== 0 && this.#leaveReplica(entry.tp, answeredBy)) return false;
    const diverged = code === 0 && data.divergingEpoch.epoch >= 0;
    if (diverged && this.#leaveReplica(entry.tp, answeredBy)) return false;
    if (diverged) {
      // KIP-320: the leader's log does not hold the fetched epoch up to the fetch offset.
      const divergingEpoch = { leaderEpoch: data.divergingEpoch.epoch, endOffset: data.divergingEpoch.endOffset };
      this.#subscriptions.requestValidation(
        entry.tp,
        entry.version,
        // At the position the answer settles it; past buffered data, the position itself must be asked about.
        entry.atPosition
          ? { divergingEpoch, currentLeaderEpoch: entry.currentLeaderEpoch }
          : { currentLeaderEpoch: entry.currentLeaderEpoch },
      );
      return false;
    }
    if (code === 0 && data.preferredReadReplica >= 0 && data.preferredReadReplica !== answeredBy) {
      this.#preferred.set(entry.tp, { nodeId: data.preferredReadReplica, until: now + options.metadataMaxAgeMs });
      this.#preferredChanges++;
    }
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
        return false;
      }
      const error = new KafkaError(code, {
        context: `Fetch of ${entry.tp.topic}-${entry.tp.partition} from node ${answeredBy}`,
      });
      if (error.invalidMetadata || error.retriable) options.metadata.requestUpdate();
      else options.onError(error);
      this.#backOff([entry.tp], now);
      return false;
    }
    this.#subscriptions.updateWatermarks(entry.tp, entry.version, data);
    let fetch: CompletedFetch;
    try {
      fetch = new CompletedFetch({
        tp: entry.tp,
        version: entry.version,
        fetchOffset: entry.fetchOffset,
        fetchEpoch: entry.fetchEpoch,
        records: data.records,
        isolationLevel: options.isolationLevel,
        abortedTransactions: data.abortedTransactions,
        checkCrcs: options.checkCrcs,
        decompressor: this.#decompression,
      });
    } catch (error) {
      options.onError(error as Error);
      this.#backOff([entry.tp], now);
      return false;
    }
    if (fetch.empty) return false;
    this.#buffer.add(fetch, lease);
    return true;
  }

  /** Whether the partition was fetched from `nodeId` as its preferred read replica; if so, it goes back to its leader. */
  #leaveReplica(tp: TopicPartition, nodeId: number): boolean {
    const cursor = this.#cursors.get(tp);
    if (cursor === undefined || cursor.sourceId !== nodeId || cursor.sourceId === cursor.leaderId) return false;
    this.#preferred.delete(tp);
    this.#preferredChanges++;
    return true;
  }

  #done(source: FetchSource, asked: TopicPartitionMap<Asked>): void {
    source.inFlight = false;
    for (const tp of asked.keys()) this.#inFlight.delete(tp);
  }

  #backOff(partitions: Iterable<TopicPartition>, now: number): void {
    const until = now + this.#options.retryBackoffMs;
    for (const tp of partitions) this.#notBefore.set(tp, Math.max(this.#notBefore.get(tp) ?? 0, until));
  }
}

/** A view into the response's frame, for releasing it: any partition's records bytes. */
function firstRecords(response: FetchResponse): Uint8Array | null {
  for (const topic of response.responses) {
    for (const partition of topic.partitions) if (partition.records !== null) return partition.records;
  }
  return null;
}

/** Moves the partitions that returned data to the end of the source's order. */
function rotate(source: FetchSource, returned: readonly TopicPartition[]): void {
  const moved = new TopicPartitionMap<true>(returned.map((tp) => [tp, true]));
  const kept: TopicPartition[] = [];
  const last: TopicPartition[] = [];
  for (const tp of source.order) (moved.has(tp) ? last : kept).push(tp);
  source.order = kept.concat(last);
}
