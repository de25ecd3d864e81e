/**
 * Positions and offset lookups (Kafka's OffsetsRequestManager): gives every assigned partition a position, and
 * answers the application's ListOffsets questions.
 *
 * - A partition assigned without a position first asks for its committed offset (when the consumer has a
 *   group.id); one with none, or one whose position the broker called out of range, waits for a reset to
 *   `auto.offset.reset` (or to the beginning or end, after `seekToBeginning` / `seekToEnd`), which ListOffsets at
 *   the partition's leader resolves. With `none` nothing is asked: the application is told at its next poll.
 * - Transient failures (a coordinator that is loading or moved, a leader that moved, a lost connection) are asked
 *   again after `retry.backoff.ms` (KIP-580), for as long as the partition needs it: they never reach the
 *   application. An error no retry fixes (authorization) is reported through `onError`, and asked again after the
 *   backoff.
 * - Every answer is applied only if the partition is still at the version it was asked for (no seek, reset or
 *   reassignment in between).
 * - ListOffsets per leader, one request per leader with each partition at most once (the broker refuses a
 *   partition listed twice); the application's lookups run until their deadline (TimeoutError).
 * - Positions are validated (KIP-320, PositionValidator, polled first): a committed offset with a leader epoch is
 *   checked against the leader's log before it is fetched from, as are positions after a leader change. A reset's
 *   position is bound to the leader epoch its ListOffsets carried (the leader answered under it): nothing to check.
 */
import {
  backoffMs,
  type ClusterMetadata,
  findPartition,
  KafkaError,
  NetworkError,
  RequestTimeoutError,
} from '@sluice/net';
import { defaultListOffsetsRequest, type ListOffsetsResponse, listOffsetsApi } from '@sluice/protocol';
import {
  Attempts,
  type Deferred,
  deferred,
  describePartition,
  type ManagerPoll,
  type RequestManager,
  type SubscriptionState,
  type TopicInterest,
  type TopicPartition,
  TopicPartitionMap,
  type UnsentRequest,
  unsent,
} from '@sluice/runtime';
import type { CommitManager, CommittedOffset } from './commit-manager.ts';
import type { LogTruncationWarning } from './errors.ts';
import { PositionValidator } from './position-validator.ts';

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

export interface OffsetQuery extends TopicPartition {
  /** Milliseconds since the epoch, or EARLIEST_TIMESTAMP / LATEST_TIMESTAMP. */
  readonly timestamp: bigint;
}

export interface OffsetsManagerOptions {
  readonly subscriptions: SubscriptionState;
  readonly metadata: Pick<ClusterMetadata, 'snapshot' | 'requestUpdate' | 'reportError'>;
  /** Committed offsets, for partitions without a position; null without a group.id. */
  readonly commits: Pick<CommitManager, 'committed'> | null;
  readonly isolationLevel: 'read_uncommitted' | 'read_committed';
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  /** An error the application must hear of (thrown from its next poll). */
  readonly onError: (error: Error) => void;
  /** A log truncation repaired by `auto.offset.reset` (KIP-320). Default: `process.emitWarning`. */
  readonly onWarning?: (warning: LogTruncationWarning) => void;
  readonly random?: () => number;
}

interface Lookup {
  readonly queries: readonly OffsetQuery[];
  readonly results: Array<OffsetAndTimestamp | null>;
  /** Indexes of queries not answered yet and not in flight. */
  pending: Set<number>;
  inFlight: number;
  readonly attempts: Attempts;
  readonly result: Deferred<Array<OffsetAndTimestamp | null>>;
}

/** One partition of a ListOffsets request: a reset (with its version) or an application query (its index). */
type Entry =
  | { readonly kind: 'reset'; readonly tp: TopicPartition; readonly version: number; readonly timestamp: bigint }
  | {
      readonly kind: 'lookup';
      readonly lookup: Lookup;
      readonly tp: TopicPartition;
      readonly index: number;
      readonly timestamp: bigint;
    };

export class OffsetsManager implements RequestManager, TopicInterest {
  readonly #options: OffsetsManagerOptions;
  readonly #subscriptions: SubscriptionState;
  readonly #random: () => number;
  readonly #validator: PositionValidator;
  /** The leader epoch each reset's ListOffsets carried (the epoch its answer holds under). */
  readonly #askedEpochs = new WeakMap<Entry, number>();
  /** Partitions whose committed offset is being asked for, with the version they were asked at. */
  #initializing = new TopicPartitionMap<number>();
  #resetting = new TopicPartitionMap<number>();
  #resetFailures = 0;
  #initFailures = 0;
  /** Partitions whose committed-offset lookup failed for good: backed off at the next poll. */
  #initFailed: TopicPartition[] = [];
  #lookups: Lookup[] = [];

  constructor(options: OffsetsManagerOptions) {
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.#random = options.random ?? Math.random;
    this.#validator = new PositionValidator({
      subscriptions: options.subscriptions,
      metadata: options.metadata,
      requestTimeoutMs: options.requestTimeoutMs,
      retryBackoffMs: options.retryBackoffMs,
      retryBackoffMaxMs: options.retryBackoffMaxMs,
      onError: options.onError,
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      random: this.#random,
    });
  }

  /**
   * The offsets for the queries, in their order: for EARLIEST_TIMESTAMP the first offset, for LATEST_TIMESTAMP the
   * end (the last stable offset under read_committed), otherwise the first offset whose timestamp is at or after
   * it (null when every record is older).
   */
  listOffsets(queries: readonly OffsetQuery[], deadline: number): Promise<Array<OffsetAndTimestamp | null>> {
    if (queries.length === 0) return Promise.resolve([]);
    const lookup: Lookup = {
      queries,
      results: new Array<OffsetAndTimestamp | null>(queries.length).fill(null),
      pending: new Set(queries.map((_, index) => index)),
      inFlight: 0,
      attempts: new Attempts(deadline, this.#options),
      result: deferred(),
    };
    this.#lookups.push(lookup);
    return lookup.result.promise;
  }

  /** Fails the application's lookups still pending (the consumer is closing). */
  failAll(error: Error): void {
    for (const lookup of this.#lookups) lookup.result.reject(error);
    this.#lookups = [];
  }

  topicsOfInterest(): Iterable<string> {
    const topics = new Set<string>();
    for (const lookup of this.#lookups) {
      if (lookup.result.settled) continue;
      for (const query of lookup.queries) topics.add(query.topic);
    }
    return topics;
  }

  poll(now: number): ManagerPoll {
    const validation = this.#validator.poll(now);
    let next = validation.nextPollAt;
    const requests: UnsentRequest[] = [...validation.requests];
    next = Math.min(next, this.#initialize(now));
    const entries = new Map<number, Entry[]>();
    next = Math.min(next, this.#resets(now, entries));
    next = Math.min(next, this.#queries(now, entries));
    for (const [leader, list] of entries) {
      for (const batch of uniqueBatches(list)) requests.push(this.#request(leader, batch));
    }
    return { requests, nextPollAt: next };
  }

  // ---- committed offsets for partitions without a position ---------------------------------------------------

  #initialize(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    if (this.#initFailed.length > 0) {
      this.#subscriptions.backOff(this.#initFailed, now + this.#backoff(this.#initFailures++));
      this.#initFailed = [];
    }
    const waiting: Array<{ tp: TopicPartition; version: number }> = [];
    for (const state of this.#subscriptions.partitions()) {
      if (state.fetchState !== 'initializing') continue;
      if (this.#initializing.get(state.tp) === state.version) continue;
      if (now < state.retryAt) {
        next = Math.min(next, state.retryAt);
        continue;
      }
      waiting.push({ tp: state.tp, version: state.version });
    }
    if (waiting.length === 0) return next;
    const commits = this.#options.commits;
    if (commits === null) {
      // Without a group there is no committed offset: the resets below ask for the positions in this same poll.
      for (const { tp, version } of waiting) this.#subscriptions.noCommittedOffset(tp, version);
      return next;
    }
    for (const { tp, version } of waiting) this.#initializing.set(tp, version);
    commits
      .committed(
        waiting.map(({ tp }) => tp),
        Number.POSITIVE_INFINITY,
      )
      .then(
        (found) => {
          this.#initFailures = 0;
          for (const { tp, version } of waiting) {
            if (this.#initializing.get(tp) === version) this.#initializing.delete(tp);
            const committed: CommittedOffset | null | undefined = found.get(tp);
            if (committed) {
              // With a leader epoch, checked against the leader's log before it is fetched from (KIP-320).
              this.#subscriptions.completePosition(
                tp,
                version,
                { offset: committed.offset, leaderEpoch: committed.leaderEpoch },
                { validate: true },
              );
            } else {
              this.#subscriptions.noCommittedOffset(tp, version);
            }
          }
        },
        (error: Error) => {
          for (const { tp, version } of waiting) {
            if (this.#initializing.get(tp) === version) this.#initializing.delete(tp);
          }
          // Only what no retry fixes ends up here (retriable errors are retried without a deadline).
          this.#options.onError(error);
          this.#initFailed.push(...waiting.map(({ tp }) => tp));
        },
      );
    return next;
  }

  // ---- resets -------------------------------------------------------------------------------------------------

  #resets(now: number, entries: Map<number, Entry[]>): number {
    let next = Number.POSITIVE_INFINITY;
    const snapshot = this.#options.metadata.snapshot;
    let stale = false;
    for (const state of this.#subscriptions.partitions()) {
      if (state.fetchState !== 'awaiting-reset' || state.resetStrategy === 'none') continue;
      if (this.#resetting.get(state.tp) === state.version) continue;
      if (now < state.retryAt) {
        next = Math.min(next, state.retryAt);
        continue;
      }
      const leader = snapshot === null ? undefined : findPartition(snapshot, state.tp.topic, state.tp.partition);
      if (leader === undefined || leader.leaderId < 0) {
        stale = true;
        this.#subscriptions.backOff([state.tp], now + this.#options.retryBackoffMs);
        next = Math.min(next, now + this.#options.retryBackoffMs);
        continue;
      }
      this.#resetting.set(state.tp, state.version);
      const timestamp = state.resetStrategy === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP;
      pushTo(entries, leader.leaderId, { kind: 'reset', tp: state.tp, version: state.version, timestamp });
    }
    if (stale) this.#options.metadata.requestUpdate();
    return next;
  }

  // ---- the application's lookups ------------------------------------------------------------------------------

  #queries(now: number, entries: Map<number, Entry[]>): number {
    let next = Number.POSITIVE_INFINITY;
    this.#lookups = this.#lookups.filter((lookup) => !lookup.result.settled);
    const snapshot = this.#options.metadata.snapshot;
    let stale = false;
    for (const lookup of this.#lookups) {
      if (lookup.pending.size === 0 && lookup.inFlight === 0) {
        lookup.result.resolve(lookup.results);
        continue;
      }
      const attempts = lookup.attempts;
      if (attempts.expired(now) && lookup.inFlight === 0) {
        lookup.result.reject(attempts.timeout(`the offset lookup of ${lookup.pending.size} partition(s)`));
        continue;
      }
      next = Math.min(next, attempts.deadline);
      if (!attempts.due(now)) {
        next = Math.min(next, attempts.notBefore);
        continue;
      }
      for (const index of [...lookup.pending]) {
        const query = lookup.queries[index]!;
        const topic = snapshot?.topics.get(query.topic);
        if (topic?.error && !topic.error.retriable) {
          lookup.result.reject(topic.error);
          break;
        }
        const info = snapshot === null ? undefined : findPartition(snapshot, query.topic, query.partition);
        if (info === undefined || info.leaderId < 0) {
          stale = true;
          attempts.note(new Error(`no leader is known for ${describePartition(query)}`));
          continue;
        }
        lookup.pending.delete(index);
        lookup.inFlight++;
        pushTo(entries, info.leaderId, { kind: 'lookup', lookup, tp: query, index, timestamp: query.timestamp });
      }
      if (lookup.pending.size > 0 && lookup.inFlight === 0) {
        // Nothing could be asked (no leader known): ask again after the backoff, with fresher metadata.
        attempts.failed(attempts.lastError ?? new Error('no leader is known yet'), now);
        next = Math.min(next, attempts.notBefore);
      }
    }
    if (stale) this.#options.metadata.requestUpdate();
    return next;
  }

  // ---- ListOffsets --------------------------------------------------------------------------------------------

  #request(leader: number, entries: readonly Entry[]): UnsentRequest {
    const options = this.#options;
    const byTopic = new Map<string, Entry[]>();
    for (const entry of entries) pushTo(byTopic, entry.tp.topic, entry);
    return unsent({
      target: { nodeId: leader },
      api: listOffsetsApi,
      versions: { floor: 1 },
      timeoutMs: options.requestTimeoutMs,
      build: () => {
        const snapshot = options.metadata.snapshot;
        return {
          ...defaultListOffsetsRequest(),
          replicaId: -1,
          isolationLevel: options.isolationLevel === 'read_committed' ? 1 : 0,
          timeoutMs: options.requestTimeoutMs,
          topics: [...byTopic].map(([name, list]) => ({
            name,
            partitions: list.map((entry) => {
              const currentLeaderEpoch =
                (snapshot && findPartition(snapshot, name, entry.tp.partition)?.leaderEpoch) ?? -1;
              this.#askedEpochs.set(entry, currentLeaderEpoch);
              return {
                partitionIndex: entry.tp.partition,
                currentLeaderEpoch,
                timestamp: entry.timestamp,
                maxNumOffsets: 1,
              };
            }),
          })),
        };
      },
      onResponse: (response, { now }) => this.#answered(entries, byTopic, response, now),
      onFailure: (error, now) => {
        if (error instanceof NetworkError || error instanceof RequestTimeoutError) {
          options.metadata.reportError(error, { nodeId: leader });
        }
        for (const entry of entries) this.#entryFailed(entry, error, now);
      },
    });
  }

  #answered(
    entries: readonly Entry[],
    byTopic: ReadonlyMap<string, readonly Entry[]>,
    response: ListOffsetsResponse,
    now: number,
  ): void {
    const answered = new Set<Entry>();
    for (const topic of response.topics) {
      const list = byTopic.get(topic.name) ?? [];
      for (const partition of topic.partitions) {
        const entry = list.find((candidate) => candidate.tp.partition === partition.partitionIndex);
        if (entry === undefined) continue;
        answered.add(entry);
        if (partition.errorCode !== 0) {
          const error = new KafkaError(partition.errorCode, {
            context: `ListOffsets for ${topic.name}-${partition.partitionIndex}`,
          });
          if (error.invalidMetadata) this.#options.metadata.requestUpdate();
          this.#entryFailed(entry, error, now);
          continue;
        }
        const found =
          partition.offset < 0n
            ? null
            : { offset: partition.offset, timestamp: partition.timestamp, leaderEpoch: partition.leaderEpoch };
        this.#entryDone(entry, found);
      }
    }
    for (const entry of entries) {
      if (!answered.has(entry))
        this.#entryFailed(entry, new Error('the leader did not answer for this partition'), now);
    }
  }

  #entryDone(entry: Entry, found: OffsetAndTimestamp | null): void {
    if (entry.kind === 'reset') {
      if (this.#resetting.get(entry.tp) === entry.version) this.#resetting.delete(entry.tp);
      this.#resetFailures = 0;
      if (found !== null) {
        this.#subscriptions.completePosition(
          entry.tp,
          entry.version,
          { offset: found.offset, leaderEpoch: found.leaderEpoch },
          { currentLeaderEpoch: this.#askedEpochs.get(entry) ?? -1 },
        );
      }
      return;
    }
    entry.lookup.inFlight--;
    entry.lookup.results[entry.index] = found;
  }

  /**
   * A partition's question failed. Errors that say they are not retriable (authorization, a refused login, an
   * unsupported version) are the application's; anything else is asked again after the backoff.
   */
  #entryFailed(entry: Entry, error: Error, now: number): void {
    const fatal = (error as { retriable?: boolean }).retriable === false;
    if (entry.kind === 'reset') {
      if (this.#resetting.get(entry.tp) === entry.version) this.#resetting.delete(entry.tp);
      if (fatal) this.#options.onError(error);
      this.#subscriptions.backOff([entry.tp], now + this.#backoff(this.#resetFailures++));
      return;
    }
    const lookup = entry.lookup;
    lookup.inFlight--;
    if (fatal) {
      lookup.result.reject(error);
      return;
    }
    lookup.pending.add(entry.index);
    lookup.attempts.failed(error, now);
  }

  #backoff(failures: number): number {
    return backoffMs(failures, {
      initialMs: this.#options.retryBackoffMs,
      maxMs: this.#options.retryBackoffMaxMs,
      random: this.#random,
    });
  }
}

function pushTo<Key, Value>(map: Map<Key, Value[]>, key: Key, value: Value): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Splits entries into batches in which each partition appears once (the broker refuses one listed twice). */
function uniqueBatches(entries: readonly Entry[]): Entry[][] {
  const batches: Array<{ entries: Entry[]; partitions: TopicPartitionMap<true> }> = [];
  for (const entry of entries) {
    let batch = batches.find((candidate) => !candidate.partitions.has(entry.tp));
    if (batch === undefined) {
      batch = { entries: [], partitions: new TopicPartitionMap() };
      batches.push(batch);
    }
    batch.entries.push(entry);
    batch.partitions.set(entry.tp, true);
  }
  return batches.map((batch) => batch.entries);
}
