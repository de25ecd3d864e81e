/** What the assignor tests share: metadata and groups by hand, random groups, and readable results. */
import fc from 'fast-check';
import type { AssignorMetadata, MemberAssignment, MemberSubscription, TopicPartition } from '../src/types.ts';

export const hex = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('hex');
export const key = ({ topic, partition }: TopicPartition): string => `${topic}-${partition}`;
export const keys = (partitions: readonly TopicPartition[]): string[] => partitions.map(key).sort();

/** Metadata of topics without rack information, by partition count. */
export function metadata(topics: Record<string, number>): AssignorMetadata {
  return { topics: new Map(Object.entries(topics).map(([name, partitions]) => [name, { name, partitions }])) };
}

export function group(members: Record<string, MemberSubscription>): Map<string, MemberSubscription> {
  return new Map(Object.entries(members));
}

/** Each member's partitions as "topic-partition" strings, in the assignor's order. */
export function labels(result: ReadonlyMap<string, MemberAssignment>): Record<string, string[]> {
  return Object.fromEntries(
    [...result].map(([id, assignment]) => [id, assignment.partitions.map((tp) => `${tp.topic}-${tp.partition}`)]),
  );
}

export interface Group {
  readonly metadata: AssignorMetadata;
  readonly subscriptions: Map<string, MemberSubscription>;
}

/** How a test's assignor learns a member's previous assignment (user data, or owned partitions). */
export type MemberFactory = (
  topics: readonly string[],
  owned: readonly TopicPartition[],
  generation: number,
) => MemberSubscription;

/**
 * Random groups in which members own random partitions (no conflicts) in `generation`; `sameTopics` makes every
 * member subscribe to the same topics.
 */
export function groupArbitrary(sameTopics: boolean, member: MemberFactory, generation: number): fc.Arbitrary<Group> {
  return fc
    .record({
      partitions: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 5 }),
      members: fc.array(fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 9 }),
      owners: fc.array(fc.nat({ max: 12 }), { minLength: 150, maxLength: 150 }),
    })
    .map(({ partitions, members, owners }) => {
      const names = partitions.map((_, index) => `t${index}`);
      const topics = (picks: readonly number[]): string[] => [...new Set(picks.map((pick) => `t${pick}`))];
      const shared = topics(members[0]!);
      const owned: TopicPartition[][] = members.map(() => []);
      let index = 0;
      names.forEach((topic, topicIndex) => {
        for (let partition = 0; partition < partitions[topicIndex]!; partition++) {
          owned[owners[index++ % owners.length]!]?.push({ topic, partition });
        }
      });
      return {
        metadata: metadata(Object.fromEntries(names.map((name, topicIndex) => [name, partitions[topicIndex]!]))),
        subscriptions: new Map(
          members.map((picks, memberIndex) => [
            `member-${memberIndex}`,
            member(sameTopics ? shared : topics(picks), owned[memberIndex]!, generation),
          ]),
        ),
      };
    });
}
