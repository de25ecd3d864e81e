import type { AssignorMetadata, TopicPartition } from '../types.ts';

/**
 * The shared model of one sticky assignment: partitions numbered densely, members numbered in id order, and the
 * previous ownership after Kafka's rules for stale and conflicting claims.
 *
 * Partition numbers: topics are sorted by name and each topic's partitions take consecutive numbers, so numeric
 * order is (topic, partition) order, the order in which Kafka hands out unassigned partitions.
 */

/** One member as the sticky algorithms see it. */
export interface StickyMember {
  readonly memberId: string;
  readonly topics: readonly string[];
  /** The partitions the member says it owns (from user data or the subscription), before validation. */
  readonly claimed: readonly TopicPartition[];
  /** The generation of `claimed`; -1 when unknown. */
  readonly generation: number;
  readonly rackId: string | null;
}

export interface StickyModel {
  /** Topics that some member subscribes to and the metadata knows, sorted by name. */
  readonly topicNames: readonly string[];
  readonly topicIndex: ReadonlyMap<string, number>;
  /** First partition number of each topic, plus the total at the end. */
  readonly topicBase: Int32Array;
  /** Topic index of each partition number. */
  readonly topicOf: Int32Array;
  readonly partitionCount: number;
  /** Member ids in the order the subscriptions were given (Java's HashMap insertion order). */
  readonly inputOrder: readonly string[];
  /** Members sorted by id; member numbers index this array. */
  readonly members: readonly StickyMember[];
  /** Topic indexes each member subscribes to (existing topics only), by member number. */
  readonly memberTopics: readonly (readonly number[])[];
  /** Members subscribed to each topic, ascending, by topic index. */
  readonly topicMembers: readonly (readonly number[])[];
  /**
   * The previous owner of each partition, or -1: the one claimant with the highest generation. A partition whose
   * highest generation has several claimants is owned by none of them and marked in `conflicted`.
   */
  readonly owner: Int32Array;
  readonly conflicted: Uint8Array;
  /** Partitions each member claims (deduplicated, existing partitions of known topics only), by member number. */
  readonly claims: readonly (readonly number[])[];
  /** Racks of each partition's replicas (partition number), or null when no partition's racks are known. */
  readonly partitionRacks: readonly (readonly string[] | undefined)[] | null;
}

/** Java's `String.compareTo` (UTF-16 code units), which is also JavaScript's default string order. */
export function compareStrings(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

export function buildStickyModel(metadata: AssignorMetadata, input: readonly StickyMember[]): StickyModel {
  const inputOrder = input.map((member) => member.memberId);
  const members = [...input].sort((left, right) => compareStrings(left.memberId, right.memberId));

  const subscribed = new Set<string>();
  for (const member of members) {
    for (const topic of member.topics) if (metadata.topics.has(topic)) subscribed.add(topic);
  }
  const topicNames = [...subscribed].sort(compareStrings);
  const topicIndex = new Map<string, number>();
  const topicBase = new Int32Array(topicNames.length + 1);
  let total = 0;
  topicNames.forEach((name, index) => {
    topicIndex.set(name, index);
    topicBase[index] = total;
    total += Math.max(0, metadata.topics.get(name)!.partitions);
  });
  topicBase[topicNames.length] = total;
  const topicOf = new Int32Array(total);
  for (let topic = 0; topic < topicNames.length; topic++) topicOf.fill(topic, topicBase[topic]!, topicBase[topic + 1]!);

  const topicMembers: number[][] = topicNames.map(() => []);
  const memberTopics: number[][] = members.map((member, memberNumber) => {
    const topics = new Set<number>();
    for (const name of member.topics) {
      const topic = topicIndex.get(name);
      if (topic !== undefined) topics.add(topic);
    }
    const sorted = [...topics].sort((left, right) => left - right);
    for (const topic of sorted) topicMembers[topic]!.push(memberNumber);
    return sorted;
  });

  // Previous ownership: per partition, the claimant with the highest generation wins; a tie at the highest
  // generation means two members believe they own it, and neither is trusted with it.
  const owner = new Int32Array(total).fill(-1);
  const ownerGeneration = new Float64Array(total).fill(Number.NEGATIVE_INFINITY);
  const conflicted = new Uint8Array(total);
  const seen = new Int32Array(total).fill(-1);
  const claims: number[][] = members.map((member, memberNumber) => {
    const list: number[] = [];
    for (const { topic, partition } of member.claimed) {
      const index = topicIndex.get(topic);
      if (index === undefined || !Number.isInteger(partition) || partition < 0) continue;
      const number = topicBase[index]! + partition;
      if (number >= topicBase[index + 1]! || seen[number] === memberNumber) continue;
      seen[number] = memberNumber;
      list.push(number);
      const generation = member.generation;
      if (generation > ownerGeneration[number]!) {
        ownerGeneration[number] = generation;
        owner[number] = memberNumber;
        conflicted[number] = 0;
      } else if (generation === ownerGeneration[number]) {
        conflicted[number] = 1;
      }
    }
    return list;
  });
  for (let number = 0; number < total; number++) if (conflicted[number] === 1) owner[number] = -1;

  let partitionRacks: (readonly string[] | undefined)[] | null = null;
  for (let topic = 0; topic < topicNames.length; topic++) {
    const racks = metadata.topics.get(topicNames[topic]!)!.partitionRacks;
    if (racks === undefined) continue;
    partitionRacks ??= new Array<readonly string[] | undefined>(total);
    const base = topicBase[topic]!;
    const count = topicBase[topic + 1]! - base;
    for (let partition = 0; partition < count && partition < racks.length; partition++) {
      const list = racks[partition];
      if (list !== undefined && list.length > 0) partitionRacks[base + partition] = list;
    }
  }

  return {
    topicNames,
    topicIndex,
    topicBase,
    topicOf,
    partitionCount: total,
    inputOrder,
    members,
    memberTopics,
    topicMembers,
    owner,
    conflicted,
    claims,
    partitionRacks,
  };
}

/** The partition that `number` stands for. */
export function partitionOf(model: StickyModel, number: number): TopicPartition {
  const topic = model.topicOf[number]!;
  return { topic: model.topicNames[topic]!, partition: number - model.topicBase[topic]! };
}
