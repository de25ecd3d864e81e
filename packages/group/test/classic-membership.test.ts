/** The classic membership state machine, driven by a fake clock and scripted coordinator answers. */
import { type ClusterSnapshot, ErrorCode, KafkaError } from '@sluice/net';
import {
  defaultJoinGroupResponse,
  defaultSyncGroupResponse,
  type JoinGroupResponse,
  type SyncGroupResponse,
} from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import {
  ClassicMembership,
  type ClassicMembershipOptions,
  type MembershipEvent,
  type MembershipRequest,
} from '../src/classic-membership.ts';
import { CoordinatorManager } from '../src/coordinator-manager.ts';
import { answerFindCoordinator } from './coordinator-answers.ts';

const ASSIGNMENT = new Uint8Array([0, 3, 0, 0, 0, 0, 255, 255, 255, 255]);

function joinAnswer(patch: Partial<JoinGroupResponse>): JoinGroupResponse {
  return { ...defaultJoinGroupResponse(), protocolType: 'consumer', protocolName: 'range', ...patch };
}

function syncAnswer(patch: Partial<SyncGroupResponse> = {}): SyncGroupResponse {
  return {
    ...defaultSyncGroupResponse(),
    protocolType: 'consumer',
    protocolName: 'range',
    assignment: ASSIGNMENT,
    ...patch,
  };
}

/** The machine, its coordinator manager, a clock, and helpers that expect exactly one request of a kind. */
function setup(options: Partial<ClassicMembershipOptions> = {}) {
  const coordinator = new CoordinatorManager({
    groupId: 'group',
    metadata: { snapshot: {} as ClusterSnapshot },
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
  });
  const membership = new ClassicMembership({
    groupId: 'group',
    coordinator,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 3_000,
    rebalanceTimeoutMs: 60_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    random: () => 0.5,
    ...options,
  });
  const clock = { now: 0 };
  const only = <Kind extends MembershipRequest['kind']>(kind: Kind) => {
    const requests = membership.poll(clock.now);
    expect(requests.map((request) => request.kind)).toEqual([kind]);
    return requests[0] as Extract<MembershipRequest, { kind: Kind }>;
  };
  const none = () => expect(membership.poll(clock.now)).toEqual([]);
  const events = () => membership.takeEvents();
  /** The membership asked for the coordinator: the coordinator manager looks it up, and the broker answers. */
  const discover = (nodeId: number, errorCode = 0) => {
    none();
    const { requests } = coordinator.poll(clock.now);
    expect(requests).toHaveLength(1);
    answerFindCoordinator(requests[0]!, { nodeId, errorCode, now: clock.now });
  };
  /** Joins as the only member (the leader), through MEMBER_ID_REQUIRED, and reaches `stable` in generation 1. */
  const joinAsLeader = (memberId = 'member-1', generationId = 1) => {
    membership.join(clock.now);
    discover(7);
    let join = only('join-group');
    if (join.memberId === '') {
      membership.onJoinGroup(join, joinAnswer({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId }), clock.now);
      join = only('join-group');
    }
    membership.onJoinGroup(
      join,
      joinAnswer({
        generationId,
        memberId,
        leader: memberId,
        members: [{ memberId, groupInstanceId: null, metadata: new Uint8Array(4) }],
      }),
      clock.now,
    );
    const [assign] = events();
    expect(assign).toMatchObject({ type: 'assign-as-leader', generationId, protocolName: 'range' });
    membership.completeLeaderAssignment(generationId, [{ memberId, assignment: ASSIGNMENT }]);
    const sync = only('sync-group');
    membership.onSyncGroup(sync, syncAnswer(), clock.now);
    expect(events()).toEqual([
      { type: 'assigned', generationId, memberId, protocolName: 'range', assignment: ASSIGNMENT },
    ]);
    expect(membership.state).toBe('stable');
  };
  return { membership, coordinator, clock, only, none, events, discover, joinAsLeader };
}

describe('ClassicMembership: joining', () => {
  it('finds the coordinator, joins (KIP-394 member id), assigns as leader, syncs and becomes stable', () => {
    const { membership, coordinator, clock, only, none, events, discover } = setup();
    expect(membership.poll(clock.now)).toEqual([]);
    // Not in the group: nobody asks for the coordinator.
    expect(coordinator.poll(clock.now).requests).toEqual([]);
    membership.join(clock.now);
    expect(membership.state).toBe('joining');
    discover(7);
    const first = only('join-group');
    expect(first).toMatchObject({
      coordinator: 7,
      groupId: 'group',
      memberId: '',
      groupInstanceId: null,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 60_000,
    });
    membership.onJoinGroup(
      first,
      joinAnswer({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'member-1' }),
      clock.now,
    );
    const second = only('join-group');
    expect(second.memberId).toBe('member-1');
    const members = [
      { memberId: 'member-1', groupInstanceId: null, metadata: new Uint8Array([1]) },
      { memberId: 'member-2', groupInstanceId: null, metadata: new Uint8Array([2]) },
    ];
    membership.onJoinGroup(
      second,
      joinAnswer({ generationId: 4, memberId: 'member-1', leader: 'member-1', members }),
      clock.now,
    );
    expect(membership.state).toBe('assigning');
    expect(events()).toEqual([{ type: 'assign-as-leader', generationId: 4, protocolName: 'range', members }]);
    none();
    // An assignment for another generation is ignored.
    membership.completeLeaderAssignment(3, []);
    expect(membership.state).toBe('assigning');
    const assignments = [
      { memberId: 'member-1', assignment: ASSIGNMENT },
      { memberId: 'member-2', assignment: ASSIGNMENT },
    ];
    membership.completeLeaderAssignment(4, assignments);
    const sync = only('sync-group');
    expect(sync).toMatchObject({ generationId: 4, memberId: 'member-1', protocolName: 'range', assignments });
    membership.onSyncGroup(sync, syncAnswer(), clock.now);
    expect(membership.state).toBe('stable');
    expect(membership.generation).toEqual({ generationId: 4, memberId: 'member-1', protocolName: 'range' });
    expect(events()).toEqual([
      { type: 'assigned', generationId: 4, memberId: 'member-1', protocolName: 'range', assignment: ASSIGNMENT },
    ]);
  });

  it('a follower, or a static leader told to skip the assignment (KIP-814), syncs with no assignments', () => {
    for (const leader of ['member-0', 'member-1']) {
      const { membership, clock, only, events, discover } = setup();
      membership.join(clock.now);
      discover(1);
      membership.onJoinGroup(
        only('join-group'),
        joinAnswer({ generationId: 2, memberId: 'member-1', leader, skipAssignment: leader === 'member-1' }),
        clock.now,
      );
      expect(events()).toEqual([]);
      expect(only('sync-group').assignments).toEqual([]);
    }
  });

  it('retries what a new attempt can fix, and fails on what it cannot', () => {
    const { membership, clock, only, none, events, discover } = setup();
    membership.join(clock.now);
    discover(1);
    // Loading: the same coordinator, after the backoff (100 ms, then 200 ms).
    membership.onJoinGroup(
      only('join-group'),
      joinAnswer({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS }),
      clock.now,
    );
    none();
    expect(membership.nextDeadline(clock.now)).toBe(100);
    clock.now = 100;
    membership.onJoinGroup(only('join-group'), joinAnswer({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS }), clock.now);
    // A rebalance in progress: join again at once.
    const again = only('join-group');
    // Not the coordinator any more: find it again, then join.
    membership.onJoinGroup(again, joinAnswer({ errorCode: ErrorCode.NOT_COORDINATOR }), clock.now);
    expect(membership.coordinator).toBeNull();
    discover(2);
    const fatal = only('join-group');
    expect(fatal.coordinator).toBe(2);
    membership.onJoinGroup(fatal, joinAnswer({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL }), clock.now);
    expect(membership.state).toBe('failed');
    const [event] = events();
    expect(event?.type).toBe('fatal');
    expect((event as Extract<MembershipEvent, { type: 'fatal' }>).error).toBeInstanceOf(KafkaError);
    expect((event as Extract<MembershipEvent, { type: 'fatal' }>).error.message).toMatch(/INCONSISTENT_GROUP_PROTOCOL/);
    none();
    expect(membership.nextDeadline(clock.now)).toBe(Number.POSITIVE_INFINITY);
  });

  it('fails when the coordinator cannot be looked up for good (authorization)', () => {
    const { membership, clock, events, discover } = setup();
    membership.join(clock.now);
    discover(-1, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    expect(membership.poll(clock.now)).toEqual([]);
    expect(membership.state).toBe('failed');
    const [event] = events();
    expect((event as Extract<MembershipEvent, { type: 'fatal' }>).error.message).toMatch(/GROUP_AUTHORIZATION_FAILED/);
  });

  it('starts the rebalance again when SyncGroup says another one began, or the leader cannot assign', () => {
    const { membership, clock, only, events, discover } = setup();
    membership.join(clock.now);
    discover(1);
    membership.onJoinGroup(
      only('join-group'),
      joinAnswer({ generationId: 1, memberId: 'm', leader: 'other' }),
      clock.now,
    );
    membership.onSyncGroup(only('sync-group'), syncAnswer({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS }), clock.now);
    expect(membership.state).toBe('joining');
    membership.onJoinGroup(only('join-group'), joinAnswer({ generationId: 2, memberId: 'm', leader: 'm' }), clock.now);
    expect(events()[0]?.type).toBe('assign-as-leader');
    membership.failLeaderAssignment(clock.now, new Error('no metadata'));
    expect(membership.state).toBe('joining');
    expect(membership.nextDeadline(clock.now)).toBe(100);
    clock.now = 100;
    membership.onJoinGroup(
      only('join-group'),
      joinAnswer({ generationId: 3, memberId: 'm', leader: 'other' }),
      clock.now,
    );
    // SyncGroup lost with the connection: find the coordinator again and rejoin.
    membership.onRequestFailed(only('sync-group'), new Error('connection lost'), clock.now);
    expect(membership.coordinator).toBeNull();
    expect(membership.state).toBe('joining');
  });
});

describe('ClassicMembership: in the group', () => {
  it('heartbeats every heartbeat.interval.ms, one at a time', () => {
    const { membership, clock, only, none, joinAsLeader } = setup();
    joinAsLeader();
    none();
    expect(membership.nextDeadline(clock.now)).toBe(3_000);
    clock.now = 3_000;
    const beat = only('heartbeat');
    expect(beat).toMatchObject({ coordinator: 7, generationId: 1, memberId: 'member-1', groupInstanceId: null });
    clock.now = 3_500;
    none();
    membership.onHeartbeat(beat, ErrorCode.NONE, clock.now);
    // The next one counts from when this one was sent.
    expect(membership.nextDeadline(clock.now)).toBe(6_000);
    clock.now = 6_000;
    only('heartbeat');
  });

  it('asks the consumer to rejoin when the group rebalances, and keeps heartbeating until it does', () => {
    const { membership, clock, only, none, events, joinAsLeader } = setup();
    joinAsLeader();
    clock.now = 3_000;
    membership.onHeartbeat(only('heartbeat'), ErrorCode.REBALANCE_IN_PROGRESS, clock.now);
    expect(events()).toEqual([{ type: 'rejoin-needed', reason: 'the group is rebalancing' }]);
    expect(membership.state).toBe('stable');
    clock.now = 6_000;
    membership.onHeartbeat(only('heartbeat'), ErrorCode.REBALANCE_IN_PROGRESS, clock.now);
    expect(events()).toEqual([{ type: 'rejoin-needed', reason: 'the group is rebalancing' }]);
    membership.join(clock.now, 'revoked, rejoining');
    const join = only('join-group');
    expect(join).toMatchObject({ memberId: 'member-1', reason: 'revoked, rejoining' });
    // No heartbeat while JoinGroup runs.
    clock.now = 20_000;
    none();
    expect(membership.state).toBe('joining');
  });

  it('loses the generation on UNKNOWN_MEMBER_ID (new member id) and ILLEGAL_GENERATION (same member id)', () => {
    for (const [code, memberId] of [
      [ErrorCode.UNKNOWN_MEMBER_ID, ''],
      [ErrorCode.ILLEGAL_GENERATION, 'member-1'],
    ] as const) {
      const { membership, clock, only, none, events, joinAsLeader } = setup();
      joinAsLeader();
      clock.now = 3_000;
      membership.onHeartbeat(only('heartbeat'), code, clock.now);
      expect(membership.state).toBe('unjoined');
      expect(membership.generation).toBeNull();
      expect(events()).toEqual([{ type: 'lost', reason: expect.stringMatching(/heartbeat failed/) }]);
      clock.now = 6_000;
      none();
      membership.join(clock.now);
      expect(only('join-group').memberId).toBe(memberId);
    }
  });

  it('finds the coordinator again after NOT_COORDINATOR or a lost heartbeat, and heartbeats to the new one at once', () => {
    const { membership, clock, only, joinAsLeader, discover } = setup();
    joinAsLeader();
    clock.now = 3_000;
    membership.onHeartbeat(only('heartbeat'), ErrorCode.NOT_COORDINATOR, clock.now);
    discover(8);
    const beat = only('heartbeat');
    expect(beat.coordinator).toBe(8);
    membership.onRequestFailed(beat, new Error('connection lost'), clock.now);
    expect(membership.coordinator).toBeNull();
    expect(membership.state).toBe('stable');
    discover(8);
    only('heartbeat');
  });

  it('forgets the coordinator when no heartbeat is answered for session.timeout.ms', () => {
    const { membership, coordinator, clock, only, none, joinAsLeader } = setup();
    joinAsLeader();
    clock.now = 3_000;
    const unanswered = only('heartbeat');
    expect(membership.nextDeadline(clock.now)).toBe(10_000);
    clock.now = 9_999;
    none();
    clock.now = 10_000;
    none();
    expect(membership.coordinator).toBeNull();
    expect(coordinator.poll(clock.now).requests).toHaveLength(1);
    // The late answer to the old coordinator is ignored.
    membership.onHeartbeat(unanswered, ErrorCode.UNKNOWN_MEMBER_ID, clock.now);
    expect(membership.state).toBe('stable');
  });

  it('ignores answers to requests that are no longer current', () => {
    const { membership, clock, only, events, joinAsLeader } = setup();
    joinAsLeader();
    clock.now = 3_000;
    const old = only('heartbeat');
    membership.onHeartbeat(old, ErrorCode.NONE, clock.now);
    membership.onHeartbeat(old, ErrorCode.ILLEGAL_GENERATION, clock.now);
    membership.onRequestFailed(old, new Error('late'), clock.now);
    expect(membership.state).toBe('stable');
    expect(membership.coordinator).toBe(7);
    expect(events()).toEqual([]);
  });

  it('fails on FENCED_INSTANCE_ID (another member took this group.instance.id)', () => {
    const { membership, clock, only, events, joinAsLeader } = setup({ groupInstanceId: 'instance-a' });
    joinAsLeader();
    clock.now = 3_000;
    const beat = only('heartbeat');
    expect(beat.groupInstanceId).toBe('instance-a');
    membership.onHeartbeat(beat, ErrorCode.FENCED_INSTANCE_ID, clock.now);
    expect(membership.state).toBe('failed');
    expect(events()[0]).toMatchObject({ type: 'fatal' });
  });
});

describe('ClassicMembership: leaving', () => {
  it('a dynamic member sends LeaveGroup on close, then is closed', () => {
    const { membership, clock, only, none, events, joinAsLeader } = setup();
    joinAsLeader();
    membership.leave('closing');
    const leave = only('leave-group');
    expect(leave).toMatchObject({ coordinator: 7, memberId: 'member-1', groupInstanceId: null, reason: 'closing' });
    clock.now = 3_000;
    none();
    membership.onLeaveGroup(leave);
    expect(membership.state).toBe('closed');
    expect(events()).toEqual([{ type: 'left' }]);
    none();
  });

  it('a static member, or one that never joined, closes without LeaveGroup', () => {
    const stat = setup({ groupInstanceId: 'instance-a' });
    stat.joinAsLeader();
    stat.membership.leave();
    expect(stat.membership.state).toBe('closed');
    expect(stat.events()).toEqual([{ type: 'left' }]);
    stat.none();
    const fresh = setup();
    fresh.membership.leave();
    expect(fresh.membership.state).toBe('closed');
    fresh.none();
  });

  it('leaves when the application does not poll for max.poll.interval.ms, and may join again', () => {
    const { membership, clock, only, events, joinAsLeader } = setup();
    joinAsLeader();
    for (clock.now = 3_000; clock.now < 60_000; clock.now += 3_000) {
      membership.onHeartbeat(only('heartbeat'), ErrorCode.NONE, clock.now);
    }
    expect(membership.nextDeadline(clock.now)).toBe(60_000);
    clock.now = 60_000;
    const leave = only('leave-group');
    expect(leave.reason).toMatch(/did not poll for max.poll.interval.ms \(60000 ms\)/);
    expect(events()).toEqual([{ type: 'lost', reason: leave.reason }]);
    membership.onLeaveGroup(leave);
    expect(membership.state).toBe('unjoined');
    expect(events()).toEqual([{ type: 'left' }]);
    membership.join(clock.now);
    expect(only('join-group').memberId).toBe('');
  });

  it('does not count max.poll.interval.ms while the application waits inside poll, and counts again from its end', () => {
    const { membership, clock, only, none, events, joinAsLeader } = setup();
    joinAsLeader();
    membership.pollWaiting(clock.now, true);
    // Two full intervals inside one poll: heartbeats only, nothing lost.
    for (clock.now = 3_000; clock.now <= 120_000; clock.now += 3_000) {
      membership.onHeartbeat(only('heartbeat'), ErrorCode.NONE, clock.now);
    }
    expect(events()).toEqual([]);
    expect(membership.state).toBe('stable');
    membership.pollWaiting(clock.now, false);
    const ended = clock.now;
    expect(membership.nextDeadline(clock.now)).toBeLessThanOrEqual(ended + 60_000);
    for (clock.now = ended + 3_000; clock.now < ended + 60_000; clock.now += 3_000) {
      membership.onHeartbeat(only('heartbeat'), ErrorCode.NONE, clock.now);
    }
    expect(events()).toEqual([]);
    clock.now = ended + 60_000;
    only('leave-group');
    expect(events()).toEqual([{ type: 'lost', reason: expect.stringMatching(/max.poll.interval.ms/) }]);
    none();
  });

  it('a static member that stops polling loses its partitions without leaving', () => {
    const { membership, clock, none, events, joinAsLeader } = setup({ groupInstanceId: 'instance-a' });
    joinAsLeader();
    membership.polled(50_000);
    for (clock.now = 3_000; clock.now <= 111_000; clock.now += 3_000) {
      const requests = membership.poll(clock.now);
      for (const request of requests) if (request.kind === 'heartbeat') membership.onHeartbeat(request, 0, clock.now);
    }
    expect(membership.state).toBe('unjoined');
    expect(events()).toEqual([{ type: 'lost', reason: expect.stringMatching(/max.poll.interval.ms/) }]);
    none();
  });
});

describe('ClassicMembership: configuration', () => {
  it('refuses a heartbeat interval that is not below the session timeout', () => {
    const coordinator = new CoordinatorManager({
      groupId: 'g',
      metadata: { snapshot: null },
      requestTimeoutMs: 30_000,
      retryBackoffMs: 100,
      retryBackoffMaxMs: 1_000,
    });
    expect(
      () => new ClassicMembership({ groupId: 'g', coordinator, sessionTimeoutMs: 3_000, heartbeatIntervalMs: 3_000 }),
    ).toThrow(/heartbeat.interval.ms \(3000\) must be lower than session.timeout.ms \(3000\)/);
  });
});
