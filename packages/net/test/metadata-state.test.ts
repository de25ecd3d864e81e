/** The metadata decision logic with a fake clock: when to refresh, whom to ask, backoff, rebootstrap, KIP-320. */
import { defaultMetadataResponse, type MetadataResponse } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { NetworkError } from '../src/errors.ts';
import { KafkaError } from '../src/kafka-error.ts';
import { ErrorCode } from '../src/kafka-errors.generated.ts';
import { findPartition, mergeMetadata } from '../src/metadata-snapshot.ts';
import { leastLoaded, type MetadataAction, MetadataState } from '../src/metadata-state.ts';
import type { BootstrapAddress, BrokerTarget, ConnectionStatus } from '../src/pool.ts';

const BOOTSTRAP: BootstrapAddress[] = [
  { host: 'kafka', port: 9092, ip: '10.0.0.1' },
  { host: 'kafka', port: 9092, ip: '10.0.0.2' },
];
const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';

interface PartitionSpec {
  leader: number;
  epoch: number;
}

function response(
  options: { brokers?: number[]; partitions?: PartitionSpec[]; topicId?: string; errorCode?: number } = {},
) {
  const brokers = options.brokers ?? [1, 2, 3];
  const partitions = options.partitions ?? [{ leader: 1, epoch: 0 }];
  return {
    ...defaultMetadataResponse(),
    clusterId: 'cluster',
    controllerId: brokers[0] ?? -1,
    errorCode: options.errorCode ?? 0,
    brokers: brokers.map((nodeId) => ({ nodeId, host: `broker-${nodeId}`, port: 9092, rack: null })),
    topics: [
      {
        errorCode: 0,
        name: 'orders',
        topicId: options.topicId ?? TOPIC_ID,
        isInternal: false,
        topicAuthorizedOperations: -2147483648,
        partitions: partitions.map((partition, index) => ({
          errorCode: 0,
          partitionIndex: index,
          leaderId: partition.leader,
          leaderEpoch: partition.epoch,
          replicaNodes: brokers,
          isrNodes: brokers,
          offlineReplicas: [],
        })),
      },
    ],
  } satisfies MetadataResponse;
}

/** Every connection disconnected and dialable unless overridden. */
function pool(overrides: Record<string, Partial<ConnectionStatus>> = {}) {
  return (target: BrokerTarget): ConnectionStatus => {
    const key = 'nodeId' in target ? `node:${target.nodeId}` : `bootstrap:${target.bootstrap.ip}`;
    return { state: 'disconnected', inFlight: 0, readyAt: 0, ...overrides[key] };
  };
}

const fixed = { random: () => 0.5 };

/** A state past bootstrap, with one snapshot taken at `now`. */
function started(now = 0, options: ConstructorParameters<typeof MetadataState>[0] = {}) {
  const state = new MetadataState({ topics: ['orders'], ...fixed, ...options });
  expect(state.poll(now, pool())).toEqual({ kind: 'resolve-bootstrap', reason: 'start' });
  state.onBootstrapResolved(now, BOOTSTRAP);
  const send = state.poll(now, pool()) as Extract<MetadataAction, { kind: 'send' }>;
  expect(send.kind).toBe('send');
  state.onResponse(now, response(), send.requestVersion);
  return state;
}

describe('MetadataState', () => {
  it('resolves bootstrap.servers, asks a bootstrap address, then waits metadata.max.age.ms', () => {
    const state = new MetadataState({ topics: ['orders'], ...fixed, metadataMaxAgeMs: 60_000 });
    expect(state.poll(0, pool())).toEqual({ kind: 'resolve-bootstrap', reason: 'start' });
    expect(state.poll(0, pool())).toEqual({ kind: 'wait', until: Number.POSITIVE_INFINITY });
    state.onBootstrapResolved(0, BOOTSTRAP);
    const send = state.poll(0, pool());
    expect(send).toMatchObject({ kind: 'send', topics: ['orders'] });
    expect('bootstrap' in (send as { target: BrokerTarget }).target).toBe(true);
    const snapshot = state.onResponse(5, response(), 0)!;
    expect(state.mode).toBe('brokers');
    expect([...snapshot.brokers.keys()]).toEqual([1, 2, 3]);
    expect(snapshot.brokers.get(2)).toEqual({ nodeId: 2, host: 'broker-2', port: 9092, rack: null });
    expect(snapshot.topics.get('orders')).toMatchObject({ topicId: TOPIC_ID, error: null });
    expect(snapshot.topicNamesById.get(TOPIC_ID)).toBe('orders');
    expect(findPartition(snapshot, 'orders', 0)).toMatchObject({ leaderId: 1, leaderEpoch: 0, isr: [1, 2, 3] });
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(state.poll(10, pool())).toEqual({ kind: 'wait', until: 60_005 });
    // At max age it refreshes from a known broker, no longer from bootstrap.
    const refresh = state.poll(60_005, pool());
    expect(refresh).toMatchObject({ kind: 'send' });
    expect('nodeId' in (refresh as { target: BrokerTarget }).target).toBe(true);
  });

  it('coalesces concurrent requests, and a request made during a refresh waits for the next one', () => {
    const state = started(0);
    const first = state.requestUpdate();
    const second = state.requestUpdate();
    // retry.backoff.ms (100) since the last refresh, even on demand.
    expect(state.poll(50, pool())).toEqual({ kind: 'wait', until: 100 });
    const send = state.poll(100, pool()) as Extract<MetadataAction, { kind: 'send' }>;
    expect(send.requestVersion).toBe(second);
    const during = state.requestUpdate();
    expect(state.poll(110, pool())).toEqual({ kind: 'wait', until: Number.POSITIVE_INFINITY });
    state.onResponse(120, response(), send.requestVersion);
    expect(state.servedVersion).toBeGreaterThanOrEqual(first);
    expect(state.servedVersion).toBeLessThan(during);
    expect(state.poll(150, pool())).toEqual({ kind: 'wait', until: 220 });
    const again = state.poll(220, pool()) as Extract<MetadataAction, { kind: 'send' }>;
    expect(again.requestVersion).toBe(during);
  });

  it('backs off retry.backoff.ms doubling per failure, up to retry.backoff.max.ms', () => {
    const state = started(0);
    state.requestUpdate();
    let now = 100;
    const waits: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      expect(state.poll(now, pool())).toMatchObject({ kind: 'send' });
      state.onFailure(now, new NetworkError('lost', { broker: 'b' }));
      const wait = state.poll(now, pool()) as Extract<MetadataAction, { kind: 'wait' }>;
      waits.push(wait.until - now);
      now = wait.until;
    }
    expect(waits).toEqual([200, 400, 800, 1000, 1000, 1000]);
    expect(state.lastError).toBeInstanceOf(NetworkError);
  });

  it('asks the least loaded broker and skips those in reconnect backoff', () => {
    const state = started(0);
    state.requestUpdate();
    const statuses = pool({
      'node:1': { state: 'connected', inFlight: 4 },
      'node:2': { state: 'connected', inFlight: 1 },
      'node:3': { state: 'backoff', readyAt: 500 },
    });
    expect(state.poll(100, statuses)).toMatchObject({ kind: 'send', target: { nodeId: 2 } });

    const targets = [1, 2, 3].map((nodeId) => ({ nodeId }));
    const allBackoff = pool({
      'node:1': { state: 'backoff', readyAt: 300 },
      'node:2': { state: 'backoff', readyAt: 200 },
      'node:3': { state: 'backoff', readyAt: 400 },
    });
    expect(leastLoaded(targets, allBackoff, () => 0)).toEqual({ readyAt: 200 });
    const connecting = pool({ 'node:1': { state: 'backoff', readyAt: 300 }, 'node:3': { state: 'connecting' } });
    expect(leastLoaded(targets, connecting, () => 0)).toEqual({ target: { nodeId: 3 } });
  });

  it('rebootstraps (KIP-899) when every known broker is in reconnect backoff', () => {
    const state = started(0);
    state.requestUpdate();
    const allBackoff = pool({
      'node:1': { state: 'backoff', readyAt: 900 },
      'node:2': { state: 'backoff', readyAt: 900 },
      'node:3': { state: 'backoff', readyAt: 900 },
    });
    expect(state.poll(100, allBackoff)).toEqual({ kind: 'resolve-bootstrap', reason: 'rebootstrap' });
    expect(state.mode).toBe('bootstrap');
    state.onBootstrapResolved(110, BOOTSTRAP);
    const send = state.poll(200, allBackoff);
    expect(send).toMatchObject({ kind: 'send', target: { bootstrap: { ip: expect.any(String) } } });
    state.onResponse(210, response(), (send as { requestVersion: number }).requestVersion);
    expect(state.mode).toBe('brokers');
  });

  it('waits for bootstrap addresses in backoff instead, and never rebootstraps with strategy none', () => {
    const state = started(0, { recoveryStrategy: 'none' });
    state.requestUpdate();
    const allBackoff = pool({
      'node:1': { state: 'backoff', readyAt: 700 },
      'node:2': { state: 'backoff', readyAt: 900 },
      'node:3': { state: 'backoff', readyAt: 800 },
    });
    expect(state.poll(100, allBackoff)).toEqual({ kind: 'wait', until: 700 });
  });

  it('rebootstraps after metadata.recovery.rebootstrap.trigger.ms without metadata (KIP-1102)', () => {
    const state = started(0, { rebootstrapTriggerMs: 5000 });
    state.requestUpdate();
    let now = 100;
    for (;;) {
      const action = state.poll(now, pool());
      if (action.kind === 'resolve-bootstrap') break;
      if (action.kind === 'send') state.onFailure(now, new NetworkError('refused', { broker: 'b' }));
      else now = action.until;
      expect(now).toBeLessThan(10_000);
    }
    expect(now).toBeGreaterThanOrEqual(5100);
    expect(state.mode).toBe('bootstrap');
  });

  it('rebootstraps when a broker answers REBOOTSTRAP_REQUIRED', () => {
    const state = started(0);
    const version = state.requestUpdate();
    state.poll(100, pool());
    expect(state.onResponse(110, response({ errorCode: ErrorCode.REBOOTSTRAP_REQUIRED }), version)).toBeNull();
    expect(state.mode).toBe('bootstrap');
    expect(state.poll(1000, pool())).toEqual({ kind: 'resolve-bootstrap', reason: 'rebootstrap' });
  });

  it('ignores a response that lists no brokers', () => {
    const state = started(0);
    const version = state.requestUpdate();
    state.poll(100, pool());
    expect(state.onResponse(110, response({ brokers: [] }), version)).toBeNull();
    expect(state.snapshot?.brokers.size).toBe(3);
    expect(state.servedVersion).toBeLessThan(version);
  });

  it('refreshes on errors that say the metadata is stale, and only on those', () => {
    const state = started(0);
    const served = state.servedVersion;
    const needsUpdate = () => state.poll(1000, pool()).kind === 'send';
    expect(state.onRequestError(new KafkaError(ErrorCode.NOT_COORDINATOR))).toBe(false);
    expect(state.onRequestError(new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE))).toBe(false);
    expect(state.onRequestError(new NetworkError('lost', { broker: 'b' }), { nodeId: 2 })).toBe(false);
    expect(needsUpdate()).toBe(false);
    expect(state.onRequestError(new NetworkError('lost', { broker: 'b' }), { nodeId: 1 })).toBe(true);
    expect(state.onRequestError(new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER))).toBe(true);
    expect(state.onRequestError(new KafkaError(ErrorCode.FENCED_LEADER_EPOCH))).toBe(true);
    expect(needsUpdate()).toBe(true);
    expect(served).toBe(state.servedVersion);
  });
});

describe('leader epochs (KIP-320)', () => {
  it('never goes backwards: an older leader epoch in a response keeps the partition as it was', () => {
    const state = started(0);
    let version = state.requestUpdate();
    state.poll(100, pool());
    state.onResponse(100, response({ partitions: [{ leader: 2, epoch: 5 }] }), version);
    version = state.requestUpdate();
    state.poll(200, pool());
    // A lagging broker still names leader 1 at epoch 4.
    const snapshot = state.onResponse(200, response({ partitions: [{ leader: 1, epoch: 4 }] }), version)!;
    expect(findPartition(snapshot, 'orders', 0)).toMatchObject({ leaderId: 2, leaderEpoch: 5 });
    // ... and asks again.
    expect(state.poll(300, pool())).toMatchObject({ kind: 'send' });
    state.onResponse(300, response({ partitions: [{ leader: 3, epoch: 6 }] }), state.requestUpdate());
    expect(findPartition(state.snapshot!, 'orders', 0)).toMatchObject({ leaderId: 3, leaderEpoch: 6 });
  });

  it('starts epochs over for a topic re-created under a new id', () => {
    const state = started(0);
    state.onResponse(100, response({ partitions: [{ leader: 2, epoch: 9 }] }), state.requestUpdate());
    const recreated = 'AAAAAAAAAAAAAAAAAAAAAg';
    state.onResponse(
      200,
      response({ partitions: [{ leader: 1, epoch: 0 }], topicId: recreated }),
      state.requestUpdate(),
    );
    expect(state.snapshot!.topics.get('orders')!.topicId).toBe(recreated);
    expect(findPartition(state.snapshot!, 'orders', 0)).toMatchObject({ leaderId: 1, leaderEpoch: 0 });
  });

  it('a newer epoch learnt from a fetch asks for a refresh and refuses older metadata', () => {
    const state = started(0);
    expect(state.noteLeaderEpoch('orders', 0, 0)).toBe(false);
    expect(state.noteLeaderEpoch('orders', 0, 3)).toBe(true);
    const send = state.poll(100, pool()) as Extract<MetadataAction, { kind: 'send' }>;
    expect(send.kind).toBe('send');
    const snapshot = state.onResponse(110, response({ partitions: [{ leader: 2, epoch: 2 }] }), send.requestVersion)!;
    // Epoch 2 is older than the 3 we know of: no leader is trusted until metadata catches up.
    expect(findPartition(snapshot, 'orders', 0)).toMatchObject({ leaderId: -1, leaderEpoch: 3 });
    expect(state.poll(1000, pool())).toMatchObject({ kind: 'send' });
  });

  it('mergeMetadata keeps every other field of the response', () => {
    const { snapshot, staleEpochs } = mergeMetadata({ previous: null, response: response(), now: 7 });
    expect(staleEpochs).toBe(false);
    expect(snapshot).toMatchObject({ clusterId: 'cluster', controllerId: 1, updatedAt: 7 });
    expect(snapshot.topics.get('orders')!.partitions[0]).toEqual({
      partition: 0,
      leaderId: 1,
      leaderEpoch: 0,
      replicas: [1, 2, 3],
      isr: [1, 2, 3],
      offlineReplicas: [],
      error: null,
    });
  });
});
