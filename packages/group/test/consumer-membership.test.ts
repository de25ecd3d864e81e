/**
 * The KIP-848 membership as the consumer runs it: a real CoordinatorManager and SubscriptionState, a fake clock, a
 * metadata snapshot the test replaces, and the broker's ConsumerGroupHeartbeat answers scripted one by one.
 */
import { type ClusterSnapshot, ErrorCode, NetworkError, UnsupportedVersionError } from '@sluice/net';
import {
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  consumerGroupHeartbeatApi,
  defaultConsumerGroupHeartbeatResponse,
} from '@sluice/protocol';
import { SubscriptionState, type TopicPartition, type UnsentRequest } from '@sluice/runtime';
import { describe, expect, it, vi } from 'vitest';
import {
  ConsumerMembership,
  type ConsumerMembershipOptions,
  GroupProtocolUnsupportedError,
} from '../src/consumer-membership.ts';
import { CoordinatorManager } from '../src/coordinator-manager.ts';
import { answerFindCoordinator } from './coordinator-answers.ts';

const ORDERS = 'AAAAAAAAAAAAAAAAAAAAAQ';
const PAYMENTS = 'AAAAAAAAAAAAAAAAAAAAAg';

type DriverOptions = Partial<Omit<ConsumerMembershipOptions, 'coordinator' | 'subscriptions' | 'metadata'>>;

/**
 * The membership of group 'group' (max.poll.interval 60 s) with topics `orders` (4 partitions) and `payments` (2)
 * in metadata, and the loop's side: `poll()` runs it at `clock.now` (FindCoordinator answered at once, node 7) and
 * returns how many heartbeats it sent; `heartbeat()` takes the one queued, built at `version`, to answer or fail.
 */
function driver(options: DriverOptions = {}, version = 1) {
  const clock = { now: 1_000 };
  const metadata: { snapshot: ClusterSnapshot | null; requestUpdate: () => void } = {
    snapshot: null,
    requestUpdate: vi.fn(),
  };
  const publish = (topics: Record<string, { id: string; partitions: number }>) => {
    metadata.snapshot = {
      clusterId: 'cluster',
      controllerId: 1,
      brokers: new Map([[7, { nodeId: 7, host: 'broker-7', port: 9092, rack: null }]]),
      topics: new Map(
        Object.entries(topics).map(([name, topic]) => [
          name,
          {
            name,
            topicId: topic.id,
            isInternal: false,
            partitions: Array.from({ length: topic.partitions }, (_, partition) => ({
              partition,
              leaderId: 7,
              leaderEpoch: 0,
              replicas: [7],
              isr: [7],
              offlineReplicas: [],
              error: null,
            })),
            error: null,
          },
        ]),
      ),
      topicNamesById: new Map(Object.entries(topics).map(([name, topic]) => [topic.id, name])),
      updatedAt: clock.now,
    };
  };
  publish({ orders: { id: ORDERS, partitions: 4 }, payments: { id: PAYMENTS, partitions: 2 } });
  const coordinator = new CoordinatorManager({
    groupId: 'group',
    metadata,
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
  });
  const subscriptions = new SubscriptionState({ defaultResetStrategy: 'earliest' });
  const errors: Error[] = [];
  const membership = new ConsumerMembership({
    groupId: 'group',
    groupInstanceId: null,
    coordinator,
    subscriptions,
    metadata,
    remoteAssignor: null,
    rackId: null,
    rebalanceTimeoutMs: 60_000,
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
    memberId: 'client-member-id',
    onError: (error) => errors.push(error),
    ...options,
  });
  const outbox: UnsentRequest[] = [];
  const loop = { nextPollAt: Number.POSITIVE_INFINITY };
  const poll = (): number => {
    let sent = 0;
    for (let run = 0; run < 5; run++) {
      const result = membership.poll(clock.now);
      loop.nextPollAt = result.nextPollAt;
      outbox.push(...result.requests);
      sent += result.requests.length;
      const lookups = coordinator.poll(clock.now).requests;
      for (const lookup of lookups) answerFindCoordinator(lookup, { nodeId: 7, now: clock.now });
      if (lookups.length === 0) break;
    }
    return sent;
  };
  const heartbeat = () => {
    const unsent = outbox.shift() as unknown as UnsentRequest<
      ConsumerGroupHeartbeatRequest,
      ConsumerGroupHeartbeatResponse
    >;
    if (unsent === undefined) throw new Error('no heartbeat was sent');
    expect(unsent.api).toBe(consumerGroupHeartbeatApi);
    expect(unsent.target).toEqual({ nodeId: 7 });
    return {
      request: unsent.build(version),
      answer: (patch: Partial<ConsumerGroupHeartbeatResponse> = {}) =>
        void unsent.onResponse(
          { ...defaultConsumerGroupHeartbeatResponse(), heartbeatIntervalMs: 5_000, ...patch },
          { version, nodeId: 7, now: clock.now },
        ),
      fail: (error: Error) => unsent.onFailure(error, clock.now),
    };
  };
  const target = (assignment: Record<string, number[]>) => ({
    topicPartitions: Object.entries(assignment).map(([topicId, partitions]) => ({ topicId, partitions })),
  });
  const partitions = (topic: string, ...numbers: number[]): TopicPartition[] =>
    numbers.map((partition) => ({ topic, partition }));
  /** Runs every step the membership has for the application, as poll does, and returns them. */
  const runSteps = () => {
    const steps = [];
    for (let step = membership.takeStep(clock.now); step !== null; step = membership.takeStep(clock.now)) {
      steps.push(step);
      membership.completeStep(step, clock.now);
    }
    return steps;
  };
  /** Subscribes to `orders`, joins at the first poll, and gets `assigned` of it at epoch 1, acknowledged. */
  const stable = (assigned = [0, 1, 2, 3]) => {
    subscriptions.subscribe(['orders']);
    membership.subscriptionChanged(clock.now);
    membership.onPoll(clock.now);
    expect(poll()).toBe(1);
    heartbeat().answer({ memberId: 'client-member-id', memberEpoch: 1, assignment: target({ [ORDERS]: assigned }) });
    if (assigned.length === 0) {
      // Nothing to reconcile: stable at once, no listener call (as Kafka's consumer).
      expect(runSteps()).toEqual([]);
      expect(membership.state).toBe('stable');
      return;
    }
    expect(runSteps().map((step) => step.kind)).toEqual(['assign']);
    expect(poll()).toBe(1);
    const ack = heartbeat();
    expect(ack.request.topicPartitions).toEqual([{ topicId: ORDERS, partitions: assigned }]);
    ack.answer({ memberId: 'client-member-id', memberEpoch: 1 });
    expect(membership.state).toBe('stable');
  };
  return {
    clock,
    metadata,
    publish,
    coordinator,
    subscriptions,
    membership,
    errors,
    loop,
    poll,
    heartbeat,
    target,
    partitions,
    runSteps,
    stable,
  };
}

describe('ConsumerMembership: joining', () => {
  it('joins at the first poll after subscribe, with every field, epoch 0 and its own member id', () => {
    const d = driver({ rackId: 'rack-a', remoteAssignor: 'range', groupInstanceId: 'instance-1' });
    d.subscriptions.subscribe(['payments', 'orders']);
    d.membership.subscriptionChanged(d.clock.now);
    expect(d.poll()).toBe(0);
    d.membership.onPoll(d.clock.now);
    expect(d.poll()).toBe(1);
    const join = d.heartbeat().request;
    expect(join).toMatchObject({
      groupId: 'group',
      memberId: 'client-member-id',
      memberEpoch: 0,
      instanceId: 'instance-1',
      rackId: 'rack-a',
      rebalanceTimeoutMs: 60_000,
      subscribedTopicNames: ['orders', 'payments'],
      serverAssignor: 'range',
      topicPartitions: [],
    });
    expect(d.membership.commitPermission()).toEqual({ kind: 'rebalancing' });
  });

  it('version 0 joins with an empty member id and takes the one the broker gives', () => {
    const d = driver({}, 0);
    d.subscriptions.subscribe(['orders']);
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    const join = d.heartbeat();
    expect(join.request.memberId).toBe('');
    join.answer({ memberId: 'broker-given', memberEpoch: 3, assignment: d.target({ [ORDERS]: [0] }) });
    expect(d.membership.groupMetadata()).toMatchObject({ memberId: 'broker-given', generationId: 3 });
  });

  it('reconciles the first target: assign step, then an acknowledgement at once, then heartbeats at the interval', () => {
    const d = driver();
    d.subscriptions.subscribe(['orders']);
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    d.heartbeat().answer({ memberEpoch: 1, assignment: d.target({ [ORDERS]: [2, 0] }) });
    expect(d.membership.state).toBe('reconciling');
    expect(d.membership.stepPending).toBe(true);
    // Nothing is acknowledged before the application took the step.
    expect(d.poll()).toBe(0);
    const [assign] = d.runSteps();
    expect(assign).toMatchObject({ kind: 'assign', partitions: d.partitions('orders', 0, 2) });
    expect(d.subscriptions.assignedPartitions()).toEqual(d.partitions('orders', 0, 2));
    expect(d.membership.state).toBe('acknowledging');
    expect(d.poll()).toBe(1);
    const ack = d.heartbeat();
    expect(ack.request).toMatchObject({
      memberEpoch: 1,
      topicPartitions: [{ topicId: ORDERS, partitions: [0, 2] }],
      // Unchanged since the join: not sent again.
      subscribedTopicNames: null,
      rebalanceTimeoutMs: -1,
    });
    ack.answer({ memberEpoch: 1 });
    expect(d.membership.state).toBe('stable');
    expect(d.membership.commitPermission()).toEqual({
      kind: 'allowed',
      identity: { generationIdOrMemberEpoch: 1, memberId: 'client-member-id', groupInstanceId: null },
    });
    // The next heartbeat goes out at the broker's interval, with nothing but the identity.
    expect(d.poll()).toBe(0);
    expect(d.loop.nextPollAt).toBe(d.clock.now + 5_000);
    d.clock.now += 5_000;
    expect(d.poll()).toBe(1);
    expect(d.heartbeat().request).toMatchObject({ memberEpoch: 1, subscribedTopicNames: null, topicPartitions: null });
  });

  it("an empty first assignment is stable at once, with no step (as Kafka's consumer: no listener call)", () => {
    const d = driver();
    d.subscriptions.subscribe(['orders']);
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    d.heartbeat().answer({ memberEpoch: 2, assignment: d.target({}) });
    expect(d.membership.state).toBe('stable');
    expect(d.runSteps()).toEqual([]);
  });
});

describe('ConsumerMembership: reconciliation', () => {
  it('revokes what the target takes away first, then assigns what it adds, then acknowledges', () => {
    const d = driver();
    d.stable([0, 1, 2, 3]);
    d.clock.now += 5_000;
    d.poll();
    d.heartbeat().answer({ memberEpoch: 2, assignment: d.target({ [ORDERS]: [0, 1] }) });
    // The partitions that go stop fetching at once.
    expect(d.subscriptions.partition({ topic: 'orders', partition: 2 })?.pendingRevocation).toBe(true);
    const revoke = d.membership.takeStep(d.clock.now)!;
    expect(revoke).toMatchObject({ kind: 'revoke', partitions: d.partitions('orders', 2, 3) });
    // A commit inside onPartitionsRevoked carries the new epoch.
    expect(d.membership.commitPermission()).toMatchObject({ identity: { generationIdOrMemberEpoch: 2 } });
    expect(d.membership.takeStep(d.clock.now)).toBeNull();
    d.membership.completeStep(revoke, d.clock.now);
    const assign = d.membership.takeStep(d.clock.now)!;
    expect(assign).toMatchObject({ kind: 'assign', partitions: [] });
    d.membership.completeStep(assign, d.clock.now);
    expect(d.subscriptions.assignedPartitions()).toEqual(d.partitions('orders', 0, 1));
    expect(d.poll()).toBe(1);
    const ack = d.heartbeat();
    expect(ack.request.topicPartitions).toEqual([{ topicId: ORDERS, partitions: [0, 1] }]);
    ack.answer({ memberEpoch: 2 });
    expect(d.membership.state).toBe('stable');
  });

  it('a target that arrives during a reconciliation is reconciled after the acknowledgement', () => {
    const d = driver();
    d.stable([0, 1]);
    d.clock.now += 5_000;
    d.poll();
    d.heartbeat().answer({ memberEpoch: 2, assignment: d.target({ [ORDERS]: [0, 1, 2] }) });
    const assign = d.membership.takeStep(d.clock.now)!;
    // A heartbeat at the interval goes out while the application runs the step; its answer brings a new target.
    d.clock.now += 5_000;
    d.poll();
    const inFlight = d.heartbeat();
    expect(inFlight.request.topicPartitions).toBeNull();
    inFlight.answer({ memberEpoch: 3, assignment: d.target({ [ORDERS]: [0, 1, 2, 3] }) });
    d.membership.completeStep(assign, d.clock.now);
    expect(d.membership.takeStep(d.clock.now)).toBeNull();
    d.poll();
    const ack = d.heartbeat();
    expect(ack.request).toMatchObject({
      memberEpoch: 3,
      topicPartitions: [{ topicId: ORDERS, partitions: [0, 1, 2] }],
    });
    ack.answer({ memberEpoch: 3 });
    expect(d.membership.state).toBe('reconciling');
    expect(d.runSteps()).toMatchObject([{ kind: 'assign', partitions: d.partitions('orders', 3) }]);
    d.poll();
    expect(d.heartbeat().request.topicPartitions).toEqual([{ topicId: ORDERS, partitions: [0, 1, 2, 3] }]);
  });

  it('an answer to a heartbeat sent before the reconciliation completed does not count as its acknowledgement', () => {
    const d = driver();
    d.stable([0]);
    d.clock.now += 5_000;
    d.poll();
    d.heartbeat().answer({ memberEpoch: 2, assignment: d.target({ [ORDERS]: [0, 1] }) });
    const assign = d.membership.takeStep(d.clock.now)!;
    d.clock.now += 5_000;
    d.poll();
    const before = d.heartbeat();
    d.membership.completeStep(assign, d.clock.now);
    before.answer({ memberEpoch: 2 });
    expect(d.membership.state).toBe('acknowledging');
    expect(d.poll()).toBe(1);
    expect(d.heartbeat().request.topicPartitions).toEqual([{ topicId: ORDERS, partitions: [0, 1] }]);
  });

  it('a topic id not yet in metadata waits for it (a metadata update is asked for) while the rest is reconciled', () => {
    const d = driver();
    d.subscriptions.subscribe(['orders', 'fresh']);
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    const FRESH = 'AAAAAAAAAAAAAAAAAAAAAw';
    d.heartbeat().answer({ memberEpoch: 1, assignment: d.target({ [ORDERS]: [0], [FRESH]: [0, 1] }) });
    expect(d.runSteps()).toMatchObject([{ kind: 'assign', partitions: d.partitions('orders', 0) }]);
    expect(d.metadata.requestUpdate).toHaveBeenCalledTimes(1);
    d.poll();
    d.heartbeat().answer({ memberEpoch: 1 });
    expect(d.membership.state).toBe('reconciling');
    expect(d.runSteps()).toEqual([]);
    d.publish({ orders: { id: ORDERS, partitions: 4 }, fresh: { id: FRESH, partitions: 2 } });
    d.poll();
    expect(d.runSteps()).toMatchObject([{ kind: 'assign', partitions: d.partitions('fresh', 0, 1) }]);
    d.poll();
    const ack = d.heartbeat().request;
    expect(ack.topicPartitions).toEqual([
      { topicId: ORDERS, partitions: [0] },
      { topicId: FRESH, partitions: [0, 1] },
    ]);
  });

  it('a subscription change goes out with the next run, carrying only the new names', () => {
    const d = driver();
    d.stable();
    d.subscriptions.subscribe(['orders', 'payments']);
    d.membership.subscriptionChanged(d.clock.now);
    expect(d.poll()).toBe(1);
    expect(d.heartbeat().request).toMatchObject({
      subscribedTopicNames: ['orders', 'payments'],
      topicPartitions: null,
    });
  });
});

describe('ConsumerMembership: coordinator-side regular expressions', () => {
  it('sends the SubscriptionPattern (no names), and an empty one to drop it when topics are subscribed instead', () => {
    const d = driver();
    d.subscriptions.subscribeRegex('orders|pay.*');
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    const join = d.heartbeat();
    expect(join.request).toMatchObject({ subscribedTopicNames: [], subscribedTopicRegex: 'orders|pay.*' });
    join.answer({ memberEpoch: 1, assignment: d.target({ [ORDERS]: [0], [PAYMENTS]: [1] }) });
    d.runSteps();
    // The subscription lists what the coordinator matched.
    expect([...d.subscriptions.subscription].sort()).toEqual(['orders', 'payments']);
    d.poll();
    const ack = d.heartbeat();
    expect(ack.request).toMatchObject({ subscribedTopicNames: null, subscribedTopicRegex: null });
    ack.answer({ memberEpoch: 1 });
    d.subscriptions.subscribe(['orders']);
    d.membership.subscriptionChanged(d.clock.now);
    expect(d.poll()).toBe(1);
    const change = d.heartbeat();
    expect(change.request).toMatchObject({ subscribedTopicNames: ['orders'], subscribedTopicRegex: '' });
    change.answer({ memberEpoch: 2 });
    d.clock.now += 5_000;
    d.poll();
    expect(d.heartbeat().request).toMatchObject({ subscribedTopicNames: null, subscribedTopicRegex: null });
  });

  it('needs heartbeat v1: a broker with only v0 ends the membership naming the cause', () => {
    const d = driver({}, 0);
    d.subscriptions.subscribeRegex('orders.*');
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    const unsent = d.heartbeat;
    expect(() => unsent().request).toThrow(GroupProtocolUnsupportedError);
  });
});

describe('ConsumerMembership: errors', () => {
  it('FENCED_MEMBER_EPOCH loses the partitions (nothing committed), then rejoins with epoch 0 and the same id', () => {
    const d = driver();
    d.stable();
    d.clock.now += 5_000;
    d.poll();
    d.heartbeat().answer({ errorCode: ErrorCode.FENCED_MEMBER_EPOCH });
    expect(d.membership.state).toBe('fenced');
    expect(d.membership.commitPermission().kind).toBe('not-member');
    // No heartbeat until the application heard of the loss.
    expect(d.poll()).toBe(0);
    const [lose] = d.runSteps();
    expect(lose).toMatchObject({ kind: 'lose', partitions: d.partitions('orders', 0, 1, 2, 3) });
    expect(d.subscriptions.assignedCount).toBe(0);
    expect(d.poll()).toBe(1);
    expect(d.heartbeat().request).toMatchObject({
      memberId: 'client-member-id',
      memberEpoch: 0,
      subscribedTopicNames: ['orders'],
      topicPartitions: [],
    });
  });

  it('UNKNOWN_MEMBER_ID with nothing assigned rejoins at once', () => {
    const d = driver();
    d.stable([]);
    d.clock.now += 5_000;
    d.poll();
    d.heartbeat().answer({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID });
    expect(d.membership.state).toBe('joining');
    expect(d.poll()).toBe(1);
  });

  it.each([
    ['UNRELEASED_INSTANCE_ID', ErrorCode.UNRELEASED_INSTANCE_ID],
    ['GROUP_MAX_SIZE_REACHED', ErrorCode.GROUP_MAX_SIZE_REACHED],
    ['UNSUPPORTED_ASSIGNOR', ErrorCode.UNSUPPORTED_ASSIGNOR],
    ['FENCED_INSTANCE_ID', ErrorCode.FENCED_INSTANCE_ID],
    ['GROUP_AUTHORIZATION_FAILED', ErrorCode.GROUP_AUTHORIZATION_FAILED],
    ['INVALID_REQUEST', ErrorCode.INVALID_REQUEST],
  ])('%s ends the membership with a typed error', (name, code) => {
    const d = driver();
    d.subscriptions.subscribe(['orders']);
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    d.heartbeat().answer({ errorCode: code, errorMessage: 'from the broker' });
    expect(d.membership.fatalError).toMatchObject({ name: 'KafkaError', errorName: name, code });
    expect(d.membership.fatalError!.message).toContain('from the broker');
    expect(d.membership.state).toBe('fatal');
    expect(d.poll()).toBe(0);
  });

  it('a broker without ConsumerGroupHeartbeat, or refusing the protocol, names group.protocol', () => {
    const d = driver();
    d.subscriptions.subscribe(['orders']);
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    d.poll();
    d.heartbeat().fail(new UnsupportedVersionError('no version in common', { api: 'ConsumerGroupHeartbeat' }));
    expect(d.membership.fatalError).toBeInstanceOf(GroupProtocolUnsupportedError);
    expect(d.membership.fatalError!.message).toContain('group.protocol=classic');

    const e = driver();
    e.subscriptions.subscribe(['orders']);
    e.membership.subscriptionChanged(e.clock.now);
    e.membership.onPoll(e.clock.now);
    e.poll();
    e.heartbeat().answer({ errorCode: ErrorCode.UNSUPPORTED_VERSION });
    expect(e.membership.fatalError).toBeInstanceOf(GroupProtocolUnsupportedError);
  });

  it('a lost connection forgets the coordinator, backs off, and the next heartbeat carries every field', () => {
    const d = driver();
    d.stable();
    d.clock.now += 5_000;
    d.poll();
    d.heartbeat().fail(new NetworkError('connection reset', { broker: 'broker-7:9092' }));
    expect(d.coordinator.coordinator).toBeNull();
    expect(d.poll()).toBe(0);
    d.clock.now += 100;
    expect(d.poll()).toBe(1);
    expect(d.heartbeat().request).toMatchObject({
      memberEpoch: 1,
      subscribedTopicNames: ['orders'],
      rebalanceTimeoutMs: 60_000,
      topicPartitions: [{ topicId: ORDERS, partitions: [0, 1, 2, 3] }],
    });
  });

  it('NOT_COORDINATOR looks the coordinator up again; TOPIC_AUTHORIZATION_FAILED is reported and heartbeats go on', () => {
    const d = driver();
    d.stable();
    d.clock.now += 5_000;
    d.poll();
    d.heartbeat().answer({ errorCode: ErrorCode.NOT_COORDINATOR });
    expect(d.coordinator.coordinator).toBeNull();
    d.clock.now += 100;
    expect(d.poll()).toBe(1);
    d.heartbeat().answer({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
    expect(d.errors).toMatchObject([{ errorName: 'TOPIC_AUTHORIZATION_FAILED' }]);
    expect(d.membership.fatalError).toBeNull();
    d.clock.now += 200;
    expect(d.poll()).toBe(1);
  });
});

describe('ConsumerMembership: leaving and liveness', () => {
  it('close revokes, then leaves with epoch -1; a static member leaves with -2', () => {
    for (const [instance, epoch] of [
      [null, -1],
      ['instance-1', -2],
    ] as const) {
      const d = driver({ groupInstanceId: instance });
      d.stable();
      const step = d.membership.beginLeave();
      expect(step).toMatchObject({ kind: 'revoke', partitions: d.partitions('orders', 0, 1, 2, 3) });
      d.membership.leave('the consumer is being closed', { ending: 'closed' });
      expect(d.membership.left).toBe(false);
      expect(d.poll()).toBe(1);
      const leave = d.heartbeat();
      expect(leave.request).toMatchObject({ memberEpoch: epoch, memberId: 'client-member-id', instanceId: instance });
      leave.answer({ memberEpoch: epoch });
      expect(d.membership.left).toBe(true);
      expect(d.membership.state).toBe('closed');
      expect(d.poll()).toBe(0);
    }
  });

  it('a leave that fails still ends the membership; a member that never joined has nothing to send', () => {
    const d = driver();
    d.stable();
    d.membership.beginLeave();
    d.membership.leave('closing', { ending: 'closed' });
    d.poll();
    d.heartbeat().fail(new NetworkError('gone', { broker: 'broker-7:9092' }));
    expect(d.membership.left).toBe(true);

    const never = driver();
    never.membership.beginLeave();
    never.membership.leave('closing', { ending: 'closed' });
    expect(never.membership.left).toBe(true);
  });

  it('unsubscribe leaves, and a later subscribe joins again with epoch 0', () => {
    const d = driver();
    d.stable();
    d.membership.beginLeave();
    d.membership.leave('unsubscribed', { ending: 'unjoined' });
    d.poll();
    d.heartbeat().answer({ memberEpoch: -1 });
    expect(d.membership.state).toBe('unsubscribed');
    d.subscriptions.unsubscribe();
    d.membership.resetAfterLeave();
    d.subscriptions.subscribe(['payments']);
    d.membership.subscriptionChanged(d.clock.now);
    d.membership.onPoll(d.clock.now);
    expect(d.poll()).toBe(1);
    expect(d.heartbeat().request).toMatchObject({ memberEpoch: 0, subscribedTopicNames: ['payments'] });
  });

  it('no poll for max.poll.interval.ms: the member leaves, loses its partitions at the next poll, and rejoins', () => {
    const d = driver({ rebalanceTimeoutMs: 20_000 });
    d.stable();
    const polled = d.clock.now;
    for (let at = polled + 5_000; at < polled + 20_000; at += 5_000) {
      d.clock.now = at;
      expect(d.poll()).toBe(1);
      d.heartbeat().answer({ memberEpoch: 1 });
    }
    expect(d.loop.nextPollAt).toBe(polled + 20_000);
    d.clock.now = polled + 20_000;
    expect(d.poll()).toBe(1);
    const leave = d.heartbeat();
    expect(leave.request.memberEpoch).toBe(-1);
    leave.answer({ memberEpoch: -1 });
    expect(d.membership.state).toBe('stale');
    expect(d.membership.left).toBe(false);
    d.clock.now += 60_000;
    d.membership.onPoll(d.clock.now);
    expect(d.runSteps()).toMatchObject([{ kind: 'lose', partitions: d.partitions('orders', 0, 1, 2, 3) }]);
    expect(d.poll()).toBe(1);
    expect(d.heartbeat().request).toMatchObject({ memberEpoch: 0, topicPartitions: [] });
  });

  it('waiting inside poll is polling: max.poll.interval.ms does not run out', () => {
    const d = driver({ rebalanceTimeoutMs: 20_000 });
    d.stable();
    const token = d.membership.beginPollWait(d.clock.now);
    d.clock.now += 50_000;
    d.poll();
    expect(d.membership.state).toBe('stable');
    d.membership.endPollWait(d.clock.now, token);
    expect(d.membership.state).toBe('stable');
  });
});
