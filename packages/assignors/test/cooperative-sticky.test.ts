import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CooperativeStickyAssignor } from '../src/cooperative-sticky.ts';
import { StickyAssignor } from '../src/sticky.ts';
import type { MemberAssignment, MemberSubscription, TopicPartition } from '../src/types.ts';
import { groupArbitrary, hex, key, keys, metadata } from './fixtures.ts';
import { balanceProblems, countSpread, movedPartitions, validityProblems } from './sticky-check.ts';

/** A cooperative member's subscription: owned partitions and their generation in the subscription (v2+). */
function member(topics: readonly string[], owned: readonly TopicPartition[] = [], generation = -1): MemberSubscription {
  return { topics, userData: null, ownedPartitions: owned, generationId: generation, rackId: null };
}

/** After a round, every member owns what it was given (it revoked the rest), in a new generation. */
function afterRound(
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

/** Partitions handed to a member other than their owner while another member still claims them. */
function handedOverWhileClaimed(
  subscriptions: ReadonlyMap<string, MemberSubscription>,
  result: ReadonlyMap<string, MemberAssignment>,
): string[] {
  const problems: string[] = [];
  for (const [memberId, { partitions }] of result) {
    const own = new Set(subscriptions.get(memberId)!.ownedPartitions.map(key));
    for (const partition of partitions) {
      if (own.has(key(partition))) continue;
      for (const [otherId, other] of subscriptions) {
        if (otherId !== memberId && other.ownedPartitions.some((owned) => key(owned) === key(partition))) {
          problems.push(`${key(partition)} went to ${memberId} while ${otherId} owns it`);
        }
      }
    }
  }
  return problems;
}

describe('CooperativeStickyAssignor', () => {
  it('is Kafka’s "cooperative-sticky", COOPERATIVE first, EAGER too', () => {
    const assignor = new CooperativeStickyAssignor();
    expect([assignor.name, assignor.supportedProtocols, assignor.version]).toEqual([
      'cooperative-sticky',
      ['COOPERATIVE', 'EAGER'],
      0,
    ]);
  });

  it('sends its generation as an INT32, -1 before the first assignment', () => {
    const assignor = new CooperativeStickyAssignor();
    expect(hex(assignor.subscriptionUserData(new Set()))).toBe('ffffffff');
    assignor.onAssignment({ partitions: [], userData: null }, { groupId: 'g', memberId: 'm', generationId: 258 });
    expect(hex(assignor.subscriptionUserData(new Set()))).toBe('00000102');
  });

  it('takes the generation from user data when the subscription has none (before v2)', () => {
    const subscriptions = new Map<string, MemberSubscription>([
      // Subscription v1: no generation field, our user data says 7.
      ['v1', { ...member(['t'], [{ topic: 't', partition: 0 }]), userData: Uint8Array.of(0, 0, 0, 7) }],
      ['v2', member(['t'], [{ topic: 't', partition: 0 }], 6)],
    ]);
    const result = new CooperativeStickyAssignor().assign(metadata({ t: 2 }), subscriptions);
    // Generation 7 (from user data) beats 6: v1 keeps t-0.
    expect(keys(result.get('v1')!.partitions)).toEqual(['t-0']);
    expect(keys(result.get('v2')!.partitions)).toEqual(['t-1']);
  });

  it('holds back a partition moving to a new owner, and one claimed twice in a generation', () => {
    const subscriptions = new Map<string, MemberSubscription>([
      [
        'a',
        member(
          ['t'],
          [0, 1, 2, 3].map((partition) => ({ topic: 't', partition })),
          5,
        ),
      ],
      ['b', member(['t'], [{ topic: 't', partition: 3 }], 5)],
      ['c', member(['t'], [], 5)],
    ]);
    const result = new CooperativeStickyAssignor().assign(metadata({ t: 6 }), subscriptions);
    // t-3 is claimed by a and b in generation 5: nobody gets it this round.
    expect([...result.values()].flatMap(({ partitions }) => keys(partitions))).not.toContain('t-3');
    // a keeps 2 of its own; what it gives up is not handed over yet; t-4 and t-5 (unowned) go out at once.
    expect(keys(result.get('a')!.partitions)).toEqual(['t-0', 't-1']);
    expect(handedOverWhileClaimed(subscriptions, result)).toEqual([]);
    const next = new CooperativeStickyAssignor().assign(metadata({ t: 6 }), afterRound(subscriptions, result, 6));
    expect(validityProblems(metadata({ t: 6 }), subscriptions, next, true)).toEqual([]);
    expect(countSpread(next)).toBe(0);
  });

  it('lets the newer-generation owner keep a partition a stale member still lists', () => {
    const subscriptions = new Map<string, MemberSubscription>([
      [
        'stale',
        member(
          ['t'],
          [
            { topic: 't', partition: 0 },
            { topic: 't', partition: 1 },
          ],
          3,
        ),
      ],
      ['current', member(['t'], [{ topic: 't', partition: 1 }], 4)],
    ]);
    const result = new CooperativeStickyAssignor().assign(metadata({ t: 2 }), subscriptions);
    expect(keys(result.get('current')!.partitions)).toEqual(['t-1']);
    expect(keys(result.get('stale')!.partitions)).toEqual(['t-0']);
  });

  for (const sameTopics of [true, false]) {
    describe(sameTopics ? 'everyone on the same topics' : 'different subscriptions', () => {
      it('never hands over a claimed partition; the follow-up round completes the sticky target', () => {
        fc.assert(
          fc.property(groupArbitrary(sameTopics, member, 7), ({ metadata, subscriptions }) => {
            const first = new CooperativeStickyAssignor().assign(metadata, subscriptions);
            expect(validityProblems(metadata, subscriptions, first, false)).toEqual([]);
            expect(handedOverWhileClaimed(subscriptions, first)).toEqual([]);
            // Members keep what they keep: round one only ever removes from the eager sticky target.
            const target = new StickyAssignor().assign(metadata, subscriptions);
            for (const [memberId, { partitions }] of first) {
              const wanted = new Set(target.get(memberId)!.partitions.map(key));
              expect(partitions.every((partition) => wanted.has(key(partition)))).toBe(true);
            }

            const next = afterRound(subscriptions, first, 8);
            const second = new CooperativeStickyAssignor().assign(metadata, next);
            expect(validityProblems(metadata, next, second, true)).toEqual([]);
            expect(balanceProblems(next, second)).toEqual([]);
            if (sameTopics) expect(countSpread(second)).toBeLessThanOrEqual(1);
            // Nothing more is revoked: everyone keeps all it owned after round one...
            expect(movedPartitions(new Map([...first].map(([id, { partitions }]) => [id, partitions])), second)).toBe(
              [...second.values()].reduce((sum, { partitions }) => sum + partitions.length, 0) -
                [...first.values()].reduce((sum, { partitions }) => sum + partitions.length, 0),
            );
            // ...and the result is as balanced as the eager target (who gets a withheld partition may differ).
            const counts = (result: ReadonlyMap<string, MemberAssignment>): number[] =>
              [...result.values()].map(({ partitions }) => partitions.length).sort((left, right) => left - right);
            expect(counts(second)).toEqual(counts(target));
          }),
          { seed: sameTopics ? 31 : 32, numRuns: 300 },
        );
      });

      it('holds nothing back in an EAGER rebalance (nobody owns anything)', () => {
        fc.assert(
          fc.property(groupArbitrary(sameTopics, member, 7), ({ metadata, subscriptions }) => {
            const eager = new Map([...subscriptions].map(([id, subscription]) => [id, member(subscription.topics)]));
            const result = new CooperativeStickyAssignor().assign(metadata, eager);
            expect(validityProblems(metadata, eager, result, true)).toEqual([]);
            expect(balanceProblems(eager, result)).toEqual([]);
          }),
          { seed: sameTopics ? 33 : 34, numRuns: 100 },
        );
      });
    });
  }

  it('handles 2,000 partitions and 100 members in two rounds', () => {
    const topics = Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`topic-${index}`, 100]));
    const names = Object.keys(topics);
    // Previously 80 members shared everything round-robin; 20 join, some on fewer topics.
    const owned: TopicPartition[][] = Array.from({ length: 100 }, () => []);
    let index = 0;
    for (const topic of names)
      for (let partition = 0; partition < 100; partition++) owned[index++ % 80]!.push({ topic, partition });
    const subscriptions = new Map(
      owned.map((partitions, memberIndex) => [
        `consumer-${memberIndex}`,
        member(memberIndex >= 90 ? names.slice(0, 10) : names, partitions, 12),
      ]),
    );
    const first = new CooperativeStickyAssignor().assign(metadata(topics), subscriptions);
    expect(handedOverWhileClaimed(subscriptions, first)).toEqual([]);
    const next = afterRound(subscriptions, first, 13);
    const second = new CooperativeStickyAssignor().assign(metadata(topics), next);
    expect(validityProblems(metadata(topics), next, second, true)).toEqual([]);
    expect(balanceProblems(next, second)).toEqual([]);
  });
});
