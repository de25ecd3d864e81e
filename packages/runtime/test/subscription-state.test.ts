/** SubscriptionState: the subscription, the assignment, and each partition's position, guarded by its version. */
import { describe, expect, it } from 'vitest';
import { IllegalStateError } from '../src/errors.ts';
import { SubscriptionState, type SubscriptionStateOptions } from '../src/subscription-state.ts';
import type { TopicPartition } from '../src/topic-partition.ts';

const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition });
const ORDERS_0 = tp('orders', 0);
const ORDERS_1 = tp('orders', 1);
const PAYMENTS_0 = tp('payments', 0);

function state(options: Partial<SubscriptionStateOptions> = {}): SubscriptionState {
  return new SubscriptionState({ defaultResetStrategy: 'earliest', ...options });
}

/** A consumer assigned `partitions` by hand, each already fetching from `offset`. */
function fetching(partitions: TopicPartition[], offset = 10n): SubscriptionState {
  const subscriptions = state();
  subscriptions.assignFromUser(partitions);
  for (const partition of partitions) subscriptions.seek(partition, offset, 3);
  return subscriptions;
}

const topics = (...names: string[]) => names.map((name) => ({ name, isInternal: name.startsWith('__') }));

/** The version of an assigned partition. */
function versionOf(subscriptions: SubscriptionState, partition: TopicPartition): number {
  const view = subscriptions.partition(partition);
  if (view === undefined) throw new Error(`${partition.topic}-${partition.partition} is not assigned`);
  return view.version;
}

describe('SubscriptionState: subscribing to topics', () => {
  it('returns whether the subscription changed', () => {
    const subscriptions = state();
    expect(subscriptions.type).toBe('none');
    expect(subscriptions.subscribe(['orders', 'payments'])).toBe(true);
    expect(subscriptions.type).toBe('topics');
    expect(subscriptions.hasAutoAssignedPartitions).toBe(true);
    expect([...subscriptions.subscription]).toEqual(['orders', 'payments']);
    expect(subscriptions.subscribe(['payments', 'orders', 'orders'])).toBe(false);
    expect(subscriptions.subscribe(['orders'])).toBe(true);
    expect(subscriptions.subscribe(['orders', 'refunds'])).toBe(true);
    expect([...subscriptions.subscription]).toEqual(['orders', 'refunds']);
  });

  it('counts a change only when the subscription changed', () => {
    const subscriptions = state();
    const before = subscriptions.changes;
    subscriptions.subscribe(['orders']);
    expect(subscriptions.changes).toBe(before + 1);
    subscriptions.subscribe(['orders']);
    expect(subscriptions.changes).toBe(before + 1);
    subscriptions.subscribe(['payments']);
    expect(subscriptions.changes).toBe(before + 2);
  });

  it('replaces a pattern subscription with topics', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders-.*/);
    expect(subscriptions.subscribe(['orders-1'])).toBe(true);
    expect(subscriptions.type).toBe('topics');
    expect(subscriptions.pattern).toBeNull();
    expect(subscriptions.matchPattern(topics('orders-2'))).toBe(false);
    expect([...subscriptions.subscription]).toEqual(['orders-1']);
  });

  it('unsubscribe drops the subscription and the assignment', () => {
    const subscriptions = state();
    subscriptions.subscribe(['orders']);
    subscriptions.assignFromSubscribed([ORDERS_0]);
    subscriptions.unsubscribe();
    expect(subscriptions.type).toBe('none');
    expect(subscriptions.subscription.size).toBe(0);
    expect(subscriptions.assignedPartitions()).toEqual([]);
  });
});

describe('SubscriptionState: subscribe and assign exclude each other', () => {
  it('refuses to subscribe while partitions are assigned by hand', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0]);
    expect(subscriptions.type).toBe('user-assigned');
    expect(subscriptions.hasAutoAssignedPartitions).toBe(false);
    expect(() => subscriptions.subscribe(['orders'])).toThrow(IllegalStateError);
    expect(() => subscriptions.subscribePattern(/orders/)).toThrow(IllegalStateError);
    expect(subscriptions.type).toBe('user-assigned');
    expect(subscriptions.assignedPartitions()).toEqual([ORDERS_0]);
  });

  it('refuses to assign by hand while subscribed to topics or a pattern', () => {
    const byTopics = state();
    byTopics.subscribe(['orders']);
    expect(() => byTopics.assignFromUser([ORDERS_0])).toThrow(IllegalStateError);
    const byPattern = state();
    byPattern.subscribePattern(/orders/);
    expect(() => byPattern.assignFromUser([ORDERS_0])).toThrow(IllegalStateError);
  });

  it('refuses a group assignment without a subscription', () => {
    expect(() => state().assignFromSubscribed([ORDERS_0])).toThrow(IllegalStateError);
    const assigned = state();
    assigned.assignFromUser([ORDERS_0]);
    expect(() => assigned.assignFromSubscribed([ORDERS_1])).toThrow(IllegalStateError);
  });

  it('allows the other kind after unsubscribe, or after assign([])', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0]);
    subscriptions.assignFromUser([]);
    expect(subscriptions.type).toBe('none');
    expect(subscriptions.subscribe(['orders'])).toBe(true);
    subscriptions.unsubscribe();
    subscriptions.assignFromUser([ORDERS_1]);
    expect(subscriptions.assignedPartitions()).toEqual([ORDERS_1]);
  });
});

describe('SubscriptionState: pattern subscriptions', () => {
  it("matches the whole topic name (Java's Matcher.matches), not a part of it", () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders-.*/);
    expect(subscriptions.type).toBe('pattern');
    expect(subscriptions.matchPattern(topics('orders-1', 'old-orders-1', 'orders', 'orders-eu'))).toBe(true);
    expect([...subscriptions.subscription].sort()).toEqual(['orders-1', 'orders-eu']);
  });

  it('matches an alternation as a whole: /a|b/ matches only "a" and "b"', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/a|b/);
    subscriptions.matchPattern(topics('a', 'b', 'ab', 'xa', 'bx', 'c'));
    expect([...subscriptions.subscription].sort()).toEqual(['a', 'b']);
  });

  it('matches the same way every time, even for a pattern with the g or y flag', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders-\d+/gy);
    subscriptions.matchPattern(topics('orders-1', 'orders-2', 'orders-3'));
    expect([...subscriptions.subscription].sort()).toEqual(['orders-1', 'orders-2', 'orders-3']);
    expect(subscriptions.matchPattern(topics('orders-1', 'orders-2', 'orders-3'))).toBe(false);
  });

  it('keeps the flags that change what matches', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders/i);
    subscriptions.matchPattern(topics('ORDERS', 'orders', 'payments'));
    expect([...subscriptions.subscription].sort()).toEqual(['ORDERS', 'orders']);
  });

  it('takes a pattern that differs only in its flags as a new pattern', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders/);
    const before = subscriptions.changes;
    subscriptions.subscribePattern(/orders/i);
    expect(subscriptions.changes).toBe(before + 1);
    expect(subscriptions.matchPattern(topics('ORDERS', 'orders'))).toBe(true);
    expect([...subscriptions.subscription].sort()).toEqual(['ORDERS', 'orders']);
  });

  it('excludes internal topics by default', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/.*/);
    subscriptions.matchPattern(topics('__consumer_offsets', 'orders'));
    expect([...subscriptions.subscription]).toEqual(['orders']);
  });

  it('includes internal topics when excludeInternalTopics is false', () => {
    const subscriptions = state({ excludeInternalTopics: false });
    subscriptions.subscribePattern(/.*/);
    subscriptions.matchPattern(topics('__consumer_offsets', 'orders'));
    expect([...subscriptions.subscription].sort()).toEqual(['__consumer_offsets', 'orders']);
  });

  it('returns changed, and counts a change, only when the matched topics change', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders-.*/);
    const afterSubscribe = subscriptions.changes;
    expect(subscriptions.matchPattern(topics('orders-1', 'payments'))).toBe(true);
    expect(subscriptions.changes).toBe(afterSubscribe + 1);
    expect(subscriptions.matchPattern(topics('payments', 'orders-1'))).toBe(false);
    expect(subscriptions.matchPattern(topics('orders-1', 'refunds'))).toBe(false);
    expect(subscriptions.changes).toBe(afterSubscribe + 1);
    expect(subscriptions.matchPattern(topics('orders-1', 'orders-2'))).toBe(true);
    expect(subscriptions.matchPattern(topics('orders-2'))).toBe(true);
    expect(subscriptions.matchPattern([])).toBe(true);
    expect(subscriptions.subscription.size).toBe(0);
    expect(subscriptions.changes).toBe(afterSubscribe + 4);
  });

  it('does not change on subscribing to the same pattern again', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders-.*/);
    subscriptions.matchPattern(topics('orders-1'));
    const before = subscriptions.changes;
    subscriptions.subscribePattern(/orders-.*/);
    expect(subscriptions.changes).toBe(before);
    expect([...subscriptions.subscription]).toEqual(['orders-1']);
    subscriptions.subscribePattern(/payments-.*/);
    expect(subscriptions.changes).toBe(before + 1);
    expect(subscriptions.subscription.size).toBe(0);
  });

  it('matches nothing without a pattern subscription', () => {
    const subscriptions = state();
    subscriptions.subscribe(['orders']);
    expect(subscriptions.matchPattern(topics('orders', 'payments'))).toBe(false);
    expect([...subscriptions.subscription]).toEqual(['orders']);
  });
});

describe('SubscriptionState: assignments', () => {
  it('starts new partitions initializing, without a position, in assignment order', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([PAYMENTS_0, ORDERS_1, ORDERS_0]);
    expect(subscriptions.assignedPartitions()).toEqual([PAYMENTS_0, ORDERS_1, ORDERS_0]);
    expect(subscriptions.assignedCount).toBe(3);
    expect([...subscriptions.assignedTopics()]).toEqual(['payments', 'orders']);
    expect(subscriptions.isAssigned(ORDERS_1)).toBe(true);
    expect(subscriptions.isAssigned(tp('orders', 2))).toBe(false);
    expect(subscriptions.partition(tp('orders', 2))).toBeUndefined();
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      tp: ORDERS_0,
      fetchState: 'initializing',
      position: null,
      resetStrategy: null,
      resetReason: null,
      paused: false,
      pendingRevocation: false,
      retryAt: 0,
      highWatermark: null,
      lastStableOffset: null,
      logStartOffset: null,
    });
    expect(subscriptions.position(ORDERS_0)).toBeNull();
    const versions = new Set([...subscriptions.partitions()].map((view) => view.version));
    expect(versions.size).toBe(3);
  });

  it('assignFromUser keeps the position and pause of partitions kept', () => {
    const subscriptions = fetching([ORDERS_0, ORDERS_1], 42n);
    subscriptions.pause([ORDERS_0]);
    subscriptions.assignFromUser([ORDERS_0, PAYMENTS_0]);
    expect(subscriptions.assignedPartitions()).toEqual([ORDERS_0, PAYMENTS_0]);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'fetching',
      position: { offset: 42n, leaderEpoch: 3 },
      paused: true,
    });
    expect(subscriptions.partition(PAYMENTS_0)).toMatchObject({ fetchState: 'initializing', position: null });
    expect(subscriptions.isAssigned(ORDERS_1)).toBe(false);
  });

  it('assignFromSubscribed keeps the state of partitions kept, clears their pending revocation', () => {
    const subscriptions = state();
    subscriptions.subscribe(['orders', 'payments']);
    subscriptions.assignFromSubscribed([ORDERS_0, ORDERS_1]);
    subscriptions.seek(ORDERS_0, 7n, 2);
    subscriptions.pause([ORDERS_0]);
    subscriptions.markPendingRevocation([ORDERS_0, ORDERS_1]);
    subscriptions.assignFromSubscribed([PAYMENTS_0, ORDERS_0]);
    expect(subscriptions.assignedPartitions()).toEqual([PAYMENTS_0, ORDERS_0]);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'fetching',
      position: { offset: 7n, leaderEpoch: 2 },
      paused: true,
      pendingRevocation: false,
    });
    expect(subscriptions.partition(PAYMENTS_0)).toMatchObject({ fetchState: 'initializing', paused: false });
  });

  it('starts a partition assigned again after it was dropped afresh, at a new version', () => {
    const subscriptions = fetching([ORDERS_0]);
    const before = versionOf(subscriptions, ORDERS_0);
    subscriptions.assignFromUser([ORDERS_1]);
    subscriptions.assignFromUser([ORDERS_0]);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({ fetchState: 'initializing', position: null });
    expect(versionOf(subscriptions, ORDERS_0)).not.toBe(before);
    // What was fetched under the old assignment is not applied.
    expect(subscriptions.completePosition(ORDERS_0, before, { offset: 99n, leaderEpoch: 0 })).toBe(false);
  });

  it('assigns a partition listed twice once', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, tp('orders', 0)]);
    expect(subscriptions.assignedCount).toBe(1);
  });

  it('counts every assignment as a change', () => {
    const subscriptions = state();
    const before = subscriptions.changes;
    subscriptions.assignFromUser([ORDERS_0]);
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    expect(subscriptions.changes).toBe(before + 2);
  });
});

describe('SubscriptionState: positions and versions', () => {
  it('seek sets a fetching position and bumps the version', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0]);
    const initial = versionOf(subscriptions, ORDERS_0);
    const changes = subscriptions.changes;
    subscriptions.seek(ORDERS_0, 5n);
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 5n, leaderEpoch: -1 });
    expect(subscriptions.partition(ORDERS_0)?.fetchState).toBe('fetching');
    const afterFirst = versionOf(subscriptions, ORDERS_0);
    expect(afterFirst).not.toBe(initial);
    subscriptions.seek(ORDERS_0, 5n, 4);
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 5n, leaderEpoch: 4 });
    expect(versionOf(subscriptions, ORDERS_0)).not.toBe(afterFirst);
    expect(subscriptions.changes).toBe(changes + 2);
  });

  it('seek ends a wait for a reset', () => {
    const subscriptions = fetching([ORDERS_0]);
    subscriptions.requestReset([ORDERS_0], { kind: 'requested' });
    subscriptions.seek(ORDERS_0, 0n);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'fetching',
      position: { offset: 0n, leaderEpoch: -1 },
      resetStrategy: null,
      resetReason: null,
    });
  });

  it('refuses to seek a partition that is not assigned, or to a negative offset', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0]);
    expect(() => subscriptions.seek(ORDERS_1, 0n)).toThrow(IllegalStateError);
    expect(() => subscriptions.seek(ORDERS_0, -1n)).toThrow(RangeError);
    expect(subscriptions.partition(ORDERS_0)?.fetchState).toBe('initializing');
  });

  it('completePosition applies a position found at the current version only', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    const asked = versionOf(subscriptions, ORDERS_0);
    expect(subscriptions.completePosition(ORDERS_0, asked, { offset: 20n, leaderEpoch: 1 })).toBe(true);
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 20n, leaderEpoch: 1 });
    expect(versionOf(subscriptions, ORDERS_0)).not.toBe(asked);
    // The same answer again (the partition now has a position, at another version) is dropped.
    expect(subscriptions.completePosition(ORDERS_0, asked, { offset: 30n, leaderEpoch: 1 })).toBe(false);
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 20n, leaderEpoch: 1 });
    // A seek while the question was out makes the answer stale.
    const stale = versionOf(subscriptions, ORDERS_1);
    subscriptions.seek(ORDERS_1, 3n);
    subscriptions.requestReset([ORDERS_1], { kind: 'requested' });
    expect(subscriptions.completePosition(ORDERS_1, stale, { offset: 50n, leaderEpoch: 1 })).toBe(false);
    expect(subscriptions.partition(ORDERS_1)?.fetchState).toBe('awaiting-reset');
    expect(subscriptions.completePosition(tp('orders', 9), 1, { offset: 0n, leaderEpoch: -1 })).toBe(false);
  });

  it('completePosition does not replace a position that is already valid', () => {
    const subscriptions = fetching([ORDERS_0], 10n);
    const current = versionOf(subscriptions, ORDERS_0);
    expect(subscriptions.completePosition(ORDERS_0, current, { offset: 99n, leaderEpoch: 0 })).toBe(false);
    expect(subscriptions.position(ORDERS_0)?.offset).toBe(10n);
  });

  it('advance moves the position at the version the records were fetched at, without a new version', () => {
    const subscriptions = fetching([ORDERS_0], 10n);
    const fetchedAt = versionOf(subscriptions, ORDERS_0);
    subscriptions.advance(ORDERS_0, fetchedAt, 15n, 4);
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 15n, leaderEpoch: 4 });
    expect(versionOf(subscriptions, ORDERS_0)).toBe(fetchedAt);
    subscriptions.seek(ORDERS_0, 100n);
    subscriptions.advance(ORDERS_0, fetchedAt, 20n, 4);
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 100n, leaderEpoch: -1 });
    subscriptions.advance(ORDERS_1, fetchedAt, 20n, 4);
    expect(subscriptions.isAssigned(ORDERS_1)).toBe(false);
  });

  it('advance does nothing to a partition that waits for a reset', () => {
    const subscriptions = fetching([ORDERS_0], 10n);
    subscriptions.requestReset([ORDERS_0], { kind: 'requested' });
    const current = versionOf(subscriptions, ORDERS_0);
    subscriptions.advance(ORDERS_0, current, 15n, 4);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'awaiting-reset',
      position: { offset: 10n, leaderEpoch: 3 },
    });
  });

  it('requestReset without a version makes the partitions wait for a reset, with the default strategy', () => {
    const subscriptions = fetching([ORDERS_0, ORDERS_1], 10n);
    subscriptions.backOff([ORDERS_0], 500);
    const before = versionOf(subscriptions, ORDERS_0);
    const changes = subscriptions.changes;
    subscriptions.requestReset([ORDERS_0], { kind: 'requested' });
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'awaiting-reset',
      resetStrategy: 'earliest',
      resetReason: { kind: 'requested' },
      retryAt: 0,
    });
    expect(versionOf(subscriptions, ORDERS_0)).not.toBe(before);
    expect(subscriptions.position(ORDERS_0)).toBeNull();
    expect(subscriptions.partition(ORDERS_1)?.fetchState).toBe('fetching');
    expect(subscriptions.changes).toBe(changes + 1);
    subscriptions.requestReset([ORDERS_1], { kind: 'requested' }, { strategy: 'latest' });
    expect(subscriptions.partition(ORDERS_1)?.resetStrategy).toBe('latest');
    expect(() => subscriptions.requestReset([PAYMENTS_0], { kind: 'requested' })).toThrow(IllegalStateError);
  });

  it('requestReset with a version resets only a partition still at that version, keeping the position out of range', () => {
    const subscriptions = fetching([ORDERS_0, ORDERS_1], 10n);
    const fetchedAt = versionOf(subscriptions, ORDERS_0);
    const staleAt = versionOf(subscriptions, ORDERS_1);
    subscriptions.seek(ORDERS_1, 20n);
    const outOfRange = (offset: bigint) => ({ kind: 'out-of-range', offset }) as const;
    subscriptions.requestReset([ORDERS_0], outOfRange(10n), { version: fetchedAt });
    subscriptions.requestReset([ORDERS_1], outOfRange(10n), { version: staleAt });
    // Not assigned: skipped, not refused.
    subscriptions.requestReset([PAYMENTS_0], outOfRange(10n), { version: fetchedAt });
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'awaiting-reset',
      resetReason: { kind: 'out-of-range', offset: 10n },
      position: { offset: 10n, leaderEpoch: 3 },
    });
    expect(versionOf(subscriptions, ORDERS_0)).not.toBe(fetchedAt);
    expect(subscriptions.partition(ORDERS_1)).toMatchObject({ fetchState: 'fetching', position: { offset: 20n } });
  });

  it('noCommittedOffset moves an initializing partition to awaiting-reset', () => {
    const subscriptions = state({ defaultResetStrategy: 'latest' });
    subscriptions.assignFromUser([ORDERS_0]);
    const asked = versionOf(subscriptions, ORDERS_0);
    subscriptions.noCommittedOffset(ORDERS_0, asked);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'awaiting-reset',
      resetStrategy: 'latest',
      resetReason: { kind: 'no-committed-offset' },
    });
    expect(versionOf(subscriptions, ORDERS_0)).not.toBe(asked);
  });

  it('noCommittedOffset is dropped at another version or for a partition that has a position', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    const stale = versionOf(subscriptions, ORDERS_0);
    subscriptions.seek(ORDERS_0, 3n);
    subscriptions.noCommittedOffset(ORDERS_0, stale);
    subscriptions.noCommittedOffset(ORDERS_0, versionOf(subscriptions, ORDERS_0));
    expect(subscriptions.partition(ORDERS_0)?.fetchState).toBe('fetching');
    subscriptions.noCommittedOffset(ORDERS_1, versionOf(subscriptions, ORDERS_1) + 1000);
    expect(subscriptions.partition(ORDERS_1)?.fetchState).toBe('initializing');
    subscriptions.noCommittedOffset(PAYMENTS_0, 1);
    expect(subscriptions.isAssigned(PAYMENTS_0)).toBe(false);
  });

  it('backOff keeps the later of the old and the new retry time', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    subscriptions.backOff([ORDERS_0], 1_000);
    expect(subscriptions.partition(ORDERS_0)?.retryAt).toBe(1_000);
    subscriptions.backOff([ORDERS_0], 500);
    expect(subscriptions.partition(ORDERS_0)?.retryAt).toBe(1_000);
    subscriptions.backOff([ORDERS_0, PAYMENTS_0], 2_000);
    expect(subscriptions.partition(ORDERS_0)?.retryAt).toBe(2_000);
    expect(subscriptions.partition(ORDERS_1)?.retryAt).toBe(0);
    // A position found ends the backoff.
    subscriptions.completePosition(ORDERS_0, versionOf(subscriptions, ORDERS_0), { offset: 0n, leaderEpoch: -1 });
    expect(subscriptions.partition(ORDERS_0)?.retryAt).toBe(0);
  });
});

describe('SubscriptionState: what may be fetched and committed', () => {
  it('fetches only a fetching partition that is neither paused nor pending revocation', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    expect(subscriptions.isFetchable(ORDERS_0)).toBe(false);
    subscriptions.seek(ORDERS_0, 0n);
    expect(subscriptions.isFetchable(ORDERS_0)).toBe(true);
    subscriptions.pause([ORDERS_0]);
    expect(subscriptions.isFetchable(ORDERS_0)).toBe(false);
    expect(subscriptions.pausedPartitions()).toEqual([ORDERS_0]);
    subscriptions.resume([ORDERS_0]);
    expect(subscriptions.isFetchable(ORDERS_0)).toBe(true);
    expect(subscriptions.pausedPartitions()).toEqual([]);
    subscriptions.requestReset([ORDERS_0], { kind: 'requested' });
    expect(subscriptions.isFetchable(ORDERS_0)).toBe(false);
    subscriptions.seek(ORDERS_1, 0n);
    subscriptions.markPendingRevocation([ORDERS_1, PAYMENTS_0]);
    expect(subscriptions.isFetchable(ORDERS_1)).toBe(false);
    expect(subscriptions.isFetchable(PAYMENTS_0)).toBe(false);
  });

  it('refuses to pause or resume a partition that is not assigned', () => {
    const subscriptions = state();
    expect(() => subscriptions.pause([ORDERS_0])).toThrow(IllegalStateError);
    expect(() => subscriptions.resume([ORDERS_0])).toThrow(IllegalStateError);
  });

  it('allConsumed lists the fetching partitions with their positions and leader epochs', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1, PAYMENTS_0, tp('refunds', 0)]);
    subscriptions.seek(ORDERS_0, 10n, 2);
    subscriptions.seek(PAYMENTS_0, 7n);
    subscriptions.pause([PAYMENTS_0]);
    subscriptions.seek(tp('refunds', 0), 3n);
    subscriptions.requestReset([tp('refunds', 0)], { kind: 'requested' });
    expect(subscriptions.allConsumed()).toEqual([
      { topic: 'orders', partition: 0, offset: 10n, leaderEpoch: 2 },
      { topic: 'payments', partition: 0, offset: 7n, leaderEpoch: -1 },
    ]);
  });

  it('lag runs to the high watermark under read_uncommitted, the last stable offset under read_committed', () => {
    const subscriptions = fetching([ORDERS_0], 10n);
    const version = versionOf(subscriptions, ORDERS_0);
    subscriptions.updateWatermarks(ORDERS_0, version, {
      highWatermark: 25n,
      lastStableOffset: 18n,
      logStartOffset: 0n,
    });
    expect(subscriptions.lag(ORDERS_0, 'read_uncommitted')).toBe(15n);
    expect(subscriptions.lag(ORDERS_0, 'read_committed')).toBe(8n);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      highWatermark: 25n,
      lastStableOffset: 18n,
      logStartOffset: 0n,
    });
  });

  it('lag is never negative', () => {
    const subscriptions = fetching([ORDERS_0], 30n);
    const version = versionOf(subscriptions, ORDERS_0);
    subscriptions.updateWatermarks(ORDERS_0, version, {
      highWatermark: 25n,
      lastStableOffset: 20n,
      logStartOffset: 0n,
    });
    expect(subscriptions.lag(ORDERS_0, 'read_uncommitted')).toBe(0n);
    expect(subscriptions.lag(ORDERS_0, 'read_committed')).toBe(0n);
  });

  it('lag is null when the end or the position is not known', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    // No position yet.
    expect(subscriptions.lag(ORDERS_1, 'read_uncommitted')).toBeNull();
    // Not assigned.
    expect(subscriptions.lag(PAYMENTS_0, 'read_uncommitted')).toBeNull();
    subscriptions.seek(ORDERS_0, 10n);
    // No Fetch response yet.
    expect(subscriptions.lag(ORDERS_0, 'read_uncommitted')).toBeNull();
    expect(subscriptions.lag(ORDERS_0, 'read_committed')).toBeNull();
    const version = versionOf(subscriptions, ORDERS_0);
    // A broker that does not know the last stable offset (-1).
    subscriptions.updateWatermarks(ORDERS_0, version, {
      highWatermark: 12n,
      lastStableOffset: -1n,
      logStartOffset: -1n,
    });
    expect(subscriptions.lag(ORDERS_0, 'read_uncommitted')).toBe(2n);
    expect(subscriptions.lag(ORDERS_0, 'read_committed')).toBeNull();
    expect(subscriptions.partition(ORDERS_0)?.logStartOffset).toBeNull();
  });

  it('drops watermarks fetched at another version', () => {
    const subscriptions = fetching([ORDERS_0], 10n);
    const fetchedAt = versionOf(subscriptions, ORDERS_0);
    subscriptions.seek(ORDERS_0, 12n);
    subscriptions.updateWatermarks(ORDERS_0, fetchedAt, {
      highWatermark: 25n,
      lastStableOffset: 25n,
      logStartOffset: 0n,
    });
    expect(subscriptions.partition(ORDERS_0)?.highWatermark).toBeNull();
  });
});

describe('SubscriptionState: the changes counter', () => {
  it('counts positions found, resets, pauses and resumes', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    let last = subscriptions.changes;
    const changed = () => {
      const moved = subscriptions.changes > last;
      last = subscriptions.changes;
      return moved;
    };
    subscriptions.completePosition(ORDERS_0, versionOf(subscriptions, ORDERS_0), { offset: 0n, leaderEpoch: -1 });
    expect(changed()).toBe(true);
    subscriptions.noCommittedOffset(ORDERS_1, versionOf(subscriptions, ORDERS_1));
    expect(changed()).toBe(true);
    subscriptions.pause([ORDERS_0]);
    expect(changed()).toBe(true);
    subscriptions.resume([ORDERS_0]);
    expect(changed()).toBe(true);
    subscriptions.requestReset([ORDERS_0], { kind: 'requested' });
    expect(changed()).toBe(true);
    // Answers dropped as stale change nothing.
    subscriptions.completePosition(ORDERS_0, -1, { offset: 0n, leaderEpoch: -1 });
    subscriptions.requestReset([ORDERS_1], { kind: 'requested' }, { version: -1 });
    expect(changed()).toBe(false);
  });
});

describe('SubscriptionState: position validation (KIP-320)', () => {
  /** ORDERS_0 fetching at 120 (epoch 4), bound to leader epoch 5, then awaiting validation under epoch 6. */
  function awaiting(options: Partial<SubscriptionStateOptions> = {}) {
    const subscriptions = state(options);
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1]);
    subscriptions.seek(ORDERS_0, 120n, 4);
    subscriptions.bindLeaderEpoch(ORDERS_0, 5);
    const before = versionOf(subscriptions, ORDERS_0);
    expect(subscriptions.requestValidation(ORDERS_0, before, { currentLeaderEpoch: 6 })).toBe(true);
    return { subscriptions, before, version: versionOf(subscriptions, ORDERS_0) };
  }

  it('a seek or a position found leaves the leader epoch unbound; binding only raises it, and only while fetching', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0]);
    subscriptions.seek(ORDERS_0, 10n, 3);
    expect(subscriptions.partition(ORDERS_0)?.currentLeaderEpoch).toBe(-1);
    subscriptions.bindLeaderEpoch(ORDERS_0, 5);
    subscriptions.bindLeaderEpoch(ORDERS_0, 4);
    expect(subscriptions.partition(ORDERS_0)?.currentLeaderEpoch).toBe(5);
    subscriptions.seek(ORDERS_0, 12n);
    expect(subscriptions.partition(ORDERS_0)?.currentLeaderEpoch).toBe(-1);
    subscriptions.requestReset([ORDERS_0], { kind: 'requested' });
    subscriptions.bindLeaderEpoch(ORDERS_0, 9);
    expect(subscriptions.partition(ORDERS_0)?.currentLeaderEpoch).toBe(-1);
  });

  it('requestValidation stops fetching and committing the position, at a new version, until it completes', () => {
    const { subscriptions, before, version } = awaiting();
    expect(version).not.toBe(before);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'awaiting-validation',
      position: { offset: 120n, leaderEpoch: 4 },
      currentLeaderEpoch: 6,
      divergingEpoch: null,
      truncation: null,
    });
    expect(subscriptions.position(ORDERS_0)).toBeNull();
    expect(subscriptions.isFetchable(ORDERS_0)).toBe(false);
    expect(subscriptions.allConsumed()).toEqual([]);
    // Not at another version, not without a position.
    expect(subscriptions.requestValidation(ORDERS_0, before)).toBe(false);
    expect(subscriptions.requestValidation(ORDERS_1, versionOf(subscriptions, ORDERS_1))).toBe(false);
  });

  it('completes as valid when the epoch ends at or after the position, binding the leader epoch', () => {
    const { subscriptions, version } = awaiting();
    const changes = subscriptions.changes;
    expect(subscriptions.completeValidation(ORDERS_0, version, { leaderEpoch: 4, endOffset: 120n }, 6)).toEqual({
      kind: 'valid',
    });
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 120n, leaderEpoch: 4 });
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({ fetchState: 'fetching', currentLeaderEpoch: 6, version });
    expect(subscriptions.changes).toBe(changes + 1);
    // Answered once: a second answer, or one for another version, is ignored.
    expect(subscriptions.completeValidation(ORDERS_0, version, { leaderEpoch: 4, endOffset: 0n }, 6).kind).toBe(
      'ignored',
    );
  });

  it('takes the answer’s epoch when the leader never had the position’s epoch, so that Fetch does not diverge again', () => {
    const { subscriptions, version } = awaiting();
    expect(subscriptions.completeValidation(ORDERS_0, version, { leaderEpoch: 3, endOffset: 150n }, 6).kind).toBe(
      'valid',
    );
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 120n, leaderEpoch: 3 });
  });

  it('takes the position as it is when the leader cannot be asked (null answer)', () => {
    const { subscriptions, version } = awaiting();
    expect(subscriptions.completeValidation(ORDERS_0, version, null, 6).kind).toBe('valid');
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 120n, leaderEpoch: 4 });
  });

  it('moves a truncated position to the divergent offset, with its epoch, when a reset strategy is set', () => {
    const { subscriptions, version } = awaiting();
    const result = subscriptions.completeValidation(ORDERS_0, version, { leaderEpoch: 3, endOffset: 100n }, 6);
    expect(result).toEqual({
      kind: 'moved',
      truncation: {
        ...ORDERS_0,
        position: { offset: 120n, leaderEpoch: 4 },
        divergentOffset: { offset: 100n, leaderEpoch: 3 },
      },
    });
    expect(subscriptions.position(ORDERS_0)).toEqual({ offset: 100n, leaderEpoch: 3 });
    expect(subscriptions.partition(ORDERS_0)?.currentLeaderEpoch).toBe(6);
    // A new position: a new version, so nothing asked about the old one applies.
    expect(versionOf(subscriptions, ORDERS_0)).not.toBe(version);
  });

  it('waits for a reset to auto.offset.reset when the leader knows no end for the epoch', () => {
    const { subscriptions, version } = awaiting({ defaultResetStrategy: 'latest' });
    const result = subscriptions.completeValidation(ORDERS_0, version, { leaderEpoch: -1, endOffset: -1n }, 6);
    expect(result).toEqual({
      kind: 'reset',
      truncation: { ...ORDERS_0, position: { offset: 120n, leaderEpoch: 4 }, divergentOffset: null },
    });
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'awaiting-reset',
      resetStrategy: 'latest',
      resetReason: { kind: 'log-truncation', offset: 120n },
    });
  });

  it('with auto.offset.reset=none, keeps the truncation and the partition stopped until a seek', () => {
    for (const [answer, divergentOffset] of [
      [
        { leaderEpoch: 3, endOffset: 100n },
        { offset: 100n, leaderEpoch: 3 },
      ],
      [{ leaderEpoch: -1, endOffset: -1n }, null],
    ] as const) {
      const { subscriptions, version } = awaiting({ defaultResetStrategy: 'none' });
      const truncation = { ...ORDERS_0, position: { offset: 120n, leaderEpoch: 4 }, divergentOffset };
      expect(subscriptions.completeValidation(ORDERS_0, version, answer, 6)).toEqual({ kind: 'stopped', truncation });
      expect(subscriptions.partition(ORDERS_0)).toMatchObject({
        fetchState: 'awaiting-validation',
        truncation,
        version,
      });
      expect(subscriptions.position(ORDERS_0)).toBeNull();
      // Stopped: no other answer and no new validation changes it.
      expect(subscriptions.completeValidation(ORDERS_0, version, null, 6).kind).toBe('ignored');
      expect(subscriptions.requestValidation(ORDERS_0, version)).toBe(false);
      subscriptions.seek(ORDERS_0, 100n, 3);
      expect(subscriptions.partition(ORDERS_0)).toMatchObject({ fetchState: 'fetching', truncation: null });
    }
  });

  it('a reset or a seek ends a validation, and the answer to it is then ignored', () => {
    const { subscriptions, version } = awaiting();
    subscriptions.requestReset([ORDERS_0], { kind: 'requested' }, { strategy: 'earliest' });
    expect(subscriptions.completeValidation(ORDERS_0, version, { leaderEpoch: 3, endOffset: 0n }, 6).kind).toBe(
      'ignored',
    );
    expect(subscriptions.partition(ORDERS_0)?.fetchState).toBe('awaiting-reset');
  });

  it('keeps a diverging epoch handed over with the request, and restarts a validation that was already waiting', () => {
    const { subscriptions, version } = awaiting();
    const diverging = { leaderEpoch: 3, endOffset: 100n };
    expect(subscriptions.requestValidation(ORDERS_0, version, { divergingEpoch: diverging })).toBe(true);
    const restarted = versionOf(subscriptions, ORDERS_0);
    expect(restarted).not.toBe(version);
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({ divergingEpoch: diverging, currentLeaderEpoch: 6 });
    expect(subscriptions.completeValidation(ORDERS_0, version, null, 6).kind).toBe('ignored');
    expect(subscriptions.completeValidation(ORDERS_0, restarted, diverging, 6).kind).toBe('moved');
    expect(subscriptions.partition(ORDERS_0)?.divergingEpoch).toBeNull();
  });

  it('completePosition validates a committed position with an epoch, and binds a reset’s to the epoch it came under', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([ORDERS_0, ORDERS_1, PAYMENTS_0]);
    subscriptions.completePosition(
      ORDERS_0,
      versionOf(subscriptions, ORDERS_0),
      { offset: 42n, leaderEpoch: 3 },
      {
        validate: true,
      },
    );
    subscriptions.completePosition(
      ORDERS_1,
      versionOf(subscriptions, ORDERS_1),
      { offset: 7n, leaderEpoch: -1 },
      {
        validate: true,
      },
    );
    subscriptions.completePosition(
      PAYMENTS_0,
      versionOf(subscriptions, PAYMENTS_0),
      { offset: 9n, leaderEpoch: 5 },
      { currentLeaderEpoch: 5 },
    );
    expect(subscriptions.partition(ORDERS_0)).toMatchObject({
      fetchState: 'awaiting-validation',
      currentLeaderEpoch: -1,
    });
    // Nothing to check without an epoch.
    expect(subscriptions.partition(ORDERS_1)?.fetchState).toBe('fetching');
    expect(subscriptions.partition(PAYMENTS_0)).toMatchObject({ fetchState: 'fetching', currentLeaderEpoch: 5 });
    // A partition awaiting validation takes no position found meanwhile.
    expect(
      subscriptions.completePosition(ORDERS_0, versionOf(subscriptions, ORDERS_0), { offset: 0n, leaderEpoch: -1 }),
    ).toBe(false);
  });
});
