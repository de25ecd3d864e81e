/** The fetch request manager and its buffer, driven by a fake clock and scripted Fetch answers. */
import { type ClusterSnapshot, ErrorCode, NetworkError } from '@sluice/net';
import {
  defaultFetchResponse,
  encodeControlRecordKey,
  encodeRecordBatchSync,
  type FetchRequest,
  type FetchResponse,
  type FetchResponsePartitionData,
  fetchApi,
  type RecordBatchInput,
  type Uuid,
  ZERO_UUID,
} from '@sluice/protocol';
import { SubscriptionState, type TopicPartition, type UnsentRequest } from '@sluice/runtime';
import { describe, expect, it, vi } from 'vitest';
import { fakeCluster } from '../../runtime/test/fake-cluster.ts';
import { FetchBuffer } from '../src/fetch-buffer.ts';
import { FetchManager, type FetchManagerOptions, PREFETCH_RECORDS } from '../src/fetch-manager.ts';
import type { ConsumerRecord } from '../src/partition-records.ts';

type Fetch = UnsentRequest<FetchRequest, FetchResponse>;

const orders0: TopicPartition = { topic: 'orders', partition: 0 };
const orders1: TopicPartition = { topic: 'orders', partition: 1 };
const payments0: TopicPartition = { topic: 'payments', partition: 0 };

const TOPIC_IDS: ReadonlyMap<string, Uuid> = new Map([
  ['orders', 'b3JkZXJzLXRvcGljLWlkIQ'],
  ['payments', 'cGF5bWVudHMtdG9waWMtaQ'],
]);

/** Leaders: orders-0 and payments-0 on broker 1, orders-1 on broker 2 (leader epoch 5 everywhere). */
const LEADERS: ReadonlyArray<readonly [TopicPartition, number]> = [
  [orders0, 1],
  [orders1, 2],
  [payments0, 1],
];

function cluster(
  options: { leaders?: ReadonlyArray<readonly [TopicPartition, number]>; topicIds?: ReadonlyMap<string, Uuid> } = {},
): ClusterSnapshot {
  return fakeCluster({ leaders: options.leaders ?? LEADERS, topicIds: options.topicIds ?? TOPIC_IDS });
}

function setup(options: Partial<FetchManagerOptions> = {}) {
  const subscriptions = new SubscriptionState({ defaultResetStrategy: 'earliest' });
  const buffer = new FetchBuffer();
  const metadata = { snapshot: cluster() as ClusterSnapshot | null, requestUpdate: vi.fn(), reportError: vi.fn() };
  const onError = vi.fn();
  const manager = new FetchManager({
    subscriptions,
    buffer,
    metadata,
    fetchMinBytes: 1,
    fetchMaxBytes: 50 * 1024 * 1024,
    maxPartitionFetchBytes: 1024 * 1024,
    fetchMaxWaitMs: 500,
    isolationLevel: 'read_uncommitted',
    checkCrcs: true,
    clientRack: null,
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    onError,
    ...options,
  });
  return { manager, subscriptions, buffer, metadata, onError };
}

/** Assigns the partitions (manually) at these positions. */
function assign(subscriptions: SubscriptionState, positions: ReadonlyArray<readonly [TopicPartition, bigint]>): void {
  subscriptions.assignFromUser(positions.map(([tp]) => tp));
  for (const [tp, offset] of positions) subscriptions.seek(tp, offset);
}

const text = (value: string) => new TextEncoder().encode(value);
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** `count` records from `baseOffset`, valued `v<offset>`, in a batch of leader epoch 5. */
function batch(baseOffset: bigint, count: number, patch: Partial<RecordBatchInput> = {}): Uint8Array {
  return encodeRecordBatchSync({
    baseOffset,
    partitionLeaderEpoch: 5,
    compression: 'none',
    records: Array.from({ length: count }, (_, index) => ({ value: text(`v${Number(baseOffset) + index}`) })),
    ...patch,
  });
}

function marker(offset: bigint, producerId: bigint, type: 'abort' | 'commit'): Uint8Array {
  return encodeRecordBatchSync({
    baseOffset: offset,
    isTransactional: true,
    isControl: true,
    producerId,
    producerEpoch: 0,
    compression: 'none',
    records: [{ key: encodeControlRecordKey(type), value: new Uint8Array([0, 0, 0, 0, 0, 0]) }],
  });
}

interface PartitionAnswer extends Partial<Omit<FetchResponsePartitionData, 'partitionIndex'>> {
  readonly tp: TopicPartition;
}

/** A Fetch answer; v13+ names topics by id. */
function fetchAnswer(partitions: readonly PartitionAnswer[], version: number): FetchResponse {
  const topics = new Map<string, PartitionAnswer[]>();
  for (const entry of partitions) topics.set(entry.tp.topic, [...(topics.get(entry.tp.topic) ?? []), entry]);
  return {
    ...defaultFetchResponse(),
    responses: [...topics].map(([name, entries]) => ({
      topic: version >= 13 ? '' : name,
      topicId: version >= 13 ? TOPIC_IDS.get(name)! : ZERO_UUID,
      partitions: entries.map(({ tp, ...patch }) => ({
        partitionIndex: tp.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: 0n,
        lastStableOffset: -1n,
        logStartOffset: -1n,
        divergingEpoch: { epoch: -1, endOffset: -1n },
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        snapshotId: { endOffset: -1n, epoch: -1 },
        abortedTransactions: null,
        preferredReadReplica: -1,
        records: null,
        ...patch,
      })),
    })),
  };
}

const VERSION = 13;

async function answer(request: Fetch, now: number, partitions: readonly PartitionAnswer[], version = VERSION) {
  const nodeId = (request.target as { nodeId: number }).nodeId;
  await request.onResponse(fetchAnswer(partitions, version), { version, nodeId, now });
}

function fetches(manager: FetchManager, now: number): Fetch[] {
  const { requests } = manager.poll(now);
  for (const request of requests) expect(request.api).toBe(fetchApi);
  return requests as unknown as Fetch[];
}

/** The one Fetch at `now`, to `nodeId`. */
function onlyFetch(manager: FetchManager, now: number, nodeId: number): Fetch {
  const requests = fetches(manager, now);
  expect(requests.map((request) => request.target)).toEqual([{ nodeId }]);
  return requests[0]!;
}

function toNode(requests: readonly Fetch[], nodeId: number): Fetch {
  const request = requests.find((candidate) => (candidate.target as { nodeId: number }).nodeId === nodeId);
  expect(request).toBeDefined();
  return request!;
}

/** What a Fetch asks, as `topic-partition@fetchOffset`. */
function asked(request: Fetch, version = VERSION): string[] {
  return request
    .build(version)
    .topics.flatMap((topic) =>
      topic.partitions.map((partition) => `${topic.topic}-${partition.partition}@${partition.fetchOffset}`),
    );
}

const described = (records: readonly ConsumerRecord[]) =>
  records.map((record) => `${record.topic}-${record.partition}@${record.offset}`);

function version(subscriptions: SubscriptionState, tp: TopicPartition): number {
  return subscriptions.partition(tp)!.version;
}

describe('FetchManager: what is fetched', () => {
  it('fetches each fetchable partition from its leader at its position, one Fetch in flight per broker', async () => {
    const { manager, subscriptions } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [orders1, 20n],
      [payments0, 0n],
    ]);
    const { requests, nextPollAt } = manager.poll(0);
    expect(nextPollAt).toBe(Number.POSITIVE_INFINITY);
    expect(requests).toHaveLength(2);
    const first = toNode(requests as unknown as Fetch[], 1);
    const second = toNode(requests as unknown as Fetch[], 2);
    expect(first.purpose).toBe('fetch');
    expect(first.api).toBe(fetchApi);
    expect(first.timeoutMs).toBe(30_500);
    expect(first.build(13)).toMatchObject({
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 50 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      rackId: '',
      forgottenTopicsData: [],
      topics: [
        {
          topicId: TOPIC_IDS.get('orders'),
          partitions: [{ partition: 0, fetchOffset: 10n, currentLeaderEpoch: 5, partitionMaxBytes: 1024 * 1024 }],
        },
        {
          topicId: TOPIC_IDS.get('payments'),
          partitions: [{ partition: 0, fetchOffset: 0n, currentLeaderEpoch: 5, partitionMaxBytes: 1024 * 1024 }],
        },
      ],
    });
    expect(asked(second)).toEqual(['orders-1@20']);
    // Both brokers are busy.
    expect(fetches(manager, 0)).toEqual([]);
    await answer(second, 10, [{ tp: orders1 }]);
    expect(asked(onlyFetch(manager, 10, 2))).toEqual(['orders-1@20']);
    expect(fetches(manager, 10)).toEqual([]);
  });

  it('does not fetch partitions without a position, paused or pending revocation', () => {
    const { manager, subscriptions } = setup();
    subscriptions.assignFromUser([orders0, orders1, payments0]);
    subscriptions.seek(orders0, 10n);
    subscriptions.seek(orders1, 20n);
    subscriptions.pause([orders1]);
    subscriptions.seek(payments0, 0n);
    subscriptions.markPendingRevocation([payments0]);
    expect(asked(onlyFetch(manager, 0, 1))).toEqual(['orders-0@10']);
  });

  it('fetches a partition once at a time, even when its leader moved to an idle broker', () => {
    const { manager, subscriptions, metadata } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    onlyFetch(manager, 0, 1);
    metadata.snapshot = cluster({ leaders: [[orders0, 2]] });
    expect(fetches(manager, 10)).toEqual([]);
  });

  it('names topics before Fetch v13; from v13 a topic without id fails the request as retriable', () => {
    const { manager, subscriptions, metadata, onError } = setup();
    metadata.snapshot = cluster({ topicIds: new Map([['orders', ZERO_UUID]]) });
    assign(subscriptions, [[orders0, 10n]]);
    const request = onlyFetch(manager, 0, 1);
    expect(request.build(12).topics).toMatchObject([{ topic: 'orders', partitions: [{ fetchOffset: 10n }] }]);
    let thrown: unknown;
    try {
      request.build(13);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).toMatchObject({ retriable: true });
    // The loop fails a request whose build throws.
    request.onFailure(thrown as Error, 0);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    expect(onError).not.toHaveBeenCalled();
    expect(fetches(manager, 99)).toEqual([]);
    metadata.snapshot = cluster();
    expect(asked(onlyFetch(manager, 100, 1))).toEqual(['orders-0@10']);
  });

  it('reads the topics of a Fetch answer by name before v13', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(10n, 2) }], 12);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['orders-0@10', 'orders-0@11']);
  });

  it('asks for a metadata update and backs off while a partition has no known leader', () => {
    const { manager, subscriptions, metadata } = setup();
    metadata.snapshot = cluster({ leaders: [[orders0, -1]] });
    assign(subscriptions, [[orders0, 10n]]);
    expect(manager.poll(0)).toEqual({ requests: [], nextPollAt: 100 });
    expect(metadata.requestUpdate).toHaveBeenCalled();
    metadata.snapshot = cluster();
    expect(fetches(manager, 50)).toEqual([]);
    onlyFetch(manager, 100, 1);
  });
});

describe('FetchManager and FetchBuffer: records', () => {
  it('buffers the records of an answer, and collect hands out at most max, round-robin, moving the positions', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [
      { tp: orders0, records: batch(10n, 4) },
      { tp: payments0, records: batch(0n, 4) },
    ]);
    expect(buffer.buffered(orders0, version(subscriptions, orders0))).toBe(4);
    expect(buffer.buffered(payments0, version(subscriptions, payments0))).toBe(4);
    const first = buffer.collect(subscriptions, 3);
    expect(described(first)).toEqual(['orders-0@10', 'orders-0@11', 'orders-0@12']);
    expect(new TextDecoder().decode(first[0]!.value!)).toBe('v10');
    expect(subscriptions.position(orders0)).toEqual({ offset: 13n, leaderEpoch: 5 });
    expect(subscriptions.position(payments0)).toEqual({ offset: 0n, leaderEpoch: -1 });
    expect(described(buffer.collect(subscriptions, 3))).toEqual(['payments-0@0', 'payments-0@1', 'payments-0@2']);
    expect(subscriptions.position(payments0)).toEqual({ offset: 3n, leaderEpoch: 5 });
    expect(described(buffer.collect(subscriptions, 3))).toEqual(['orders-0@13', 'payments-0@3']);
    expect(subscriptions.position(orders0)).toEqual({ offset: 14n, leaderEpoch: 5 });
    expect(subscriptions.position(payments0)).toEqual({ offset: 4n, leaderEpoch: 5 });
    expect(buffer.collect(subscriptions, 3)).toEqual([]);
  });

  it('moves the position past an answer that held only a transaction marker', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 20n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: marker(20n, 7n, 'commit') }]);
    // The next Fetch starts after the marker, before anything was collected.
    expect(asked(onlyFetch(manager, 10, 1))).toEqual(['orders-0@21']);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 21n, leaderEpoch: -1 });
  });

  it('moves the position past an aborted transaction under read_committed', async () => {
    const { manager, subscriptions, buffer } = setup({ isolationLevel: 'read_committed' });
    assign(subscriptions, [[orders0, 20n]]);
    const request = onlyFetch(manager, 0, 1);
    expect(request.build(VERSION).isolationLevel).toBe(1);
    await answer(request, 10, [
      {
        tp: orders0,
        records: concat(
          batch(20n, 2, { isTransactional: true, producerId: 7n, producerEpoch: 0 }),
          marker(22n, 7n, 'abort'),
        ),
        abortedTransactions: [{ producerId: 7n, firstOffset: 20n }],
      },
    ]);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(subscriptions.position(orders0)?.offset).toBe(23n);
  });

  it('prefetches from where the buffered data ends, and stops at PREFETCH_RECORDS buffered', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [
      [orders0, 0n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(0n, 3) }]);
    let request = onlyFetch(manager, 10, 1);
    expect(asked(request)).toEqual(['orders-0@3', 'payments-0@0']);
    expect(subscriptions.position(orders0)?.offset).toBe(0n);
    await answer(request, 20, [{ tp: orders0, records: batch(3n, PREFETCH_RECORDS - 3) }]);
    expect(buffer.buffered(orders0, version(subscriptions, orders0))).toBe(PREFETCH_RECORDS);
    request = onlyFetch(manager, 20, 1);
    expect(asked(request)).toEqual(['payments-0@0']);
    await answer(request, 30, [{ tp: payments0 }]);
    expect(buffer.collect(subscriptions, 1)).toHaveLength(1);
    expect(asked(onlyFetch(manager, 30, 1))).toEqual([`orders-0@${PREFETCH_RECORDS}`, 'payments-0@0']);
  });

  it('drops the answer for a partition sought meanwhile, and fetches it at its new position', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    const request = onlyFetch(manager, 0, 1);
    subscriptions.seek(orders0, 50n);
    await answer(request, 10, [
      { tp: orders0, records: batch(10n, 4) },
      { tp: payments0, records: batch(0n, 2) },
    ]);
    expect(buffer.buffered(orders0, version(subscriptions, orders0))).toBe(0);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['payments-0@0', 'payments-0@1']);
    expect(subscriptions.position(orders0)).toEqual({ offset: 50n, leaderEpoch: -1 });
    expect(asked(onlyFetch(manager, 10, 1))).toEqual(['orders-0@50', 'payments-0@2']);
  });

  it('retain drops the buffered data of partitions no longer assigned', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [
      { tp: orders0, records: batch(10n, 2) },
      { tp: payments0, records: batch(0n, 2) },
    ]);
    const ordersVersion = version(subscriptions, orders0);
    subscriptions.assignFromUser([payments0]);
    buffer.retain(subscriptions);
    expect(buffer.buffered(orders0, ordersVersion)).toBe(0);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['payments-0@0', 'payments-0@1']);
  });

  it('neither fetches nor hands out a paused partition, keeping its records until resume', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(10n, 3) }]);
    subscriptions.pause([orders0]);
    expect(fetches(manager, 10)).toEqual([]);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(buffer.buffered(orders0, version(subscriptions, orders0))).toBe(3);
    subscriptions.resume([orders0]);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['orders-0@10', 'orders-0@11', 'orders-0@12']);
    expect(subscriptions.position(orders0)?.offset).toBe(13n);
  });

  it('updates the watermarks, from which the lag follows', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    expect(subscriptions.lag(orders0, 'read_uncommitted')).toBeNull();
    await answer(onlyFetch(manager, 0, 1), 10, [
      { tp: orders0, records: batch(10n, 4), highWatermark: 100n, lastStableOffset: 90n, logStartOffset: 0n },
    ]);
    expect(subscriptions.partition(orders0)).toMatchObject({
      highWatermark: 100n,
      lastStableOffset: 90n,
      logStartOffset: 0n,
    });
    expect(subscriptions.lag(orders0, 'read_uncommitted')).toBe(90n);
    expect(subscriptions.lag(orders0, 'read_committed')).toBe(80n);
    buffer.collect(subscriptions, 4);
    expect(subscriptions.lag(orders0, 'read_uncommitted')).toBe(86n);
  });
});

describe('FetchManager: errors', () => {
  it('makes a partition await a reset on OFFSET_OUT_OF_RANGE at its position', async () => {
    const { manager, subscriptions, onError } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }]);
    expect(subscriptions.partition(orders0)).toMatchObject({
      fetchState: 'awaiting-reset',
      resetStrategy: 'earliest',
      resetReason: { kind: 'out-of-range', offset: 10n },
    });
    expect(onError).not.toHaveBeenCalled();
    expect(fetches(manager, 1_000)).toEqual([]);
  });

  it('only backs off on OFFSET_OUT_OF_RANGE past the buffered data', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(10n, 3) }]);
    const past = onlyFetch(manager, 10, 1);
    expect(asked(past)).toEqual(['orders-0@13']);
    await answer(past, 20, [{ tp: orders0, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }]);
    expect(subscriptions.partition(orders0)?.fetchState).toBe('fetching');
    expect(subscriptions.position(orders0)?.offset).toBe(10n);
    expect(buffer.buffered(orders0, version(subscriptions, orders0))).toBe(3);
    expect(manager.poll(119)).toEqual({ requests: [], nextPollAt: 120 });
    expect(asked(onlyFetch(manager, 120, 1))).toEqual(['orders-0@13']);
  });

  it('asks for a metadata update on NOT_LEADER_OR_FOLLOWER and backs the partition off', async () => {
    const { manager, subscriptions, metadata, onError } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [
      { tp: orders0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER },
      { tp: payments0 },
    ]);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    expect(onError).not.toHaveBeenCalled();
    const poll = manager.poll(10);
    expect(poll.nextPollAt).toBe(110);
    expect(poll.requests.map((request) => asked(request as unknown as Fetch))).toEqual([['payments-0@0']]);
    await answer(poll.requests[0] as unknown as Fetch, 50, [{ tp: payments0 }]);
    const again = manager.poll(109);
    expect(again.nextPollAt).toBe(110);
    expect(again.requests.map((request) => asked(request as unknown as Fetch))).toEqual([['payments-0@0']]);
    await answer(again.requests[0] as unknown as Fetch, 109, [{ tp: payments0 }]);
    expect(asked(onlyFetch(manager, 110, 1))).toEqual(['orders-0@10', 'payments-0@0']);
  });

  it('reports the node of a lost connection and backs off its partitions', () => {
    const { manager, subscriptions, metadata, onError } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    const error = new NetworkError('connection lost', { broker: 'broker-1:9092' });
    onlyFetch(manager, 0, 1).onFailure(error, 10);
    expect(metadata.reportError).toHaveBeenCalledWith(error, { nodeId: 1 });
    expect(onError).not.toHaveBeenCalled();
    expect(manager.poll(109)).toEqual({ requests: [], nextPollAt: 110 });
    expect(asked(onlyFetch(manager, 110, 1))).toEqual(['orders-0@10', 'payments-0@0']);
  });

  it('passes TOPIC_AUTHORIZATION_FAILED to onError and backs off', async () => {
    const { manager, subscriptions, onError } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatchObject({ name: 'KafkaError', code: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
    expect(manager.poll(50)).toEqual({ requests: [], nextPollAt: 110 });
    onlyFetch(manager, 110, 1);
  });

  it('passes corrupt record bytes to onError, buffering nothing, and backs off', async () => {
    const { manager, subscriptions, buffer, onError } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    const bytes = batch(10n, 2);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: bytes }]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatchObject({ name: 'ProtocolError' });
    expect(buffer.buffered(orders0, version(subscriptions, orders0))).toBe(0);
    expect(fetches(manager, 50)).toEqual([]);
    expect(asked(onlyFetch(manager, 110, 1))).toEqual(['orders-0@10']);
  });
});
