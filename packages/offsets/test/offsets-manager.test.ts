/** The offsets request manager (positions from committed offsets and resets, ListOffsets), on a fake clock. */
import { type ClusterSnapshot, ErrorCode, KafkaError, NetworkError } from '@sluice/net';
import {
  defaultListOffsetsResponse,
  defaultOffsetForLeaderEpochResponse,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  listOffsetsApi,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
  offsetForLeaderEpochApi,
} from '@sluice/protocol';
import {
  type Deferred,
  deferred,
  type OffsetResetStrategy,
  SubscriptionState,
  TimeoutError,
  type TopicPartition,
  TopicPartitionMap,
  type UnsentRequest,
} from '@sluice/runtime';
import { describe, expect, it, vi } from 'vitest';
import { fakeCluster } from '../../runtime/test/fake-cluster.ts';
import type { CommittedOffset } from '../src/commit-manager.ts';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  OffsetsManager,
  type OffsetsManagerOptions,
} from '../src/offsets-manager.ts';
import { track } from './track.ts';

type OffsetsRequest = UnsentRequest<ListOffsetsRequest, ListOffsetsResponse>;
type Committed = TopicPartitionMap<CommittedOffset | null>;

const orders0: TopicPartition = { topic: 'orders', partition: 0 };
const orders1: TopicPartition = { topic: 'orders', partition: 1 };
const payments0: TopicPartition = { topic: 'payments', partition: 0 };

/** Partition leaders: orders-0 and payments-0 on broker 1, orders-1 on broker 2 (leader epoch 5 everywhere). */
const LEADERS: ReadonlyArray<readonly [TopicPartition, number]> = [
  [orders0, 1],
  [orders1, 2],
  [payments0, 1],
];

function cluster(
  leaders: ReadonlyArray<readonly [TopicPartition, number]> = LEADERS,
  topicErrors: ReadonlyMap<string, KafkaError> = new Map(),
): ClusterSnapshot {
  return fakeCluster({ leaders, topicErrors });
}

/** A fake commit manager: every `committed` call is recorded with a result the test settles. */
function fakeCommits() {
  const calls: Array<{ partitions: readonly TopicPartition[]; deadline: number; result: Deferred<Committed> }> = [];
  const commits = {
    committed: vi.fn((partitions: readonly TopicPartition[], deadline: number) => {
      const result = deferred<Committed>();
      calls.push({ partitions, deadline, result });
      return result.promise;
    }),
  };
  return { commits, calls };
}

/** No jitter: retry.backoff.ms 100 gives 100, 200, 400 ... up to retry.backoff.max.ms 1000. */
function setup(
  options: { strategy?: OffsetResetStrategy; group?: boolean; manager?: Partial<OffsetsManagerOptions> } = {},
) {
  const subscriptions = new SubscriptionState({ defaultResetStrategy: options.strategy ?? 'earliest' });
  const metadata = { snapshot: cluster() as ClusterSnapshot | null, requestUpdate: vi.fn(), reportError: vi.fn() };
  const { commits, calls } = fakeCommits();
  const onError = vi.fn();
  const manager = new OffsetsManager({
    subscriptions,
    metadata,
    commits: options.group === false ? null : commits,
    isolationLevel: 'read_uncommitted',
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    onError,
    random: () => 0.5,
    ...options.manager,
  });
  return { manager, subscriptions, metadata, commits, calls, onError };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function committedMap(entries: ReadonlyArray<readonly [TopicPartition, CommittedOffset | null]>): Committed {
  return new TopicPartitionMap(entries);
}

function listOffsetsRequests(manager: OffsetsManager, now: number): OffsetsRequest[] {
  const { requests } = manager.poll(now);
  for (const request of requests) expect(request.api).toBe(listOffsetsApi);
  return requests as unknown as OffsetsRequest[];
}

function onlyListOffsets(manager: OffsetsManager, now: number): OffsetsRequest {
  const requests = listOffsetsRequests(manager, now);
  expect(requests).toHaveLength(1);
  return requests[0]!;
}

function nothingSent(manager: OffsetsManager, now: number): number {
  const { requests, nextPollAt } = manager.poll(now);
  expect(requests).toEqual([]);
  return nextPollAt;
}

/** What a request asks, as `topic-partition@timestamp`. */
function asked(request: OffsetsRequest): string[] {
  return request
    .build(7)
    .topics.flatMap((topic) =>
      topic.partitions.map((partition) => `${topic.name}-${partition.partitionIndex}@${partition.timestamp}`),
    );
}

interface Found {
  readonly tp: TopicPartition;
  readonly offset?: bigint;
  readonly timestamp?: bigint;
  readonly leaderEpoch?: number;
  readonly errorCode?: number;
}

function listOffsetsAnswer(found: readonly Found[]): ListOffsetsResponse {
  const topics = new Map<string, Found[]>();
  for (const entry of found) topics.set(entry.tp.topic, [...(topics.get(entry.tp.topic) ?? []), entry]);
  return {
    ...defaultListOffsetsResponse(),
    topics: [...topics].map(([name, entries]) => ({
      name,
      partitions: entries.map((entry) => ({
        partitionIndex: entry.tp.partition,
        errorCode: entry.errorCode ?? ErrorCode.NONE,
        timestamp: entry.timestamp ?? -1n,
        offset: entry.offset ?? -1n,
        leaderEpoch: entry.leaderEpoch ?? -1,
      })),
    })),
  };
}

async function answer(request: OffsetsRequest, now: number, found: readonly Found[]): Promise<void> {
  await request.onResponse(listOffsetsAnswer(found), { version: 7, nodeId: 1, now });
}

const networkError = () => new NetworkError('connection lost', { broker: 'broker-2:9092' });

describe('OffsetsManager: positions from committed offsets', () => {
  it('asks the committed offsets of partitions without a position, and makes them the positions', async () => {
    const { manager, subscriptions, calls } = setup();
    subscriptions.assignFromUser([orders0, orders1]);
    nothingSent(manager, 0);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.partitions).toEqual([orders0, orders1]);
    expect(calls[0]!.deadline).toBe(Number.POSITIVE_INFINITY);
    // Asked once while the answer is on its way.
    nothingSent(manager, 10);
    expect(calls).toHaveLength(1);
    calls[0]!.result.resolve(
      committedMap([
        [orders0, { offset: 42n, leaderEpoch: 3, metadata: '' }],
        [orders1, null],
      ]),
    );
    await flush();
    // A committed offset with a leader epoch is checked against the leader's log before it is fetched (KIP-320).
    expect(subscriptions.partition(orders0)).toMatchObject({
      fetchState: 'awaiting-validation',
      position: { offset: 42n, leaderEpoch: 3 },
    });
    expect(subscriptions.position(orders0)).toBeNull();
    expect(subscriptions.partition(orders1)).toMatchObject({
      fetchState: 'awaiting-reset',
      resetStrategy: 'earliest',
      resetReason: { kind: 'no-committed-offset' },
    });
    const { requests } = manager.poll(20);
    expect(requests.map((request) => [request.api, request.target])).toEqual([
      [offsetForLeaderEpochApi, { nodeId: 1 }],
      [listOffsetsApi, { nodeId: 2 }],
    ]);
    const validation = requests[0] as unknown as UnsentRequest<
      OffsetForLeaderEpochRequest,
      OffsetForLeaderEpochResponse
    >;
    expect(validation.build(4).topics).toEqual([
      { topic: 'orders', partitions: [{ partition: 0, currentLeaderEpoch: 5, leaderEpoch: 3 }] },
    ]);
    await validation.onResponse(
      {
        ...defaultOffsetForLeaderEpochResponse(),
        topics: [{ topic: 'orders', partitions: [{ errorCode: 0, partition: 0, leaderEpoch: 3, endOffset: 60n }] }],
      },
      { version: 4, nodeId: 1, now: 30 },
    );
    expect(subscriptions.position(orders0)).toEqual({ offset: 42n, leaderEpoch: 3 });
  });

  it('validates a committed position, and resets it to auto.offset.reset where its epoch is unknown to the leader', async () => {
    const { manager, subscriptions, calls } = setup({ manager: { onWarning: vi.fn() } });
    subscriptions.assignFromUser([orders0]);
    nothingSent(manager, 0);
    calls[0]!.result.resolve(committedMap([[orders0, { offset: 42n, leaderEpoch: 9, metadata: '' }]]));
    await flush();
    const [validation] = manager.poll(10).requests as unknown as Array<
      UnsentRequest<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>
    >;
    await validation!.onResponse(
      {
        ...defaultOffsetForLeaderEpochResponse(),
        topics: [{ topic: 'orders', partitions: [{ errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1n }] }],
      },
      { version: 4, nodeId: 1, now: 20 },
    );
    expect(subscriptions.partition(orders0)?.resetReason).toEqual({ kind: 'log-truncation', offset: 42n });
    const reset = onlyListOffsets(manager, 30);
    expect(asked(reset)).toEqual([`orders-0@${EARLIEST_TIMESTAMP}`]);
    await answer(reset, 40, [{ tp: orders0, offset: 3n, leaderEpoch: 5 }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 3n, leaderEpoch: 5 });
    nothingSent(manager, 50);
  });

  it('resets a partition without a committed offset to the earliest offset, through ListOffsets at its leader', async () => {
    const { manager, subscriptions, calls } = setup();
    subscriptions.assignFromUser([orders1]);
    nothingSent(manager, 0);
    calls[0]!.result.resolve(committedMap([[orders1, null]]));
    await flush();
    const request = onlyListOffsets(manager, 20);
    expect(request.target).toEqual({ nodeId: 2 });
    expect(request.build(7)).toMatchObject({
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 1, currentLeaderEpoch: 5, timestamp: EARLIEST_TIMESTAMP, maxNumOffsets: 1 }],
        },
      ],
    });
    await answer(request, 30, [{ tp: orders1, offset: 17n, leaderEpoch: 5 }]);
    expect(subscriptions.position(orders1)).toEqual({ offset: 17n, leaderEpoch: 5 });
    nothingSent(manager, 40);
  });

  it('resets to the latest offset (read_committed: the last stable offset) with the latest strategy', async () => {
    const { manager, subscriptions, calls } = setup({
      strategy: 'latest',
      manager: { isolationLevel: 'read_committed' },
    });
    subscriptions.assignFromUser([orders0]);
    nothingSent(manager, 0);
    calls[0]!.result.resolve(committedMap([[orders0, null]]));
    await flush();
    const request = onlyListOffsets(manager, 10);
    expect(asked(request)).toEqual([`orders-0@${LATEST_TIMESTAMP}`]);
    expect(request.build(7).isolationLevel).toBe(1);
    await answer(request, 20, [{ tp: orders0, offset: 900n, leaderEpoch: 5 }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 900n, leaderEpoch: 5 });
  });

  it('resets directly, without asking for committed offsets, when the consumer has no group', async () => {
    const { manager, subscriptions, commits } = setup({ group: false });
    subscriptions.assignFromUser([orders0]);
    const requests = [...listOffsetsRequests(manager, 0), ...listOffsetsRequests(manager, 0)];
    expect(commits.committed).not.toHaveBeenCalled();
    expect(requests).toHaveLength(1);
    expect(asked(requests[0]!)).toEqual([`orders-0@${EARLIEST_TIMESTAMP}`]);
    expect(subscriptions.partition(orders0)?.resetReason).toEqual({ kind: 'no-committed-offset' });
    await answer(requests[0]!, 10, [{ tp: orders0, offset: 3n, leaderEpoch: 5 }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 3n, leaderEpoch: 5 });
  });

  it('does not apply a committed offset to a partition sought meanwhile', async () => {
    const { manager, subscriptions, calls } = setup();
    subscriptions.assignFromUser([orders0]);
    nothingSent(manager, 0);
    subscriptions.seek(orders0, 100n);
    calls[0]!.result.resolve(committedMap([[orders0, { offset: 42n, leaderEpoch: 3, metadata: '' }]]));
    await flush();
    expect(subscriptions.position(orders0)).toEqual({ offset: 100n, leaderEpoch: -1 });
    nothingSent(manager, 10);
  });

  it('does not apply a reset answer to a partition sought or reset again meanwhile', async () => {
    const { manager, subscriptions } = setup({ group: false });
    subscriptions.assignFromUser([orders0, orders1]);
    const requests = listOffsetsRequests(manager, 0);
    expect(requests.map(asked)).toEqual([[`orders-0@${EARLIEST_TIMESTAMP}`], [`orders-1@${EARLIEST_TIMESTAMP}`]]);
    const [toFirst, toSecond] = requests;
    subscriptions.seek(orders0, 50n);
    subscriptions.requestReset([orders1], { kind: 'requested' }, { strategy: 'latest' });
    // The new reset is asked at once, the old question being about another version of the partition.
    const again = onlyListOffsets(manager, 10);
    expect(asked(again)).toEqual([`orders-1@${LATEST_TIMESTAMP}`]);
    await answer(toFirst!, 20, [{ tp: orders0, offset: 0n, leaderEpoch: 5 }]);
    await answer(toSecond!, 20, [{ tp: orders1, offset: 0n, leaderEpoch: 5 }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 50n, leaderEpoch: -1 });
    expect(subscriptions.position(orders1)).toBeNull();
    await answer(again, 30, [{ tp: orders1, offset: 77n, leaderEpoch: 5 }]);
    expect(subscriptions.position(orders1)).toEqual({ offset: 77n, leaderEpoch: 5 });
  });

  it('sends no ListOffsets with the strategy none: the partition waits for the application', async () => {
    const { manager, subscriptions, calls } = setup({ strategy: 'none' });
    subscriptions.assignFromUser([orders0]);
    nothingSent(manager, 0);
    calls[0]!.result.resolve(committedMap([[orders0, null]]));
    await flush();
    expect(nothingSent(manager, 10)).toBe(Number.POSITIVE_INFINITY);
    expect(subscriptions.partition(orders0)).toMatchObject({ fetchState: 'awaiting-reset', resetStrategy: 'none' });
    nothingSent(manager, 10_000);
  });

  it('reports a committed-offset lookup that failed for good, and asks again after the backoff', async () => {
    const { manager, subscriptions, calls, onError } = setup();
    subscriptions.assignFromUser([orders0]);
    nothingSent(manager, 0);
    const error = new KafkaError(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    calls[0]!.result.reject(error);
    await flush();
    expect(onError).toHaveBeenCalledWith(error);
    expect(nothingSent(manager, 1_000)).toBe(1_100);
    expect(calls).toHaveLength(1);
    nothingSent(manager, 1_100);
    expect(calls).toHaveLength(2);
  });
});

describe('OffsetsManager: failed resets', () => {
  /** orders-1 (leader: broker 2) awaits a reset, without a group; the first ListOffsets is out at 0. */
  function resetting() {
    const context = setup({ group: false });
    context.subscriptions.assignFromUser([orders1]);
    const request = onlyListOffsets(context.manager, 0);
    return { ...context, request };
  }

  it('asks for a metadata update on NOT_LEADER_OR_FOLLOWER and asks again after the backoff', async () => {
    const { manager, subscriptions, metadata, onError, request } = resetting();
    await answer(request, 10, [{ tp: orders1, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }]);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    expect(onError).not.toHaveBeenCalled();
    expect(subscriptions.partition(orders1)?.retryAt).toBe(110);
    expect(nothingSent(manager, 109)).toBe(110);
    expect(asked(onlyListOffsets(manager, 110))).toEqual([`orders-1@${EARLIEST_TIMESTAMP}`]);
  });

  it('reports the node of a lost connection and asks again after the backoff', () => {
    const { manager, subscriptions, metadata, onError, request } = resetting();
    const error = networkError();
    request.onFailure(error, 10);
    expect(metadata.reportError).toHaveBeenCalledWith(error, { nodeId: 2 });
    expect(onError).not.toHaveBeenCalled();
    expect(subscriptions.partition(orders1)?.retryAt).toBe(110);
    nothingSent(manager, 109);
    const again = onlyListOffsets(manager, 110);
    // A second failure in a row doubles the backoff.
    again.onFailure(networkError(), 120);
    expect(subscriptions.partition(orders1)?.retryAt).toBe(320);
  });

  it('passes an error no retry fixes to onError, and asks again after the backoff', async () => {
    const { manager, subscriptions, onError, request } = resetting();
    await answer(request, 10, [{ tp: orders1, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatchObject({ code: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
    expect(subscriptions.partition(orders1)).toMatchObject({ fetchState: 'awaiting-reset', retryAt: 110 });
    nothingSent(manager, 100);
    onlyListOffsets(manager, 110);
  });

  it('waits, asking for a metadata update, while the partition has no known leader', () => {
    const { manager, subscriptions, metadata } = setup({ group: false });
    metadata.snapshot = cluster([
      [orders0, 1],
      [orders1, -1],
    ]);
    subscriptions.assignFromUser([orders1]);
    nothingSent(manager, 0);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    expect(subscriptions.partition(orders1)?.retryAt).toBe(100);
    expect(nothingSent(manager, 50)).toBe(100);
    metadata.snapshot = cluster();
    expect(onlyListOffsets(manager, 100).target).toEqual({ nodeId: 2 });
  });
});

describe('OffsetsManager: listOffsets', () => {
  it('answers in query order, one request per leader; offset -1 is null', async () => {
    const { manager } = setup();
    const result = track(
      manager.listOffsets(
        [
          { ...orders0, timestamp: EARLIEST_TIMESTAMP },
          { ...orders1, timestamp: LATEST_TIMESTAMP },
          { ...payments0, timestamp: 1_000n },
        ],
        10_000,
      ),
    );
    const requests = listOffsetsRequests(manager, 0);
    expect(requests).toHaveLength(2);
    const toFirst = requests.find((request) => (request.target as { nodeId: number }).nodeId === 1)!;
    const toSecond = requests.find((request) => (request.target as { nodeId: number }).nodeId === 2)!;
    expect(asked(toFirst)).toEqual([`orders-0@${EARLIEST_TIMESTAMP}`, 'payments-0@1000']);
    expect(asked(toSecond)).toEqual([`orders-1@${LATEST_TIMESTAMP}`]);
    await answer(toSecond, 10, [{ tp: orders1, offset: 99n, timestamp: -1n, leaderEpoch: 5 }]);
    await answer(toFirst, 10, [
      { tp: orders0, offset: 3n, timestamp: -1n, leaderEpoch: 5 },
      { tp: payments0, offset: -1n },
    ]);
    nothingSent(manager, 10);
    await flush();
    expect(result.value).toEqual([
      { offset: 3n, timestamp: -1n, leaderEpoch: 5 },
      { offset: 99n, timestamp: -1n, leaderEpoch: 5 },
      null,
    ]);
  });

  it('asks a partition twice, at different timestamps, in two requests', async () => {
    const { manager } = setup();
    const result = track(
      manager.listOffsets(
        [
          { ...orders0, timestamp: EARLIEST_TIMESTAMP },
          { ...orders0, timestamp: LATEST_TIMESTAMP },
        ],
        10_000,
      ),
    );
    const requests = listOffsetsRequests(manager, 0);
    expect(requests.map(asked)).toEqual([[`orders-0@${EARLIEST_TIMESTAMP}`], [`orders-0@${LATEST_TIMESTAMP}`]]);
    await answer(requests[1]!, 10, [{ tp: orders0, offset: 50n, leaderEpoch: 5 }]);
    await answer(requests[0]!, 10, [{ tp: orders0, offset: 2n, leaderEpoch: 5 }]);
    nothingSent(manager, 10);
    await flush();
    expect(result.value).toEqual([
      { offset: 2n, timestamp: -1n, leaderEpoch: 5 },
      { offset: 50n, timestamp: -1n, leaderEpoch: 5 },
    ]);
  });

  it('retries retriable errors after the backoff until the deadline, then rejects with a TimeoutError', async () => {
    const { manager, metadata } = setup();
    const result = track(manager.listOffsets([{ ...orders1, timestamp: LATEST_TIMESTAMP }], 1_000));
    await answer(onlyListOffsets(manager, 0), 0, [{ tp: orders1, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }]);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    expect(nothingSent(manager, 50)).toBe(100);
    const second = onlyListOffsets(manager, 100);
    second.onFailure(networkError(), 100);
    expect(metadata.reportError).toHaveBeenCalledWith(expect.any(NetworkError), { nodeId: 2 });
    expect(nothingSent(manager, 299)).toBe(300);
    await answer(onlyListOffsets(manager, 300), 950, [{ tp: orders1, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }]);
    expect(result.settled).toBe(false);
    nothingSent(manager, 1_000);
    await flush();
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect((result.error as Error).message).toContain('NOT_LEADER_OR_FOLLOWER');
  });

  it('rejects with the KafkaError of an error no retry fixes', async () => {
    const { manager } = setup();
    const result = track(manager.listOffsets([{ ...orders0, timestamp: 5n }], 10_000));
    await answer(onlyListOffsets(manager, 0), 0, [{ tp: orders0, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }]);
    await flush();
    expect(result.error).toBeInstanceOf(KafkaError);
    expect(result.error).toMatchObject({ code: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
    nothingSent(manager, 1_000);
  });

  it('rejects with the error of a topic the metadata refuses', async () => {
    const { manager, metadata } = setup();
    const refused = new KafkaError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, { context: 'Metadata of payments' });
    metadata.snapshot = cluster(LEADERS, new Map([['payments', refused]]));
    const result = track(manager.listOffsets([{ ...payments0, timestamp: 5n }], 10_000));
    nothingSent(manager, 0);
    await flush();
    expect(result.error).toBe(refused);
  });

  it('waits for a leader, asking for metadata, and names the missing leader when time runs out', async () => {
    const { manager, metadata } = setup();
    metadata.snapshot = cluster([
      [orders0, -1],
      [orders1, 2],
    ]);
    const result = track(manager.listOffsets([{ ...orders0, timestamp: 5n }], 500));
    expect(nothingSent(manager, 0)).toBe(100);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    nothingSent(manager, 500);
    await flush();
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect((result.error as Error).message).toContain('no leader is known for orders-0');
  });

  it('lists the topics of pending lookups as topics of interest', async () => {
    const { manager } = setup();
    expect([...manager.topicsOfInterest()]).toEqual([]);
    const answered = track(manager.listOffsets([{ ...orders1, timestamp: 5n }], 10_000));
    const failed = track(manager.listOffsets([{ ...payments0, timestamp: 5n }], 10_000));
    expect(new Set(manager.topicsOfInterest())).toEqual(new Set(['orders', 'payments']));
    const requests = listOffsetsRequests(manager, 0);
    expect(requests).toHaveLength(2);
    const toSecond = requests.find((request) => (request.target as { nodeId: number }).nodeId === 2)!;
    await answer(toSecond, 10, [{ tp: orders1, offset: 1n }]);
    nothingSent(manager, 10);
    nothingSent(manager, 20);
    await flush();
    expect(answered.settled).toBe(true);
    expect([...manager.topicsOfInterest()]).toEqual(['payments']);
    const closing = new Error('closing');
    manager.failAll(closing);
    await flush();
    expect(failed.error).toBe(closing);
    expect([...manager.topicsOfInterest()]).toEqual([]);
  });
});
