/** The commit request manager (OffsetCommit, OffsetFetch), driven by a fake clock and scripted coordinator answers. */
import type { CommitPermission } from '@sluice/group';
import { ErrorCode, KafkaError, NetworkError } from '@sluice/net';
import {
  defaultOffsetCommitResponse,
  defaultOffsetFetchResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  offsetCommitApi,
  offsetFetchApi,
  ZERO_UUID,
} from '@sluice/protocol';
import { SubscriptionState, TimeoutError, type TopicPartition, type UnsentRequest } from '@sluice/runtime';
import { describe, expect, it, vi } from 'vitest';
import { CommitManager, type CommitManagerOptions, type OffsetToCommit } from '../src/commit-manager.ts';
import { CommitFailedError, RebalanceInProgressError, RetriableCommitFailedError } from '../src/errors.ts';
import { track } from './track.ts';

type CommitRequest = UnsentRequest<OffsetCommitRequest, OffsetCommitResponse>;
type FetchRequest = UnsentRequest<OffsetFetchRequest, OffsetFetchResponse>;

const orders0: TopicPartition = { topic: 'orders', partition: 0 };
const orders1: TopicPartition = { topic: 'orders', partition: 1 };
const payments0: TopicPartition = { topic: 'payments', partition: 0 };

const IDENTITY = { generationIdOrMemberEpoch: 7, memberId: 'member-1', groupInstanceId: 'instance-1' };
const ALLOWED: CommitPermission = { kind: 'allowed', identity: IDENTITY };

/** No jitter: retry.backoff.ms 100 gives 100, 200, 400 ... up to retry.backoff.max.ms 1000. */
function setup(options: Partial<CommitManagerOptions> = {}) {
  const subscriptions = new SubscriptionState({ defaultResetStrategy: 'earliest' });
  const coordinator = {
    coordinator: 1 as number | null,
    fatalError: null as Error | null,
    need: vi.fn(),
    markUnknown: vi.fn(),
  };
  const group = { permission: ALLOWED };
  const manager = new CommitManager({
    groupId: 'group',
    coordinator,
    permission: () => group.permission,
    subscriptions,
    autoCommit: { enabled: false, intervalMs: 5_000 },
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
    ...options,
  });
  return { manager, subscriptions, coordinator, group };
}

/** A consumer of the group, assigned orders-0, orders-1 and payments-0. */
function subscribe(subscriptions: SubscriptionState): void {
  subscriptions.subscribe(['orders', 'payments']);
  subscriptions.assignFromSubscribed([orders0, orders1, payments0]);
}

function offset(tp: TopicPartition, value: bigint, patch: Partial<OffsetToCommit> = {}): OffsetToCommit {
  return { ...tp, offset: value, ...patch };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Exactly one request at `now`, of this API. */
function only<Request extends UnsentRequest>(manager: CommitManager, now: number, api: unknown): Request {
  const { requests } = manager.poll(now);
  expect(requests).toHaveLength(1);
  expect(requests[0]!.api).toBe(api);
  return requests[0] as unknown as Request;
}

const onlyCommit = (manager: CommitManager, now: number) => only<CommitRequest>(manager, now, offsetCommitApi);
const onlyFetch = (manager: CommitManager, now: number) => only<FetchRequest>(manager, now, offsetFetchApi);

function nothingSent(manager: CommitManager, now: number): number {
  const { requests, nextPollAt } = manager.poll(now);
  expect(requests).toEqual([]);
  return nextPollAt;
}

/** The coordinator's answer to a commit: every partition it carried with `errorCode`. */
function commitAnswer(request: CommitRequest, errorCode: number = ErrorCode.NONE): OffsetCommitResponse {
  const sent = request.build(9);
  return {
    ...defaultOffsetCommitResponse(),
    topics: sent.topics.map((topic) => ({
      name: topic.name,
      topicId: topic.topicId,
      partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode })),
    })),
  };
}

async function answerCommit(request: CommitRequest, now: number, errorCode: number = ErrorCode.NONE) {
  await request.onResponse(commitAnswer(request, errorCode), { version: 9, nodeId: 1, now });
}

interface StoredOffset {
  readonly tp: TopicPartition;
  readonly offset: bigint;
  readonly leaderEpoch?: number;
  readonly metadata?: string | null;
  readonly errorCode?: number;
}

function storedPartition(stored: StoredOffset) {
  return {
    partitionIndex: stored.tp.partition,
    committedOffset: stored.offset,
    committedLeaderEpoch: stored.leaderEpoch ?? -1,
    metadata: stored.metadata === undefined ? '' : stored.metadata,
    errorCode: stored.errorCode ?? ErrorCode.NONE,
  };
}

function byTopic(stored: readonly StoredOffset[]): Map<string, StoredOffset[]> {
  const topics = new Map<string, StoredOffset[]>();
  for (const entry of stored) topics.set(entry.tp.topic, [...(topics.get(entry.tp.topic) ?? []), entry]);
  return topics;
}

/** An OffsetFetch answer of v8+ (per group). */
function fetchAnswerV8(stored: readonly StoredOffset[], groupErrorCode: number = ErrorCode.NONE): OffsetFetchResponse {
  return {
    ...defaultOffsetFetchResponse(),
    groups: [
      {
        groupId: 'group',
        errorCode: groupErrorCode,
        topics: [...byTopic(stored)].map(([name, entries]) => ({
          name,
          topicId: ZERO_UUID,
          partitions: entries.map(storedPartition),
        })),
      },
    ],
  };
}

/** An OffsetFetch answer of v7 and below (top-level topics). */
function fetchAnswerV7(stored: readonly StoredOffset[]): OffsetFetchResponse {
  return {
    ...defaultOffsetFetchResponse(),
    topics: [...byTopic(stored)].map(([name, entries]) => ({ name, partitions: entries.map(storedPartition) })),
  };
}

describe('CommitManager: who may commit', () => {
  it('rejects a commit of a subscribed consumer at once while the group rebalances, sending nothing', async () => {
    const { manager, subscriptions, group } = setup();
    subscribe(subscriptions);
    group.permission = { kind: 'rebalancing' };
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    await flush();
    expect(result.error).toBeInstanceOf(RebalanceInProgressError);
    expect(nothingSent(manager, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(manager.pending).toBe(0);
  });

  it('rejects a commit with CommitFailedError when the consumer is not a member of an active generation', async () => {
    const { manager, subscriptions, group } = setup();
    subscribe(subscriptions);
    group.permission = { kind: 'not-member', reason: 'the member left the group' };
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    await flush();
    expect(result.error).toBeInstanceOf(CommitFailedError);
    expect((result.error as Error).message).toContain('the member left the group');
    nothingSent(manager, 0);
  });

  it('commits manually assigned partitions with generation -1 and no member id, whatever the group says', async () => {
    const { manager, subscriptions, group } = setup();
    subscriptions.assignFromUser([orders0]);
    group.permission = { kind: 'rebalancing' };
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    const request = onlyCommit(manager, 0);
    expect(request.build(9)).toMatchObject({
      groupId: 'group',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
    });
    await answerCommit(request, 0);
    await flush();
    expect(result).toEqual({ settled: true, value: undefined });
  });

  it('rejects a queued commit whose group started rebalancing before it was sent, instead of sending it', async () => {
    const { manager, subscriptions, group } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    group.permission = { kind: 'rebalancing' };
    nothingSent(manager, 0);
    await flush();
    expect(result.error).toBeInstanceOf(RebalanceInProgressError);
    group.permission = ALLOWED;
    nothingSent(manager, 100);
  });
});

describe('CommitManager: the OffsetCommit request', () => {
  it('carries the identity of the moment of the commit and the offsets grouped by topic', async () => {
    const { manager, subscriptions, group } = setup();
    subscribe(subscriptions);
    const result = track(
      manager.commit(
        [
          offset(orders0, 10n, { leaderEpoch: 3, metadata: 'first' }),
          offset(payments0, 5n, { leaderEpoch: 2, metadata: 'pay' }),
          offset(orders1, 20n),
        ],
        { deadline: 10_000, sync: true },
      ),
    );
    // A new generation after the commit was made does not change what it carries.
    group.permission = {
      kind: 'allowed',
      identity: { generationIdOrMemberEpoch: 8, memberId: 'member-2', groupInstanceId: null },
    };
    const request = onlyCommit(manager, 0);
    expect(request.target).toEqual({ nodeId: 1 });
    expect(request.versions?.ceiling).toBe(9);
    expect(request.build(9)).toMatchObject({
      groupId: 'group',
      generationIdOrMemberEpoch: 7,
      memberId: 'member-1',
      groupInstanceId: 'instance-1',
      topics: [
        {
          name: 'orders',
          topicId: ZERO_UUID,
          partitions: [
            { partitionIndex: 0, committedOffset: 10n, committedLeaderEpoch: 3, committedMetadata: 'first' },
            { partitionIndex: 1, committedOffset: 20n, committedLeaderEpoch: -1, committedMetadata: '' },
          ],
        },
        {
          name: 'payments',
          topicId: ZERO_UUID,
          partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: 2, committedMetadata: 'pay' }],
        },
      ],
    });
    await answerCommit(request, 0);
    await flush();
    expect(result.settled).toBe(true);
    expect(result.error).toBeUndefined();
    expect(manager.pending).toBe(0);
  });

  it('refuses negative offsets with a RangeError, and resolves an empty commit without a request', async () => {
    const { manager, subscriptions } = setup();
    subscribe(subscriptions);
    await expect(manager.commit([offset(orders0, -1n)], { deadline: 10_000, sync: true })).rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(manager.commit([], { deadline: 10_000, sync: true })).resolves.toBeUndefined();
    expect(manager.pending).toBe(0);
    nothingSent(manager, 0);
  });
});

describe('CommitManager: synchronous commits retry', () => {
  it.each([
    ['NOT_COORDINATOR', ErrorCode.NOT_COORDINATOR],
    ['COORDINATOR_NOT_AVAILABLE', ErrorCode.COORDINATOR_NOT_AVAILABLE],
  ])('forgets the coordinator on %s and sends again after the backoff', async (_name, code) => {
    const { manager, subscriptions, coordinator } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    let request = onlyCommit(manager, 0);
    await answerCommit(request, 0, code);
    expect(coordinator.markUnknown).toHaveBeenCalledTimes(1);
    expect(nothingSent(manager, 0)).toBe(100);
    expect(nothingSent(manager, 99)).toBe(100);
    request = onlyCommit(manager, 100);
    await answerCommit(request, 100, code);
    expect(coordinator.markUnknown).toHaveBeenCalledTimes(2);
    // The second failure doubles the backoff.
    expect(nothingSent(manager, 299)).toBe(300);
    request = onlyCommit(manager, 300);
    await answerCommit(request, 300);
    await flush();
    expect(result).toEqual({ settled: true, value: undefined });
  });

  it('retries COORDINATOR_LOAD_IN_PROGRESS without forgetting the coordinator', async () => {
    const { manager, subscriptions, coordinator } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    const request = onlyCommit(manager, 0);
    await answerCommit(request, 0, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(coordinator.markUnknown).not.toHaveBeenCalled();
    expect(nothingSent(manager, 50)).toBe(100);
    await answerCommit(onlyCommit(manager, 100), 100);
    await flush();
    expect(result).toEqual({ settled: true, value: undefined });
  });

  it('retries after a lost connection, forgetting the coordinator', async () => {
    const { manager, subscriptions, coordinator } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    onlyCommit(manager, 0).onFailure(new NetworkError('connection lost', { broker: 'broker-1:9092' }), 0);
    expect(coordinator.markUnknown).toHaveBeenCalledTimes(1);
    expect(nothingSent(manager, 0)).toBe(100);
    await answerCommit(onlyCommit(manager, 100), 100);
    await flush();
    expect(result).toEqual({ settled: true, value: undefined });
  });

  it('rejects a commit waiting for its retry with RebalanceInProgressError once the group rebalances', async () => {
    const { manager, subscriptions, group } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    await answerCommit(onlyCommit(manager, 0), 0, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    group.permission = { kind: 'rebalancing' };
    nothingSent(manager, 100);
    await flush();
    expect(result.error).toBeInstanceOf(RebalanceInProgressError);
  });

  it('rejects with a TimeoutError naming the last error once the deadline passes', async () => {
    const { manager, subscriptions } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 1_000, sync: true }));
    await answerCommit(onlyCommit(manager, 0), 950, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    // The backoff would end at 1050: the deadline comes first.
    expect(nothingSent(manager, 999)).toBe(1_000);
    nothingSent(manager, 1_000);
    await flush();
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect((result.error as Error).message).toContain('COORDINATOR_LOAD_IN_PROGRESS');
    expect(manager.pending).toBe(0);
    nothingSent(manager, 2_000);
  });
});

describe('CommitManager: asynchronous commits and final errors', () => {
  it('rejects an asynchronous commit with RetriableCommitFailedError on a retriable error, and does not retry', async () => {
    const { manager, subscriptions, coordinator } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: false }));
    await answerCommit(onlyCommit(manager, 0), 0, ErrorCode.NOT_COORDINATOR);
    await flush();
    expect(result.error).toBeInstanceOf(RetriableCommitFailedError);
    expect((result.error as Error).cause).toBeInstanceOf(KafkaError);
    expect(coordinator.markUnknown).toHaveBeenCalledTimes(1);
    nothingSent(manager, 100);
    nothingSent(manager, 5_000);
  });

  it('rejects an asynchronous commit whose connection was lost with RetriableCommitFailedError', async () => {
    const { manager, subscriptions } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: false }));
    onlyCommit(manager, 0).onFailure(new NetworkError('connection lost', { broker: 'broker-1:9092' }), 0);
    await flush();
    expect(result.error).toBeInstanceOf(RetriableCommitFailedError);
    nothingSent(manager, 100);
  });

  it.each([
    ['UNKNOWN_MEMBER_ID', ErrorCode.UNKNOWN_MEMBER_ID],
    ['ILLEGAL_GENERATION', ErrorCode.ILLEGAL_GENERATION],
    ['FENCED_INSTANCE_ID', ErrorCode.FENCED_INSTANCE_ID],
  ])('rejects with CommitFailedError on %s', async (name, code) => {
    const { manager, subscriptions } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    await answerCommit(onlyCommit(manager, 0), 0, code);
    await flush();
    expect(result.error).toBeInstanceOf(CommitFailedError);
    expect((result.error as Error).message).toContain(name);
    nothingSent(manager, 1_000);
  });

  it("STALE_MEMBER_EPOCH: a synchronous commit goes again with the member's current epoch", async () => {
    const { manager, subscriptions, group } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    await answerCommit(onlyCommit(manager, 0), 0, ErrorCode.STALE_MEMBER_EPOCH);
    // The heartbeat that crossed the commit brought epoch 8.
    group.permission = { kind: 'allowed', identity: { ...IDENTITY, generationIdOrMemberEpoch: 8 } };
    nothingSent(manager, 50);
    const again = onlyCommit(manager, 100);
    expect(again.build(9).generationIdOrMemberEpoch).toBe(8);
    await answerCommit(again, 100);
    await flush();
    expect(result.settled).toBe(true);
    expect(result.error).toBeUndefined();
  });

  it('STALE_MEMBER_EPOCH: an asynchronous commit fails retriably; a member out of the group fails with CommitFailedError', async () => {
    const { manager, subscriptions, group } = setup();
    subscribe(subscriptions);
    const async = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: false }));
    await answerCommit(onlyCommit(manager, 0), 0, ErrorCode.STALE_MEMBER_EPOCH);
    await flush();
    expect(async.error).toBeInstanceOf(RetriableCommitFailedError);
    expect((async.error as Error).message).toContain('STALE_MEMBER_EPOCH');
    const sync = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    await answerCommit(onlyCommit(manager, 0), 0, ErrorCode.STALE_MEMBER_EPOCH);
    group.permission = { kind: 'not-member', reason: 'the member was fenced' };
    nothingSent(manager, 100);
    await flush();
    expect(sync.error).toBeInstanceOf(CommitFailedError);
    nothingSent(manager, 1_000);
  });

  it('rejects with RebalanceInProgressError on REBALANCE_IN_PROGRESS, without retrying', async () => {
    const { manager, subscriptions } = setup();
    subscribe(subscriptions);
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    await answerCommit(onlyCommit(manager, 0), 0, ErrorCode.REBALANCE_IN_PROGRESS);
    await flush();
    expect(result.error).toBeInstanceOf(RebalanceInProgressError);
    nothingSent(manager, 1_000);
  });

  it('rejects with a KafkaError naming the partitions on GROUP_AUTHORIZATION_FAILED', async () => {
    const { manager, subscriptions } = setup();
    subscribe(subscriptions);
    const result = track(
      manager.commit([offset(orders0, 10n), offset(orders1, 20n)], { deadline: 10_000, sync: true }),
    );
    await answerCommit(onlyCommit(manager, 0), 0, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    await flush();
    expect(result.error).toBeInstanceOf(KafkaError);
    expect(result.error).toMatchObject({ code: ErrorCode.GROUP_AUTHORIZATION_FAILED });
    expect((result.error as Error).message).toContain('orders-0, orders-1');
    nothingSent(manager, 1_000);
  });
});

describe('CommitManager: the coordinator', () => {
  it('sends nothing and asks for the coordinator while it is unknown', async () => {
    const { manager, subscriptions, coordinator } = setup();
    subscribe(subscriptions);
    coordinator.coordinator = null;
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    nothingSent(manager, 0);
    expect(coordinator.need).toHaveBeenCalled();
    coordinator.coordinator = 4;
    const request = onlyCommit(manager, 10);
    expect(request.target).toEqual({ nodeId: 4 });
    await answerCommit(request, 10);
    await flush();
    expect(result).toEqual({ settled: true, value: undefined });
  });

  it('rejects the pending commit with the error that stopped the coordinator lookup', async () => {
    const { manager, subscriptions, coordinator } = setup();
    subscribe(subscriptions);
    coordinator.coordinator = null;
    const fatal = new KafkaError(ErrorCode.GROUP_AUTHORIZATION_FAILED, { context: 'FindCoordinator' });
    coordinator.fatalError = fatal;
    const result = track(manager.commit([offset(orders0, 10n)], { deadline: 10_000, sync: true }));
    nothingSent(manager, 0);
    await flush();
    expect(result.error).toBe(fatal);
    expect(manager.pending).toBe(0);
  });
});

describe('CommitManager: auto commit', () => {
  /** Auto commit every 5 s, for a member of the group whose orders partitions have positions. */
  function autoSetup() {
    const context = setup({ autoCommit: { enabled: true, intervalMs: 5_000 } });
    subscribe(context.subscriptions);
    context.subscriptions.seek(orders0, 10n, 3);
    context.subscriptions.seek(orders1, 20n);
    return context;
  }

  const committedOffsets = (request: CommitRequest) =>
    request
      .build(9)
      .topics.flatMap((topic) =>
        topic.partitions.map((partition) => [
          `${topic.name}-${partition.partitionIndex}`,
          partition.committedOffset,
          partition.committedLeaderEpoch,
        ]),
      );

  it('commits every position handed out once per interval, the first interval starting at the first poll', async () => {
    const { manager } = autoSetup();
    expect(nothingSent(manager, 1_000)).toBe(6_000);
    expect(nothingSent(manager, 5_999)).toBe(6_000);
    const poll = manager.poll(6_000);
    // While it is in flight, only its deadline is timed: its answer wakes the loop, and the interval counts on.
    expect(poll.nextPollAt).toBe(6_000 + 30_000);
    expect(poll.requests).toHaveLength(1);
    const first = poll.requests[0] as unknown as CommitRequest;
    expect(committedOffsets(first)).toEqual([
      ['orders-0', 10n, 3],
      ['orders-1', 20n, -1],
    ]);
    expect(first.build(9)).toMatchObject({ generationIdOrMemberEpoch: 7, memberId: 'member-1' });
    await answerCommit(first, 6_000);
    expect(nothingSent(manager, 10_999)).toBe(11_000);
    const second = onlyCommit(manager, 11_000);
    expect(committedOffsets(second)).toEqual([
      ['orders-0', 10n, 3],
      ['orders-1', 20n, -1],
    ]);
  });

  it('does not retry a failed auto commit: the next one comes forward to now + retry.backoff.ms', async () => {
    const { manager, subscriptions } = autoSetup();
    nothingSent(manager, 1_000);
    await answerCommit(onlyCommit(manager, 6_000), 6_000, ErrorCode.NOT_COORDINATOR);
    expect(nothingSent(manager, 6_050)).toBe(6_100);
    subscriptions.seek(orders0, 15n, 3);
    const next = onlyCommit(manager, 6_100);
    // A new commit of the positions of now, not the failed one again.
    expect(committedOffsets(next)).toEqual([
      ['orders-0', 15n, 3],
      ['orders-1', 20n, -1],
    ]);
    await answerCommit(next, 6_100);
    expect(nothingSent(manager, 6_200)).toBe(11_100);
  });

  it('commits nothing while the group rebalances or the consumer is not a member', async () => {
    const { manager, group } = autoSetup();
    nothingSent(manager, 1_000);
    group.permission = { kind: 'rebalancing' };
    nothingSent(manager, 6_000);
    group.permission = { kind: 'not-member', reason: 'left' };
    nothingSent(manager, 11_000);
    group.permission = ALLOWED;
    onlyCommit(manager, 16_000);
  });

  it('commits nothing when nothing was consumed', () => {
    const { manager, subscriptions } = setup({ autoCommit: { enabled: true, intervalMs: 5_000 } });
    subscribe(subscriptions);
    nothingSent(manager, 0);
    nothingSent(manager, 5_000);
    nothingSent(manager, 10_000);
  });

  it('auto-commits manually assigned partitions with generation -1, whatever the group says', () => {
    const { manager, subscriptions, group } = setup({ autoCommit: { enabled: true, intervalMs: 5_000 } });
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 4n);
    group.permission = { kind: 'not-member', reason: 'no group' };
    nothingSent(manager, 0);
    const request = onlyCommit(manager, 5_000);
    expect(request.build(9)).toMatchObject({ generationIdOrMemberEpoch: -1, memberId: '' });
    expect(committedOffsets(request)).toEqual([['orders-0', 4n, -1]]);
  });

  it('sends no second auto commit while the previous one is in flight', async () => {
    const { manager } = autoSetup();
    nothingSent(manager, 1_000);
    const first = onlyCommit(manager, 6_000);
    nothingSent(manager, 11_000);
    await answerCommit(first, 11_500);
    onlyCommit(manager, 11_500);
  });

  it('starts the interval again on resetAutoCommitTimer', () => {
    const { manager } = autoSetup();
    expect(nothingSent(manager, 0)).toBe(5_000);
    manager.resetAutoCommitTimer(3_000);
    expect(nothingSent(manager, 5_000)).toBe(8_000);
    onlyCommit(manager, 8_000);
  });
});

describe('CommitManager: committed offsets', () => {
  it('asks OffsetFetch v8+ per group for stable offsets, and v7 with top-level topics', () => {
    const { manager } = setup();
    void manager.committed([orders0, orders1, payments0], 10_000);
    const request = onlyFetch(manager, 0);
    expect(request.target).toEqual({ nodeId: 1 });
    expect(request.versions?.ceiling).toBe(9);
    expect(request.build(8)).toMatchObject({
      groups: [
        {
          groupId: 'group',
          memberId: null,
          memberEpoch: -1,
          topics: [
            { name: 'orders', topicId: ZERO_UUID, partitionIndexes: [0, 1] },
            { name: 'payments', topicId: ZERO_UUID, partitionIndexes: [0] },
          ],
        },
      ],
      requireStable: true,
    });
    expect(request.build(7)).toMatchObject({
      groupId: 'group',
      topics: [
        { name: 'orders', partitionIndexes: [0, 1] },
        { name: 'payments', partitionIndexes: [0] },
      ],
      requireStable: true,
    });
  });

  it('maps a v8+ answer to offsets, leader epochs and metadata, null where nothing was committed', async () => {
    const { manager } = setup();
    const result = manager.committed([orders0, orders1, payments0], 10_000);
    const request = onlyFetch(manager, 0);
    await request.onResponse(
      fetchAnswerV8([
        { tp: orders0, offset: 42n, leaderEpoch: 3, metadata: 'm' },
        { tp: orders1, offset: -1n },
        { tp: payments0, offset: 7n, metadata: null },
      ]),
      { version: 9, nodeId: 1, now: 0 },
    );
    const found = await result;
    expect(found.get(orders0)).toEqual({ offset: 42n, leaderEpoch: 3, metadata: 'm' });
    expect(found.get(orders1)).toBeNull();
    expect(found.get(payments0)).toEqual({ offset: 7n, leaderEpoch: -1, metadata: null });
    expect(found.size).toBe(3);
  });

  it('maps a v7 answer with top-level topics', async () => {
    const { manager } = setup();
    const result = manager.committed([orders0, orders1], 10_000);
    const request = onlyFetch(manager, 0);
    await request.onResponse(fetchAnswerV7([{ tp: orders0, offset: 5n, leaderEpoch: 1, metadata: '' }]), {
      version: 7,
      nodeId: 1,
      now: 0,
    });
    const found = await result;
    expect(found.get(orders0)).toEqual({ offset: 5n, leaderEpoch: 1, metadata: '' });
    expect(found.get(orders1)).toBeNull();
  });

  it('asks again after the backoff when a partition has an unstable offset commit (KIP-447)', async () => {
    const { manager, coordinator } = setup();
    const result = track(manager.committed([orders0], 10_000));
    await onlyFetch(manager, 0).onResponse(
      fetchAnswerV8([{ tp: orders0, offset: -1n, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }]),
      { version: 9, nodeId: 1, now: 0 },
    );
    await flush();
    expect(result.settled).toBe(false);
    expect(coordinator.markUnknown).not.toHaveBeenCalled();
    expect(nothingSent(manager, 99)).toBe(100);
    await onlyFetch(manager, 100).onResponse(fetchAnswerV8([{ tp: orders0, offset: 9n }]), {
      version: 9,
      nodeId: 1,
      now: 100,
    });
    await flush();
    expect(result.settled).toBe(true);
    expect((result.value as Awaited<ReturnType<CommitManager['committed']>>).get(orders0)).toMatchObject({
      offset: 9n,
    });
  });

  it('forgets the coordinator on a group-level NOT_COORDINATOR and asks again', async () => {
    const { manager, coordinator } = setup();
    const result = track(manager.committed([orders0], 10_000));
    await onlyFetch(manager, 0).onResponse(fetchAnswerV8([], ErrorCode.NOT_COORDINATOR), {
      version: 9,
      nodeId: 1,
      now: 0,
    });
    expect(coordinator.markUnknown).toHaveBeenCalledTimes(1);
    expect(nothingSent(manager, 0)).toBe(100);
    await onlyFetch(manager, 100).onResponse(fetchAnswerV8([{ tp: orders0, offset: 1n }]), {
      version: 9,
      nodeId: 1,
      now: 100,
    });
    await flush();
    expect(result.settled).toBe(true);
    expect(result.error).toBeUndefined();
  });

  it('rejects with a TimeoutError naming the last error past the deadline', async () => {
    const { manager } = setup();
    const result = track(manager.committed([orders0], 500));
    await onlyFetch(manager, 0).onResponse(
      fetchAnswerV8([{ tp: orders0, offset: -1n, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }]),
      { version: 9, nodeId: 1, now: 450 },
    );
    expect(nothingSent(manager, 499)).toBe(500);
    nothingSent(manager, 500);
    await flush();
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect((result.error as Error).message).toContain('UNSTABLE_OFFSET_COMMIT');
  });

  it('counts only unsettled operations as pending, and fails everything on failAll', async () => {
    const { manager, subscriptions } = setup();
    subscribe(subscriptions);
    expect(manager.pending).toBe(0);
    const done = track(manager.commit([offset(orders0, 1n)], { deadline: 10_000, sync: true }));
    const waiting = track(manager.commit([offset(orders1, 2n)], { deadline: 10_000, sync: true }));
    const lookup = track(manager.committed([payments0], 10_000));
    expect(manager.pending).toBe(3);
    const { requests } = manager.poll(0);
    expect(requests).toHaveLength(3);
    await answerCommit(requests[0] as unknown as CommitRequest, 0);
    expect(manager.pending).toBe(2);
    const closing = new Error('the consumer is closing');
    manager.failAll(closing);
    expect(manager.pending).toBe(0);
    await flush();
    expect(done).toEqual({ settled: true, value: undefined });
    expect(waiting.error).toBe(closing);
    expect(lookup.error).toBe(closing);
    nothingSent(manager, 100);
  });
});
