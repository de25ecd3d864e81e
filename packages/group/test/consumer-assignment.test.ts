/** The consumer protocol payloads of a rebalance: join metadata, the leader's assignment, a member's acceptance. */
import {
  type AssignorMetadata,
  CooperativeStickyAssignor,
  type MemberAssignment,
  type PartitionAssignor,
  RangeAssignor,
  RoundRobinAssignor,
  StickyAssignor,
  type TopicPartition,
} from '@sluice/assignors';
import { decodeConsumerSubscription, encodeConsumerAssignment, type JoinGroupResponseMember } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import {
  acceptAssignment,
  assignAsLeader,
  decodeGroupSubscriptions,
  GroupAssignmentError,
  type JoinSubscription,
  joinGroupProtocols,
  rebalanceProtocolOf,
} from '../src/consumer-assignment.ts';

const metadata: AssignorMetadata = {
  topics: new Map([
    ['orders', { name: 'orders', partitions: 4 }],
    ['payments', { name: 'payments', partitions: 2 }],
  ]),
};

const state = (topics: string[], owned: TopicPartition[] = [], generationId = -1): JoinSubscription => ({
  topics: new Set(topics),
  ownedPartitions: owned,
  generationId,
  rackId: null,
});

/** JoinGroup's member list as the coordinator returns it to the leader, for members that joined with `protocol`. */
function joinedMembers(
  protocol: string,
  members: Array<{ memberId: string; assignors: PartitionAssignor[]; state: JoinSubscription; instance?: string }>,
): JoinGroupResponseMember[] {
  return members.map(({ memberId, assignors, state: memberState, instance }) => ({
    memberId,
    groupInstanceId: instance ?? null,
    metadata: joinGroupProtocols(assignors, memberState).find((entry) => entry.name === protocol)!.metadata,
  }));
}

function accepted(
  assignors: PartitionAssignor[],
  protocolName: string,
  bytes: Uint8Array,
  memberId: string,
): MemberAssignment {
  return acceptAssignment({
    assignors,
    protocolName,
    bytes,
    context: { groupId: 'group', memberId, generationId: 4 },
  });
}

describe('rebalanceProtocolOf', () => {
  it('picks COOPERATIVE only when every assignor supports it, as Kafka does', () => {
    expect(rebalanceProtocolOf([new CooperativeStickyAssignor()])).toBe('COOPERATIVE');
    expect(rebalanceProtocolOf([new CooperativeStickyAssignor(), new RangeAssignor()])).toBe('EAGER');
    expect(rebalanceProtocolOf([new RangeAssignor(), new RoundRobinAssignor()])).toBe('EAGER');
  });

  it('refuses no assignor, the same name twice, and assignors with no protocol in common', () => {
    expect(() => rebalanceProtocolOf([])).toThrow(GroupAssignmentError);
    expect(() => rebalanceProtocolOf([new RangeAssignor(), new RangeAssignor()])).toThrow(/"range" twice/);
    const cooperativeOnly: PartitionAssignor = {
      name: 'custom',
      supportedProtocols: ['COOPERATIVE'],
      version: 0,
      assign: () => new Map(),
    };
    expect(() => rebalanceProtocolOf([cooperativeOnly, new RangeAssignor()])).toThrow(
      /no rebalance protocol in common/,
    );
  });
});

describe('joinGroupProtocols', () => {
  it('sends one protocol per assignor, in order, each a ConsumerProtocolSubscription with its user data', () => {
    const sticky = new StickyAssignor();
    sticky.onAssignment(
      { partitions: [{ topic: 'orders', partition: 1 }], userData: null },
      { groupId: 'group', memberId: 'm', generationId: 3 },
    );
    const protocols = joinGroupProtocols(
      [sticky, new RangeAssignor()],
      state(
        ['payments', 'orders'],
        [
          { topic: 'orders', partition: 2 },
          { topic: 'payments', partition: 0 },
          { topic: 'orders', partition: 0 },
        ],
        3,
      ),
    );
    expect(protocols.map((protocol) => protocol.name)).toEqual(['sticky', 'range']);
    const [stickyData, rangeData] = protocols.map((protocol) => decodeConsumerSubscription(protocol.metadata));
    expect(stickyData!.version).toBe(3);
    expect(stickyData!.value).toMatchObject({
      topics: ['orders', 'payments'],
      ownedPartitions: [
        { topic: 'orders', partitions: [0, 2] },
        { topic: 'payments', partitions: [0] },
      ],
      generationId: 3,
      rackId: null,
    });
    expect(stickyData!.value.userData).toEqual(sticky.subscriptionUserData(new Set(['orders'])));
    expect(rangeData!.value.userData).toBeNull();
  });
});

describe('a rebalance through the consumer protocol', () => {
  it('leader assigns every member from their join metadata; each member reads its own assignment', () => {
    const members = ['c', 'a', 'b'].map((memberId) => ({
      memberId,
      assignors: [new RangeAssignor()] as PartitionAssignor[],
      state: state(['orders', 'payments']),
    }));
    const group = decodeGroupSubscriptions(joinedMembers('range', members));
    expect([...group.topics].sort()).toEqual(['orders', 'payments']);
    const sync = assignAsLeader({
      assignors: members[0]!.assignors,
      protocolName: 'range',
      protocol: 'EAGER',
      metadata,
      group,
    });
    expect(sync.map((entry) => entry.memberId)).toEqual(['c', 'a', 'b']);
    const byMember = new Map(
      sync.map((entry) => [entry.memberId, accepted(members[0]!.assignors, 'range', entry.assignment, entry.memberId)]),
    );
    expect(byMember.get('a')!.partitions).toEqual([
      { topic: 'orders', partition: 0 },
      { topic: 'orders', partition: 1 },
      { topic: 'payments', partition: 0 },
    ]);
    expect(byMember.get('b')!.partitions).toEqual([
      { topic: 'orders', partition: 2 },
      { topic: 'payments', partition: 1 },
    ]);
    expect(byMember.get('c')!.partitions).toEqual([{ topic: 'orders', partition: 3 }]);
  });

  it('keeps static members in order by group.instance.id through JoinGroup', () => {
    const members = [
      { memberId: 'a', assignors: [new RangeAssignor()], state: state(['payments']), instance: 'z' },
      { memberId: 'b', assignors: [new RangeAssignor()], state: state(['payments']), instance: 'y' },
    ];
    const group = decodeGroupSubscriptions(joinedMembers('range', members));
    expect(group.subscriptions.get('a')!.groupInstanceId).toBe('z');
    const sync = assignAsLeader({
      assignors: [new RangeAssignor()],
      protocolName: 'range',
      protocol: 'EAGER',
      metadata,
      group,
    });
    const partitionsOf = (memberId: string) =>
      accepted([new RangeAssignor()], 'range', sync.find((entry) => entry.memberId === memberId)!.assignment, memberId)
        .partitions;
    expect(partitionsOf('b')).toEqual([{ topic: 'payments', partition: 0 }]);
    expect(partitionsOf('a')).toEqual([{ topic: 'payments', partition: 1 }]);
  });

  it('runs a cooperative two-round rebalance: nothing moves while its owner still has it', () => {
    const assignors = () => [new CooperativeStickyAssignor()] as PartitionAssignor[];
    const all = [0, 1, 2, 3].map((partition) => ({ topic: 'orders', partition }));
    // Round 1: "a" owns everything (generation 2); "b" joins.
    const first = decodeGroupSubscriptions(
      joinedMembers('cooperative-sticky', [
        { memberId: 'a', assignors: assignors(), state: state(['orders'], all, 2) },
        { memberId: 'b', assignors: assignors(), state: state(['orders']) },
      ]),
    );
    const round1 = assignAsLeader({
      assignors: assignors(),
      protocolName: 'cooperative-sticky',
      protocol: 'COOPERATIVE',
      metadata,
      group: first,
    });
    const kept = accepted(assignors(), 'cooperative-sticky', round1.find((e) => e.memberId === 'a')!.assignment, 'a');
    const gained = accepted(assignors(), 'cooperative-sticky', round1.find((e) => e.memberId === 'b')!.assignment, 'b');
    expect(kept.partitions).toHaveLength(2);
    expect(gained.partitions).toEqual([]);
    // Round 2: "a" revoked the other two; they go to "b".
    const second = decodeGroupSubscriptions(
      joinedMembers('cooperative-sticky', [
        { memberId: 'a', assignors: assignors(), state: state(['orders'], [...kept.partitions], 3) },
        { memberId: 'b', assignors: assignors(), state: state(['orders'], [], 3) },
      ]),
    );
    const round2 = assignAsLeader({
      assignors: assignors(),
      protocolName: 'cooperative-sticky',
      protocol: 'COOPERATIVE',
      metadata,
      group: second,
    });
    const b = accepted(assignors(), 'cooperative-sticky', round2.find((e) => e.memberId === 'b')!.assignment, 'b');
    const a = accepted(assignors(), 'cooperative-sticky', round2.find((e) => e.memberId === 'a')!.assignment, 'a');
    expect(a.partitions).toEqual(kept.partitions);
    expect([...a.partitions, ...b.partitions].map((tp) => tp.partition).sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('what the leader and members refuse', () => {
  const group = () =>
    decodeGroupSubscriptions(
      joinedMembers('range', [
        {
          memberId: 'a',
          assignors: [new RangeAssignor()],
          state: state(['orders'], [{ topic: 'orders', partition: 0 }], 1),
        },
        { memberId: 'b', assignors: [new RangeAssignor()], state: state(['orders'], [], 1) },
      ]),
    );
  const custom = (assign: PartitionAssignor['assign']): PartitionAssignor => ({
    name: 'range',
    supportedProtocols: ['COOPERATIVE', 'EAGER'],
    version: 0,
    assign,
  });
  const lead = (assignor: PartitionAssignor, protocol: 'EAGER' | 'COOPERATIVE' = 'EAGER') =>
    assignAsLeader({ assignors: [assignor], protocolName: 'range', protocol, metadata, group: group() });

  it('an assignor the coordinator chose that this member does not have', () => {
    expect(() =>
      assignAsLeader({
        assignors: [new RangeAssignor()],
        protocolName: 'sticky',
        protocol: 'EAGER',
        metadata,
        group: group(),
      }),
    ).toThrow(/chose the assignor "sticky"/);
    expect(() =>
      accepted(
        [new RangeAssignor()],
        'sticky',
        encodeConsumerAssignment({ assignedPartitions: [], userData: null }),
        'a',
      ),
    ).toThrow(GroupAssignmentError);
  });

  it('an assignment that leaves out a member, or names one not in the group', () => {
    const none: MemberAssignment = { partitions: [], userData: null };
    expect(() => lead(custom(() => new Map([['a', none]])))).toThrow(/left member b without an assignment/);
    expect(() =>
      lead(
        custom(
          () =>
            new Map([
              ['a', none],
              ['b', none],
              ['x', none],
            ]),
        ),
      ),
    ).toThrow(/unknown member x/);
  });

  it('a COOPERATIVE assignment that hands a partition to a new owner while another still owns it', () => {
    const moves = custom(
      () =>
        new Map([
          ['a', { partitions: [{ topic: 'orders', partition: 1 }], userData: null }],
          ['b', { partitions: [{ topic: 'orders', partition: 0 }], userData: null }],
        ]),
    );
    expect(() => lead(moves, 'COOPERATIVE')).toThrow(/broke the COOPERATIVE protocol: it moved orders-0/);
    // The same assignment is fine in an EAGER rebalance (everyone revoked everything first).
    expect(lead(moves, 'EAGER')).toHaveLength(2);
  });

  it('member metadata or an assignment that cannot be read', () => {
    expect(() =>
      decodeGroupSubscriptions([{ memberId: 'a', groupInstanceId: null, metadata: new Uint8Array([0, 1, 0]) }]),
    ).toThrow(/subscription of member a cannot be read/);
    expect(() =>
      decodeGroupSubscriptions([
        ...joinedMembers('range', [
          { memberId: 'a', assignors: [new RangeAssignor()], state: state(['orders']) },
          { memberId: 'a', assignors: [new RangeAssignor()], state: state(['orders']) },
        ]),
      ]),
    ).toThrow(/listed the member a twice/);
    expect(() => accepted([new RangeAssignor()], 'range', new Uint8Array([0, 0, 0, 0, 0]), 'a')).toThrow(
      /assignment from SyncGroup cannot be read/,
    );
  });

  it('tells the chosen assignor its assignment (sticky remembers it for the next join)', () => {
    const sticky = new StickyAssignor();
    const bytes = encodeConsumerAssignment({
      assignedPartitions: [{ topic: 'orders', partitions: [3, 1] }],
      userData: null,
    });
    const assignment = acceptAssignment({
      assignors: [new RangeAssignor(), sticky],
      protocolName: 'sticky',
      bytes,
      context: { groupId: 'group', memberId: 'a', generationId: 9 },
    });
    expect(assignment.partitions).toEqual([
      { topic: 'orders', partition: 3 },
      { topic: 'orders', partition: 1 },
    ]);
    const expected = new StickyAssignor();
    expected.onAssignment(assignment, { groupId: 'group', memberId: 'a', generationId: 9 });
    expect(sticky.subscriptionUserData(new Set(['orders']))).toEqual(
      expected.subscriptionUserData(new Set(['orders'])),
    );
    expect(sticky.subscriptionUserData(new Set(['orders']))).not.toBeNull();
  });
});
