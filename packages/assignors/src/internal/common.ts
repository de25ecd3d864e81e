import { AssignorError, type AssignorMetadata, type MemberSubscription, type TopicPartition } from '../types.ts';

/**
 * Orders strings as Java's `String.compareTo` does: by UTF-16 code unit, not by locale. Kafka's assignors sort
 * member ids and topic names this way, so every Sluice assignor must too, or a mixed group would disagree.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Orders partitions by topic name (as `compareStrings`), then by partition id. */
export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

/**
 * The member ids of a group in Kafka's member order, whatever order the map was built in: static members (with a
 * `group.instance.id`) first, by instance id, then dynamic members by member id.
 */
export function sortedMemberIds(subscriptions: ReadonlyMap<string, MemberSubscription>): string[] {
  const instanceOf = (memberId: string) => subscriptions.get(memberId)?.groupInstanceId ?? null;
  return [...subscriptions.keys()].sort((a, b) => {
    const instanceA = instanceOf(a);
    const instanceB = instanceOf(b);
    if (instanceA !== null && instanceB !== null) return compareStrings(instanceA, instanceB);
    if (instanceA !== null) return -1;
    if (instanceB !== null) return 1;
    return compareStrings(a, b);
  });
}

/**
 * The number of partitions of `topic`, or 0 when the leader's metadata does not know it (Kafka skips such a topic,
 * and one with no partitions, without failing the rebalance). Throws AssignorError on a count that no cluster
 * could report, or on rack information for partitions the topic does not have.
 */
export function partitionCountOf(assignor: string, metadata: AssignorMetadata, topic: string): number {
  const entry = metadata.topics.get(topic);
  if (entry === undefined) return 0;
  const count = entry.partitions;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new AssignorError(assignor, `topic ${JSON.stringify(topic)} has an invalid partition count ${count}`);
  }
  const racks = entry.partitionRacks;
  if (racks !== undefined && racks.length > count) {
    throw new AssignorError(
      assignor,
      `topic ${JSON.stringify(topic)} has rack information for ${racks.length} partitions but only ${count} partitions`,
    );
  }
  return count;
}
