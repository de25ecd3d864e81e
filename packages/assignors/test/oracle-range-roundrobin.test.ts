import {
  type Oracle,
  type OracleAssignInput,
  OracleError,
  type OracleTopicPartition,
  startOracle,
} from '@sluice/tools-oracle';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTopicPartitions } from '../src/internal/common.ts';
import { RangeAssignor } from '../src/range.ts';
import { RoundRobinAssignor } from '../src/round-robin.ts';
import {
  AssignorError,
  type AssignorMetadata,
  type AssignorTopic,
  type MemberSubscription,
  type PartitionAssignor,
  type TopicPartition,
} from '../src/types.ts';

/**
 * Differential tests: random groups assigned by Sluice and by Kafka's own RangeAssignor and RoundRobinAssignor
 * (kafka-clients, behind the oracle JVM) must come out the same, member by member.
 */

let oracle: Oracle;

beforeAll(async () => {
  oracle = await startOracle();
}, 120_000);

afterAll(async () => {
  await oracle?.close();
});

interface GeneratedTopic {
  readonly name: string;
  readonly partitions: number;
  readonly partitionRacks: readonly (readonly string[])[] | null;
}

interface GeneratedMember {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly rackId: string | null;
  readonly groupInstanceId?: string | null;
}

interface GeneratedGroup {
  readonly topics: readonly GeneratedTopic[];
  readonly members: readonly GeneratedMember[];
}

const RACKS = ['r0', 'r1', 'r2'];

// Names that sort differently by code unit than by code point or locale ("😀" is a surrogate pair below "ｔ").
const TOPIC_NAMES = ['t0', 't1', 't2', 'T', 'topic', 'orders', 'ｔ', '😀t', 'a.b_c-d'];
const MEMBER_IDS = fc.oneof(
  fc.string({ minLength: 1, maxLength: 6 }),
  fc.constantFrom('consumer-1-0e8a', 'consumer-1-f3b2', 'Consumer', 'ｍ', '😀m', '10', '9'),
);

const groupArbitrary: fc.Arbitrary<GeneratedGroup> = fc
  .record({
    topics: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom(...TOPIC_NAMES),
        // Repeated small counts make co-partitioned topics (same count, same subscribers) common.
        partitions: fc.oneof(fc.constantFrom(2, 3, 4), fc.integer({ min: 0, max: 12 })),
        racks: fc.array(fc.subarray(RACKS, { maxLength: 2 }), { minLength: 12, maxLength: 12 }),
        // Replicas on the same racks for every partition: Kafka then skips rack matching for this topic alone.
        uniformRacks: fc.boolean(),
      }),
      { selector: (topic) => topic.name, minLength: 1, maxLength: 5 },
    ),
    withPartitionRacks: fc.boolean(),
    sharedTopicPicks: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
    // All members on the same topics makes co-partitioned topics (same subscribers, same count) common.
    allShareTopics: fc.boolean(),
    members: fc.uniqueArray(
      fc.record({
        memberId: MEMBER_IDS,
        sharesTopics: fc.boolean(),
        topicPicks: fc.array(fc.nat(), { maxLength: 5 }),
        rackId: fc.option(fc.constantFrom(...RACKS, ''), { freq: 2 }),
        // Static members sort by instance id (unique in a group), ahead of dynamic ones.
        isStatic: fc.boolean(),
      }),
      { selector: (member) => member.memberId, minLength: 1, maxLength: 8 },
    ),
  })
  .map(({ topics, withPartitionRacks, sharedTopicPicks, allShareTopics, members }) => {
    // Subscriptions may name a topic the cluster does not have.
    const names = [...topics.map((topic) => topic.name), 'missing'];
    const pick = (picks: readonly number[]): string[] => [
      ...new Set(picks.map((index) => names[index % names.length]!)),
    ];
    const shared = pick(sharedTopicPicks);
    return {
      topics: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions,
        partitionRacks: withPartitionRacks
          ? Array.from({ length: topic.partitions }, (_, partition) => topic.racks[topic.uniformRacks ? 0 : partition]!)
          : null,
      })),
      members: members.map((member, index) => ({
        memberId: member.memberId,
        topics: allShareTopics || member.sharesTopics ? shared : pick(member.topicPicks),
        rackId: member.rackId,
        // In the generated order, which is not the member ids' order.
        groupInstanceId: member.isStatic ? `instance-${index}` : null,
      })),
    };
  });

function toMetadata(group: GeneratedGroup): AssignorMetadata {
  return {
    topics: new Map(
      group.topics.map((topic): [string, AssignorTopic] => [
        topic.name,
        topic.partitionRacks === null
          ? { name: topic.name, partitions: topic.partitions }
          : { name: topic.name, partitions: topic.partitions, partitionRacks: topic.partitionRacks },
      ]),
    ),
  };
}

function toSubscriptions(group: GeneratedGroup): Map<string, MemberSubscription> {
  return new Map(
    group.members.map((member): [string, MemberSubscription] => [
      member.memberId,
      {
        topics: member.topics,
        userData: null,
        ownedPartitions: [],
        generationId: -1,
        rackId: member.rackId,
        groupInstanceId: member.groupInstanceId ?? null,
      },
    ]),
  );
}

function toOracleInput(assignor: 'range' | 'roundrobin', group: GeneratedGroup): OracleAssignInput {
  return {
    assignor,
    topics: group.topics.map((topic) =>
      topic.partitionRacks === null
        ? { name: topic.name, partitions: topic.partitions }
        : { name: topic.name, partitions: topic.partitions, partitionRacks: topic.partitionRacks },
    ),
    members: group.members.map((member) => ({
      memberId: member.memberId,
      topics: member.topics,
      rackId: member.rackId,
      groupInstanceId: member.groupInstanceId ?? null,
    })),
  };
}

function plain(partitions: readonly (TopicPartition | OracleTopicPartition)[]): TopicPartition[] {
  return partitions.map(({ topic, partition }) => ({ topic, partition }));
}

async function assignBoth(
  assignor: PartitionAssignor,
  name: 'range' | 'roundrobin',
  group: GeneratedGroup,
): Promise<{ ours: Map<string, TopicPartition[]>; java: Map<string, TopicPartition[]> }> {
  const result = assignor.assign(toMetadata(group), toSubscriptions(group));
  for (const assignment of result.values()) expect(assignment.userData).toBeNull();
  const ours = new Map([...result].map(([member, assignment]) => [member, plain(assignment.partitions)]));
  const answer = await oracle.assign(toOracleInput(name, group));
  const java = new Map(Object.entries(answer).map(([member, assignment]) => [member, plain(assignment.partitions)]));
  for (const assignment of Object.values(answer)) expect(assignment.userData).toBeNull();
  // Every member has an entry on both sides, and nobody else.
  expect(new Set(ours.keys())).toEqual(new Set(group.members.map((member) => member.memberId)));
  expect(new Set(java.keys())).toEqual(new Set(ours.keys()));
  return { ours, java };
}

describe('RangeAssignor against Kafka', () => {
  const assignor = new RangeAssignor();

  it('assigns every random group as Java does', async () => {
    await fc.assert(
      fc.asyncProperty(groupArbitrary, async (group) => {
        const { ours, java } = await assignBoth(assignor, 'range', group);
        for (const [member, partitions] of ours) {
          const theirs = java.get(member)!;
          // The same partitions, listed by topic then partition. Java lists them so whenever rack matching ran;
          // otherwise its topics come in hash-map order, but within a topic its order is ours.
          expect(partitions, member).toEqual([...theirs].sort(compareTopicPartitions));
          for (const topic of new Set(partitions.map((partition) => partition.topic))) {
            expect(partitions.filter((partition) => partition.topic === topic)).toEqual(
              theirs.filter((partition) => partition.topic === topic),
            );
          }
        }
      }),
      { seed: 0x881, numRuns: 200 },
    );
  }, 120_000);

  it('agrees on hand-picked rack-aware groups, order included', async () => {
    const groups: GeneratedGroup[] = [
      {
        topics: [
          { name: 't0', partitions: 3, partitionRacks: [['r0'], ['r1'], ['r2']] },
          { name: 't1', partitions: 3, partitionRacks: [['r0'], ['r1'], ['r2']] },
          { name: 't2', partitions: 3, partitionRacks: [['r1'], ['r2'], ['r0']] },
        ],
        members: [
          { memberId: 'c', topics: ['t0', 't1', 't2'], rackId: 'r0' },
          { memberId: 'b', topics: ['t0', 't1', 't2'], rackId: 'r1' },
          { memberId: 'a', topics: ['t0', 't1', 't2'], rackId: 'r2' },
        ],
      },
      {
        topics: [{ name: 't', partitions: 5, partitionRacks: [['r0'], ['r0'], ['r0'], ['r1'], ['r0', 'r1']] }],
        members: [
          { memberId: 'm0', topics: ['t'], rackId: 'r1' },
          { memberId: 'm1', topics: ['t'], rackId: null },
          { memberId: 'm2', topics: ['t'], rackId: 'r0' },
        ],
      },
      {
        // x needs rack matching, so Kafka matches racks; y alone would not (its racks are not the subscribers').
        topics: [
          { name: 'x', partitions: 2, partitionRacks: [['r0'], ['r1']] },
          { name: 'y', partitions: 2, partitionRacks: [['r2'], ['r2']] },
        ],
        members: [
          { memberId: 'a', topics: ['x', 'y'], rackId: 'r0' },
          { memberId: 'b', topics: ['x'], rackId: 'r1' },
          { memberId: 'c', topics: ['y'], rackId: null },
        ],
      },
    ];
    for (const group of groups) {
      const { ours, java } = await assignBoth(assignor, 'range', group);
      expect(ours).toEqual(java);
    }
  }, 60_000);
});

describe('RoundRobinAssignor against Kafka', () => {
  const assignor = new RoundRobinAssignor();

  it('assigns every random group as Java does, order included', async () => {
    await fc.assert(
      fc.asyncProperty(groupArbitrary, async (group) => {
        const { ours, java } = await assignBoth(assignor, 'roundrobin', group);
        for (const [member, partitions] of ours) expect(partitions, member).toEqual(java.get(member));
      }),
      { seed: 0x1303, numRuns: 200 },
    );
  }, 120_000);

  it('refuses an empty group, as Java does', async () => {
    const group: GeneratedGroup = { topics: [{ name: 't', partitions: 1, partitionRacks: null }], members: [] };
    await expect(oracle.assign(toOracleInput('roundrobin', group))).rejects.toThrow(OracleError);
    expect(() => assignor.assign(toMetadata(group), toSubscriptions(group))).toThrow(AssignorError);
  }, 60_000);
});
