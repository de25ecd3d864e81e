import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RoundRobinAssignor } from '../src/round-robin.ts';
import { AssignorError, type AssignorMetadata, type AssignorTopic, type MemberSubscription } from '../src/types.ts';
import { group, labels } from './fixtures.ts';

function metadata(partitionsByTopic: Record<string, number>): AssignorMetadata {
  return {
    topics: new Map(
      Object.entries(partitionsByTopic).map(([name, partitions]): [string, AssignorTopic] => [
        name,
        { name, partitions },
      ]),
    ),
  };
}

function member(topics: readonly string[], rackId: string | null = null): MemberSubscription {
  return { topics, userData: null, ownedPartitions: [], generationId: -1, rackId };
}

const assignor = new RoundRobinAssignor();

describe('RoundRobinAssignor', () => {
  it('advertises Kafka name, protocol and version', () => {
    expect(assignor.name).toBe('roundrobin');
    expect(assignor.supportedProtocols).toEqual(['EAGER']);
    expect(assignor.version).toBe(0);
  });

  it("deals all partitions around the members (Kafka's documented example, same subscriptions)", () => {
    const result = assignor.assign(
      metadata({ t0: 3, t1: 3 }),
      group({ C1: member(['t1', 't0']), C0: member(['t0', 't1']) }),
    );
    expect(labels(result)).toEqual({ C0: ['t0-0', 't0-2', 't1-1'], C1: ['t0-1', 't1-0', 't1-2'] });
    for (const assignment of result.values()) expect(assignment.userData).toBeNull();
  });

  it("passes over members not subscribed to a partition's topic (Kafka's documented example)", () => {
    const result = assignor.assign(
      metadata({ t0: 1, t1: 2, t2: 3 }),
      group({ C0: member(['t0']), C1: member(['t0', 't1']), C2: member(['t0', 't1', 't2']) }),
    );
    expect(labels(result)).toEqual({ C0: ['t0-0'], C1: ['t1-0'], C2: ['t1-1', 't2-0', 't2-1', 't2-2'] });
  });

  it('carries on around the circle from the member after the last one dealt to', () => {
    const result = assignor.assign(
      metadata({ a: 2, b: 3 }),
      group({ m0: member(['a', 'b']), m1: member(['b']), m2: member(['a', 'b']) }),
    );
    // a-0 m0, a-1 m2 (m1 passed over), b-0 m0, b-1 m1, b-2 m2
    expect(labels(result)).toEqual({ m0: ['a-0', 'b-0'], m1: ['b-1'], m2: ['a-1', 'b-2'] });
  });

  it('orders topics and members by UTF-16 code unit, as Java does', () => {
    const result = assignor.assign(
      metadata({ b: 1, B: 1, a: 1 }),
      group({ x: member(['a', 'b', 'B']), X: member(['a', 'b', 'B']), '1': member(['a', 'b', 'B']) }),
    );
    // Topics B, a, b; members "1", "X", "x".
    expect(labels(result)).toEqual({ '1': ['B-0'], X: ['a-0'], x: ['b-0'] });
    expect([...result.keys()]).toEqual(['1', 'X', 'x']);
  });

  it('skips topics missing from the metadata and topics without partitions, and lists every member', () => {
    const result = assignor.assign(
      metadata({ present: 3, empty: 0 }),
      group({
        a: member(['missing', 'present', 'empty']),
        b: member(['missing']),
        c: member([]),
        d: member(['present']),
      }),
    );
    expect(labels(result)).toEqual({ a: ['present-0', 'present-2'], b: [], c: [], d: ['present-1'] });
  });

  it('ignores racks', () => {
    const topics: AssignorMetadata = {
      topics: new Map([['t', { name: 't', partitions: 2, partitionRacks: [['a'], ['b']] }]]),
    };
    const result = assignor.assign(topics, group({ c0: member(['t'], 'b'), c1: member(['t'], 'a') }));
    expect(labels(result)).toEqual({ c0: ['t-0'], c1: ['t-1'] });
  });

  describe('input validation', () => {
    it('rejects an empty group, as Java does', () => {
      expect(() => assignor.assign(metadata({ t: 1 }), new Map())).toThrow(AssignorError);
    });

    it.each([-1, 2.5, Number.POSITIVE_INFINITY])('rejects a partition count of %d', (partitions) => {
      expect(() => assignor.assign(metadata({ t: partitions }), group({ a: member(['t']) }))).toThrow(AssignorError);
    });
  });

  describe('properties', () => {
    const topicNames = ['t0', 't1', 't2', 'T', 'topic', 'missing'];
    const groupArbitrary = fc
      .record({
        partitions: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 5, maxLength: 5 }),
        members: fc.uniqueArray(
          fc.record({ id: fc.string({ minLength: 1, maxLength: 4 }), topics: fc.subarray(topicNames) }),
          { selector: (entry) => entry.id, minLength: 1, maxLength: 8 },
        ),
      })
      .map(({ partitions, members }) => ({
        metadata: metadata(Object.fromEntries(topicNames.slice(0, 5).map((name, index) => [name, partitions[index]!]))),
        subscriptions: new Map(members.map((entry) => [entry.id, member(entry.topics)])),
      }));

    it('assigns every subscribed partition exactly once, to a subscriber, in topic-then-partition order', () => {
      fc.assert(
        fc.property(groupArbitrary, ({ metadata, subscriptions }) => {
          const result = assignor.assign(metadata, subscriptions);
          expect(new Set(result.keys())).toEqual(new Set(subscriptions.keys()));
          const seen = new Set<string>();
          for (const [id, assignment] of result) {
            const keys = assignment.partitions.map(
              ({ topic, partition }) => `${topic}\u0000${String(partition).padStart(3, '0')}`,
            );
            expect(keys).toEqual([...keys].sort());
            for (const { topic, partition } of assignment.partitions) {
              expect(subscriptions.get(id)!.topics).toContain(topic);
              expect(partition).toBeLessThan(metadata.topics.get(topic)!.partitions);
              const key = `${topic}-${partition}`;
              expect(seen.has(key)).toBe(false);
              seen.add(key);
            }
          }
          const subscribed = new Set([...subscriptions.values()].flatMap((subscription) => subscription.topics));
          let expected = 0;
          for (const topic of subscribed) expected += metadata.topics.get(topic)?.partitions ?? 0;
          expect(seen.size).toBe(expected);
        }),
        { seed: 1303, numRuns: 300 },
      );
    });

    it('balances to within one partition when all members subscribe to the same topics', () => {
      fc.assert(
        fc.property(groupArbitrary, fc.subarray(topicNames), ({ metadata, subscriptions }, topics) => {
          const same = new Map([...subscriptions.keys()].map((id) => [id, member(topics)]));
          const counts = [...assignor.assign(metadata, same).values()].map(
            (assignment) => assignment.partitions.length,
          );
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        }),
        { seed: 1304, numRuns: 200 },
      );
    });

    it('does not depend on the order of the maps it is given', () => {
      fc.assert(
        fc.property(groupArbitrary, ({ metadata, subscriptions }) => {
          const expected = assignor.assign(metadata, subscriptions);
          const actual = assignor.assign(
            { topics: new Map([...metadata.topics].reverse()) },
            new Map([...subscriptions].reverse()),
          );
          expect([...actual]).toEqual([...expected]);
        }),
        { seed: 1305, numRuns: 200 },
      );
    });
  });
});
