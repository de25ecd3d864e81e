/**
 * Committed offsets of a consumer group: OffsetCommit and OffsetFetch to the group's coordinator, with the error
 * handling of Kafka's consumer.
 *
 * - The coordinator is found with FindCoordinator and remembered; COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, a
 *   timed-out request or a lost connection forget it, and the attempt is made again (backoff as KIP-580, within
 *   `default.api.timeout.ms`), as are COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION and
 *   UNSTABLE_OFFSET_COMMIT.
 * - A commit carries the member's generation and member id (or -1 and "" outside a group: manual assignment with a
 *   group.id). UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION mean the group moved on without this member: the commit fails
 *   with CommitFailedError and is not retried. REBALANCE_IN_PROGRESS fails it with RebalanceInProgressError: commit
 *   again after rejoining.
 * - Versions: up to OffsetCommit v9 and OffsetFetch v9, which name topics (v10 names them by topic id).
 */
import {
  type ClusterMetadata,
  type ConnectionPool,
  ErrorCode,
  findCoordinator,
  KafkaError,
  NetworkError,
  RequestTimeoutError,
  withRetries,
} from '@sluice/net';
import {
  type ApiDescriptor,
  defaultOffsetCommitRequest,
  defaultOffsetFetchRequest,
  type OffsetCommitRequestTopic,
  offsetCommitApi,
  offsetFetchApi,
  ZERO_UUID,
} from '@sluice/protocol';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

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

/** The member's place in its group, for commits. */
export interface GroupGeneration {
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

/** The group rebalanced without this member, or it is not a member any more: the commit cannot be made. */
export class CommitFailedError extends Error {
  override name = 'CommitFailedError';
  readonly retriable = false;
}

/** The group is rebalancing: the commit can be made again once this member has rejoined. */
export class RebalanceInProgressError extends Error {
  override name = 'RebalanceInProgressError';
  readonly retriable = false;
}

export interface OffsetCommitterOptions {
  readonly pool: ConnectionPool;
  readonly metadata: ClusterMetadata;
  /** `group.id`. */
  readonly groupId: string;
  /** The member's current generation; null (the default) outside group membership. */
  readonly generation?: () => GroupGeneration | null;
  /** `request.timeout.ms`, default 30000. */
  readonly requestTimeoutMs?: number;
  /** `default.api.timeout.ms`: how long a commit or a lookup keeps trying, default 60000. */
  readonly defaultApiTimeoutMs?: number;
  /** `retry.backoff.ms` / `retry.backoff.max.ms`. */
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
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

/** Versions above these name topics by id. */
const OFFSET_COMMIT_CEILING = 9;
const OFFSET_FETCH_CEILING = 9;

/** A retriable failure inside one attempt: the attempt is made again. */
class RetryAttempt extends Error {
  readonly retriable = true;
}

export class OffsetCommitter {
  readonly groupId: string;
  readonly #options: OffsetCommitterOptions;
  #coordinator: number | null = null;

  constructor(options: OffsetCommitterOptions) {
    this.groupId = options.groupId;
    this.#options = options;
  }

  /** The coordinator last found, or null. */
  get coordinator(): number | null {
    return this.#coordinator;
  }

  /**
   * Commits the offsets (the commitSync of Kafka's consumer). Resolves when the coordinator stored every one of
   * them; rejects with CommitFailedError, RebalanceInProgressError, a KafkaError naming the partitions that failed,
   * or RetryTimeoutError when it could not be done within `default.api.timeout.ms`.
   */
  async commit(offsets: readonly OffsetToCommit[], options: { timeoutMs?: number } = {}): Promise<void> {
    if (offsets.length === 0) return;
    for (const entry of offsets) {
      if (entry.offset < 0n)
        throw new RangeError(`cannot commit a negative offset for ${entry.topic}-${entry.partition}`);
    }
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
    await this.#retrying(options.timeoutMs, async () => {
      const generation = this.#options.generation?.() ?? null;
      const response = await this.#send(offsetCommitApi, OFFSET_COMMIT_CEILING, () => ({
        ...defaultOffsetCommitRequest(),
        groupId: this.groupId,
        generationIdOrMemberEpoch: generation?.generationId ?? -1,
        memberId: generation?.memberId ?? '',
        groupInstanceId: generation?.groupInstanceId ?? null,
        topics: [...topics.values()],
      }));
      const failures: string[] = [];
      let worst = 0;
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          if (partition.errorCode === 0) continue;
          failures.push(`${topic.name}-${partition.partitionIndex}`);
          if (worst === 0 || !RETRIABLE.has(partition.errorCode)) worst = partition.errorCode;
        }
      }
      if (worst === 0) return;
      this.#classify(worst, `OffsetCommit of ${failures.join(', ')} for group ${this.groupId}`);
    });
  }

  /**
   * The committed offsets of `partitions`, in the same order; null for a partition with no committed offset.
   * Asks for stable offsets (KIP-447): offsets of pending transactions are waited for.
   */
  async committed(
    partitions: readonly TopicPartition[],
    options: { timeoutMs?: number } = {},
  ): Promise<Array<CommittedOffset | null>> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) {
      const list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, [partition]);
      else list.push(partition);
    }
    const found = new Map<string, CommittedOffset | null>();
    await this.#retrying(options.timeoutMs, async () => {
      const response = await this.#send(offsetFetchApi, OFFSET_FETCH_CEILING, (version) =>
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
      );
      const group = response.groups.find((entry) => entry.groupId === this.groupId);
      const groupError = group?.errorCode ?? response.errorCode;
      if (groupError !== 0) this.#classify(groupError, `OffsetFetch for group ${this.groupId}`);
      const topics = group?.topics ?? response.topics;
      found.clear();
      for (const topic of topics) {
        for (const partition of topic.partitions) {
          if (partition.errorCode !== 0) {
            this.#classify(partition.errorCode, `OffsetFetch of ${topic.name}-${partition.partitionIndex}`);
          }
          found.set(
            `${topic.name}\u0000${partition.partitionIndex}`,
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
    });
    return partitions.map(({ topic, partition }) => found.get(`${topic}\u0000${partition}`) ?? null);
  }

  /** Throws what an error code means for the caller: RetryAttempt (try again) or the final error. */
  #classify(code: number, context: string): never {
    if (COORDINATOR_MOVED.has(code)) this.#coordinator = null;
    if (RETRIABLE.has(code)) throw new RetryAttempt(new KafkaError(code, { context }).message);
    if (code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.ILLEGAL_GENERATION) {
      throw new CommitFailedError(
        `${new KafkaError(code, { context }).message}. The group has rebalanced without this member (did processing take longer than max.poll.interval.ms?); its partitions may be owned by another member now.`,
      );
    }
    if (code === ErrorCode.REBALANCE_IN_PROGRESS) {
      throw new RebalanceInProgressError(
        `${new KafkaError(code, { context }).message}. Commit again after the member has rejoined.`,
      );
    }
    throw new KafkaError(code, { context });
  }

  async #retrying(timeoutMs: number | undefined, attempt: () => Promise<void>): Promise<void> {
    await withRetries(attempt, {
      initialMs: this.#options.retryBackoffMs ?? 100,
      maxMs: this.#options.retryBackoffMaxMs ?? 1_000,
      timeoutMs: timeoutMs ?? this.#options.defaultApiTimeoutMs ?? 60_000,
      isRetriable: (error) =>
        error instanceof RetryAttempt || error instanceof NetworkError || error instanceof RequestTimeoutError,
      onRetry: (error) => {
        if (error instanceof NetworkError || error instanceof RequestTimeoutError) this.#coordinator = null;
      },
    });
  }

  /** Sends to the coordinator (found first if needed) at the highest version both sides speak up to `ceiling`. */
  async #send<Request, Response>(
    api: ApiDescriptor<Request, Response>,
    ceiling: number,
    build: (version: number) => Request,
  ): Promise<Response> {
    const coordinator = this.#coordinator ?? (await this.#find());
    const connection = await this.#options.pool.get({ nodeId: coordinator });
    const version = connection.versionFor(api as ApiDescriptor<unknown, unknown>, { ceiling });
    return connection.send(api, version, build(version), { timeoutMs: this.#options.requestTimeoutMs ?? 30_000 });
  }

  async #find(): Promise<number> {
    const result = await findCoordinator(this.#options.pool, this.#options.metadata, {
      key: this.groupId,
      timeoutMs: this.#options.requestTimeoutMs ?? 30_000,
    });
    if ('nodeId' in result) {
      this.#coordinator = result.nodeId;
      return result.nodeId;
    }
    this.#classify(result.errorCode, `FindCoordinator for group ${this.groupId}`);
  }
}
