import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeAssignor } from '../src/range.ts';
import { AssignorError, type AssignorMetadata, type AssignorTopic, type MemberSubscription } from '../src/types.ts';
import { group, labels } from './fixtures.ts';

interface TopicSpec {
  readonly partitions: number;
  readonly racks?: readonly (readonly string[])[];
}

function metadata(topics: Record<string, TopicSpec>): AssignorMetadata {
  const entries = Object.entries(topics).map(([name, spec]): [string, AssignorTopic] => [
    name,
    spec.racks === undefined
      ? { name, partitions: spec.partitions }
      : { name, partitions: spec.partitions, partitionRacks: spec.racks },
  ]);
  return { topics: new Map(entries) };
}

function member(topics: readonly string[], rackId: string | null = null): MemberSubscription {
  return { topics, userData: null, ownedPartitions: [], generationId: -1, rackId };
}

const assignor = new RangeAssignor();

describe('RangeAssignor', () => {
  it('advertises Kafka name, protocol and version', () => {
    expect(assignor.name).toBe('range');
    expect(assignor.supportedProtocols).toEqual(['EAGER']);
    expect(assignor.version).toBe(0);
  });

  it("splits each topic into contiguous ranges, first members taking the extras (Kafka's documented example)", () => {
    const result = assignor.assign(
      metadata({ t0: { partitions: 3 }, t1: { partitions: 3 } }),
      group({ C1: member(['t0', 't1']), C0: member(['t0', 't1']) }),
    );
    expect(labels(result)).toEqual({ C0: ['t0-0', 't0-1', 't1-0', 't1-1'], C1: ['t0-2', 't1-2'] });
    for (const assignment of result.values()) expect(assignment.userData).toBeNull();
  });

  it('assigns each topic among its own subscribers only', () => {
    const result = assignor.assign(
      metadata({ t0: { partitions: 3 }, t1: { partitions: 4 }, t2: { partitions: 1 } }),
      group({ a: member(['t0']), b: member(['t0', 't1']), c: member(['t1', 't2']) }),
    );
    expect(labels(result)).toEqual({
      a: ['t0-0', 't0-1'],
      b: ['t0-2', 't1-0', 't1-1'],
      c: ['t1-2', 't1-3', 't2-0'],
    });
  });

  it('gives members beyond the partition count nothing, but still an entry', () => {
    const result = assignor.assign(
      metadata({ t: { partitions: 2 } }),
      group({ m1: member(['t']), m2: member(['t']), m3: member(['t']), idle: member([]) }),
    );
    expect(labels(result)).toEqual({ idle: [], m1: ['t-0'], m2: ['t-1'], m3: [] });
  });

  it('skips topics missing from the metadata and topics without partitions', () => {
    const result = assignor.assign(
      metadata({ present: { partitions: 2 }, empty: { partitions: 0 } }),
      group({ a: member(['missing', 'present', 'empty']), b: member(['missing']) }),
    );
    expect(labels(result)).toEqual({ a: ['present-0', 'present-1'], b: [] });
  });

  it('returns an empty map for an empty group', () => {
    expect(assignor.assign(metadata({ t: { partitions: 3 } }), new Map()).size).toBe(0);
  });

  it("orders members by UTF-16 code unit, as Java's String.compareTo does", () => {
    const result = assignor.assign(
      metadata({ t: { partitions: 4 } }),
      group({ b: member(['t']), B: member(['t']), '9': member(['t']), '10': member(['t']) }),
    );
    // "10" < "9" < "B" < "b"
    expect(labels(result)).toEqual({ '10': ['t-0'], '9': ['t-1'], B: ['t-2'], b: ['t-3'] });
    expect([...result.keys()]).toEqual(['10', '9', 'B', 'b']);
  });

  it('counts a topic listed twice in one subscription once', () => {
    const result = assignor.assign(
      metadata({ t: { partitions: 3 } }),
      group({ a: member(['t', 't']), b: member(['t']) }),
    );
    expect(labels(result)).toEqual({ a: ['t-0', 't-1'], b: ['t-2'] });
  });

  describe('rack-aware assignment (KIP-881)', () => {
    it('gives each member the partitions whose replicas share its rack, within the range quotas', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 3, racks: [['a'], ['b'], ['c']] } }),
        group({ c0: member(['t'], 'c'), c1: member(['t'], 'b'), c2: member(['t'], 'a') }),
      );
      expect(labels(result)).toEqual({ c0: ['t-2'], c1: ['t-1'], c2: ['t-0'] });
    });

    it('keeps the range quotas before rack alignment, then fills up with plain ranges', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 4, racks: [['a'], ['a'], ['a'], ['a', 'b']] } }),
        group({ c0: member(['t'], 'b'), c1: member(['t'], 'a') }),
      );
      // c0 matches only t-3, takes it, and gets t-2 (the lowest left over) to fill its quota of 2.
      expect(labels(result)).toEqual({ c0: ['t-2', 't-3'], c1: ['t-0', 't-1'] });
    });

    it('lets the first members with a match take the extra partitions', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 3, racks: [['b'], ['a'], ['a']] } }),
        group({ c0: member(['t'], 'a'), c1: member(['t'], 'b') }),
      );
      expect(labels(result)).toEqual({ c0: ['t-1', 't-2'], c1: ['t-0'] });
    });

    it('does nothing special when every partition has replicas on the same racks', () => {
      const result = assignor.assign(
        metadata({
          t: {
            partitions: 2,
            racks: [
              ['a', 'b'],
              ['b', 'a'],
            ],
          },
        }),
        group({ c0: member(['t'], 'b'), c1: member(['t'], 'a') }),
      );
      expect(labels(result)).toEqual({ c0: ['t-0'], c1: ['t-1'] });
    });

    it('does nothing special when no member rack holds a replica', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 2, racks: [['x'], ['y']] } }),
        group({ c0: member(['t'], 'b'), c1: member(['t'], 'a') }),
      );
      expect(labels(result)).toEqual({ c0: ['t-0'], c1: ['t-1'] });
    });

    it('treats a member without a rack as matching any partition (first come, first served)', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 2, racks: [['a'], ['b']] } }),
        group({ c0: member(['t']), c1: member(['t'], 'a') }),
      );
      // c0 takes t-0 in the matching pass, so c1 on rack a ends up with t-1: Java does the same.
      expect(labels(result)).toEqual({ c0: ['t-0'], c1: ['t-1'] });
    });

    it('treats an empty rack id as no rack', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 2, racks: [['a'], ['']] } }),
        group({ c0: member(['t'], ''), c1: member(['t'], 'a') }),
      );
      // Were '' a rack, c0 would match t-1 and c1 t-0.
      expect(labels(result)).toEqual({ c0: ['t-0'], c1: ['t-1'] });
    });

    it('moves co-partitioned topics together when their racks line up', () => {
      const racks = [['a'], ['b']];
      const result = assignor.assign(
        metadata({ t0: { partitions: 2, racks }, t1: { partitions: 2, racks } }),
        group({ c0: member(['t0', 't1'], 'b'), c1: member(['t0', 't1'], 'a') }),
      );
      expect(labels(result)).toEqual({ c0: ['t0-1', 't1-1'], c1: ['t0-0', 't1-0'] });
    });

    it('keeps co-partitioning over rack alignment when the topics disagree', () => {
      const result = assignor.assign(
        metadata({ t0: { partitions: 2, racks: [['a'], ['b']] }, t1: { partitions: 2, racks: [['b'], ['a']] } }),
        group({ c0: member(['t0', 't1'], 'a'), c1: member(['t0', 't1'], 'b') }),
      );
      expect(labels(result)).toEqual({ c0: ['t0-0', 't1-0'], c1: ['t0-1', 't1-1'] });
    });

    it('rack-matches a co-partitioned topic that would not need it alone', () => {
      // t1's partitions all live on both racks (no need alone), but it shares subscribers and count with t0.
      const result = assignor.assign(
        metadata({
          t0: { partitions: 2, racks: [['a'], ['b']] },
          t1: {
            partitions: 2,
            racks: [
              ['a', 'b'],
              ['a', 'b'],
            ],
          },
        }),
        group({ c0: member(['t0', 't1'], 'b'), c1: member(['t0', 't1'], 'a') }),
      );
      expect(labels(result)).toEqual({ c0: ['t0-1', 't1-1'], c1: ['t0-0', 't1-0'] });
    });

    it('lists partitions by topic, then partition id', () => {
      const result = assignor.assign(
        metadata({ b: { partitions: 2, racks: [['y'], ['x']] }, a: { partitions: 3, racks: [['x'], ['y'], ['x']] } }),
        group({ m0: member(['b', 'a'], 'x'), m1: member(['a', 'b'], 'y') }),
      );
      expect(labels(result)).toEqual({ m0: ['a-0', 'a-2', 'b-1'], m1: ['a-1', 'b-0'] });
    });
  });

  describe('input validation', () => {
    it.each([-1, 1.5, Number.NaN])('rejects a partition count of %d', (partitions) => {
      expect(() => assignor.assign(metadata({ t: { partitions } }), group({ a: member(['t']) }))).toThrow(
        AssignorError,
      );
    });

    it('rejects racks for partitions the topic does not have', () => {
      expect(() =>
        assignor.assign(metadata({ t: { partitions: 1, racks: [['a'], ['b']] } }), group({ a: member(['t'], 'a') })),
      ).toThrow(AssignorError);
    });

    it('ignores bad metadata for topics nobody subscribes to', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 1 }, u: { partitions: -1 } }),
        group({ a: member(['t']) }),
      );
      expect(labels(result)).toEqual({ a: ['t-0'] });
    });

    it('accepts racks for only the first partitions (the rest unknown)', () => {
      const result = assignor.assign(
        metadata({ t: { partitions: 2, racks: [['b']] } }),
        group({ c0: member(['t'], 'a'), c1: member(['t'], 'b') }),
      );
      expect(labels(result)).toEqual({ c0: ['t-1'], c1: ['t-0'] });
    });
  });

  describe('properties', () => {
    const racks = ['r0', 'r1', 'r2'];
    const groupArbitrary = fc
      .record({
        topics: fc.uniqueArray(
          fc.record({
            name: fc.constantFrom('t0', 't1', 't2', 't3', 'T', 'topic'),
            partitions: fc.integer({ min: 0, max: 12 }),
            seed: fc.array(fc.subarray(racks), { maxLength: 12 }),
            withRacks: fc.boolean(),
          }),
          { selector: (topic) => topic.name, minLength: 1, maxLength: 5 },
        ),
        members: fc.uniqueArray(
          fc.record({
            id: fc.string({ minLength: 1, maxLength: 4 }),
            picks: fc.array(fc.nat(), { maxLength: 6 }),
            rack: fc.option(fc.constantFrom(...racks)),
          }),
          { selector: (entry) => entry.id, minLength: 1, maxLength: 8 },
        ),
      })
      .map(({ topics, members }) => {
        const names = [...topics.map((topic) => topic.name), 'missing'];
        const topicMap = new Map<string, AssignorTopic>();
        for (const topic of topics) {
          const partitionRacks = Array.from({ length: topic.partitions }, (_, index) => topic.seed[index] ?? []);
          topicMap.set(
            topic.name,
            topic.withRacks
              ? { name: topic.name, partitions: topic.partitions, partitionRacks }
              : { name: topic.name, partitions: topic.partitions },
          );
        }
        const subscriptions = new Map<string, MemberSubscription>();
        for (const entry of members) {
          subscriptions.set(
            entry.id,
            member([...new Set(entry.picks.map((pick) => names[pick % names.length]!))], entry.rack),
          );
        }
        return { metadata: { topics: topicMap }, subscriptions };
      });

    it('assigns every subscribed partition exactly once, to a subscriber, within the range quotas', () => {
      fc.assert(
        fc.property(groupArbitrary, ({ metadata, subscriptions }) => {
          const result = assignor.assign(metadata, subscriptions);
          expect(new Set(result.keys())).toEqual(new Set(subscriptions.keys()));
          const owner = new Map<string, string>();
          for (const [id, assignment] of result) {
            for (const { topic, partition } of assignment.partitions) {
              const key = `${topic}-${partition}`;
              expect(owner.has(key)).toBe(false);
              owner.set(key, id);
              expect(subscriptions.get(id)!.topics).toContain(topic);
            }
          }
          for (const [name, topic] of metadata.topics) {
            const subscribers = [...subscriptions].filter(([, subscription]) => subscription.topics.includes(name));
            if (subscribers.length === 0) continue;
            const counts = subscribers.map(
              ([id]) => result.get(id)!.partitions.filter((partition) => partition.topic === name).length,
            );
            const total = counts.reduce((sum, count) => sum + count, 0);
            expect(total).toBe(topic.partitions);
            const base = Math.floor(topic.partitions / subscribers.length);
            expect(counts.every((count) => count === base || count === base + 1)).toBe(true);
          }
        }),
        { seed: 881, numRuns: 300 },
      );
    });

    it('is plain contiguous ranges when no member has a rack', () => {
      fc.assert(
        fc.property(groupArbitrary, ({ metadata, subscriptions }) => {
          const rackless = new Map(
            [...subscriptions].map(([id, subscription]) => [id, { ...subscription, rackId: null }]),
          );
          const result = assignor.assign(metadata, rackless);
          for (const [name, topic] of metadata.topics) {
            const subscribers = [...rackless.keys()].filter((id) => rackless.get(id)!.topics.includes(name)).sort();
            let next = 0;
            for (const [index, id] of subscribers.entries()) {
              const expected: number[] = [];
              const count =
                Math.floor(topic.partitions / subscribers.length) +
                (index < topic.partitions % subscribers.length ? 1 : 0);
              for (let i = 0; i < count; i++) expected.push(next++);
              const got = result
                .get(id)!
                .partitions.filter((partition) => partition.topic === name)
                .map((partition) => partition.partition);
              expect(got).toEqual(expected);
            }
          }
        }),
        { seed: 882, numRuns: 200 },
      );
    });

    it('keeps topics with the same subscribers and partition count co-partitioned', () => {
      fc.assert(
        fc.property(groupArbitrary, ({ metadata, subscriptions }) => {
          const result = assignor.assign(metadata, subscriptions);
          const ownerOf = new Map<string, string>();
          for (const [id, assignment] of result) {
            for (const { topic, partition } of assignment.partitions) ownerOf.set(`${topic}-${partition}`, id);
          }
          const signature = (name: string): string =>
            JSON.stringify([
              metadata.topics.get(name)!.partitions,
              [...subscriptions.keys()].filter((id) => subscriptions.get(id)!.topics.includes(name)).sort(),
            ]);
          const names = [...metadata.topics.keys()];
          for (const a of names) {
            for (const b of names) {
              if (a >= b || signature(a) !== signature(b)) continue;
              for (let partition = 0; partition < metadata.topics.get(a)!.partitions; partition++) {
                expect(ownerOf.get(`${a}-${partition}`)).toBe(ownerOf.get(`${b}-${partition}`));
              }
            }
          }
        }),
        { seed: 883, numRuns: 200 },
      );
    });

    it('does not depend on the order of the maps it is given', () => {
      fc.assert(
        fc.property(groupArbitrary, fc.boolean(), ({ metadata, subscriptions }, reverseTopics) => {
          const expected = assignor.assign(metadata, subscriptions);
          const reversedMembers = new Map([...subscriptions].reverse());
          const topics = reverseTopics ? new Map([...metadata.topics].reverse()) : metadata.topics;
          const actual = assignor.assign({ topics }, reversedMembers);
          expect([...actual]).toEqual([...expected]);
        }),
        { seed: 884, numRuns: 200 },
      );
    });
  });
});
