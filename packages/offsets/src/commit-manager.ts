/**
 * Offset commits and committed-offset lookups at the group coordinator (Kafka's CommitRequestManager), as a
 * request manager: OffsetCommit and OffsetFetch go out when the shared coordinator is known, answers settle the
 * callers' promises.
 *
 * Rules, as Kafka's consumer has them:
 * - A commit of a subscribed (group) consumer carries the generation and member id it was made in. While a
 *   rebalance is underway it fails at once with RebalanceInProgressError: it is never queued behind a JoinGroup
 *   on the coordinator's connection. A member outside an active generation fails with CommitFailedError, as does
 *   one whose generation the coordinator no longer knows (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID).
 *   Manually assigned consumers commit with generation -1 and no member id.
 * - Synchronous commits are retried (after `retry.backoff.ms`, KIP-580) on coordinator errors and lost connections
 *   until their deadline, then fail with TimeoutError; asynchronous ones are tried once, a retriable failure being
 *   RetriableCommitFailedError, so that no commit overtakes a later one.
 * - Auto commit: every `auto.commit.interval.ms`, an asynchronous commit of every position handed to the
 *   application (`allConsumed`), sent only in a stable generation; a retriable failure is tried again after the
 *   backoff.
 * - Committed offsets (OffsetFetch, KIP-447 `requireStable`) are retried on coordinator errors, UNSTABLE_OFFSET_COMMIT
 *   and lost connections until their deadline.
 * - Versions up to OffsetCommit v9 and OffsetFetch v9, which name topics (v10 names them by topic id).
 */

import type { CommitIdentity, CommitPermission, CoordinatorView } from '@sluice/group';
import { ErrorCode, KafkaError } from '@sluice/net';
import {
  defaultOffsetCommitRequest,
  defaultOffsetFetchRequest,
  type OffsetCommitRequestTopic,
  type OffsetCommitResponse,
  type OffsetFetchResponse,
  offsetCommitApi,
  offsetFetchApi,
  ZERO_UUID,
} from '@sluice/protocol';
import {
  Attempts,
  type Deferred,
  deferred,
  describePartition,
  type ManagerPoll,
  type RequestManager,
  type SubscriptionState,
  type TopicPartition,
  TopicPartitionMap,
  type UnsentRequest,
  unsent,
} from '@sluice/runtime';
import { CommitFailedError, RebalanceInProgressError, RetriableCommitFailedError } from './errors.ts';

/** An offset to commit: the next record to consume, with the leader epoch of the last one consumed (KIP-320). */
export interface OffsetToCommit extends TopicPartition {
  readonly offset: bigint;
  /** -1 when unknown. */
  readonly leaderEpoch?: number;
  readonly metadata?: string | null;
}

export interface CommittedOffset {
  readonly offset: bigint;
  /** -1 when the commit carried none. */
  readonly leaderEpoch: number;
  readonly metadata: string | null;
}

export interface CommitManagerOptions {
  readonly groupId: string;
  readonly coordinator: CoordinatorView;
  /** Whether a commit may be made now, and with which generation. */
  readonly permission: () => CommitPermission;
  readonly subscriptions: SubscriptionState;
  /** `enable.auto.commit` and `auto.commit.interval.ms`. */
  readonly autoCommit: { readonly enabled: boolean; readonly intervalMs: number };
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  readonly random?: () => number;
}

/** Errors after which the same request, sent again (to a coordinator found again), can succeed. */
const RETRIABLE: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNSTABLE_OFFSET_COMMIT,
]);
const COORDINATOR_MOVED: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.REQUEST_TIMED_OUT,
]);
const NOT_MEMBER: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.FENCED_INSTANCE_ID,
]);

/** Versions above these name topics by id. */
const OFFSET_COMMIT_CEILING = 9;
const OFFSET_FETCH_CEILING = 9;

const NO_GENERATION: CommitIdentity = { generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null };

interface PendingCommit {
  readonly topics: readonly OffsetCommitRequestTopic[];
  /** An auto commit: a retriable failure brings the next one forward. */
  readonly auto: boolean;
  /** The generation (classic) or member epoch (consumer) it is sent with; a newer epoch replaces a stale one. */
  identity: CommitIdentity;
  /** The coordinator called its epoch stale: the next attempt takes the member's epoch of that moment. */
  staleEpoch: boolean;
  /** Whether the group assigns this consumer's partitions: a rebalance stops the commit. */
  readonly inGroup: boolean;
  readonly attempts: Attempts;
  readonly retry: boolean;
  readonly result: Deferred<void>;
  inFlight: boolean;
}

interface PendingFetch {
  readonly partitions: readonly TopicPartition[];
  readonly attempts: Attempts;
  readonly result: Deferred<TopicPartitionMap<CommittedOffset | null>>;
  inFlight: boolean;
}

export class CommitManager implements RequestManager {
  readonly groupId: string;
  readonly #options: CommitManagerOptions;
  #commits: PendingCommit[] = [];
  #fetches: PendingFetch[] = [];
  #nextAutoCommitAt: number;
  #autoCommit: PendingCommit | null = null;

  constructor(options: CommitManagerOptions) {
    this.groupId = options.groupId;
    this.#options = options;
    this.#nextAutoCommitAt = Number.NEGATIVE_INFINITY;
  }

  /** Commits and lookups not settled yet. */
  get pending(): number {
    let count = 0;
    for (const commit of this.#commits) if (!commit.result.settled) count++;
    for (const fetch of this.#fetches) if (!fetch.result.settled) count++;
    return count;
  }

  /**
   * Commits the offsets. Resolves when the coordinator stored every one of them; rejects with CommitFailedError,
   * RebalanceInProgressError, a KafkaError naming the partitions that failed, TimeoutError (`sync`, past the
   * deadline) or RetriableCommitFailedError (not `sync`).
   */
  commit(offsets: readonly OffsetToCommit[], options: { deadline: number; sync: boolean }): Promise<void> {
    const allowed = this.#allowed(offsets);
    if (allowed instanceof Error) return Promise.reject(allowed);
    if (allowed === null) return Promise.resolve();
    return this.#enqueue(offsets, allowed, { ...options, auto: false }).result.promise;
  }

  /** Whether these offsets may be committed now, and with which identity; null when there is nothing to commit. */
  #allowed(offsets: readonly OffsetToCommit[]): { identity: CommitIdentity; inGroup: boolean } | Error | null {
    for (const entry of offsets) {
      if (entry.offset < 0n) return new RangeError(`cannot commit a negative offset for ${describePartition(entry)}`);
    }
    if (offsets.length === 0) return null;
    const inGroup = this.#options.subscriptions.hasAutoAssignedPartitions;
    if (!inGroup) return { identity: NO_GENERATION, inGroup };
    const permission = this.#options.permission();
    if (permission.kind === 'rebalancing') return rebalancing(this.groupId);
    if (permission.kind === 'not-member') {
      return new CommitFailedError(`cannot commit offsets for group ${this.groupId}: ${permission.reason}`);
    }
    return { identity: permission.identity, inGroup };
  }

  #enqueue(
    offsets: readonly OffsetToCommit[],
    allowed: { identity: CommitIdentity; inGroup: boolean },
    options: { deadline: number; sync: boolean; auto: boolean },
  ): PendingCommit {
    const pending: PendingCommit = {
      topics: commitTopics(offsets),
      auto: options.auto,
      identity: allowed.identity,
      staleEpoch: false,
      inGroup: allowed.inGroup,
      attempts: new Attempts(options.deadline, this.#options),
      retry: options.sync,
      result: deferred(),
      inFlight: false,
    };
    this.#commits.push(pending);
    return pending;
  }

  /**
   * The committed offsets of `partitions` (null where none), asking for stable offsets (KIP-447: offsets of pending
   * transactions are waited for). Retried until the deadline, then TimeoutError.
   */
  committed(
    partitions: readonly TopicPartition[],
    deadline: number,
  ): Promise<TopicPartitionMap<CommittedOffset | null>> {
    if (partitions.length === 0) return Promise.resolve(new TopicPartitionMap());
    const pending: PendingFetch = {
      partitions,
      attempts: new Attempts(deadline, this.#options),
      result: deferred(),
      inFlight: false,
    };
    this.#fetches.push(pending);
    return pending.result.promise;
  }

  /** Fails everything still pending (the consumer is closing). */
  failAll(error: Error): void {
    for (const commit of this.#commits) commit.result.reject(error);
    for (const fetch of this.#fetches) fetch.result.reject(error);
    this.#commits = [];
    this.#fetches = [];
  }

  /** The auto-commit interval starts again (after a rebalance assigned partitions). */
  resetAutoCommitTimer(now: number): void {
    this.#nextAutoCommitAt = now + this.#options.autoCommit.intervalMs;
  }

  poll(now: number): ManagerPoll {
    this.#maybeAutoCommit(now);
    const requests: UnsentRequest[] = [];
    // While an auto commit is in flight, its answer wakes the loop; the interval counts again after it.
    const autoCommitDue = this.#options.autoCommit.enabled && this.#autoCommit === null;
    let next = autoCommitDue ? this.#nextAutoCommitAt : Number.POSITIVE_INFINITY;
    this.#commits = this.#commits.filter((commit) => !commit.result.settled);
    this.#fetches = this.#fetches.filter((fetch) => !fetch.result.settled);
    if (this.#commits.length === 0 && this.#fetches.length === 0) return { requests, nextPollAt: next };
    for (const commit of this.#commits) {
      if (commit.inFlight) continue;
      if (commit.inGroup && this.#options.permission().kind === 'rebalancing') {
        // Never behind a JoinGroup: the application commits again once poll() has completed the rebalance.
        commit.result.reject(rebalancing(this.groupId));
        continue;
      }
      if (this.#expired(commit, now, 'the offset commit')) continue;
      next = Math.min(next, commit.attempts.deadline);
      if (!commit.attempts.due(now)) {
        next = Math.min(next, commit.attempts.notBefore);
        continue;
      }
      if (commit.staleEpoch && !this.#refreshIdentity(commit)) continue;
      const node = this.#coordinatorOr(commit);
      if (node === null) continue;
      commit.inFlight = true;
      requests.push(this.#commitRequest(commit, node));
    }
    for (const fetch of this.#fetches) {
      if (fetch.inFlight) continue;
      if (this.#expired(fetch, now, 'the committed-offset lookup')) continue;
      next = Math.min(next, fetch.attempts.deadline);
      if (!fetch.attempts.due(now)) {
        next = Math.min(next, fetch.attempts.notBefore);
        continue;
      }
      const node = this.#coordinatorOr(fetch);
      if (node === null) continue;
      fetch.inFlight = true;
      requests.push(this.#fetchRequest(fetch, node));
    }
    return { requests, nextPollAt: next };
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #maybeAutoCommit(now: number): void {
    const auto = this.#options.autoCommit;
    if (this.#autoCommit?.result.settled) this.#autoCommit = null;
    if (!auto.enabled || now < this.#nextAutoCommitAt || this.#autoCommit !== null) return;
    const subscriptions = this.#options.subscriptions;
    if (this.#nextAutoCommitAt === Number.NEGATIVE_INFINITY) {
      // The first interval starts with the consumer.
      this.#nextAutoCommitAt = now + auto.intervalMs;
      return;
    }
    this.#nextAutoCommitAt = now + auto.intervalMs;
    const offsets = subscriptions.allConsumed();
    const allowed = this.#allowed(offsets);
    if (allowed === null || allowed instanceof Error) return;
    this.#autoCommit = this.#enqueue(offsets, allowed, {
      deadline: now + this.#options.requestTimeoutMs,
      sync: false,
      auto: true,
    });
  }

  /** The coordinator, or null (the lookup is asked for; a lookup that failed for good fails the operation). */
  #coordinatorOr(pending: PendingCommit | PendingFetch): number | null {
    const coordinator = this.#options.coordinator;
    if (coordinator.coordinator !== null) return coordinator.coordinator;
    if (coordinator.fatalError !== null) {
      pending.result.reject(coordinator.fatalError);
      return null;
    }
    coordinator.need();
    return null;
  }

  #expired(pending: PendingCommit | PendingFetch, now: number, what: string): boolean {
    if (!pending.attempts.expired(now)) return false;
    pending.result.reject(pending.attempts.timeout(`${what} for group ${this.groupId}`));
    return true;
  }

  #commitRequest(commit: PendingCommit, coordinator: number): UnsentRequest {
    return unsent({
      target: { nodeId: coordinator },
      api: offsetCommitApi,
      versions: { ceiling: OFFSET_COMMIT_CEILING },
      timeoutMs: this.#options.requestTimeoutMs,
      build: () => ({
        ...defaultOffsetCommitRequest(),
        groupId: this.groupId,
        generationIdOrMemberEpoch: commit.identity.generationIdOrMemberEpoch,
        memberId: commit.identity.memberId,
        groupInstanceId: commit.identity.groupInstanceId,
        topics: [...commit.topics],
      }),
      onResponse: (response, { now }) => {
        commit.inFlight = false;
        const failure = this.#commitOutcome(response);
        if (failure === null) commit.result.resolve();
        else if (failure.code === ErrorCode.STALE_MEMBER_EPOCH && commit.inGroup) this.#staleEpoch(commit, now);
        else this.#failed(commit, failure.error, now, COORDINATOR_MOVED.has(failure.code));
      },
      onFailure: (error, now) => {
        commit.inFlight = false;
        if (isRetriable(error)) this.#options.coordinator.markUnknown(error.message, now);
        this.#failed(commit, error, now);
      },
    });
  }

  /**
   * STALE_MEMBER_EPOCH (consumer protocol): the broker moved the member to a newer epoch than the commit carried,
   * which happens when a heartbeat answer and the commit cross. A synchronous commit goes again after the backoff
   * (so that the heartbeat with the new epoch can land) with the member's epoch of then, as Kafka's consumer does,
   * or fails with CommitFailedError if the member is no longer in the group; an asynchronous one fails with
   * RetriableCommitFailedError.
   */
  #staleEpoch(commit: PendingCommit, now: number): void {
    const stale = commit.identity.generationIdOrMemberEpoch;
    const message = `the offset commit for group ${this.groupId} carried member epoch ${stale}, which the coordinator calls stale (STALE_MEMBER_EPOCH)`;
    if (!commit.retry) {
      if (commit.auto) this.#nextAutoCommitAt = Math.min(this.#nextAutoCommitAt, now + this.#options.retryBackoffMs);
      commit.result.reject(new RetriableCommitFailedError(`${message}: commit again`));
      return;
    }
    commit.staleEpoch = true;
    commit.attempts.failed(new KafkaError(ErrorCode.STALE_MEMBER_EPOCH, { context: message }), now);
  }

  /** Before a commit goes again after STALE_MEMBER_EPOCH: the member's epoch now, or the commit fails. */
  #refreshIdentity(commit: PendingCommit): boolean {
    const permission = this.#options.permission();
    if (permission.kind === 'allowed') {
      commit.identity = permission.identity;
      commit.staleEpoch = false;
      return true;
    }
    commit.result.reject(
      permission.kind === 'rebalancing'
        ? rebalancing(this.groupId)
        : new CommitFailedError(`cannot commit offsets for group ${this.groupId}: ${permission.reason}`),
    );
    return false;
  }

  /** The error the worst failed partition stands for, or null when every offset was stored. */
  #commitOutcome(response: OffsetCommitResponse): { code: number; error: Error } | null {
    const failed: string[] = [];
    let worst = 0;
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode === 0) continue;
        failed.push(`${topic.name}-${partition.partitionIndex}`);
        if (worst === 0 || !RETRIABLE.has(partition.errorCode)) worst = partition.errorCode;
      }
    }
    if (worst === 0) return null;
    return {
      code: worst,
      error: this.#errorFor(worst, `OffsetCommit of ${failed.join(', ')} for group ${this.groupId}`),
    };
  }

  #fetchRequest(fetch: PendingFetch, coordinator: number): UnsentRequest {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of fetch.partitions) {
      const list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, [partition]);
      else list.push(partition);
    }
    return unsent({
      target: { nodeId: coordinator },
      api: offsetFetchApi,
      versions: { ceiling: OFFSET_FETCH_CEILING },
      timeoutMs: this.#options.requestTimeoutMs,
      build: (version) =>
        version >= 8
          ? {
              ...defaultOffsetFetchRequest(),
              groups: [
                {
                  groupId: this.groupId,
                  memberId: null,
                  memberEpoch: -1,
                  topics: [...byTopic].map(([name, partitionIndexes]) => ({
                    name,
                    topicId: ZERO_UUID,
                    partitionIndexes,
                  })),
                },
              ],
              requireStable: true,
            }
          : {
              ...defaultOffsetFetchRequest(),
              groupId: this.groupId,
              topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
              requireStable: version >= 7,
            },
      onResponse: (response, { now }) => {
        fetch.inFlight = false;
        const outcome = this.#fetchOutcome(response);
        if ('error' in outcome) this.#failed(fetch, outcome.error, now, COORDINATOR_MOVED.has(outcome.code));
        else fetch.result.resolve(TopicPartitionMap.of(fetch.partitions, (tp) => outcome.found.get(tp) ?? null));
      },
      onFailure: (error, now) => {
        fetch.inFlight = false;
        if (isRetriable(error)) this.#options.coordinator.markUnknown(error.message, now);
        this.#failed(fetch, error, now);
      },
    });
  }

  #fetchOutcome(
    response: OffsetFetchResponse,
  ): { found: TopicPartitionMap<CommittedOffset | null> } | { code: number; error: Error } {
    const group = response.groups.find((entry) => entry.groupId === this.groupId);
    const groupError = group?.errorCode ?? response.errorCode;
    if (groupError !== 0) {
      return { code: groupError, error: this.#errorFor(groupError, `OffsetFetch for group ${this.groupId}`) };
    }
    const found = new TopicPartitionMap<CommittedOffset | null>();
    for (const topic of group?.topics ?? response.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode !== 0) {
          const context = `OffsetFetch of ${topic.name}-${partition.partitionIndex}`;
          return { code: partition.errorCode, error: this.#errorFor(partition.errorCode, context) };
        }
        found.set(
          { topic: topic.name, partition: partition.partitionIndex },
          partition.committedOffset < 0n
            ? null
            : {
                offset: partition.committedOffset,
                leaderEpoch: partition.committedLeaderEpoch,
                metadata: partition.metadata,
              },
        );
      }
    }
    return { found };
  }

  /** What an error code means for the caller: retriable KafkaError (tried again) or the final error. */
  #errorFor(code: number, context: string): Error {
    if (NOT_MEMBER.has(code)) {
      return new CommitFailedError(
        `${new KafkaError(code, { context }).message}. The group has rebalanced without this member (did processing take longer than max.poll.interval.ms?); its partitions may be owned by another member now.`,
      );
    }
    if (code === ErrorCode.REBALANCE_IN_PROGRESS) return rebalancing(this.groupId);
    return new KafkaError(code, { context });
  }

  #failed(pending: PendingCommit | PendingFetch, error: Error, now: number, coordinatorMoved = false): void {
    if (coordinatorMoved) this.#options.coordinator.markUnknown(error.message, now);
    const retry = 'retry' in pending ? pending.retry : true;
    if (!isRetriable(error) || error instanceof RebalanceInProgressError) {
      pending.result.reject(error);
      return;
    }
    if ('auto' in pending && pending.auto) {
      // Tried again soon rather than at the next interval.
      this.#nextAutoCommitAt = Math.min(this.#nextAutoCommitAt, now + this.#options.retryBackoffMs);
    }
    if (!retry) {
      pending.result.reject(
        new RetriableCommitFailedError(`the offset commit for group ${this.groupId} failed: ${error.message}`, {
          cause: error,
        }),
      );
      return;
    }
    pending.attempts.failed(error, now);
  }
}

function isRetriable(error: Error): boolean {
  return (error as { retriable?: boolean }).retriable === true;
}

function rebalancing(groupId: string): RebalanceInProgressError {
  return new RebalanceInProgressError(
    `the offset commit for group ${groupId} cannot be completed: the group is rebalancing. Call poll() to complete the rebalance, then commit again the offsets of the partitions still assigned.`,
  );
}

/** The request's topics: each offset under its topic, in the order given. */
function commitTopics(offsets: readonly OffsetToCommit[]): OffsetCommitRequestTopic[] {
  const topics = new Map<string, OffsetCommitRequestTopic>();
  for (const entry of offsets) {
    let topic = topics.get(entry.topic);
    if (topic === undefined) {
      topic = { name: entry.topic, topicId: ZERO_UUID, partitions: [] };
      topics.set(entry.topic, topic);
    }
    topic.partitions.push({
      partitionIndex: entry.partition,
      committedOffset: entry.offset,
      committedLeaderEpoch: entry.leaderEpoch ?? -1,
      committedMetadata: entry.metadata ?? '',
    });
  }
  return [...topics.values()];
}
