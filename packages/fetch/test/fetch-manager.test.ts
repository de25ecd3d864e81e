/** The fetch request manager and its buffer, driven by a fake clock and scripted Fetch answers. */
import { ErrorCode, NetworkError } from '@sluice/net';
import { fetchApi, ZERO_UUID } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import {
  answer,
  asked,
  assign,
  batch,
  cluster,
  concat,
  described,
  type Fetch,
  fetches,
  forgotten,
  malformedAt,
  marker,
  named,
  onlyFetch,
  orders0,
  orders1,
  payments0,
  setup,
  TOPIC_IDS,
  toNode,
  utf8,
  VERSION,
  version,
  withLeader,
} from './fixtures.ts';

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
    // A new session: a full fetch at epoch 0, without a session id yet.
    expect(first.build(13)).toMatchObject({
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 50 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: 0,
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
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(10n, 2) }], { version: 12 });
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['orders-0@10', 'orders-0@11']);
  });

  it('asks for a metadata update while a partition has no known leader, and fetches it once one is known', () => {
    const { manager, subscriptions, metadata } = setup();
    metadata.snapshot = cluster({ leaders: [[orders0, -1]] });
    assign(subscriptions, [[orders0, 10n]]);
    expect(manager.poll(0)).toEqual({ requests: [], nextPollAt: Number.POSITIVE_INFINITY });
    expect(metadata.requestUpdate).toHaveBeenCalled();
    metadata.snapshot = cluster();
    expect(asked(onlyFetch(manager, 50, 1))).toEqual(['orders-0@10']);
  });

  it('moves a partition to its new leader, whose Fetch names it, while the old leader’s session forgets it', async () => {
    const { manager, subscriptions, metadata } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0 }, { tp: payments0 }], { sessionId: 77 });
    metadata.snapshot = cluster({
      leaders: [
        [orders0, 1],
        [orders1, 2],
        [payments0, 2],
      ],
    });
    const requests = fetches(manager, 10);
    expect(requests).toHaveLength(2);
    const old = toNode(requests, 1).build(VERSION);
    expect(old).toMatchObject({ sessionId: 77, sessionEpoch: 1 });
    // orders-0 did not change: an incremental fetch leaves it out.
    expect(named(old)).toEqual([]);
    expect(forgotten(old)).toEqual(['payments-0']);
    const moved = toNode(requests, 2).build(VERSION);
    expect(moved).toMatchObject({ sessionId: 0, sessionEpoch: 0, forgottenTopicsData: [] });
    expect(named(moved)).toEqual(['payments-0@0']);
  });

  it('keeps a partition on its leader when the metadata names an older leader epoch, asking for fresher metadata', () => {
    const { manager, subscriptions, metadata } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    const first = onlyFetch(manager, 0, 1);
    first.onFailure(new NetworkError('connection lost', { broker: 'broker-1:9092' }), 0);
    metadata.requestUpdate.mockClear();
    metadata.snapshot = withLeader(cluster(), orders0, 2, 4);
    const stale = onlyFetch(manager, 100, 1);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    expect(stale.build(VERSION).topics[0]!.partitions[0]!.currentLeaderEpoch).toBe(5);
    stale.onFailure(new NetworkError('connection lost', { broker: 'broker-1:9092' }), 100);
    metadata.snapshot = withLeader(cluster(), orders0, 2, 6);
    const fresh = onlyFetch(manager, 200, 2);
    expect(fresh.build(VERSION).topics[0]!.partitions[0]!).toMatchObject({ fetchOffset: 10n, currentLeaderEpoch: 6 });
  });

  it('rotates the order of a full fetch: the partitions that returned data go to the end', async () => {
    const { manager, subscriptions } = setup();
    assign(subscriptions, [
      [orders0, 0n],
      [payments0, 0n],
    ]);
    // Answers without a session id: every Fetch stays full.
    let request = onlyFetch(manager, 0, 1);
    expect(asked(request)).toEqual(['orders-0@0', 'payments-0@0']);
    await answer(request, 10, [{ tp: orders0, records: batch(0n, 2) }, { tp: payments0 }]);
    request = onlyFetch(manager, 10, 1);
    expect(asked(request)).toEqual(['payments-0@0', 'orders-0@2']);
    // Nothing returned: the order stays.
    await answer(request, 20, [{ tp: orders0 }, { tp: payments0 }]);
    request = onlyFetch(manager, 20, 1);
    expect(asked(request)).toEqual(['payments-0@0', 'orders-0@2']);
    await answer(request, 30, [{ tp: payments0, records: batch(0n, 1) }]);
    expect(asked(onlyFetch(manager, 30, 1))).toEqual(['orders-0@2', 'payments-0@1']);
  });

  it('hands out each record once when a leader move makes two Fetches of a partition overlap', async () => {
    // After a leader move the old leader's answer may still be coming: the partition is not asked of the new
    // leader until it is in, and data that does not start where the buffered data ends is dropped.
    const { manager, subscriptions, metadata, buffer } = setup();
    metadata.snapshot = cluster({
      leaders: [
        [orders0, 1],
        [orders1, 1],
      ],
    });
    assign(subscriptions, [
      [orders0, 10n],
      [orders1, 0n],
    ]);
    const old = onlyFetch(manager, 0, 1);
    metadata.snapshot = cluster({
      leaders: [
        [orders0, 2],
        [orders1, 1],
      ],
    });
    const requests = fetches(manager, 10);
    const moved = requests.find((request) => (request.target as { nodeId: number }).nodeId === 2);
    // The old leader answered with data before it learnt of the move; so does the new one (same replicated data).
    await answer(old, 20, [{ tp: orders0, records: batch(10n, 3) }, { tp: orders1 }]);
    if (moved !== undefined) await answer(moved, 20, [{ tp: orders0, records: batch(10n, 3) }]);
    expect(described(buffer.collect(subscriptions, 100))).toEqual(['orders-0@10', 'orders-0@11', 'orders-0@12']);
    expect(subscriptions.position(orders0)?.offset).toBe(13n);
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
    expect(buffer.nextFetchPosition(orders0, version(subscriptions, orders0))?.offset).toBe(14n);
    expect(buffer.nextFetchPosition(payments0, version(subscriptions, payments0))?.offset).toBe(4n);
    const first = buffer.collect(subscriptions, 3);
    expect(described(first)).toEqual(['orders-0@10', 'orders-0@11', 'orders-0@12']);
    expect(utf8(first[0]!.value as Uint8Array)).toBe('v10');
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

  it('prefetches from where the buffered data ends, naming every fetchable partition however much is buffered', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [
      [orders0, 0n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(0n, 3) }]);
    let request = onlyFetch(manager, 10, 1);
    expect(asked(request)).toEqual(['payments-0@0', 'orders-0@3']);
    expect(subscriptions.position(orders0)?.offset).toBe(0n);
    // No record count stops the read-ahead (the old manager stopped at 1000 buffered records).
    let end = 3n;
    for (let round = 0; round < 4; round++) {
      await answer(request, 20 + round, [{ tp: orders0, records: batch(end, 400) }]);
      end += 400n;
      request = onlyFetch(manager, 20 + round, 1);
      expect(asked(request)).toEqual(['payments-0@0', `orders-0@${end}`]);
    }
    await answer(request, 30, [{ tp: payments0 }]);
    expect(buffer.collect(subscriptions, 1)).toHaveLength(1);
    expect(subscriptions.position(orders0)?.offset).toBe(1n);
    expect(asked(onlyFetch(manager, 30, 1))).toEqual(['payments-0@0', `orders-0@${end}`]);
  });

  it('sends no Fetch while the buffer is full, and fetches again at the collect after the data was drained', async () => {
    const bytes = batch(0n, 3);
    // Room for less than one answer: one answer fills the buffer.
    const { manager, subscriptions, buffer } = setup({}, { maxBytes: bytes.length });
    assign(subscriptions, [
      [orders0, 0n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: bytes }]);
    expect(buffer.bufferedBytes).toBe(bytes.length);
    expect(buffer.full).toBe(true);
    expect(manager.poll(10)).toEqual({ requests: [], nextPollAt: Number.POSITIVE_INFINITY });
    expect(described(buffer.collect(subscriptions, 2))).toEqual(['orders-0@0', 'orders-0@1']);
    expect(manager.poll(20).requests).toEqual([]);
    // Drained, but its records are still the application's until its next poll (the lease rule).
    expect(described(buffer.collect(subscriptions, 2))).toEqual(['orders-0@2']);
    expect(buffer.full).toBe(true);
    expect(manager.poll(30).requests).toEqual([]);
    expect(buffer.collect(subscriptions, 2)).toEqual([]);
    expect(buffer.bufferedBytes).toBe(0);
    expect(asked(onlyFetch(manager, 40, 1))).toEqual(['payments-0@0', 'orders-0@3']);
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
    expect(buffer.nextFetchPosition(orders0, version(subscriptions, orders0))).toBeNull();
    expect(buffer.bufferedBytesOf(orders0)).toBe(0);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['payments-0@0', 'payments-0@1']);
    expect(subscriptions.position(orders0)).toEqual({ offset: 50n, leaderEpoch: -1 });
    expect(asked(onlyFetch(manager, 10, 1))).toEqual(['orders-0@50', 'payments-0@2']);
  });

  it('drops the buffered data of a partition sought after it arrived', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(10n, 4) }]);
    subscriptions.seek(orders0, 12n);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(asked(onlyFetch(manager, 10, 1))).toEqual(['orders-0@12']);
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
    expect(buffer.nextFetchPosition(orders0, ordersVersion)).toBeNull();
    expect(buffer.bufferedBytesOf(orders0)).toBe(0);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['payments-0@0', 'payments-0@1']);
  });

  it('neither fetches nor hands out a paused partition, keeping its records until resume', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    const bytes = batch(10n, 3);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: bytes }]);
    subscriptions.pause([orders0]);
    expect(fetches(manager, 10)).toEqual([]);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(buffer.bufferedBytesOf(orders0)).toBe(bytes.length);
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
    expect(buffer.nextFetchPosition(orders0, version(subscriptions, orders0))?.offset).toBe(13n);
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

  it('buffers the batches before one with a bad CRC; collect reports CorruptRecordError at its offset, and the partition is not fetched again until a seek', async () => {
    const { manager, subscriptions, buffer, onError, bufferErrors } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    const bad = batch(12n, 2);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: concat(batch(10n, 2), bad) }]);
    expect(onError).not.toHaveBeenCalled();
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['orders-0@10', 'orders-0@11']);
    expect(bufferErrors).toHaveBeenCalledTimes(1);
    expect(bufferErrors.mock.calls[0]![0]).toMatchObject({ name: 'CorruptRecordError', partition: 0, offset: 12n });
    expect(subscriptions.position(orders0)?.offset).toBe(12n);
    // Stuck where the application has to decide (Kafka's consumer throws from every poll until a seek).
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(bufferErrors).toHaveBeenCalledTimes(2);
    expect(fetches(manager, 500)).toEqual([]);
    subscriptions.seek(orders0, 14n);
    expect(asked(onlyFetch(manager, 600, 1))).toEqual(['orders-0@14']);
  });

  it('reports a malformed record at every collect and stops fetching the partition until the application seeks', async () => {
    const { manager, subscriptions, buffer, bufferErrors } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: malformedAt(batch(10n, 3), 1) }]);
    // The record before the malformed one is handed out; then the error.
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['orders-0@10']);
    expect(subscriptions.position(orders0)?.offset).toBe(11n);
    expect(bufferErrors).toHaveBeenCalledTimes(1);
    expect(bufferErrors.mock.calls[0]![0]).toMatchObject({ name: 'CorruptRecordError', offset: 11n });
    const blocked = onlyFetch(manager, 20, 1);
    expect(asked(blocked)).toEqual(['payments-0@0']);
    await answer(blocked, 20, [{ tp: payments0 }]);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(bufferErrors).toHaveBeenCalledTimes(2);
    expect(bufferErrors.mock.calls[1]![0]).toBe(bufferErrors.mock.calls[0]![0]);
    subscriptions.seek(orders0, 12n);
    expect(asked(onlyFetch(manager, 30, 1))).toEqual(['payments-0@0', 'orders-0@12']);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(bufferErrors).toHaveBeenCalledTimes(2);
  });
});

describe('FetchManager: fetching from a preferred read replica (KIP-392)', () => {
  it('moves a partition to the replica its leader prefers, out of the leader’s session, and reads from it', async () => {
    const { manager, subscriptions, buffer } = setup({ clientRack: 'rack-b' });
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    const first = onlyFetch(manager, 0, 1);
    expect(first.build(VERSION).rackId).toBe('rack-b');
    // The leader answers with no records and names broker 2, where the client's rack is.
    await answer(first, 10, [{ tp: orders0, preferredReadReplica: 2 }, { tp: payments0 }], { sessionId: 7 });
    const requests = fetches(manager, 10);
    expect(asked(toNode(requests, 2))).toEqual(['orders-0@10']);
    // The leader's session goes on incrementally: nothing changed for payments-0, orders-0 is forgotten.
    const leader = toNode(requests, 1).build(VERSION);
    expect(leader).toMatchObject({ sessionId: 7, sessionEpoch: 1 });
    expect(forgotten(leader)).toEqual(['orders-0']);
    await answer(toNode(requests, 2), 20, [{ tp: orders0, records: batch(10n, 2) }]);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['orders-0@10', 'orders-0@11']);
  });

  it('goes back to the leader at once on an error from the replica, without a reset for an out-of-range answer', async () => {
    for (const errorCode of [
      ErrorCode.OFFSET_OUT_OF_RANGE,
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.OFFSET_NOT_AVAILABLE,
    ]) {
      const { manager, subscriptions } = setup();
      assign(subscriptions, [[orders0, 10n]]);
      await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, preferredReadReplica: 2 }]);
      await answer(onlyFetch(manager, 10, 2), 20, [{ tp: orders0, errorCode }]);
      expect(subscriptions.partition(orders0)?.fetchState).toBe('fetching');
      expect(asked(onlyFetch(manager, 20, 1))).toEqual(['orders-0@10']);
    }
  });

  it('goes back to the leader when a Fetch to the replica fails, when the replica leaves the metadata, and after metadata.max.age.ms', async () => {
    const failed = setup();
    assign(failed.subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(failed.manager, 0, 1), 10, [{ tp: orders0, preferredReadReplica: 2 }]);
    onlyFetch(failed.manager, 10, 2).onFailure(new NetworkError('connection reset', { broker: 'broker-2:9092' }), 20);
    expect(asked(onlyFetch(failed.manager, 200, 1))).toEqual(['orders-0@10']);

    const gone = setup();
    assign(gone.subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(gone.manager, 0, 1), 10, [{ tp: orders0, preferredReadReplica: 3 }]);
    // Broker 3 is not in the metadata: the leader goes on serving.
    expect(asked(onlyFetch(gone.manager, 10, 1))).toEqual(['orders-0@10']);

    const aged = setup({ metadataMaxAgeMs: 1_000 });
    assign(aged.subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(aged.manager, 0, 1), 10, [{ tp: orders0, preferredReadReplica: 2 }]);
    await answer(onlyFetch(aged.manager, 10, 2), 500, [{ tp: orders0 }]);
    const still = onlyFetch(aged.manager, 500, 2);
    expect(asked(still)).toEqual(['orders-0@10']);
    await answer(still, 600, [{ tp: orders0 }]);
    expect(asked(onlyFetch(aged.manager, 1_010, 1))).toEqual(['orders-0@10']);
  });
});

describe('FetchManager: truncation detection (KIP-320)', () => {
  /** What the built Fetch says of each partition, as `topic-partition@offset/lastFetchedEpoch/currentLeaderEpoch`. */
  const epochs = (request: Fetch, fetchVersion = VERSION) =>
    request
      .build(fetchVersion)
      .topics.flatMap((topic) =>
        topic.partitions.map(
          (partition) =>
            `${topic.topic || (topic.topicId === TOPIC_IDS.get('orders') ? 'orders' : 'payments')}-${partition.partition}@${partition.fetchOffset}/${partition.lastFetchedEpoch}/${partition.currentLeaderEpoch}`,
        ),
      );

  it('names each partition with the epoch of the batch before its fetch offset and the leader epoch of the metadata', async () => {
    const { manager, subscriptions, buffer } = setup();
    subscriptions.assignFromUser([orders0, payments0]);
    subscriptions.seek(orders0, 10n, 3);
    subscriptions.seek(payments0, 0n);
    const first = onlyFetch(manager, 0, 1);
    expect(epochs(first)).toEqual(['orders-0@10/3/5', 'payments-0@0/-1/5']);
    // Below Fetch v12 the field does not exist: -1, whatever the position says.
    expect(epochs(first, 11)).toEqual(['orders-0@10/-1/5', 'payments-0@0/-1/5']);
    // Past buffered data: the epoch of the last buffered batch, a control batch after the records included.
    await answer(first, 10, [
      {
        tp: orders0,
        records: concat(
          batch(10n, 2, { partitionLeaderEpoch: 4 }),
          marker(12n, 7n, 'commit', { partitionLeaderEpoch: 7 }),
        ),
      },
      { tp: payments0, records: batch(0n, 3, { partitionLeaderEpoch: 6 }) },
    ]);
    expect(buffer.nextFetchPosition(orders0, version(subscriptions, orders0))).toEqual({ offset: 13n, leaderEpoch: 7 });
    expect(epochs(onlyFetch(manager, 10, 1)).sort()).toEqual(['orders-0@13/7/5', 'payments-0@3/6/5']);
  });

  it('gives the position the epoch of the last record handed out, then of the last batch once a fetch is drained', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [
      {
        tp: orders0,
        records: concat(
          batch(10n, 2, { partitionLeaderEpoch: 4 }),
          batch(12n, 2, { partitionLeaderEpoch: 6 }),
          marker(14n, 7n, 'commit', { partitionLeaderEpoch: 7 }),
        ),
      },
    ]);
    expect(described(buffer.collect(subscriptions, 1))).toEqual(['orders-0@10']);
    expect(subscriptions.position(orders0)).toEqual({ offset: 11n, leaderEpoch: 4 });
    expect(described(buffer.collect(subscriptions, 2))).toEqual(['orders-0@11', 'orders-0@12']);
    expect(subscriptions.position(orders0)).toEqual({ offset: 13n, leaderEpoch: 6 });
    expect(described(buffer.collect(subscriptions, 5))).toEqual(['orders-0@13']);
    // The marker after the last record is read past: its epoch becomes the position's.
    expect(subscriptions.position(orders0)).toEqual({ offset: 15n, leaderEpoch: 7 });
  });

  it('hands a diverging epoch at the position over for validation, with the leader epoch the Fetch carried', async () => {
    const { manager, subscriptions, buffer, onError } = setup();
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 120n, 4);
    const before = version(subscriptions, orders0);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, divergingEpoch: { epoch: 3, endOffset: 100n } }]);
    const state = subscriptions.partition(orders0)!;
    expect(state.fetchState).toBe('awaiting-validation');
    expect(state.version).not.toBe(before);
    expect(state.divergingEpoch).toEqual({ leaderEpoch: 3, endOffset: 100n });
    expect(state.currentLeaderEpoch).toBe(5);
    expect(state.position).toEqual({ offset: 120n, leaderEpoch: 4 });
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(onError).not.toHaveBeenCalled();
    // Not fetched while it awaits validation.
    expect(fetches(manager, 20)).toEqual([]);
    // Once valid again (here: moved to the divergent offset), it is fetched from there.
    expect(subscriptions.completeValidation(orders0, state.version, state.divergingEpoch, 5).kind).toBe('moved');
    expect(epochs(onlyFetch(manager, 30, 1))).toEqual(['orders-0@100/3/5']);
  });

  it('drops the buffered data on a diverging epoch past it, and has the position validated by request', async () => {
    const { manager, subscriptions, buffer } = setup();
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 10n, 5);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: batch(10n, 5) }]);
    await answer(onlyFetch(manager, 10, 1), 20, [{ tp: orders0, divergingEpoch: { epoch: 4, endOffset: 12n } }]);
    const state = subscriptions.partition(orders0)!;
    expect(state.fetchState).toBe('awaiting-validation');
    // The answer was about the end of the buffered data, not the position: OffsetForLeaderEpoch decides.
    expect(state.divergingEpoch).toBeNull();
    expect(state.position).toEqual({ offset: 10n, leaderEpoch: 5 });
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    buffer.retain(subscriptions);
    expect(buffer.bufferedBytesOf(orders0)).toBe(0);
  });

  it('sends a partition back to its leader on a diverging epoch from a preferred read replica, without validation', async () => {
    const { manager, subscriptions } = setup({ clientRack: 'rack-b' });
    subscriptions.assignFromUser([orders0]);
    subscriptions.seek(orders0, 10n, 5);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, preferredReadReplica: 2 }]);
    await answer(onlyFetch(manager, 10, 2), 20, [{ tp: orders0, divergingEpoch: { epoch: 5, endOffset: 8n } }]);
    expect(subscriptions.partition(orders0)?.fetchState).toBe('fetching');
    expect(epochs(onlyFetch(manager, 20, 1))).toEqual(['orders-0@10/5/5']);
  });
});
