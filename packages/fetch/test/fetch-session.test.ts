/** KIP-227 fetch sessions: the client's state machine alone, then as the fetch manager drives it. */
import { ErrorCode, NetworkError } from '@sluice/net';
import type { Uuid } from '@sluice/protocol';
import type { TopicPartition } from '@sluice/runtime';
import { describe, expect, it } from 'vitest';
import { FetchSession, nextEpoch, type SessionPartition, type SessionRequest } from '../src/fetch-session.ts';
import {
  answer,
  assign,
  batch,
  fetches,
  forgotten,
  named,
  onlyFetch,
  orders0,
  orders1,
  payments0,
  setup,
  TOPIC_IDS,
  toNode,
} from './fixtures.ts';

const ORDERS_ID = TOPIC_IDS.get('orders')!;
const PAYMENTS_ID = TOPIC_IDS.get('payments')!;
const RECREATED_ID: Uuid = 'cmVjcmVhdGVkLW9yZGVycw';

function part(tp: TopicPartition, fetchOffset: bigint, patch: Partial<SessionPartition> = {}): SessionPartition {
  return {
    tp,
    topicId: tp.topic === 'orders' ? ORDERS_ID : PAYMENTS_ID,
    fetchOffset,
    currentLeaderEpoch: 5,
    lastFetchedEpoch: -1,
    maxBytes: 1024,
    ...patch,
  };
}

const tpName = (tp: TopicPartition) => `${tp.topic}-${tp.partition}`;

/** A request as `sessionId/epoch full|incr send=[...] forget=[...]`, for one-line expectations. */
function summary(request: SessionRequest) {
  return {
    sessionId: request.sessionId,
    sessionEpoch: request.sessionEpoch,
    full: request.full,
    toSend: request.toSend.map((partition) => `${tpName(partition.tp)}@${partition.fetchOffset}`),
    toForget: request.toForget.map((partition) => tpName(partition.tp)),
  };
}

/** Builds the next Fetch and answers it. */
function round(
  session: FetchSession,
  next: readonly SessionPartition[],
  response: { errorCode?: number; sessionId: number },
  version = 13,
) {
  const request = session.build(next, version);
  const usable = session.handleResponse(request, { errorCode: response.errorCode ?? 0, sessionId: response.sessionId });
  return { request, usable };
}

/** A session with id 42 whose broker holds orders-0@10 and payments-0@0 (after one full fetch). */
function established(version = 13) {
  const session = new FetchSession();
  const partitions = [part(orders0, 10n), part(payments0, 0n)];
  round(session, partitions, { sessionId: 42 }, version);
  return { session, partitions };
}

describe('FetchSession', () => {
  it('starts with a full fetch at epoch 0 without id, then goes incremental under the id the broker gave', () => {
    const session = new FetchSession();
    expect(session).toMatchObject({ sessionId: 0, epoch: 0, size: 0 });
    const partitions = [part(payments0, 0n), part(orders0, 10n)];
    const first = session.build(partitions, 13);
    expect(summary(first)).toEqual({
      sessionId: 0,
      sessionEpoch: 0,
      full: true,
      toSend: ['payments-0@0', 'orders-0@10'],
      toForget: [],
    });
    expect(first.version).toBe(13);
    expect(session.handleResponse(first, { errorCode: 0, sessionId: 42 })).toBe(true);
    expect(session).toMatchObject({ sessionId: 42, epoch: 1, size: 2, fullFetches: 1, incrementalFetches: 0 });
    for (const epoch of [1, 2, 3]) {
      const { request } = round(session, partitions, { sessionId: 42 });
      expect(summary(request)).toEqual({ sessionId: 42, sessionEpoch: epoch, full: false, toSend: [], toForget: [] });
      expect([...request.partitions.keys()].map(tpName)).toEqual(['payments-0', 'orders-0']);
    }
    expect(session).toMatchObject({ epoch: 4, fullFetches: 1, incrementalFetches: 3 });
  });

  it('moves the epoch on only when an answer was handled', () => {
    const { session, partitions } = established();
    expect(session.build(partitions, 13).sessionEpoch).toBe(1);
    expect(session.build(partitions, 13).sessionEpoch).toBe(1);
  });

  it('names only the added and changed partitions in an incremental fetch, and forgets the removed ones', () => {
    const { session } = established();
    const next = [
      part(orders0, 13n),
      part(orders1, 0n),
      // payments-0 is left out.
    ];
    const { request } = round(session, next, { sessionId: 42 });
    expect(summary(request)).toEqual({
      sessionId: 42,
      sessionEpoch: 1,
      full: false,
      toSend: ['orders-0@13', 'orders-1@0'],
      toForget: ['payments-0'],
    });
    expect([...request.partitions.keys()].map(tpName)).toEqual(['orders-0', 'orders-1']);
    expect(session.size).toBe(2);
    // Any fetch parameter counts as a change.
    for (const patch of [{ currentLeaderEpoch: 6 }, { lastFetchedEpoch: 4 }, { maxBytes: 2048 }]) {
      const changed = session.build([part(orders0, 13n, patch), part(orders1, 0n)], 13);
      expect(summary(changed).toSend).toEqual(['orders-0@13']);
      expect(changed.toForget).toEqual([]);
    }
  });

  it('forgets a partition under its old topic id and adds it under the new one when the topic id changed (v13+)', () => {
    const { session } = established();
    const { request } = round(session, [part(orders0, 10n, { topicId: RECREATED_ID }), part(payments0, 0n)], {
      sessionId: 42,
    });
    expect(request.toForget).toEqual([{ tp: orders0, topicId: ORDERS_ID }]);
    expect(request.toSend.map((partition) => [tpName(partition.tp), partition.topicId])).toEqual([
      ['orders-0', RECREATED_ID],
    ]);
    // Below v13 topics go by name: a topic id change is no change.
    const named = established(12).session;
    const below = named.build([part(orders0, 10n, { topicId: RECREATED_ID }), part(payments0, 0n)], 12);
    expect(summary(below)).toMatchObject({ full: false, toSend: [], toForget: [] });
  });

  it('starts a full fetch under the same id when the Fetch version crosses v13 either way', () => {
    const { session, partitions } = established(12);
    const up = session.build(partitions, 13);
    expect(summary(up)).toMatchObject({ sessionId: 42, sessionEpoch: 0, full: true });
    expect(up.toSend).toHaveLength(2);
    session.handleResponse(up, { errorCode: 0, sessionId: 42 });
    expect(session.build(partitions, 13)).toMatchObject({ sessionEpoch: 1, full: false });
    const down = session.build(partitions, 12);
    expect(summary(down)).toMatchObject({ sessionId: 42, sessionEpoch: 0, full: true });
  });

  it('has no sessions below Fetch v7: every Fetch is full and sessionless', () => {
    const session = new FetchSession();
    const partitions = [part(orders0, 10n)];
    for (let index = 0; index < 3; index++) {
      const { request, usable } = round(session, partitions, { sessionId: 42 }, 6);
      expect(usable).toBe(true);
      expect(summary(request)).toEqual({
        sessionId: 0,
        sessionEpoch: -1,
        full: true,
        toSend: ['orders-0@10'],
        toForget: [],
      });
    }
    expect(session).toMatchObject({ sessionId: 0, epoch: 0, size: 0 });
  });

  it('stays on full fetches while the broker answers them with session id 0 (no session kept)', () => {
    const session = new FetchSession();
    const partitions = [part(orders0, 10n)];
    for (let index = 0; index < 3; index++) {
      const { request } = round(session, partitions, { sessionId: 0 });
      expect(summary(request)).toMatchObject({ sessionId: 0, sessionEpoch: 0, full: true, toSend: ['orders-0@10'] });
    }
    expect(session).toMatchObject({ sessionId: 0, epoch: 0, size: 0, fullFetches: 3 });
  });

  it('starts over without an id when the broker answers an incremental fetch with session id 0 (it closed it)', () => {
    const { session, partitions } = established();
    expect(round(session, partitions, { sessionId: 0 }).usable).toBe(true);
    expect(summary(session.build(partitions, 13))).toMatchObject({ sessionId: 0, sessionEpoch: 0, full: true });
    expect(session.size).toBe(0);
  });

  it('starts over without an id after FETCH_SESSION_ID_NOT_FOUND', () => {
    const { session, partitions } = established();
    const { usable } = round(session, partitions, { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0 });
    expect(usable).toBe(false);
    const next = session.build(partitions, 13);
    expect(summary(next)).toMatchObject({ sessionId: 0, sessionEpoch: 0, full: true });
    expect(next.toSend).toHaveLength(2);
  });

  it.each([
    ['INVALID_FETCH_SESSION_EPOCH', ErrorCode.INVALID_FETCH_SESSION_EPOCH],
    ['FETCH_SESSION_TOPIC_ID_ERROR', ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR],
  ])('starts a new session under the same id after %s', (_, code) => {
    const { session, partitions } = established();
    round(session, partitions, { sessionId: 42 });
    const { usable } = round(session, partitions, { errorCode: code, sessionId: 0 });
    expect(usable).toBe(false);
    const next = session.build(partitions, 13);
    expect(summary(next)).toMatchObject({ sessionId: 42, sessionEpoch: 0, full: true });
    expect(next.toSend).toHaveLength(2);
    expect(session.size).toBe(0);
  });

  it('starts a new session under the same id after a Fetch that got no answer', () => {
    const { session, partitions } = established();
    session.build(partitions, 13);
    session.handleFailure();
    expect(summary(session.build(partitions, 13))).toMatchObject({ sessionId: 42, sessionEpoch: 0, full: true });
  });

  it('starts a new session under the same id after another top-level error, whose answer is still usable', () => {
    const { session, partitions } = established();
    const { usable } = round(session, partitions, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, sessionId: 0 });
    expect(usable).toBe(true);
    expect(summary(session.build(partitions, 13))).toMatchObject({ sessionId: 42, sessionEpoch: 0, full: true });
  });

  it('wraps the epoch from 2^31-1 to 1, never reusing 0 (a new session) or -1 (no session)', () => {
    expect(nextEpoch(1)).toBe(2);
    expect(nextEpoch(0x7ffffffe)).toBe(0x7fffffff);
    expect(nextEpoch(0x7fffffff)).toBe(1);
    // The session moves on through the same function.
    const { session, partitions } = established();
    const request = session.build(partitions, 13);
    const before = session.epoch;
    session.handleResponse(request, { errorCode: 0, sessionId: 42 });
    expect(session.epoch).toBe(nextEpoch(before));
  });
});

describe('FetchManager: fetch sessions', () => {
  it('sends a full Fetch first, then incremental ones naming only the partitions whose fetch offset moved', async () => {
    const { manager, subscriptions, buffer } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    const first = await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0 }, { tp: payments0 }], { sessionId: 42 });
    expect(first).toMatchObject({ sessionId: 0, sessionEpoch: 0, forgottenTopicsData: [] });
    expect(named(first)).toEqual(['orders-0@10', 'payments-0@0']);
    // Nothing changed: an incremental Fetch that names no partition.
    const second = await answer(onlyFetch(manager, 10, 1), 20, [{ tp: payments0, records: batch(0n, 2) }], {
      sessionId: 42,
    });
    expect(second).toMatchObject({ sessionId: 42, sessionEpoch: 1, topics: [], forgottenTopicsData: [] });
    // The broker answered for a partition the Fetch did not name, as a session does: its data is taken.
    expect(buffer.nextFetchPosition(payments0, subscriptions.partition(payments0)!.version)?.offset).toBe(2n);
    const third = await answer(onlyFetch(manager, 20, 1), 30, [], { sessionId: 42 });
    expect(third).toMatchObject({ sessionId: 42, sessionEpoch: 2, forgottenTopicsData: [] });
    expect(named(third)).toEqual(['payments-0@2']);
    expect(manager.sessions().get(1)).toMatchObject({ sessionId: 42, epoch: 3, fullFetches: 1, incrementalFetches: 2 });
  });

  it.each([
    ['INVALID_FETCH_SESSION_EPOCH', ErrorCode.INVALID_FETCH_SESSION_EPOCH, 42],
    ['FETCH_SESSION_TOPIC_ID_ERROR', ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, 42],
    ['FETCH_SESSION_ID_NOT_FOUND', ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 0],
  ])('sends a full Fetch at once, without backing off, after %s', async (_, errorCode, sessionId) => {
    const { manager, subscriptions, buffer, onError } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [], { sessionId: 42 });
    await answer(onlyFetch(manager, 10, 1), 20, [{ tp: orders0, records: batch(10n, 2) }], { errorCode });
    // Whatever else the answer held is not used.
    expect(buffer.bufferedBytes).toBe(0);
    expect(onError).not.toHaveBeenCalled();
    const retry = onlyFetch(manager, 20, 1).build(13);
    expect(retry).toMatchObject({ sessionId, sessionEpoch: 0, forgottenTopicsData: [] });
    expect(named(retry)).toEqual(['orders-0@10', 'payments-0@0']);
  });

  it('starts a new session under the same id after a lost connection, once the back-off ends', async () => {
    const { manager, subscriptions } = setup();
    assign(subscriptions, [[orders0, 10n]]);
    await answer(onlyFetch(manager, 0, 1), 10, [], { sessionId: 42 });
    onlyFetch(manager, 10, 1).onFailure(new NetworkError('connection lost', { broker: 'broker-1:9092' }), 20);
    expect(manager.poll(119).requests).toEqual([]);
    const retry = onlyFetch(manager, 120, 1).build(13);
    expect(retry).toMatchObject({ sessionId: 42, sessionEpoch: 0 });
    expect(named(retry)).toEqual(['orders-0@10']);
  });

  it('forgets a paused partition, and names only it again on resume', async () => {
    const { manager, subscriptions } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [], { sessionId: 42 });
    subscriptions.pause([payments0]);
    const paused = await answer(onlyFetch(manager, 10, 1), 20, [], { sessionId: 42 });
    expect(paused).toMatchObject({ sessionId: 42, sessionEpoch: 1, topics: [] });
    expect(forgotten(paused)).toEqual(['payments-0']);
    expect(paused.forgottenTopicsData).toMatchObject([{ topicId: PAYMENTS_ID, partitions: [0] }]);
    subscriptions.resume([payments0]);
    const resumed = await answer(onlyFetch(manager, 20, 1), 30, [], { sessionId: 42 });
    expect(resumed).toMatchObject({ sessionId: 42, sessionEpoch: 2, forgottenTopicsData: [] });
    expect(named(resumed)).toEqual(['payments-0@0']);
  });

  it('names topics of forgotten partitions by name below v13', async () => {
    const { manager, subscriptions } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [], { sessionId: 42, version: 12 });
    subscriptions.pause([payments0]);
    const paused = await answer(onlyFetch(manager, 10, 1), 20, [], { sessionId: 42, version: 12 });
    expect(paused).toMatchObject({ sessionEpoch: 1, forgottenTopicsData: [{ topic: 'payments', partitions: [0] }] });
  });

  it('names only a sought partition again, at its new offset', async () => {
    const { manager, subscriptions } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    await answer(onlyFetch(manager, 0, 1), 10, [], { sessionId: 42 });
    subscriptions.seek(orders0, 500n);
    const sought = await answer(onlyFetch(manager, 10, 1), 20, [], { sessionId: 42 });
    expect(sought).toMatchObject({ sessionId: 42, sessionEpoch: 1, forgottenTopicsData: [] });
    expect(named(sought)).toEqual(['orders-0@500']);
  });

  it('keeps one session per broker', async () => {
    const { manager, subscriptions } = setup();
    assign(subscriptions, [
      [orders0, 10n],
      [orders1, 0n],
    ]);
    const requests = fetches(manager, 0);
    expect(requests).toHaveLength(2);
    await answer(toNode(requests, 1), 10, [], { sessionId: 41 });
    await answer(toNode(requests, 2), 10, [], { sessionId: 42 });
    const next = fetches(manager, 20);
    expect(toNode(next, 1).build(13)).toMatchObject({ sessionId: 41, sessionEpoch: 1 });
    expect(toNode(next, 2).build(13)).toMatchObject({ sessionId: 42, sessionEpoch: 1 });
    expect([...manager.sessions()].map(([nodeId, session]) => [nodeId, session.sessionId])).toEqual([
      [1, 41],
      [2, 42],
    ]);
  });
});
