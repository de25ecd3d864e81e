import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Oracle,
  type OracleAssignMember,
  OracleError,
  type OracleMemberAssignment,
  type OracleTopicPartition,
  startOracle,
} from '../src/index.ts';

let oracle: Oracle;

beforeAll(async () => {
  oracle = await startOracle();
}, 120_000);

afterAll(async () => {
  await oracle?.close();
});

const tp = (topic: string, partition: number): OracleTopicPartition => ({ topic, partition });
const range = (topic: string, from: number, to: number): OracleTopicPartition[] =>
  Array.from({ length: to - from }, (_, index) => tp(topic, from + index));

/** Member id -> "topic-partition" labels, in Java's order. */
function labels(assignments: Record<string, OracleMemberAssignment>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(assignments).map(([member, { partitions }]) => [
      member,
      partitions.map((partition) => `${partition.topic}-${partition.partition}`),
    ]),
  );
}

describe('range', () => {
  it('gives each member a contiguous range of every topic, members sorted by id, the first ones one extra', async () => {
    const assignments = await oracle.assign({
      assignor: 'range',
      topics: [{ name: 't', partitions: 3 }],
      members: [
        { memberId: 'm2', topics: ['t'] },
        { memberId: 'm1', topics: ['t'] },
      ],
    });
    expect(assignments).toEqual({
      m1: { partitions: [tp('t', 0), tp('t', 1)], userData: null },
      m2: { partitions: [tp('t', 2)], userData: null },
    });
  });

  it('ranges each topic on its own, so the first member gets the extra partition of both', async () => {
    const assignments = await oracle.assign({
      assignor: 'range',
      topics: [
        { name: 'a', partitions: 3 },
        { name: 'b', partitions: 3 },
      ],
      members: [
        { memberId: 'm1', topics: ['a', 'b'] },
        { memberId: 'm2', topics: ['a', 'b'] },
      ],
    });
    const got = labels(assignments);
    expect(new Set(got.m1)).toEqual(new Set(['a-0', 'a-1', 'b-0', 'b-1']));
    expect(new Set(got.m2)).toEqual(new Set(['a-2', 'b-2']));
  });

  it('prefers partitions with a replica in the member\u2019s rack when racks are known (KIP-881)', async () => {
    const topics = [{ name: 't', partitions: 4, partitionRacks: [['r1'], ['r2'], ['r1'], ['r2']] }];
    const members = [
      { memberId: 'a', topics: ['t'], rackId: 'r2' },
      { memberId: 'b', topics: ['t'], rackId: 'r1' },
    ];
    expect(labels(await oracle.assign({ assignor: 'range', topics, members }))).toEqual({
      a: ['t-1', 't-3'],
      b: ['t-0', 't-2'],
    });
    // Without partition racks, or without member racks, it is the plain range again.
    const plain = { a: ['t-0', 't-1'], b: ['t-2', 't-3'] };
    expect(labels(await oracle.assign({ assignor: 'range', topics: [{ name: 't', partitions: 4 }], members }))).toEqual(
      plain,
    );
    const rackless = members.map(({ memberId, topics }) => ({ memberId, topics }));
    expect(labels(await oracle.assign({ assignor: 'range', topics, members: rackless }))).toEqual(plain);
  });

  it('fills up from other racks to keep the balance', async () => {
    const members = [
      { memberId: 'a', topics: ['t'], rackId: 'r2' },
      { memberId: 'b', topics: ['t'], rackId: 'r1' },
    ];
    // Three partitions in r1, one in r2: b takes two of r1's, a takes r2's and the r1 partition left over.
    const some = await oracle.assign({
      assignor: 'range',
      topics: [{ name: 't', partitions: 4, partitionRacks: [['r1'], ['r1'], ['r1'], ['r2']] }],
      members,
    });
    expect(labels(some)).toEqual({ a: ['t-2', 't-3'], b: ['t-0', 't-1'] });
    // Every partition in r1: Java's answer is the plain range (b does not get r1's first two, a the rest).
    const all = await oracle.assign({
      assignor: 'range',
      topics: [{ name: 't', partitions: 4, partitionRacks: [['r1'], ['r1'], ['r1'], ['r1']] }],
      members,
    });
    expect(labels(all)).toEqual({ a: ['t-0', 't-1'], b: ['t-2', 't-3'] });
  });

  it('accepts partitions with several racks and partitions with none', async () => {
    const assignments = await oracle.assign({
      assignor: 'range',
      topics: [{ name: 't', partitions: 3, partitionRacks: [['r1', 'r2'], ['r2'], []] }],
      members: [
        { memberId: 'a', topics: ['t'], rackId: 'r1' },
        { memberId: 'b', topics: ['t'], rackId: 'r3' },
        { memberId: 'c', topics: ['t'], rackId: null },
      ],
    });
    // a gets the one partition with a replica in r1; b and c, matching no rack, share the rest.
    expect(labels(assignments)).toEqual({ a: ['t-0'], b: ['t-2'], c: ['t-1'] });
  });
});

describe('roundrobin', () => {
  it('deals all partitions of all topics, sorted, to the members sorted by id', async () => {
    const assignments = await oracle.assign({
      assignor: 'roundrobin',
      topics: [
        { name: 'a', partitions: 3 },
        { name: 'b', partitions: 2 },
      ],
      members: [
        { memberId: 'm2', topics: ['a', 'b'] },
        { memberId: 'm1', topics: ['a', 'b'] },
      ],
    });
    expect(labels(assignments)).toEqual({ m1: ['a-0', 'a-2', 'b-1'], m2: ['a-1', 'b-0'] });
  });

  it('skips members not subscribed to a topic', async () => {
    const assignments = await oracle.assign({
      assignor: 'roundrobin',
      topics: [
        { name: 'a', partitions: 2 },
        { name: 'b', partitions: 2 },
      ],
      members: [
        { memberId: 'm1', topics: ['a'] },
        { memberId: 'm2', topics: ['a', 'b'] },
      ],
    });
    expect(labels(assignments)).toEqual({ m1: ['a-0'], m2: ['a-1', 'b-0', 'b-1'] });
  });
});

describe('sticky (eager)', () => {
  it('keeps what members owned, as told by its user data, when a member joins, and stays balanced', async () => {
    const owned = { a: range('t', 0, 3), b: range('t', 3, 6) };
    const members: OracleAssignMember[] = [
      {
        memberId: 'a',
        topics: ['t'],
        userData: await oracle.assignorUserData({
          assignor: 'sticky',
          partitions: owned.a,
          generationId: 5,
          topics: ['t'],
        }),
      },
      {
        memberId: 'b',
        topics: ['t'],
        userData: await oracle.assignorUserData({
          assignor: 'sticky',
          partitions: owned.b,
          generationId: 5,
          topics: ['t'],
        }),
      },
      { memberId: 'c', topics: ['t'] },
    ];
    const assignments = await oracle.assign({ assignor: 'sticky', topics: [{ name: 't', partitions: 6 }], members });
    for (const member of ['a', 'b', 'c']) expect(assignments[member]?.partitions).toHaveLength(2);
    for (const member of ['a', 'b'] as const) {
      for (const partition of assignments[member]?.partitions ?? []) expect(owned[member]).toContainEqual(partition);
    }
    const all = Object.values(assignments).flatMap(({ partitions }) => partitions.map(({ partition }) => partition));
    expect(all.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('ignores ownedPartitions in the subscription (an eager member has revoked everything before it joins)', async () => {
    const topics = [{ name: 't', partitions: 4 }];
    const fresh = await oracle.assign({
      assignor: 'sticky',
      topics,
      members: [
        { memberId: 'a', topics: ['t'] },
        { memberId: 'z', topics: ['t'] },
      ],
    });
    expect(labels(fresh)).toEqual({ a: ['t-0', 't-2'], z: ['t-1', 't-3'] });
    const withOwned = await oracle.assign({
      assignor: 'sticky',
      topics,
      members: [
        { memberId: 'a', topics: ['t'] },
        { memberId: 'z', topics: ['t'], ownedPartitions: range('t', 0, 4), generationId: 5 },
      ],
    });
    expect(withOwned).toEqual(fresh);
    // The same ownership in its user data is honoured.
    const userData = await oracle.assignorUserData({
      assignor: 'sticky',
      partitions: range('t', 0, 4),
      generationId: 5,
      topics: ['t'],
    });
    const withUserData = await oracle.assign({
      assignor: 'sticky',
      topics,
      members: [
        { memberId: 'a', topics: ['t'] },
        { memberId: 'z', topics: ['t'], userData },
      ],
    });
    expect(labels(withUserData)).toEqual({ a: ['t-2', 't-3'], z: ['t-0', 't-1'] });
  });
});

describe('cooperative-sticky', () => {
  it('does not hand over a partition in the rebalance that takes it away: it is revoked first', async () => {
    const topics = [{ name: 't', partitions: 4 }];
    const first = await oracle.assign({
      assignor: 'cooperative-sticky',
      topics,
      members: [
        { memberId: 'a', topics: ['t'] },
        { memberId: 'z', topics: ['t'], ownedPartitions: range('t', 0, 4), generationId: 5 },
      ],
    });
    expect(labels(first)).toEqual({ a: [], z: ['t-0', 't-1'] });
    // The follow-up rebalance, after z gave up t-2 and t-3, hands them to a.
    const second = await oracle.assign({
      assignor: 'cooperative-sticky',
      topics,
      members: [
        { memberId: 'a', topics: ['t'], generationId: 6 },
        { memberId: 'z', topics: ['t'], ownedPartitions: range('t', 0, 2), generationId: 6 },
      ],
    });
    expect(labels(second)).toEqual({ a: ['t-2', 't-3'], z: ['t-0', 't-1'] });
  });

  it('reads the generation from its user data too', async () => {
    const userData = await oracle.assignorUserData({
      assignor: 'cooperative-sticky',
      partitions: range('t', 0, 4),
      generationId: 5,
      topics: ['t'],
    });
    const assignments = await oracle.assign({
      assignor: 'cooperative-sticky',
      topics: [{ name: 't', partitions: 4 }],
      members: [
        { memberId: 'a', topics: ['t'] },
        { memberId: 'z', topics: ['t'], ownedPartitions: range('t', 0, 4), userData },
      ],
    });
    expect(labels(assignments)).toEqual({ a: [], z: ['t-0', 't-1'] });
  });
});

describe('assignor user data', () => {
  it('is the generation as a big-endian int32 for cooperative-sticky', async () => {
    const userData = await oracle.assignorUserData({
      assignor: 'cooperative-sticky',
      partitions: [tp('t', 0)],
      generationId: 7,
      topics: ['t'],
    });
    expect(userData && [...userData]).toEqual([0, 0, 0, 7]);
    const large = await oracle.assignorUserData({
      assignor: 'cooperative-sticky',
      partitions: [],
      generationId: 0x01020304,
      topics: ['t'],
      memberId: 'someone',
      groupId: 'g',
    });
    expect(large && [...large]).toEqual([1, 2, 3, 4]);
  });

  it('is the owned partitions and the generation for sticky, and changes with the partitions', async () => {
    const one = await oracle.assignorUserData({
      assignor: 'sticky',
      partitions: [tp('t', 0)],
      generationId: 7,
      topics: ['t'],
    });
    const two = await oracle.assignorUserData({
      assignor: 'sticky',
      partitions: [tp('t', 0), tp('t', 1)],
      generationId: 7,
      topics: ['t'],
    });
    expect(one).not.toBeNull();
    expect(two).not.toBeNull();
    expect(two).not.toEqual(one);
    // StickyAssignor's user data (version 1): [topic: string, partitions: [int32]], then generation: int32.
    expect([...(one ?? [])]).toEqual([0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
    expect([...(two ?? [])]).toEqual([0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7]);
  });

  it('is null for range and roundrobin', async () => {
    for (const assignor of ['range', 'roundrobin'] as const) {
      expect(
        await oracle.assignorUserData({ assignor, partitions: [tp('t', 0)], generationId: 1, topics: ['t'] }),
      ).toBe(null);
    }
  });
});

describe('errors', () => {
  it('rejects an unknown assignor with OracleError', async () => {
    const request = { assignor: 'uniform', topics: [], members: [] } as unknown as Parameters<Oracle['assign']>[0];
    await expect(oracle.assign(request)).rejects.toThrow(OracleError);
    await expect(oracle.assign(request)).rejects.toThrow(/unknown assignor "uniform"/);
    const userData = { assignor: 'uniform', partitions: [], generationId: 1, topics: [] } as unknown as Parameters<
      Oracle['assignorUserData']
    >[0];
    await expect(oracle.assignorUserData(userData)).rejects.toThrow(OracleError);
  });

  it('rejects bad input with OracleError and carries on', async () => {
    await expect(
      oracle.assign({
        assignor: 'range',
        topics: [{ name: 't', partitions: 2, partitionRacks: [['r1']] }],
        members: [{ memberId: 'a', topics: ['t'] }],
      }),
    ).rejects.toThrow(/partitionRacks/);
    await expect(
      oracle.assign({
        assignor: 'range',
        topics: [{ name: 't', partitions: 1 }],
        members: [
          { memberId: 'a', topics: ['t'] },
          { memberId: 'a', topics: ['t'] },
        ],
      }),
    ).rejects.toThrow(/listed twice/);
    const after = await oracle.assign({
      assignor: 'range',
      topics: [{ name: 't', partitions: 1 }],
      members: [{ memberId: 'a', topics: ['t'] }],
    });
    expect(labels(after)).toEqual({ a: ['t-0'] });
  });
});
