/** The coordinator lookup (FindCoordinator), driven by a fake clock and scripted answers. */
import { type ClusterSnapshot, ErrorCode, KafkaError, NetworkError, UnsupportedVersionError } from '@sluice/net';
import {
  defaultFindCoordinatorResponse,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
  findCoordinatorApi,
} from '@sluice/protocol';
import type { UnsentRequest } from '@sluice/runtime';
import { describe, expect, it } from 'vitest';
import { CoordinatorManager } from '../src/coordinator-manager.ts';

const SNAPSHOT: ClusterSnapshot = {
  clusterId: 'cluster',
  controllerId: 1,
  brokers: new Map([[1, { nodeId: 1, host: 'localhost', port: 9092, rack: null }]]),
  topics: new Map(),
  topicNamesById: new Map(),
  updatedAt: 0,
};

/**
 * A coordinator manager for the group 'group' (retry.backoff.ms 100, retry.backoff.max.ms 1000, no jitter), the
 * metadata it reads, and the broker's side: `lookup` expects exactly one FindCoordinator, `answer` and `fail` settle it.
 */
function driver(options: { snapshot?: ClusterSnapshot | null } = {}) {
  const metadata: { snapshot: ClusterSnapshot | null } = {
    snapshot: options.snapshot === undefined ? SNAPSHOT : options.snapshot,
  };
  const manager = new CoordinatorManager({
    groupId: 'group',
    metadata,
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
  });
  const lookup = (now: number) => {
    const poll = manager.poll(now);
    expect(poll.requests).toHaveLength(1);
    expect(poll.nextPollAt).toBe(Number.POSITIVE_INFINITY);
    const request = poll.requests[0] as UnsentRequest<FindCoordinatorRequest, FindCoordinatorResponse>;
    expect(request.api).toBe(findCoordinatorApi);
    expect(request.target).toBe('least-loaded');
    return request;
  };
  /** v4+: one entry per key (the group's, after an entry for another key); v3 and below: the top-level fields. */
  const answer = (
    request: UnsentRequest<FindCoordinatorRequest, FindCoordinatorResponse>,
    now: number,
    outcome: { nodeId?: number; errorCode?: number; version?: number } = {},
  ) => {
    const version = outcome.version ?? 4;
    const nodeId = outcome.nodeId ?? 7;
    const errorCode = outcome.errorCode ?? ErrorCode.NONE;
    const entry = (key: string, node: number, code: number) => ({
      key,
      nodeId: node,
      host: `broker-${node}`,
      port: 9092,
      errorCode: code,
      errorMessage: null,
    });
    const response: FindCoordinatorResponse =
      version >= 4
        ? {
            ...defaultFindCoordinatorResponse(),
            coordinators: [entry('another-group', 99, ErrorCode.NONE), entry('group', nodeId, errorCode)],
          }
        : {
            ...defaultFindCoordinatorResponse(),
            errorCode,
            errorMessage: null,
            nodeId,
            host: `broker-${nodeId}`,
            port: 9092,
          };
    void request.onResponse(response, { version, nodeId: 1, now });
  };
  const fail = (request: UnsentRequest, now: number, error: Error) => request.onFailure(error, now);
  const nothingAt = (now: number) => manager.poll(now);
  return { manager, metadata, lookup, answer, fail, nothingAt };
}

const lostConnection = () => new NetworkError('connection lost', { broker: 'localhost:9092' });

describe('CoordinatorManager: when it looks up', () => {
  it('looks nothing up until someone needs the coordinator', () => {
    const { manager, lookup, answer } = driver();
    expect(manager.poll(0)).toEqual({ requests: [], nextPollAt: Number.POSITIVE_INFINITY });
    expect(manager.poll(60_000).requests).toEqual([]);
    manager.need();
    answer(lookup(60_000), 60_000);
    expect(manager.coordinator).toBe(7);
    // Known: nothing more is looked up, however often it is needed.
    manager.need();
    expect(manager.poll(60_001).requests).toEqual([]);
  });

  it('waits for the first metadata snapshot (a broker to ask)', () => {
    const { manager, metadata, lookup, answer } = driver({ snapshot: null });
    manager.need();
    expect(manager.poll(0)).toEqual({ requests: [], nextPollAt: Number.POSITIVE_INFINITY });
    expect(manager.poll(5_000).requests).toEqual([]);
    metadata.snapshot = SNAPSHOT;
    answer(lookup(5_000), 5_000);
    expect(manager.coordinator).toBe(7);
  });

  it('has one lookup in flight at a time', () => {
    const { manager, lookup, answer } = driver();
    manager.need();
    const request = lookup(0);
    manager.need();
    expect(manager.poll(0).requests).toEqual([]);
    expect(manager.poll(10_000)).toEqual({ requests: [], nextPollAt: Number.POSITIVE_INFINITY });
    answer(request, 10_000, { nodeId: 3 });
    expect(manager.coordinator).toBe(3);
    expect(manager.poll(10_000).requests).toEqual([]);
  });
});

describe('CoordinatorManager: FindCoordinator versions', () => {
  it('v4 and above asks for the group in coordinatorKeys and reads the entry of its key', () => {
    const { manager, lookup, answer } = driver();
    manager.need();
    const request = lookup(0);
    expect(request.build(4)).toMatchObject({ keyType: 0, coordinatorKeys: ['group'] });
    expect(request.build(5)).toMatchObject({ keyType: 0, coordinatorKeys: ['group'] });
    answer(request, 0, { nodeId: 5, version: 4 });
    expect(manager.coordinator).toBe(5);
    expect(manager.fatalError).toBeNull();
  });

  it('v4: an answer without the group key is a failed lookup, tried again after the backoff', () => {
    const { manager, lookup, nothingAt } = driver();
    manager.need();
    const request = lookup(0);
    void request.onResponse(
      {
        ...defaultFindCoordinatorResponse(),
        coordinators: [
          { key: 'another-group', nodeId: 99, host: 'h', port: 9092, errorCode: ErrorCode.NONE, errorMessage: null },
        ],
      },
      { version: 4, nodeId: 1, now: 0 },
    );
    expect(manager.coordinator).toBeNull();
    expect(nothingAt(0)).toEqual({ requests: [], nextPollAt: 100 });
    lookup(100);
  });

  it('v3 and below asks with key and reads the top-level answer', () => {
    for (const version of [0, 1, 2, 3]) {
      const { manager, lookup, answer } = driver();
      manager.need();
      const request = lookup(0);
      expect(request.build(version)).toMatchObject({ key: 'group', keyType: 0, coordinatorKeys: [] });
      answer(request, 0, { nodeId: 4, version });
      expect(manager.coordinator).toBe(4);
    }
  });

  it('v3 and below: a top-level error code is a failed lookup', () => {
    const { manager, lookup, answer, nothingAt } = driver();
    manager.need();
    answer(lookup(0), 0, { nodeId: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, version: 3 });
    expect(manager.coordinator).toBeNull();
    expect(nothingAt(0).nextPollAt).toBe(100);
  });
});

describe('CoordinatorManager: failures', () => {
  it('backs off exponentially after COORDINATOR_NOT_AVAILABLE and lost connections, up to retry.backoff.max.ms', () => {
    const { manager, lookup, answer, fail, nothingAt } = driver();
    manager.need();
    let now = 0;
    // 100, 200, 400, 800, then capped at 1000 (random 0.5: no jitter).
    const expectedWaits = [100, 200, 400, 800, 1_000, 1_000];
    for (const [attempt, wait] of expectedWaits.entries()) {
      const request = lookup(now);
      if (attempt % 2 === 0) {
        answer(request, now, { nodeId: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
      } else {
        fail(request, now, lostConnection());
      }
      expect(manager.coordinator).toBeNull();
      expect(manager.fatalError).toBeNull();
      // Nothing is sent before the backoff ends, and the poll says when it ends.
      expect(nothingAt(now)).toEqual({ requests: [], nextPollAt: now + wait });
      expect(nothingAt(now + wait - 1)).toEqual({ requests: [], nextPollAt: now + wait });
      now += wait;
    }
    answer(lookup(now), now, { nodeId: 2 });
    expect(manager.coordinator).toBe(2);
    // A success resets the backoff: the next failure waits retry.backoff.ms again.
    manager.markUnknown('NOT_COORDINATOR', now + 10);
    answer(lookup(now + 10), now + 10, { nodeId: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
    expect(nothingAt(now + 10).nextPollAt).toBe(now + 110);
  });

  it('a request timeout backs off like a lost connection', () => {
    const { manager, lookup, fail, nothingAt } = driver();
    manager.need();
    const error = Object.assign(new Error('FindCoordinator got no response within 30000 ms'), { retriable: true });
    fail(lookup(0), 0, error);
    expect(manager.fatalError).toBeNull();
    expect(nothingAt(50)).toEqual({ requests: [], nextPollAt: 100 });
    lookup(100);
  });

  it('GROUP_AUTHORIZATION_FAILED is fatal, lookups go on after the backoff, and a success clears it', () => {
    const { manager, lookup, answer, nothingAt } = driver();
    manager.need();
    answer(lookup(0), 0, { nodeId: -1, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
    expect(manager.fatalError).toBeInstanceOf(KafkaError);
    expect((manager.fatalError as KafkaError).code).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    expect(manager.fatalError?.message).toMatch(/GROUP_AUTHORIZATION_FAILED/);
    expect(manager.coordinator).toBeNull();
    expect(nothingAt(0)).toEqual({ requests: [], nextPollAt: 100 });
    answer(lookup(100), 100, { nodeId: -1, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
    expect(nothingAt(100).nextPollAt).toBe(300);
    answer(lookup(300), 300, { nodeId: 6 });
    expect(manager.coordinator).toBe(6);
    expect(manager.fatalError).toBeNull();
  });

  it('a request failure that no retry fixes is fatal; a later success clears it', () => {
    const { manager, lookup, answer, fail, nothingAt } = driver();
    manager.need();
    const noVersion = new UnsupportedVersionError('no FindCoordinator version in common', { api: 'FindCoordinator' });
    fail(lookup(0), 0, noVersion);
    expect(manager.fatalError).toBe(noVersion);
    expect(nothingAt(0).nextPollAt).toBe(100);
    const refused = Object.assign(new Error('SASL authentication failed'), { retriable: false });
    fail(lookup(100), 100, refused);
    expect(manager.fatalError).toBe(refused);
    answer(lookup(300), 300, { nodeId: 8 });
    expect(manager.fatalError).toBeNull();
    expect(manager.coordinator).toBe(8);
  });
});

describe('CoordinatorManager: markUnknown', () => {
  it('forgets the coordinator, and the next poll looks it up again at once', () => {
    const { manager, lookup, answer } = driver();
    manager.need();
    answer(lookup(0), 0, { nodeId: 7 });
    expect(manager.coordinator).toBe(7);
    manager.markUnknown('the heartbeat failed with NOT_COORDINATOR', 5_000);
    expect(manager.coordinator).toBeNull();
    expect(manager.lastReason).toBe('the heartbeat failed with NOT_COORDINATOR');
    // No `need` from anyone: whoever used it will want it again.
    answer(lookup(5_000), 5_000, { nodeId: 9 });
    expect(manager.coordinator).toBe(9);
  });

  it('is ignored while the coordinator is unknown (a lookup in flight goes on)', () => {
    const { manager, lookup, answer } = driver();
    manager.need();
    const request = lookup(0);
    manager.markUnknown('late', 10);
    expect(manager.poll(10).requests).toEqual([]);
    answer(request, 20, { nodeId: 7 });
    expect(manager.coordinator).toBe(7);
  });
});
