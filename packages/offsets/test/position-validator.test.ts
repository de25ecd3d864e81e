/** Truncation detection (KIP-320): positions checked with OffsetForLeaderEpoch, on a fake clock. */
import { type ClusterSnapshot, ErrorCode, NetworkError, UnsupportedVersionError } from '@sluice/net';
import {
  defaultOffsetForLeaderEpochResponse,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
  offsetForLeaderEpochApi,
} from '@sluice/protocol';
import { type OffsetResetStrategy, SubscriptionState, type TopicPartition, type UnsentRequest } from '@sluice/runtime';
import { describe, expect, it, vi } from 'vitest';
import { fakeCluster } from '../../runtime/test/fake-cluster.ts';
import { LogTruncationError, LogTruncationWarning } from '../src/errors.ts';
import { PositionValidator } from '../src/position-validator.ts';

type EpochRequest = UnsentRequest<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>;

const orders0: TopicPartition = { topic: 'orders', partition: 0 };
const orders1: TopicPartition = { topic: 'orders', partition: 1 };
const payments0: TopicPartition = { topic: 'payments', partition: 0 };

/** orders-0 and payments-0 led by broker 1, orders-1 by broker 2, at leader epoch 5 unless `epochs` says otherwise. */
function cluster(epochs: ReadonlyArray<readonly [TopicPartition, number, number?]> = []): ClusterSnapshot {
  const snapshot = fakeCluster({
    leaders: [
      [orders0, 1],
      [orders1, 2],
      [payments0, 1],
    ],
  });
  const topics = new Map(snapshot.topics);
  for (const [tp, leaderEpoch, leaderId] of epochs) {
    const topic = topics.get(tp.topic)!;
    topics.set(tp.topic, {
      ...topic,
      partitions: topic.partitions.map((info) =>
        info.partition === tp.partition ? { ...info, leaderEpoch, leaderId: leaderId ?? info.leaderId } : info,
      ),
    });
  }
  return { ...snapshot, topics };
}

/** No jitter: retry.backoff.ms 100 gives 100, 200, 400 ... up to retry.backoff.max.ms 1000. */
function setup(options: { strategy?: OffsetResetStrategy } = {}) {
  const subscriptions = new SubscriptionState({ defaultResetStrategy: options.strategy ?? 'earliest' });
  const metadata = { snapshot: cluster() as ClusterSnapshot | null, requestUpdate: vi.fn(), reportError: vi.fn() };
  const onError = vi.fn<(error: Error) => void>();
  const onWarning = vi.fn<(warning: LogTruncationWarning) => void>();
  const validator = new PositionValidator({
    subscriptions,
    metadata,
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    onError,
    onWarning,
    random: () => 0.5,
  });
  return { validator, subscriptions, metadata, onError, onWarning };
}

/** The partitions fetching from these positions (offset, epoch), bound to leader epoch 5 as after reading. */
function reading(
  subscriptions: SubscriptionState,
  positions: ReadonlyArray<readonly [TopicPartition, bigint, number]>,
): void {
  subscriptions.assignFromUser(positions.map(([tp]) => tp));
  for (const [tp, offset, leaderEpoch] of positions) {
    subscriptions.seek(tp, offset);
    subscriptions.bindLeaderEpoch(tp, 5);
    subscriptions.advance(tp, subscriptions.partition(tp)!.version, offset, leaderEpoch);
  }
}

function requests(validator: PositionValidator, now: number): EpochRequest[] {
  const { requests: sent } = validator.poll(now);
  for (const request of sent) expect(request.api).toBe(offsetForLeaderEpochApi);
  return sent as unknown as EpochRequest[];
}

function only(validator: PositionValidator, now: number, nodeId: number): EpochRequest {
  const sent = requests(validator, now);
  expect(sent.map((request) => request.target)).toEqual([{ nodeId }]);
  return sent[0]!;
}

/** What a request asks, as `topic-partition@leaderEpoch/currentLeaderEpoch`. */
function asked(request: EpochRequest): string[] {
  return request
    .build(4)
    .topics.flatMap((topic) =>
      topic.partitions.map(
        (partition) => `${topic.topic}-${partition.partition}@${partition.leaderEpoch}/${partition.currentLeaderEpoch}`,
      ),
    );
}

interface EndOffset {
  readonly tp: TopicPartition;
  readonly leaderEpoch?: number;
  readonly endOffset?: bigint;
  readonly errorCode?: number;
}

function epochAnswer(entries: readonly EndOffset[]): OffsetForLeaderEpochResponse {
  const topics = new Map<string, EndOffset[]>();
  for (const entry of entries) topics.set(entry.tp.topic, [...(topics.get(entry.tp.topic) ?? []), entry]);
  return {
    ...defaultOffsetForLeaderEpochResponse(),
    topics: [...topics].map(([topic, list]) => ({
      topic,
      partitions: list.map((entry) => ({
        errorCode: entry.errorCode ?? ErrorCode.NONE,
        partition: entry.tp.partition,
        leaderEpoch: entry.leaderEpoch ?? -1,
        endOffset: entry.endOffset ?? -1n,
      })),
    })),
  };
}

async function answer(request: EpochRequest, now: number, entries: readonly EndOffset[]): Promise<void> {
  request.build(4);
  await request.onResponse(epochAnswer(entries), { version: 4, nodeId: 1, now });
}

describe('PositionValidator: when a position is validated', () => {
  it('validates the positions of a partition whose leader changed, with the position’s epoch and the new leader’s', async () => {
    const { validator, subscriptions, metadata } = setup();
    reading(subscriptions, [
      [orders0, 120n, 4],
      [payments0, 7n, 5],
    ]);
    expect(requests(validator, 0)).toEqual([]);
    metadata.snapshot = cluster([[orders0, 6, 2]]);
    const request = only(validator, 10, 2);
    expect(request.versions).toEqual({ floor: 3 });
    expect(request.timeoutMs).toBe(30_000);
    expect(request.build(4)).toMatchObject({ replicaId: -1 });
    expect(asked(request)).toEqual(['orders-0@4/6']);
    expect(subscriptions.partition(orders0)?.fetchState).toBe('awaiting-validation');
    expect(subscriptions.partition(payments0)?.fetchState).toBe('fetching');
    // Asked once while the answer is on its way.
    expect(requests(validator, 20)).toEqual([]);
    await answer(request, 30, [{ tp: orders0, leaderEpoch: 4, endOffset: 130n }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 120n, leaderEpoch: 4 });
    expect(subscriptions.partition(orders0)?.currentLeaderEpoch).toBe(6);
    expect(requests(validator, 40)).toEqual([]);
  });

  it('binds a position without an epoch to the leader epoch, and ignores metadata naming an older epoch', () => {
    const { validator, subscriptions, metadata } = setup();
    reading(subscriptions, [
      [orders0, 10n, -1],
      [orders1, 20n, 5],
    ]);
    // A seek without an epoch (nothing read yet): there is nothing to check.
    subscriptions.seek(orders0, 10n);
    expect(subscriptions.partition(orders0)?.currentLeaderEpoch).toBe(-1);
    expect(requests(validator, 0)).toEqual([]);
    expect(subscriptions.partition(orders0)?.currentLeaderEpoch).toBe(5);
    metadata.snapshot = cluster([[orders1, 4]]);
    expect(requests(validator, 10)).toEqual([]);
    expect(subscriptions.partition(orders1)).toMatchObject({ fetchState: 'fetching', currentLeaderEpoch: 5 });
  });

  it('validates a position with an epoch that was never checked (a seek with an epoch)', async () => {
    const { validator, subscriptions } = setup();
    subscriptions.assignFromUser([orders0, orders1]);
    subscriptions.seek(orders0, 42n, 3);
    subscriptions.seek(orders1, 17n, 2);
    const sent = requests(validator, 0);
    expect(sent.map((request) => asked(request))).toEqual([['orders-0@3/5'], ['orders-1@2/5']]);
    await answer(sent[0]!, 10, [{ tp: orders0, leaderEpoch: 3, endOffset: 42n }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 42n, leaderEpoch: 3 });
    expect(subscriptions.position(orders1)).toBeNull();
  });

  it('takes the position as it is where the metadata gives no leader epoch, as Java’s consumer does', () => {
    const { validator, subscriptions, metadata } = setup();
    metadata.snapshot = cluster([[orders0, -1]]);
    subscriptions.assignFromUser([orders0]);
    subscriptions.completePosition(
      orders0,
      subscriptions.partition(orders0)!.version,
      { offset: 8n, leaderEpoch: 3 },
      {
        validate: true,
      },
    );
    expect(subscriptions.partition(orders0)?.fetchState).toBe('awaiting-validation');
    expect(requests(validator, 0)).toEqual([]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 8n, leaderEpoch: 3 });
  });

  it('completes a diverging epoch handed over by a Fetch without a request', () => {
    const { validator, subscriptions, onWarning } = setup();
    reading(subscriptions, [[orders0, 120n, 4]]);
    requests(validator, 0);
    const version = subscriptions.partition(orders0)!.version;
    subscriptions.requestValidation(orders0, version, {
      divergingEpoch: { leaderEpoch: 3, endOffset: 100n },
      currentLeaderEpoch: 5,
    });
    expect(requests(validator, 10)).toEqual([]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 100n, leaderEpoch: 3 });
    expect(onWarning).toHaveBeenCalledTimes(1);
  });

  it('restarts a validation when a newer leader comes while the old one is asked: the old answer is dropped', async () => {
    const { validator, subscriptions, metadata } = setup();
    reading(subscriptions, [[orders0, 120n, 4]]);
    requests(validator, 0);
    metadata.snapshot = cluster([[orders0, 6]]);
    const first = only(validator, 10, 1);
    metadata.snapshot = cluster([[orders0, 7, 2]]);
    const second = only(validator, 20, 2);
    expect(asked(second)).toEqual(['orders-0@4/7']);
    await answer(first, 30, [{ tp: orders0, leaderEpoch: 4, endOffset: 130n }]);
    expect(subscriptions.partition(orders0)?.fetchState).toBe('awaiting-validation');
    await answer(second, 40, [{ tp: orders0, leaderEpoch: 4, endOffset: 130n }]);
    expect(subscriptions.partition(orders0)).toMatchObject({ fetchState: 'fetching', currentLeaderEpoch: 7 });
  });

  it('asks for metadata and backs off while the partition has no known leader', () => {
    const { validator, subscriptions, metadata } = setup();
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 42n, 3);
    subscriptions.requestValidation(orders0, subscriptions.partition(orders0)!.version);
    metadata.snapshot = cluster([[orders0, 5, -1]]);
    expect(validator.poll(0)).toEqual({ requests: [], nextPollAt: 100 });
    expect(metadata.requestUpdate).toHaveBeenCalled();
    metadata.snapshot = cluster();
    expect(requests(validator, 50)).toEqual([]);
    expect(asked(only(validator, 100, 1))).toEqual(['orders-0@3/5']);
  });
});

describe('PositionValidator: truncation', () => {
  it('moves a truncated position to the divergent offset and warns, with a reset strategy', async () => {
    const { validator, subscriptions, metadata, onWarning, onError } = setup();
    reading(subscriptions, [
      [orders0, 120n, 4],
      [payments0, 30n, 5],
    ]);
    requests(validator, 0);
    metadata.snapshot = cluster([
      [orders0, 6],
      [payments0, 6],
    ]);
    await answer(only(validator, 10, 1), 20, [
      { tp: orders0, leaderEpoch: 3, endOffset: 100n },
      { tp: payments0, leaderEpoch: 5, endOffset: 30n },
    ]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 100n, leaderEpoch: 3 });
    expect(subscriptions.position(payments0)).toEqual({ offset: 30n, leaderEpoch: 5 });
    expect(onWarning).toHaveBeenCalledTimes(1);
    const warning = onWarning.mock.calls[0]![0];
    expect(warning).toBeInstanceOf(LogTruncationWarning);
    expect(warning.code).toBe('SLUICE_LOG_TRUNCATION');
    expect(warning.action).toBe('moved');
    expect(warning.truncations).toEqual([
      { ...orders0, position: { offset: 120n, leaderEpoch: 4 }, divergentOffset: { offset: 100n, leaderEpoch: 3 } },
    ]);
    expect(warning.message).toContain('orders-0 at offset 120 (leader epoch 4)');
    expect(warning.message).toContain('diverges from offset 100 (leader epoch 3)');
    expect(onError).not.toHaveBeenCalled();
    // The new position is known to hold under the new leader: no second validation.
    expect(requests(validator, 30)).toEqual([]);
  });

  it('resets to auto.offset.reset, with a warning, where the leader knows no end for the epoch', async () => {
    const { validator, subscriptions, onWarning } = setup({ strategy: 'latest' });
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 42n, 9);
    await answer(only(validator, 0, 1), 10, [{ tp: orders0, leaderEpoch: -1, endOffset: -1n }]);
    expect(subscriptions.partition(orders0)).toMatchObject({
      fetchState: 'awaiting-reset',
      resetStrategy: 'latest',
      resetReason: { kind: 'log-truncation', offset: 42n },
    });
    expect(onWarning.mock.calls[0]![0]).toMatchObject({
      action: 'reset',
      truncations: [{ ...orders0, position: { offset: 42n, leaderEpoch: 9 }, divergentOffset: null }],
    });
    expect(onWarning.mock.calls[0]![0].message).toContain('auto.offset.reset=latest');
  });

  it('with auto.offset.reset=none, keeps the partition stopped with its truncation (LogTruncationError) until a seek', async () => {
    const { validator, subscriptions, metadata, onError, onWarning } = setup({ strategy: 'none' });
    reading(subscriptions, [
      [orders0, 120n, 4],
      [payments0, 50n, 4],
    ]);
    requests(validator, 0);
    metadata.snapshot = cluster([
      [orders0, 6],
      [payments0, 6],
    ]);
    await answer(only(validator, 10, 1), 20, [
      { tp: orders0, leaderEpoch: 3, endOffset: 100n },
      { tp: payments0, leaderEpoch: -1, endOffset: -1n },
    ]);
    expect(onWarning).not.toHaveBeenCalled();
    // Nothing reported from here: the application throws from the partitions' state at every poll until a seek.
    expect(onError).not.toHaveBeenCalled();
    const truncations = [orders0, payments0].map((tp) => subscriptions.partition(tp)!.truncation!);
    expect(truncations).toEqual([
      { ...orders0, position: { offset: 120n, leaderEpoch: 4 }, divergentOffset: { offset: 100n, leaderEpoch: 3 } },
      { ...payments0, position: { offset: 50n, leaderEpoch: 4 }, divergentOffset: null },
    ]);
    const error = new LogTruncationError(truncations);
    expect(error.name).toBe('LogTruncationError');
    expect(error.partitions).toEqual([orders0, payments0]);
    expect(error.fetchPositions).toEqual([
      { ...orders0, offset: 120n, leaderEpoch: 4 },
      { ...payments0, offset: 50n, leaderEpoch: 4 },
    ]);
    expect(error.divergentOffsets).toEqual([{ ...orders0, offset: 100n, leaderEpoch: 3 }]);
    expect(error.message).toContain('orders-0 at offset 120 (leader epoch 4)');
    expect(error.message).toContain('payments-0 at offset 50 (leader epoch 4): the leader has no end offset');
    expect(error.message).toContain('seek to go on');
    // Neither asked again nor repaired.
    expect(validator.poll(30)).toEqual({ requests: [], nextPollAt: Number.POSITIVE_INFINITY });
    expect(requests(validator, 30_019)).toEqual([]);
    expect(requests(validator, 40_000)).toEqual([]);
    expect(subscriptions.partition(orders0)?.fetchState).toBe('awaiting-validation');
    subscriptions.seek(orders0, 100n, 3);
    subscriptions.seek(payments0, 0n);
    // The seek with an epoch is checked like any other.
    const check = only(validator, 50_000, 1);
    expect(asked(check)).toEqual(['orders-0@3/6']);
    expect(onError).not.toHaveBeenCalled();
    await answer(check, 50_010, [{ tp: orders0, leaderEpoch: 3, endOffset: 100n }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 100n, leaderEpoch: 3 });
  });
});

describe('PositionValidator: brokers and errors', () => {
  it('skips validation on a broker without OffsetForLeaderEpoch v3, or a partition answered UNSUPPORTED_VERSION', async () => {
    const { validator, subscriptions, onError } = setup();
    subscriptions.assignFromUser([orders0, orders1]);
    subscriptions.seek(orders0, 42n, 3);
    subscriptions.seek(orders1, 17n, 2);
    const [toFirst, toSecond] = requests(validator, 0);
    toFirst!.onFailure(new UnsupportedVersionError('OffsetForLeaderEpoch: no v3', { api: 'OffsetForLeaderEpoch' }), 5);
    expect(subscriptions.position(orders0)).toEqual({ offset: 42n, leaderEpoch: 3 });
    await answer(toSecond!, 10, [{ tp: orders1, errorCode: ErrorCode.UNSUPPORTED_VERSION }]);
    expect(subscriptions.position(orders1)).toEqual({ offset: 17n, leaderEpoch: 2 });
    expect(onError).not.toHaveBeenCalled();
  });

  it('retries NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH with fresh metadata and a growing backoff', async () => {
    const { validator, subscriptions, metadata, onError } = setup();
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 42n, 3);
    let now = 0;
    let backoff = 100;
    for (const errorCode of [
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.FENCED_LEADER_EPOCH,
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    ]) {
      metadata.requestUpdate.mockClear();
      await answer(only(validator, now, 1), now, [{ tp: orders0, errorCode }]);
      expect(metadata.requestUpdate).toHaveBeenCalled();
      expect(validator.poll(now + 1)).toEqual({ requests: [], nextPollAt: now + backoff });
      now += backoff;
      backoff *= 2;
    }
    await answer(only(validator, now, 1), now, [{ tp: orders0, leaderEpoch: 3, endOffset: 50n }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 42n, leaderEpoch: 3 });
    expect(onError).not.toHaveBeenCalled();
  });

  it('retries a partition the answer left out, and a lost connection (reported to the metadata)', async () => {
    const { validator, subscriptions, metadata } = setup();
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 42n, 3);
    await answer(only(validator, 0, 1), 0, []);
    const lost = new NetworkError('connection lost', { broker: 'broker-1:9092' });
    only(validator, 100, 1).onFailure(lost, 100);
    expect(metadata.reportError).toHaveBeenCalledWith(lost, { nodeId: 1 });
    expect(validator.poll(101).nextPollAt).toBe(300);
    expect(asked(only(validator, 300, 1))).toEqual(['orders-0@3/5']);
  });

  it('reports TOPIC_AUTHORIZATION_FAILED to the application, and asks again after the backoff', async () => {
    const { validator, subscriptions, onError } = setup();
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 42n, 3);
    await answer(only(validator, 0, 1), 0, [{ tp: orders0, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0].message).toContain('TOPIC_AUTHORIZATION_FAILED');
    expect(subscriptions.partition(orders0)?.fetchState).toBe('awaiting-validation');
    expect(requests(validator, 50)).toEqual([]);
    expect(asked(only(validator, 100, 1))).toEqual(['orders-0@3/5']);
  });

  it('drops the answer for a partition sought meanwhile', async () => {
    const { validator, subscriptions } = setup();
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 42n, 3);
    const request = only(validator, 0, 1);
    subscriptions.seek(orders0, 7n);
    await answer(request, 10, [{ tp: orders0, leaderEpoch: 1, endOffset: 0n }]);
    expect(subscriptions.position(orders0)).toEqual({ offset: 7n, leaderEpoch: -1 });
  });
});
