/**
 * The classic membership as the consumer runs it: a real CoordinatorManager, SubscriptionState and assignors, a fake
 * clock, a metadata snapshot the test replaces, and the broker's answers scripted per request.
 */
import { CooperativeStickyAssignor, RangeAssignor } from '@sluice/assignors';
import { type ClusterSnapshot, ErrorCode, KafkaError, NetworkError, UnsupportedVersionError } from '@sluice/net';
import {
  type ApiDescriptor,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  defaultHeartbeatResponse,
  defaultJoinGroupResponse,
  defaultLeaveGroupResponse,
  defaultSyncGroupResponse,
  encodeConsumerAssignment,
  heartbeatApi,
  type JoinGroupRequest,
  joinGroupApi,
  leaveGroupApi,
  syncGroupApi,
  ZERO_UUID,
} from '@sluice/protocol';
import { SubscriptionState, type TopicPartition, type UnsentRequest } from '@sluice/runtime';
import { describe, expect, it, vi } from 'vitest';
import { ClassicMembershipManager, type ClassicMembershipManagerOptions } from '../src/classic-membership-manager.ts';
import { CoordinatorManager } from '../src/coordinator-manager.ts';
import { answerFindCoordinator } from './coordinator-answers.ts';

/** The versions the fake broker speaks (JoinGroup v9: reason and skipAssignment; LeaveGroup v5: members). */
const VERSIONS: Record<string, number> = { JoinGroup: 9, SyncGroup: 5, Heartbeat: 4, LeaveGroup: 5 };

type DriverOptions = Partial<Omit<ClassicMembershipManagerOptions, 'coordinator' | 'subscriptions' | 'metadata'>>;

/**
 * The membership manager of group 'group' (session 10 s, heartbeat 3 s, max.poll.interval 60 s), with its
 * coordinator manager, subscription state and metadata (the topic `orders` with 4 partitions), and the client
 * loop's side:
 * - `poll()` runs the loop once at `clock.now`: FindCoordinator is answered at once (node 7), what the membership
 *   sends is queued, and the names of the APIs it sent are returned;
 * - `joinGroup()`, `syncGroup()`, `heartbeat()`, `leaveGroup()` take the queued request of that API, built at the
 *   broker's version, to `answer` (defaults plus a patch) or `fail`;
 * - `joinAsLeader` / `joinAsFollower` answer a JoinGroup and its SyncGroup as the coordinator would;
 * - `stable()` subscribes to `orders`, joins as the only member (the leader) and runs the assign step.
 */
function driver(options: DriverOptions = {}) {
  const clock = { now: 0 };
  const metadata: { snapshot: ClusterSnapshot | null; requestUpdate: () => void } = {
    snapshot: null,
    requestUpdate: vi.fn(),
  };
  /** A new snapshot (a new object, as every metadata update makes) with these topics and partition counts. */
  const publish = (topics: Record<string, number>, updatedAt = clock.now) => {
    metadata.snapshot = {
      clusterId: 'cluster',
      controllerId: 1,
      brokers: new Map([
        [1, { nodeId: 1, host: 'broker-1', port: 9092, rack: null }],
        [7, { nodeId: 7, host: 'broker-7', port: 9092, rack: null }],
      ]),
      topics: new Map(
        Object.entries(topics).map(([name, count]) => [
          name,
          {
            name,
            topicId: ZERO_UUID,
            isInternal: false,
            partitions: Array.from({ length: count }, (_, partition) => ({
              partition,
              leaderId: 1,
              leaderEpoch: 0,
              replicas: [1],
              isr: [1],
              offlineReplicas: [],
              error: null,
            })),
            error: null,
          },
        ]),
      ),
      topicNamesById: new Map(),
      updatedAt,
    };
  };
  publish({ orders: 4 }, 0);
  const coordinator = new CoordinatorManager({
    groupId: 'group',
    metadata,
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
  });
  const subscriptions = new SubscriptionState({ defaultResetStrategy: 'earliest' });
  const assignors = options.assignors ?? [new RangeAssignor()];
  const protocolName = assignors[0]!.name;
  const manager = new ClassicMembershipManager({
    groupId: 'group',
    coordinator,
    subscriptions,
    metadata,
    rackId: null,
    requestTimeoutMs: 30_000,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 3_000,
    rebalanceTimeoutMs: 60_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
    ...options,
    assignors,
  });
  const outbox: UnsentRequest[] = [];
  const loop = { nextPollAt: Number.POSITIVE_INFINITY };

  const poll = (): string[] => {
    const sent: UnsentRequest[] = [];
    // The membership asks for the coordinator in one run and uses it in the next, once the lookup is answered.
    for (let run = 0; run < 5; run++) {
      const result = manager.poll(clock.now);
      loop.nextPollAt = result.nextPollAt;
      sent.push(...result.requests);
      const lookups = coordinator.poll(clock.now).requests;
      for (const lookup of lookups) answerFindCoordinator(lookup, { nodeId: 7, now: clock.now });
      if (lookups.length === 0) break;
    }
    outbox.push(...sent);
    return sent.map((request) => request.api.name);
  };

  const take = <Request, Response>(api: ApiDescriptor<Request, Response>, defaults: () => Response) => {
    const index = outbox.findIndex((request) => request.api === api);
    if (index < 0) throw new Error(`no ${api.name} request was sent (queued: ${outbox.map((r) => r.api.name)})`);
    const unsent = outbox.splice(index, 1)[0] as unknown as UnsentRequest<Request, Response>;
    const version = VERSIONS[api.name]!;
    expect(unsent.target).toEqual({ nodeId: 7 });
    return {
      request: unsent.build(version),
      answer: (patch: Partial<Response> = {}) =>
        void unsent.onResponse({ ...defaults(), ...patch }, { version, nodeId: 7, now: clock.now }),
      fail: (error: Error) => unsent.onFailure(error, clock.now),
    };
  };
  const joinGroup = () =>
    take(joinGroupApi, () => ({ ...defaultJoinGroupResponse(), protocolType: 'consumer', protocolName }));
  const syncGroup = () =>
    take(syncGroupApi, () => ({ ...defaultSyncGroupResponse(), protocolType: 'consumer', protocolName }));
  const heartbeat = () => take(heartbeatApi, defaultHeartbeatResponse);
  const leaveGroup = () => take(leaveGroupApi, defaultLeaveGroupResponse);

  /** What a JoinGroup carries for the first (preferred) assignor. */
  const subscriptionOf = (request: JoinGroupRequest) =>
    decodeConsumerSubscription(request.protocols[0]!.metadata).value;
  const partitions = (topic: string, ...numbers: number[]): TopicPartition[] =>
    numbers.map((partition) => ({ topic, partition }));
  const assignment = (assigned: readonly TopicPartition[]) => {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of assigned) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    return encodeConsumerAssignment({
      assignedPartitions: [...byTopic].map(([topic, numbers]) => ({ topic, partitions: numbers })),
      userData: null,
    });
  };
  /** Every position known: the assigned partitions are fetchable (unless paused or pending revocation). */
  const seekAll = () => {
    for (const tp of subscriptions.assignedPartitions()) subscriptions.seek(tp, 0n);
  };

  /** Answers the queued JoinGroup as the only member's leader, then its SyncGroup with what the leader assigned. */
  const joinAsLeader = (identity: { memberId?: string; generationId?: number } = {}) => {
    const memberId = identity.memberId ?? 'member-1';
    const generationId = identity.generationId ?? 1;
    const join = joinGroup();
    join.answer({
      generationId,
      memberId,
      leader: memberId,
      members: [
        { memberId, groupInstanceId: join.request.groupInstanceId, metadata: join.request.protocols[0]!.metadata },
      ],
    });
    expect(poll()).toEqual(['SyncGroup']);
    const sync = syncGroup();
    const own = sync.request.assignments.find((entry) => entry.memberId === memberId);
    expect(own).toBeDefined();
    sync.answer({ assignment: own!.assignment });
    return { join, sync, assigned: decodeConsumerAssignment(own!.assignment).value.assignedPartitions };
  };
  /** Answers the queued JoinGroup as a follower of 'leader-member', then its SyncGroup with `assigned`. */
  const joinAsFollower = (
    assigned: readonly TopicPartition[],
    identity: { memberId?: string; generationId?: number } = {},
  ) => {
    const memberId = identity.memberId ?? 'member-1';
    const join = joinGroup();
    join.answer({ generationId: identity.generationId ?? 1, memberId, leader: 'leader-member' });
    expect(poll()).toEqual(['SyncGroup']);
    const sync = syncGroup();
    expect(sync.request.assignments).toEqual([]);
    sync.answer({ assignment: assignment(assigned) });
    return { join, sync };
  };
  /** Subscribes to `orders`, joins at the first poll as the leader of generation 1 and runs the assign step. */
  const stable = () => {
    subscriptions.subscribe(['orders']);
    manager.subscriptionChanged(clock.now);
    manager.onPoll(clock.now);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(poll()).toEqual(['JoinGroup']);
    joinAsLeader();
    const step = manager.takeStep(clock.now);
    expect(step).toMatchObject({ kind: 'assign', partitions: partitions('orders', 0, 1, 2, 3) });
    manager.completeStep(step!, clock.now);
    expect(manager.takeStep(clock.now)).toBeNull();
  };

  return {
    clock,
    metadata,
    publish,
    coordinator,
    subscriptions,
    manager,
    loop,
    poll,
    joinGroup,
    syncGroup,
    heartbeat,
    leaveGroup,
    subscriptionOf,
    partitions,
    assignment,
    seekAll,
    joinAsLeader,
    joinAsFollower,
    stable,
  };
}

describe('ClassicMembershipManager: joining', () => {
  it('joins at the first poll with the subscription, assigns as leader, and applies the assignment as a step', () => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    subscriptions.subscribe(['orders']);
    manager.subscriptionChanged(clock.now);
    // Nothing before the application polls: no lookup, no JoinGroup.
    expect(group.poll()).toEqual([]);
    expect(group.coordinator.coordinator).toBeNull();
    manager.onPoll(clock.now);
    // Nothing assigned: nothing to revoke, the step is the join itself.
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual(['JoinGroup']);
    expect(group.coordinator.coordinator).toBe(7);
    expect(manager.commitPermission()).toEqual({ kind: 'rebalancing' });

    // KIP-394: the broker hands out the member id first.
    const first = group.joinGroup();
    expect(first.request).toMatchObject({
      groupId: 'group',
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 60_000,
    });
    expect(first.request.protocols.map((protocol) => protocol.name)).toEqual(['range']);
    expect(group.subscriptionOf(first.request)).toMatchObject({
      topics: ['orders'],
      ownedPartitions: [],
      generationId: -1,
    });
    first.answer({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'member-1' });
    expect(group.poll()).toEqual(['JoinGroup']);
    const second = group.joinGroup();
    expect(second.request.memberId).toBe('member-1');
    second.answer({
      generationId: 1,
      memberId: 'member-1',
      leader: 'member-1',
      members: [{ memberId: 'member-1', groupInstanceId: null, metadata: second.request.protocols[0]!.metadata }],
    });

    // The leader runs the assignor over the snapshot: every partition of `orders`.
    expect(group.poll()).toEqual(['SyncGroup']);
    expect(manager.commitPermission()).toEqual({ kind: 'rebalancing' });
    const sync = group.syncGroup();
    expect(sync.request).toMatchObject({
      groupId: 'group',
      generationId: 1,
      memberId: 'member-1',
      protocolName: 'range',
    });
    expect(sync.request.assignments.map((entry) => entry.memberId)).toEqual(['member-1']);
    const assigned = decodeConsumerAssignment(sync.request.assignments[0]!.assignment).value.assignedPartitions;
    expect(assigned).toEqual([{ topic: 'orders', partitions: [0, 1, 2, 3] }]);
    sync.answer({ assignment: sync.request.assignments[0]!.assignment });

    // The assignment changes when the application takes the step.
    expect(subscriptions.assignedPartitions()).toEqual([]);
    const step = manager.takeStep(clock.now);
    expect(step).toEqual({
      id: expect.any(Number),
      kind: 'assign',
      partitions: group.partitions('orders', 0, 1, 2, 3),
    });
    expect(subscriptions.assignedPartitions()).toEqual(group.partitions('orders', 0, 1, 2, 3));
    manager.completeStep(step!, clock.now);
    expect(manager.commitPermission()).toEqual({
      kind: 'allowed',
      identity: { generationIdOrMemberEpoch: 1, memberId: 'member-1', groupInstanceId: null },
    });
    expect(manager.groupMetadata()).toEqual({
      groupId: 'group',
      generationId: 1,
      memberId: 'member-1',
      groupInstanceId: null,
    });
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual([]);
  });
});

describe('ClassicMembershipManager: heartbeats and rejoins', () => {
  it('heartbeats every heartbeat.interval.ms while stable', () => {
    const group = driver();
    group.stable();
    for (const at of [3_000, 6_000, 9_000]) {
      group.clock.now = at - 1;
      expect(group.poll()).toEqual([]);
      expect(group.loop.nextPollAt).toBe(at);
      group.clock.now = at;
      expect(group.poll()).toEqual(['Heartbeat']);
      const beat = group.heartbeat();
      expect(beat.request).toMatchObject({ groupId: 'group', generationId: 1, memberId: 'member-1' });
      group.clock.now = at + 200;
      beat.answer();
    }
  });

  it('EAGER: REBALANCE_IN_PROGRESS waits for the application to poll, revokes everything, then sends JoinGroup', () => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    group.stable();
    group.seekAll();
    const assigned = group.partitions('orders', 0, 1, 2, 3);
    clock.now = 3_000;
    expect(group.poll()).toEqual(['Heartbeat']);
    group.heartbeat().answer({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS });

    // Not by itself: nothing is revoked and nothing is sent until the application polls.
    expect(group.poll()).toEqual([]);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(subscriptions.assignedPartitions()).toEqual(assigned);
    expect(assigned.every((tp) => subscriptions.isFetchable(tp))).toBe(true);
    expect(manager.commitPermission()).toMatchObject({ kind: 'allowed' });
    // The member keeps heartbeating meanwhile.
    clock.now = 6_000;
    expect(group.poll()).toEqual(['Heartbeat']);
    group.heartbeat().answer();
    expect(group.poll()).toEqual([]);

    manager.onPoll(clock.now);
    expect(group.poll()).toEqual([]);
    const revoke = manager.takeStep(clock.now);
    expect(revoke).toEqual({ id: expect.any(Number), kind: 'revoke', partitions: assigned, notifyEmpty: true });
    // The commit before the revocation still goes through with the current generation.
    expect(manager.commitPermission()).toEqual({
      kind: 'allowed',
      identity: { generationIdOrMemberEpoch: 1, memberId: 'member-1', groupInstanceId: null },
    });
    expect(group.poll()).toEqual([]);
    expect(subscriptions.assignedPartitions()).toEqual(assigned);

    manager.completeStep(revoke!, clock.now);
    expect(subscriptions.assignedPartitions()).toEqual([]);
    expect(group.poll()).toEqual(['JoinGroup']);
    const join = group.joinGroup();
    expect(join.request).toMatchObject({ memberId: 'member-1', reason: 'the group is rebalancing' });
    expect(group.subscriptionOf(join.request)).toMatchObject({ topics: ['orders'], ownedPartitions: [] });
    expect(manager.commitPermission()).toEqual({ kind: 'rebalancing' });
  });

  it('COOPERATIVE: a rejoin keeps the partitions, revokes only what the new assignment drops, then rejoins', () => {
    const group = driver({ assignors: [new CooperativeStickyAssignor()] });
    const { manager, subscriptions, clock } = group;
    subscriptions.subscribe(['orders']);
    manager.subscriptionChanged(clock.now);
    manager.onPoll(clock.now);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual(['JoinGroup']);
    group.joinAsFollower(group.partitions('orders', 0, 1, 2));
    const assign = manager.takeStep(clock.now);
    expect(assign).toMatchObject({ kind: 'assign', partitions: group.partitions('orders', 0, 1, 2) });
    manager.completeStep(assign!, clock.now);
    group.seekAll();

    clock.now = 3_000;
    expect(group.poll()).toEqual(['Heartbeat']);
    group.heartbeat().answer({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS });
    manager.onPoll(clock.now);
    // The subscription did not change: nothing to revoke before joining.
    const prepare = manager.takeStep(clock.now);
    expect(prepare).toEqual({ id: expect.any(Number), kind: 'revoke', partitions: [], notifyEmpty: false });
    manager.completeStep(prepare!, clock.now);
    expect(subscriptions.assignedPartitions()).toEqual(group.partitions('orders', 0, 1, 2));
    expect(group.poll()).toEqual(['JoinGroup']);
    const rejoin = group.joinGroup();
    expect(rejoin.request.protocols.map((protocol) => protocol.name)).toEqual(['cooperative-sticky']);
    expect(group.subscriptionOf(rejoin.request)).toMatchObject({
      topics: ['orders'],
      ownedPartitions: [{ topic: 'orders', partitions: [0, 1, 2] }],
      generationId: 1,
    });
    // Still consuming what it owns while the rebalance runs.
    expect(subscriptions.isFetchable({ topic: 'orders', partition: 0 })).toBe(true);

    // Generation 2 takes orders-0 away and adds orders-3.
    rejoin.answer({ generationId: 2, memberId: 'member-1', leader: 'leader-member' });
    expect(group.poll()).toEqual(['SyncGroup']);
    group.syncGroup().answer({ assignment: group.assignment(group.partitions('orders', 1, 2, 3)) });
    expect(subscriptions.isFetchable({ topic: 'orders', partition: 0 })).toBe(false);
    expect(subscriptions.isFetchable({ topic: 'orders', partition: 1 })).toBe(true);

    const revoke = manager.takeStep(clock.now);
    expect(revoke).toEqual({
      id: expect.any(Number),
      kind: 'revoke',
      partitions: group.partitions('orders', 0),
      notifyEmpty: false,
    });
    manager.completeStep(revoke!, clock.now);
    expect(subscriptions.assignedPartitions()).toEqual(group.partitions('orders', 1, 2));
    const added = manager.takeStep(clock.now);
    expect(added).toEqual({ id: expect.any(Number), kind: 'assign', partitions: group.partitions('orders', 3) });
    expect(subscriptions.assignedPartitions()).toEqual(group.partitions('orders', 1, 2, 3));
    manager.completeStep(added!, clock.now);

    // KIP-429: what was revoked goes to its new owner in another rebalance, which this member starts.
    const again = manager.takeStep(clock.now);
    expect(again).toEqual({ id: expect.any(Number), kind: 'revoke', partitions: [], notifyEmpty: false });
    manager.completeStep(again!, clock.now);
    expect(group.poll()).toEqual(['JoinGroup']);
    const third = group.joinGroup();
    expect(group.subscriptionOf(third.request)).toMatchObject({
      ownedPartitions: [{ topic: 'orders', partitions: [1, 2, 3] }],
      generationId: 2,
    });
  });

  it.each([
    { error: 'ILLEGAL_GENERATION', code: ErrorCode.ILLEGAL_GENERATION, memberId: 'member-1' },
    { error: 'UNKNOWN_MEMBER_ID', code: ErrorCode.UNKNOWN_MEMBER_ID, memberId: '' },
  ])('a heartbeat answered $error loses the partitions at once, then joins again', ({ code, memberId }) => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    group.stable();
    group.seekAll();
    const assigned = group.partitions('orders', 0, 1, 2, 3);
    clock.now = 3_000;
    expect(group.poll()).toEqual(['Heartbeat']);
    group.heartbeat().answer({ errorCode: code });

    // Fetching stops at once; commits are refused; the application hears of the loss at its next poll.
    expect(assigned.some((tp) => subscriptions.isFetchable(tp))).toBe(false);
    expect(manager.commitPermission()).toMatchObject({ kind: 'not-member' });
    expect(manager.stepPending).toBe(true);
    expect(group.poll()).toEqual([]);
    manager.onPoll(clock.now);
    const lose = manager.takeStep(clock.now);
    expect(lose).toEqual({ id: expect.any(Number), kind: 'lose', partitions: assigned });
    expect(group.poll()).toEqual([]);
    manager.completeStep(lose!, clock.now);
    expect(subscriptions.assignedPartitions()).toEqual([]);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual(['JoinGroup']);
    const join = group.joinGroup();
    expect(join.request.memberId).toBe(memberId);
    expect(group.subscriptionOf(join.request)).toMatchObject({ topics: ['orders'], ownedPartitions: [] });
  });
});

describe('ClassicMembershipManager: what makes the member rejoin', () => {
  it('the leader rejoins when a later snapshot has more partitions; an unchanged one changes nothing', () => {
    const group = driver();
    const { manager, clock } = group;
    group.stable();
    // The same snapshot, and a new one with the same partitions: no rejoin.
    clock.now = 1_000;
    expect(group.poll()).toEqual([]);
    group.publish({ orders: 4 });
    expect(group.poll()).toEqual([]);
    manager.onPoll(clock.now);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual([]);

    clock.now = 2_000;
    group.publish({ orders: 6 });
    expect(group.poll()).toEqual([]);
    manager.onPoll(clock.now);
    const revoke = manager.takeStep(clock.now);
    expect(revoke).toMatchObject({ kind: 'revoke', partitions: group.partitions('orders', 0, 1, 2, 3) });
    manager.completeStep(revoke!, clock.now);
    expect(group.poll()).toEqual(['JoinGroup']);
    const { join, assigned } = group.joinAsLeader({ generationId: 2 });
    expect(join.request).toMatchObject({
      memberId: 'member-1',
      reason: 'the partitions of orders changed from 4 to 6',
    });
    expect(assigned).toEqual([{ topic: 'orders', partitions: [0, 1, 2, 3, 4, 5] }]);
  });

  it('the leader waits for metadata on a missing topic, then rejoins when the topic is created', () => {
    const group = driver();
    const { manager, subscriptions, metadata, clock } = group;
    clock.now = 100;
    subscriptions.subscribe(['orders', 'payments']);
    manager.subscriptionChanged(clock.now);
    manager.onPoll(clock.now);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual(['JoinGroup']);
    const join = group.joinGroup();
    expect(group.subscriptionOf(join.request).topics).toEqual(['orders', 'payments']);
    join.answer({
      generationId: 1,
      memberId: 'member-1',
      leader: 'member-1',
      members: [{ memberId: 'member-1', groupInstanceId: null, metadata: join.request.protocols[0]!.metadata }],
    });
    // `payments` is not in a snapshot older than the assignment task: ask for newer metadata first.
    expect(group.poll()).toEqual([]);
    expect(metadata.requestUpdate).toHaveBeenCalled();
    clock.now = 150;
    group.publish({ orders: 4 });
    expect(group.poll()).toEqual(['SyncGroup']);
    const sync = group.syncGroup();
    const own = sync.request.assignments[0]!.assignment;
    expect(decodeConsumerAssignment(own).value.assignedPartitions).toEqual([
      { topic: 'orders', partitions: [0, 1, 2, 3] },
    ]);
    sync.answer({ assignment: own });
    manager.completeStep(manager.takeStep(clock.now)!, clock.now);

    clock.now = 1_000;
    group.publish({ orders: 4, payments: 2 });
    expect(group.poll()).toEqual([]);
    manager.onPoll(clock.now);
    const revoke = manager.takeStep(clock.now);
    expect(revoke).toMatchObject({ kind: 'revoke' });
    manager.completeStep(revoke!, clock.now);
    expect(group.poll()).toEqual(['JoinGroup']);
    const rejoin = group.joinGroup();
    expect(rejoin.request).toMatchObject({ memberId: 'member-1', reason: 'the subscribed topic payments was created' });
  });

  it('a stable member whose subscription changes rejoins at the next poll with the same member id', () => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    group.stable();
    clock.now = 1_000;
    group.publish({ orders: 4, payments: 2 });
    expect(group.poll()).toEqual([]);
    // As KafkaConsumer runs it: subscribe, then poll (onPoll and takeStep on the same tick, no loop run between).
    expect(subscriptions.subscribe(['orders', 'payments'])).toBe(true);
    manager.subscriptionChanged(clock.now);
    manager.onPoll(clock.now);
    const revoke = manager.takeStep(clock.now);
    expect(revoke).toMatchObject({ kind: 'revoke', partitions: group.partitions('orders', 0, 1, 2, 3) });
    manager.completeStep(revoke!, clock.now);
    expect(group.poll()).toEqual(['JoinGroup']);
    const join = group.joinGroup();
    expect(join.request.memberId).toBe('member-1');
    expect(group.subscriptionOf(join.request).topics).toEqual(['orders', 'payments']);
  });

  it('a pattern joins only after metadata newer than the subscription was matched, with the matched topics', () => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    clock.now = 1_000;
    group.publish({ 'orders-eu': 2, 'orders-us': 3, payments: 2 }, 999);
    subscriptions.subscribePattern(/orders-.*/);
    manager.subscriptionChanged(clock.now);
    manager.onPoll(clock.now);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual([]);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual([]);
    expect(group.coordinator.coordinator).toBeNull();

    group.publish({ 'orders-eu': 2, 'orders-us': 3, payments: 2 }, 1_000);
    expect(group.poll()).toEqual([]);
    expect([...subscriptions.subscription].sort()).toEqual(['orders-eu', 'orders-us']);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual(['JoinGroup']);
    const join = group.joinGroup();
    expect(group.subscriptionOf(join.request).topics).toEqual(['orders-eu', 'orders-us']);
  });
});

describe('ClassicMembershipManager: max.poll.interval.ms', () => {
  it('leaves the group when the application does not poll for the rebalance timeout, and loses the partitions', () => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    group.stable();
    group.seekAll();
    const assigned = group.partitions('orders', 0, 1, 2, 3);
    for (clock.now = 3_000; clock.now < 60_000; clock.now += 3_000) {
      expect(group.poll()).toEqual(['Heartbeat']);
      group.heartbeat().answer();
    }
    expect(group.loop.nextPollAt).toBe(60_000);
    clock.now = 60_000;
    expect(group.poll()).toEqual(['LeaveGroup']);
    const leave = group.leaveGroup();
    expect(leave.request.members).toEqual([
      {
        memberId: 'member-1',
        groupInstanceId: null,
        reason: expect.stringMatching(/max.poll.interval.ms \(60000 ms\)/),
      },
    ]);
    expect(manager.commitPermission()).toMatchObject({ kind: 'not-member' });
    expect(assigned.some((tp) => subscriptions.isFetchable(tp))).toBe(false);
    leave.answer();
    // The leave was the membership's own: the manager is not done.
    expect(manager.left).toBe(false);

    clock.now = 70_000;
    manager.onPoll(clock.now);
    const lose = manager.takeStep(clock.now);
    expect(lose).toEqual({ id: expect.any(Number), kind: 'lose', partitions: assigned });
    manager.completeStep(lose!, clock.now);
    expect(manager.takeStep(clock.now)).toBeNull();
    expect(group.poll()).toEqual(['JoinGroup']);
    expect(group.joinGroup().request.memberId).toBe('');
  });
});

describe('ClassicMembershipManager: leaving', () => {
  it('a member of a live generation revokes, sends LeaveGroup, and has left once it is answered', () => {
    const group = driver();
    const { manager, clock } = group;
    group.stable();
    const step = manager.beginLeave();
    expect(step).toEqual({
      id: expect.any(Number),
      kind: 'revoke',
      partitions: group.partitions('orders', 0, 1, 2, 3),
      notifyEmpty: false,
    });
    manager.completeStep(step, clock.now);
    manager.leave('the consumer is being closed', { ending: 'closed' });
    expect(manager.left).toBe(false);
    expect(group.poll()).toEqual(['LeaveGroup']);
    const leave = group.leaveGroup();
    expect(leave.request).toMatchObject({
      groupId: 'group',
      members: [{ memberId: 'member-1', groupInstanceId: null, reason: 'the consumer is being closed' }],
    });
    expect(manager.left).toBe(false);
    leave.answer();
    expect(manager.left).toBe(true);
    clock.now = 10_000;
    expect(group.poll()).toEqual([]);
  });

  it('a member whose generation is gone loses its partitions', () => {
    const group = driver();
    const { manager, clock } = group;
    group.stable();
    clock.now = 3_000;
    expect(group.poll()).toEqual(['Heartbeat']);
    group.heartbeat().answer({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID });
    expect(manager.beginLeave()).toEqual({
      id: expect.any(Number),
      kind: 'lose',
      partitions: group.partitions('orders', 0, 1, 2, 3),
    });
  });

  it('a static member leaves without LeaveGroup', () => {
    const group = driver({ groupInstanceId: 'instance-a' });
    const { manager, clock } = group;
    group.stable();
    expect(manager.commitPermission()).toEqual({
      kind: 'allowed',
      identity: { generationIdOrMemberEpoch: 1, memberId: 'member-1', groupInstanceId: 'instance-a' },
    });
    const step = manager.beginLeave();
    expect(step).toMatchObject({ kind: 'revoke' });
    manager.completeStep(step, clock.now);
    manager.leave('the consumer is being closed', { ending: 'closed' });
    expect(manager.left).toBe(true);
    clock.now = 3_000;
    expect(group.poll()).toEqual([]);
  });
});

describe('ClassicMembershipManager: fatal errors', () => {
  it('INCONSISTENT_GROUP_PROTOCOL from JoinGroup ends the membership', () => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    subscriptions.subscribe(['orders']);
    manager.subscriptionChanged(clock.now);
    manager.onPoll(clock.now);
    manager.takeStep(clock.now);
    expect(group.poll()).toEqual(['JoinGroup']);
    group.joinGroup().answer({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL });
    expect(manager.fatalError).toBeInstanceOf(KafkaError);
    expect(manager.fatalError?.message).toMatch(/INCONSISTENT_GROUP_PROTOCOL/);
    expect(manager.commitPermission()).toMatchObject({ kind: 'not-member' });
    clock.now = 5_000;
    expect(group.poll()).toEqual([]);
    expect(manager.takeStep(clock.now)).toBeNull();
  });

  it('a request failure that no retry fixes ends the membership; a lost connection does not', () => {
    const group = driver();
    const { manager, subscriptions, clock } = group;
    subscriptions.subscribe(['orders']);
    manager.subscriptionChanged(clock.now);
    manager.onPoll(clock.now);
    manager.takeStep(clock.now);
    expect(group.poll()).toEqual(['JoinGroup']);
    // A lost connection: the coordinator is looked up again and JoinGroup retried after the backoff.
    group.joinGroup().fail(new NetworkError('connection lost', { broker: 'broker-7:9092' }));
    expect(manager.fatalError).toBeNull();
    expect(group.poll()).toEqual([]);
    clock.now = 100;
    expect(group.poll()).toEqual(['JoinGroup']);
    const noVersion = new UnsupportedVersionError('no JoinGroup version in common', { api: 'JoinGroup' });
    group.joinGroup().fail(noVersion);
    expect(manager.fatalError).toBe(noVersion);
    clock.now = 5_000;
    expect(group.poll()).toEqual([]);
  });
});
