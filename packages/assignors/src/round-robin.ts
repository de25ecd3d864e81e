import { compareStrings, partitionCountOf, sortedMemberIds } from './internal/common.ts';
import {
  AssignorError,
  type AssignorMetadata,
  type MemberAssignment,
  type MemberSubscription,
  type PartitionAssignor,
  type RebalanceProtocol,
  type TopicPartition,
} from './types.ts';

const ROUND_ROBIN = 'roundrobin';

/**
 * Kafka's `roundrobin` assignor (`RoundRobinAssignor`).
 *
 * Every partition of every topic some member subscribes to is laid out by topic name, then partition id, and dealt
 * to the members (in the order below) like cards around a table: each partition goes to the next member in the
 * circle that subscribes to its topic, passing over the others, and the circle carries on from the member after
 * it. When all members subscribe to the same topics, the counts differ by at most one; with differing
 * subscriptions they can be far apart (the passed-over members are not compensated). It is not rack-aware.
 *
 * Members are ordered as Java orders them: those with a `group.instance.id` (static membership) first, by it,
 * then dynamic members by member id.
 *
 * Each member's partitions are listed in dealing order, which is by topic, then partition id, as in Java.
 */
export class RoundRobinAssignor implements PartitionAssignor {
  readonly name = ROUND_ROBIN;
  readonly supportedProtocols: readonly RebalanceProtocol[] = ['EAGER'];
  readonly version = 0;

  assign(
    metadata: AssignorMetadata,
    subscriptions: ReadonlyMap<string, MemberSubscription>,
  ): Map<string, MemberAssignment> {
    const members = sortedMemberIds(subscriptions);
    // Java's circular iterator refuses an empty circle; a leader is always a member, so this is a caller's bug.
    if (members.length === 0)
      throw new AssignorError(ROUND_ROBIN, 'cannot assign partitions to a group with no members');
    const topicsByMember = members.map((member) => new Set(subscriptions.get(member)!.topics));
    const allTopics = new Set<string>();
    for (const topics of topicsByMember) for (const topic of topics) allTopics.add(topic);

    const assigned = members.map((): TopicPartition[] => []);
    let next = 0;
    for (const topic of [...allTopics].sort(compareStrings)) {
      const partitionCount = partitionCountOf(ROUND_ROBIN, metadata, topic);
      for (let partition = 0; partition < partitionCount; partition++) {
        // Someone subscribes to every topic in allTopics, so this loop ends within one turn of the circle.
        while (!topicsByMember[next]!.has(topic)) next = (next + 1) % members.length;
        assigned[next]!.push({ topic, partition });
        next = (next + 1) % members.length;
      }
    }

    const result = new Map<string, MemberAssignment>();
    members.forEach((member, index) => {
      result.set(member, { partitions: assigned[index]!, userData: null });
    });
    return result;
  }
}
