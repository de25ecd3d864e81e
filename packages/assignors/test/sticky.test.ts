import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { javaHashMapOrder, javaStringHash } from '../src/internal/sticky-java-order.ts';
import { StickyAssignor } from '../src/sticky.ts';
import { decodeStickyUserData, encodeStickyUserData } from '../src/sticky-user-data.ts';
import type {
  AssignorMetadata,
  AssignorTopic,
  MemberAssignment,
  MemberSubscription,
  TopicPartition,
} from '../src/types.ts';
import { groupArbitrary, hex, key, keys, metadata } from './fixtures.ts';
import { balanceProblems, countSpread, movedPartitions, validityProblems } from './sticky-check.ts';

/** A sticky member's subscription: its previous assignment in user data. */
function member(topics: readonly string[], owned: readonly TopicPartition[] = [], generation = 1): MemberSubscription {
  return {
    topics,
    userData: owned.length === 0 && generation < 0 ? null : encodeStickyUserData(owned, generation),
    ownedPartitions: [],
    generationId: -1,
    rackId: null,
  };
}

/** The next rebalance's subscriptions when every member reports what `result` gave it. */
function reportBack(
  subscriptions: ReadonlyMap<string, MemberSubscription>,
  result: ReadonlyMap<string, MemberAssignment>,
  generation: number,
): Map<string, MemberSubscription> {
  return new Map(
    [...subscriptions].map(([memberId, subscription]) => [
      memberId,
      member(subscription.topics, result.get(memberId)!.partitions, generation),
    ]),
  );
}

const ownedOf = (result: ReadonlyMap<string, MemberAssignment>): Map<string, readonly TopicPartition[]> =>
  new Map([...result].map(([memberId, { partitions }]) => [memberId, partitions]));

describe('StickyAssignorUserData', () => {
  it('encodes v1 in Kafka’s classic types', () => {
    const bytes = encodeStickyUserData(
      [
        { topic: 'a', partition: 0 },
        { topic: 'b', partition: 1 },
        { topic: 'a', partition: 2 },
      ],
      5,
    );
    expect(hex(bytes)).toBe(
      [
        '00000002', // two topics
        '0001',
        '61',
        '00000002',
        '00000000',
        '00000002', // "a": [0, 2]
        '0001',
        '62',
        '00000001',
        '00000001', // "b": [1]
        '00000005', // generation
      ].join(''),
    );
  });

  it('orders topics as Kafka’s HashMap does (colliding names: the last one first)', () => {
    // "Aa" and "BB" share a hash code; Kafka groups with computeIfAbsent, which puts a new key first in its bucket.
    const data = encodeStickyUserData(
      [
        { topic: 'Aa', partition: 0 },
        { topic: 'BB', partition: 0 },
      ],
      1,
    );
    expect(decodeStickyUserData(data).partitions.map(({ topic }) => topic)).toEqual(['BB', 'Aa']);
  });

  it('decodes v1, v0 (no generation) and ignores what it cannot read', () => {
    const v1 = encodeStickyUserData([{ topic: 't', partition: 3 }], 9);
    expect(decodeStickyUserData(v1)).toEqual({ partitions: [{ topic: 't', partition: 3 }], generation: 9 });
    const v0 = v1.subarray(0, v1.byteLength - 4);
    expect(decodeStickyUserData(v0)).toEqual({ partitions: [{ topic: 't', partition: 3 }], generation: null });
    expect(decodeStickyUserData(Uint8Array.of(0, 0, 0, 5, 1))).toEqual({ partitions: [], generation: -1 });
    expect(decodeStickyUserData(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toEqual({ partitions: [], generation: -1 });
    // Trailing bytes after v1 are ignored, as Kafka's schema reader does.
    expect(decodeStickyUserData(Uint8Array.from([...v1, 1, 2, 3])).generation).toBe(9);
  });

  it('round-trips any assignment', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ topic: fc.string({ maxLength: 8 }), partition: fc.nat() })),
        fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        (partitions, generation) => {
          const decoded = decodeStickyUserData(encodeStickyUserData(partitions, generation));
          expect(decoded.generation).toBe(generation);
          expect(keys(decoded.partitions)).toEqual(keys(partitions));
        },
      ),
      { seed: 101, numRuns: 200 },
    );
  });
});

describe('Java HashMap order', () => {
  it('hashes strings like String.hashCode', () => {
    expect(javaStringHash('')).toBe(0);
    expect(javaStringHash('hello')).toBe(99_162_322);
    expect(javaStringHash('Aa')).toBe(2112);
    expect(javaStringHash('BB')).toBe(2112);
    expect(javaStringHash('polygenelubricants')).toBe(-2_147_483_648);
  });

  it('iterates by bucket, colliding keys in put or computeIfAbsent order', () => {
    expect(javaHashMapOrder(['b', 'a', 'c'])).toEqual(['a', 'b', 'c']);
    expect(javaHashMapOrder(['Aa', 'BB'])).toEqual(['Aa', 'BB']);
    expect(javaHashMapOrder(['Aa', 'BB'], 'computeIfAbsent')).toEqual(['BB', 'Aa']);
    // "topic-3" and "topic-10" share a bucket in tables of 16 to 128.
    expect(javaHashMapOrder(['topic-3', 'topic-10'], 'computeIfAbsent')).toEqual(['topic-10', 'topic-3']);
  });
});

describe('StickyAssignor', () => {
  it('is Kafka’s "sticky", EAGER only', () => {
    const assignor = new StickyAssignor();
    expect([assignor.name, assignor.supportedProtocols, assignor.version]).toEqual(['sticky', ['EAGER'], 0]);
  });

  it('sends no user data before its first assignment, then its assignment and generation', () => {
    const assignor = new StickyAssignor();
    expect(assignor.subscriptionUserData(new Set(['t']))).toBeNull();
    const partitions = [
      { topic: 't', partition: 1 },
      { topic: 't', partition: 0 },
    ];
    assignor.onAssignment({ partitions, userData: null }, { groupId: 'g', memberId: 'm', generationId: 4 });
    expect(decodeStickyUserData(assignor.subscriptionUserData(new Set(['t']))!)).toEqual({ partitions, generation: 4 });
  });

  it('gives every member an entry, including those on missing topics and when there are no partitions', () => {
    const result = new StickyAssignor().assign(
      metadata({ empty: 0 }),
      new Map([
        ['a', member(['empty'])],
        ['b', member(['missing'])],
      ]),
    );
    expect([...result.keys()].sort()).toEqual(['a', 'b']);
    expect([...result.values()].every(({ partitions }) => partitions.length === 0)).toBe(true);
    expect(new StickyAssignor().assign(metadata({ t: 3 }), new Map()).size).toBe(0);
  });

  it('keeps a partition with the claimant of the highest generation', () => {
    const result = new StickyAssignor().assign(
      metadata({ t: 2 }),
      new Map([
        ['old', member(['t'], [{ topic: 't', partition: 0 }], 4)],
        ['new', member(['t'], [{ topic: 't', partition: 0 }], 5)],
      ]),
    );
    expect(keys(result.get('new')!.partitions)).toEqual(['t-0']);
    expect(keys(result.get('old')!.partitions)).toEqual(['t-1']);
  });

  it('trusts neither of two claimants of the same generation, and reads v0 user data', () => {
    const v1 = encodeStickyUserData([{ topic: 't', partition: 0 }], 5);
    const subscriptions = new Map<string, MemberSubscription>([
      ['a', member(['t'], [{ topic: 't', partition: 1 }], 5)],
      ['b', member(['t'], [{ topic: 't', partition: 1 }], 5)],
      ['c', { ...member(['t']), userData: v1.subarray(0, v1.byteLength - 4) }],
    ]);
    const result = new StickyAssignor().assign(metadata({ t: 3 }), subscriptions);
    expect(validityProblems(metadata({ t: 3 }), subscriptions, result, true)).toEqual([]);
    // c's v0 data (no generation, so -1) still counts: nobody else claims t-0.
    expect(keys(result.get('c')!.partitions)).toEqual(['t-0']);
  });

  it('falls back to the subscription’s owned partitions when a member sends no user data', () => {
    const result = new StickyAssignor().assign(
      metadata({ t: 2 }),
      new Map([
        [
          'a',
          {
            topics: ['t'],
            userData: null,
            ownedPartitions: [{ topic: 't', partition: 1 }],
            generationId: 3,
            rackId: null,
          },
        ],
        ['b', member(['t'])],
      ]),
    );
    expect(keys(result.get('a')!.partitions)).toEqual(['t-1']);
  });

  for (const sameTopics of [true, false]) {
    describe(sameTopics ? 'everyone on the same topics' : 'different subscriptions', () => {
      it('is valid and balanced', () => {
        fc.assert(
          fc.property(groupArbitrary(sameTopics, member, 3), ({ metadata, subscriptions }) => {
            const result = new StickyAssignor().assign(metadata, subscriptions);
            expect(validityProblems(metadata, subscriptions, result, true)).toEqual([]);
            expect(balanceProblems(subscriptions, result)).toEqual([]);
            if (sameTopics) expect(countSpread(result)).toBeLessThanOrEqual(1);
          }),
          { seed: sameTopics ? 11 : 12, numRuns: 300 },
        );
      });

      it('is deterministic', () => {
        fc.assert(
          fc.property(groupArbitrary(sameTopics, member, 3), ({ metadata, subscriptions }) => {
            const first = new StickyAssignor().assign(metadata, subscriptions);
            const second = new StickyAssignor().assign(metadata, new Map(subscriptions));
            expect(second).toEqual(first);
          }),
          { seed: sameTopics ? 13 : 14, numRuns: 100 },
        );
      });

      it('keeps a balanced assignment as it is', () => {
        fc.assert(
          fc.property(groupArbitrary(sameTopics, member, 3), ({ metadata, subscriptions }) => {
            const first = new StickyAssignor().assign(metadata, subscriptions);
            const again = new StickyAssignor().assign(metadata, reportBack(subscriptions, first, 4));
            for (const [memberId, assignment] of first) {
              expect(keys(again.get(memberId)!.partitions)).toEqual(keys(assignment.partitions));
            }
          }),
          { seed: sameTopics ? 15 : 16, numRuns: 200 },
        );
      });

      it('on a member leaving, the others keep everything they had', () => {
        fc.assert(
          fc.property(groupArbitrary(sameTopics, member, 3), ({ metadata, subscriptions }) => {
            fc.pre(subscriptions.size > 1);
            const first = new StickyAssignor().assign(metadata, subscriptions);
            const next = reportBack(subscriptions, first, 4);
            const leaving = [...next.keys()][0]!;
            next.delete(leaving);
            const after = new StickyAssignor().assign(metadata, next);
            expect(validityProblems(metadata, next, after, true)).toEqual([]);
            expect(balanceProblems(next, after)).toEqual([]);
            for (const [memberId, assignment] of after) {
              const had = new Set(first.get(memberId)!.partitions.map(key));
              const kept = assignment.partitions.filter((partition) => had.has(key(partition))).length;
              // Nobody gives anything up, unless taking the leaver's share would unbalance the group anyway.
              if (sameTopics) expect(kept).toBe(Math.min(had.size, assignment.partitions.length));
            }
          }),
          { seed: sameTopics ? 17 : 18, numRuns: 200 },
        );
      });
    });
  }

  it('on a member joining, moves only the partitions the newcomer needs', () => {
    fc.assert(
      fc.property(groupArbitrary(true, member, 3), ({ metadata, subscriptions }) => {
        const first = new StickyAssignor().assign(metadata, subscriptions);
        const next = reportBack(subscriptions, first, 4);
        const topics = [...subscriptions.values()][0]!.topics;
        next.set('newcomer', member(topics));
        const after = new StickyAssignor().assign(metadata, next);
        expect(validityProblems(metadata, next, after, true)).toEqual([]);
        expect(countSpread(after)).toBeLessThanOrEqual(1);
        // Members only lose partitions, to the newcomer: nothing moves between the old members.
        const total = [...after.values()].reduce((sum, { partitions }) => sum + partitions.length, 0);
        const minimum = Math.floor(total / next.size);
        expect(movedPartitions(ownedOf(first), after)).toBe(after.get('newcomer')!.partitions.length);
        expect(after.get('newcomer')!.partitions.length).toBe(minimum);
      }),
      { seed: 19, numRuns: 200 },
    );
  });

  it('drops partitions of topics a member no longer subscribes to and of topics that are gone', () => {
    const result = new StickyAssignor().assign(
      metadata({ a: 2, b: 2 }),
      new Map([
        [
          'x',
          member(
            ['a'],
            [
              { topic: 'a', partition: 0 },
              { topic: 'b', partition: 0 },
              { topic: 'gone', partition: 0 },
            ],
          ),
        ],
        ['y', member(['a', 'b'])],
      ]),
    );
    // x keeps a-0 (and takes a-1, which only it and y could have); b-0 goes to y, the only subscriber of b.
    expect(keys(result.get('x')!.partitions)).toEqual(['a-0', 'a-1']);
    expect(keys(result.get('y')!.partitions)).toEqual(['b-0', 'b-1']);
  });

  describe('rack awareness (KIP-881)', () => {
    const racked = (racks: string[][], extra: Record<string, number> = {}): AssignorMetadata => ({
      topics: new Map<string, AssignorTopic>([
        ['t', { name: 't', partitions: racks.length, partitionRacks: racks }],
        ...Object.entries(extra).map(([name, partitions]): [string, AssignorTopic] => [name, { name, partitions }]),
      ]),
    });
    const on = (
      rackId: string | null,
      topics: readonly string[],
      owned: TopicPartition[] = [],
    ): MemberSubscription => ({
      ...member(topics, owned, 2),
      rackId,
    });

    it('gives members partitions with a replica on their rack, balance first', () => {
      const metadata = racked([['r0'], ['r0'], ['r1'], ['r1']]);
      const result = new StickyAssignor().assign(
        metadata,
        new Map([
          ['a', on('r1', ['t'])],
          ['b', on('r0', ['t'])],
        ]),
      );
      expect(keys(result.get('a')!.partitions)).toEqual(['t-2', 't-3']);
      expect(keys(result.get('b')!.partitions)).toEqual(['t-0', 't-1']);
      // Three partitions on r0 and two members there: balance wins over locality.
      const skewed = new StickyAssignor().assign(
        racked([['r0'], ['r0'], ['r0'], ['r1']]),
        new Map([
          ['a', on('r0', ['t'])],
          ['b', on('r0', ['t'])],
          ['c', on('r1', ['t'])],
        ]),
      );
      expect(countSpread(skewed)).toBeLessThanOrEqual(1);
      expect(keys(skewed.get('c')!.partitions)).toContain('t-3');
    });

    it('gives up an owned partition on another rack when rack-aware', () => {
      const result = new StickyAssignor().assign(
        racked([['r0'], ['r0'], ['r1'], ['r1']]),
        new Map([
          ['a', on('r1', ['t'], [{ topic: 't', partition: 0 }])],
          ['b', on('r0', ['t'], [{ topic: 't', partition: 2 }])],
        ]),
      );
      expect(keys(result.get('a')!.partitions)).toEqual(['t-2', 't-3']);
    });

    it('ignores racks when every partition has a replica on every rack', () => {
      const everywhere = [
        ['r0', 'r1'],
        ['r1', 'r0'],
        ['r0', 'r1'],
        ['r0', 'r1'],
      ];
      const result = new StickyAssignor().assign(
        racked(everywhere),
        new Map([
          ['a', on('r1', ['t'], [{ topic: 't', partition: 0 }])],
          ['b', on('r0', ['t'])],
        ]),
      );
      expect(keys(result.get('a')!.partitions)).toContain('t-0');
    });

    it('prefers a local member among equally loaded ones when subscriptions differ', () => {
      const result = new StickyAssignor().assign(
        racked([['r0'], ['r1']], { u: 0 }),
        new Map([
          ['a', on('r1', ['t', 'u'])],
          ['b', on('r0', ['t'])],
        ]),
      );
      expect(keys(result.get('a')!.partitions)).toEqual(['t-1']);
      expect(keys(result.get('b')!.partitions)).toEqual(['t-0']);
    });
  });

  it('handles 2,000 partitions and 100 members, same and different subscriptions', () => {
    const topics = Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`topic-${index}`, 100]));
    const names = Object.keys(topics);
    const random = fc.sample(fc.array(fc.nat({ max: 1_000_000 }), { minLength: 4_000, maxLength: 4_000 }), {
      seed: 23,
      numRuns: 1,
    })[0]!;
    for (const sameTopics of [true, false]) {
      // Previously: 80 members owned everything at random; 20 join.
      const owned: TopicPartition[][] = Array.from({ length: 100 }, () => []);
      let index = 0;
      for (const topic of names) {
        for (let partition = 0; partition < 100; partition++) owned[random[index++]! % 80]!.push({ topic, partition });
      }
      const subscriptions = new Map(
        owned.map((partitions, memberIndex) => {
          const subscribed = sameTopics
            ? names
            : names.filter((_, topic) => (random[2_000 + memberIndex * 20 + topic]! & 1) === 0);
          return [`consumer-${memberIndex}`, member(subscribed.length > 0 ? subscribed : names, partitions, 8)];
        }),
      );
      const result = new StickyAssignor().assign(metadata(topics), subscriptions);
      expect(validityProblems(metadata(topics), subscriptions, result, true)).toEqual([]);
      expect(balanceProblems(subscriptions, result)).toEqual([]);
      const again = new StickyAssignor().assign(metadata(topics), reportBack(subscriptions, result, 9));
      expect(movedPartitions(ownedOf(result), again)).toBe(0);
    }
  });
});
