import { compareStrings, compareTopicPartitions, partitionCountOf, sortedMemberIds } from './internal/common.ts';
import type {
  AssignorMetadata,
  MemberAssignment,
  MemberSubscription,
  PartitionAssignor,
  RebalanceProtocol,
  TopicPartition,
} from './types.ts';

const RANGE = 'range';

type MayAssign = (member: string, partition: number) => boolean;

const ANY_PARTITION: MayAssign = () => true;

/**
 * Kafka's `range` assignor (`RangeAssignor`), the Java consumer's long-time default.
 *
 * Each topic is assigned on its own. Its subscribers are ordered as `sortedMemberIds` says (static members by instance id first, then member ids) and its partitions by id; with P
 * partitions and M subscribers every subscriber gets floor(P / M) partitions and the first P % M of them one
 * more, each a contiguous run of partition ids. Topics with the same partition count and the same subscribers are
 * therefore co-partitioned: partition p of each goes to the same member, which is what joins across topics need.
 * The price is imbalance across topics: the first members get the extra partition of every topic.
 *
 * Rack awareness (KIP-881, Kafka 3.5): when members send a rack (`client.rack`) and the metadata says which racks
 * hold each partition's replicas, partitions are first given to members on a rack holding a replica, without ever
 * breaking the per-topic quotas above or co-partitioning; whatever cannot be matched is then assigned as plain
 * ranges. Kafka bothers only when it can help: some subscriber's rack holds a replica of the topic, and not every
 * partition has replicas on exactly the same racks. The rules, followed exactly so that Sluice and Java leaders
 * agree:
 * - Nothing changes unless at least one topic needs rack matching; then the matching pass below runs.
 * - A member without a rack matches every partition; a partition whose replica racks are unknown matches no racked
 *   member. An empty rack id counts as no rack.
 * - Quotas: a member may hold floor(P / M) partitions of a topic, plus one while fewer than P % M members have
 *   taken an extra one.
 * - A topic sharing its subscribers and partition count with no other topic is matched only if it needs it itself:
 *   each member in order takes the lowest unassigned partitions it matches, up to its remaining quota.
 * - Topics with the same subscribers and the same partition count (when some subscriber has a rack) are matched
 *   together, whether or not any of them needs it itself: partition p of all of them goes to the first member that
 *   matches partition p of every one and still has quota in every one; if there is none, p waits for the last step.
 * - Last, every topic fills up in plain range order: each member takes the lowest unassigned partitions up to its
 *   remaining quota.
 *
 * Static membership: members with a `group.instance.id` come first, ordered by it, then dynamic members by member
 * id (as Java orders them), so a restarted static member gets the same ranges back.
 *
 * Each member's partitions are listed by topic, then partition id. Java lists them in that order whenever rack
 * matching ran; otherwise it lists topics in hash-map order (each topic's partitions in ascending order), so the
 * partitions are the same and only the order of topics in the list may differ. The order carries no meaning: the
 * assignment travels grouped by topic.
 */
export class RangeAssignor implements PartitionAssignor {
  readonly name = RANGE;
  readonly supportedProtocols: readonly RebalanceProtocol[] = ['EAGER'];
  readonly version = 0;

  assign(
    metadata: AssignorMetadata,
    subscriptions: ReadonlyMap<string, MemberSubscription>,
  ): Map<string, MemberAssignment> {
    const members = sortedMemberIds(subscriptions);
    const memberRacks = new Map<string, string>();
    const subscribersByTopic = new Map<string, string[]>();
    for (const member of members) {
      const subscription = subscriptions.get(member)!;
      if (subscription.rackId !== null && subscription.rackId !== '') memberRacks.set(member, subscription.rackId);
      for (const topic of new Set(subscription.topics)) {
        const subscribers = subscribersByTopic.get(topic);
        if (subscribers === undefined) subscribersByTopic.set(topic, [member]);
        else subscribers.push(member); // members are visited in order, so each list is sorted
      }
    }

    const states: TopicRanges[] = [];
    for (const topic of [...subscribersByTopic.keys()].sort(compareStrings)) {
      const partitionCount = partitionCountOf(RANGE, metadata, topic);
      if (partitionCount === 0) continue;
      const partitionRacks = metadata.topics.get(topic)?.partitionRacks ?? [];
      states.push(new TopicRanges(topic, partitionCount, partitionRacks, subscribersByTopic.get(topic)!, memberRacks));
    }

    const assigned = new Map<string, TopicPartition[]>(members.map((member) => [member, []]));
    if (states.some((state) => state.needsRackMatching)) assignWithRackMatching(states, assigned);
    for (const state of states) state.assignRanges(ANY_PARTITION, assigned);

    const result = new Map<string, MemberAssignment>();
    for (const [member, partitions] of assigned) {
      result.set(member, { partitions: partitions.sort(compareTopicPartitions), userData: null });
    }
    return result;
  }
}

/**
 * The rack-matching pass. Topics are grouped by subscribers (which fixes the members' racks too) and then by
 * partition count as Kafka counts it for this purpose: the number of partitions whose racks it looked up, which is
 * zero when no subscriber has a rack.
 */
function assignWithRackMatching(states: readonly TopicRanges[], assigned: Map<string, TopicPartition[]>): void {
  const groups = new Map<string, TopicRanges[]>();
  for (const state of states) {
    const key = JSON.stringify([state.members, state.rackedPartitionCount]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [state]);
    else group.push(state);
  }
  for (const group of groups.values()) {
    if (group.length > 1) {
      assignCoPartitionedWithRackMatching(group, assigned);
    } else {
      const state = group[0]!;
      if (state.needsRackMatching)
        state.assignRanges((member, partition) => state.racksMatch(member, partition), assigned);
    }
  }
}

/**
 * Rack matching for topics that must stay co-partitioned: partition p of every topic goes to one member, the first
 * (in member order) whose rack matches partition p of all of them and who may still take a partition of each.
 */
function assignCoPartitionedWithRackMatching(
  states: readonly TopicRanges[],
  assigned: Map<string, TopicPartition[]>,
): void {
  const first = states[0]!;
  const remaining = [...first.members];
  for (let partition = 0; partition < first.rackedPartitionCount && remaining.length > 0; partition++) {
    const index = remaining.findIndex((member) =>
      states.every((state) => state.racksMatch(member, partition) && state.maxAssignable(member) > 0),
    );
    if (index < 0) continue;
    const member = remaining[index]!;
    for (const state of states) state.assign(member, [partition], assigned);
    if (states.every((state) => state.maxAssignable(member) === 0)) remaining.splice(index, 1);
  }
}

/** One topic's progress through a range assignment: who may still take how many, and what is left. */
class TopicRanges {
  readonly topic: string;
  readonly partitionCount: number;
  /** The topic's subscribers in member order, each once. */
  readonly members: readonly string[];
  /** The partitions whose replica racks count: all of them when some subscriber has a rack, else none. */
  readonly rackedPartitionCount: number;
  /** Whether Kafka would match racks for this topic alone (see RangeAssignor). */
  readonly needsRackMatching: boolean;
  readonly #memberRacks: ReadonlyMap<string, string>;
  readonly #partitionRacks: readonly ReadonlySet<string>[];
  readonly #isAssigned: boolean[];
  #unassignedCount: number;
  /** No partition below this one is unassigned. */
  #lowestUnassigned = 0;
  readonly #assignedCounts = new Map<string, number>();
  readonly #baseQuota: number;
  /** How many more members may take one partition above the base quota. */
  #extrasLeft: number;

  constructor(
    topic: string,
    partitionCount: number,
    partitionRacks: readonly (readonly string[])[],
    members: readonly string[],
    memberRacks: ReadonlyMap<string, string>,
  ) {
    this.topic = topic;
    this.partitionCount = partitionCount;
    this.members = members;
    this.#memberRacks = memberRacks;
    this.#isAssigned = new Array<boolean>(partitionCount).fill(false);
    this.#unassignedCount = partitionCount;
    this.#baseQuota = Math.floor(partitionCount / members.length);
    this.#extrasLeft = partitionCount % members.length;
    for (const member of members) this.#assignedCounts.set(member, 0);

    const subscriberRacks = new Set<string>();
    for (const member of members) {
      const rack = memberRacks.get(member);
      if (rack !== undefined) subscriberRacks.add(rack);
    }
    this.rackedPartitionCount = subscriberRacks.size > 0 ? partitionCount : 0;
    const racks: Set<string>[] = [];
    const allReplicaRacks = new Set<string>();
    if (this.rackedPartitionCount > 0) {
      for (let partition = 0; partition < partitionCount; partition++) {
        const replicaRacks = new Set(partitionRacks[partition] ?? []);
        racks.push(replicaRacks);
        for (const rack of replicaRacks) allReplicaRacks.add(rack);
      }
    }
    this.#partitionRacks = racks;
    // Matching helps only if a subscriber sits on a replica rack and the partitions differ in where they live.
    const anyRackInCommon = [...subscriberRacks].some((rack) => allReplicaRacks.has(rack));
    this.needsRackMatching = anyRackInCommon && racks.some((replicaRacks) => !sameSet(replicaRacks, allReplicaRacks));
  }

  /** A member without a rack matches every partition; a racked member only partitions with a replica there. */
  racksMatch(member: string, partition: number): boolean {
    const rack = this.#memberRacks.get(member);
    return rack === undefined || (this.#partitionRacks[partition]?.has(rack) ?? false);
  }

  /** How many more partitions of this topic the member may take without breaking the range quotas. */
  maxAssignable(member: string): number {
    const quota = this.#baseQuota + (this.#extrasLeft > 0 ? 1 : 0);
    return Math.max(0, quota - this.#assignedCounts.get(member)!);
  }

  assign(member: string, partitions: readonly number[], assigned: Map<string, TopicPartition[]>): void {
    const count = this.#assignedCounts.get(member)! + partitions.length;
    this.#assignedCounts.set(member, count);
    if (count > this.#baseQuota) this.#extrasLeft--;
    const list = assigned.get(member)!;
    for (const partition of partitions) {
      list.push({ topic: this.topic, partition });
      this.#isAssigned[partition] = true;
    }
    this.#unassignedCount -= partitions.length;
    while (this.#lowestUnassigned < this.partitionCount && this.#isAssigned[this.#lowestUnassigned]) {
      this.#lowestUnassigned++;
    }
  }

  /** Each member in order takes the lowest unassigned partitions it may, up to its remaining quota. */
  assignRanges(mayAssign: MayAssign, assigned: Map<string, TopicPartition[]>): void {
    for (const member of this.members) {
      if (this.#unassignedCount === 0) return;
      const limit = this.maxAssignable(member);
      const taken: number[] = [];
      for (
        let partition = this.#lowestUnassigned;
        partition < this.partitionCount && taken.length < limit;
        partition++
      ) {
        if (!this.#isAssigned[partition] && mayAssign(member, partition)) taken.push(partition);
      }
      if (taken.length > 0) this.assign(member, taken, assigned);
    }
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const value of a) if (!b.has(value)) return false;
  return true;
}
