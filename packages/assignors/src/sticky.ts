import { stickyTarget, toAssignments } from './internal/sticky-assign.ts';
import type { StickyMember } from './internal/sticky-model.ts';
import { DEFAULT_GENERATION, decodeStickyUserData, encodeStickyUserData } from './sticky-user-data.ts';
import type {
  AssignmentContext,
  AssignorMetadata,
  MemberAssignment,
  MemberSubscription,
  PartitionAssignor,
  RebalanceProtocol,
  TopicPartition,
} from './types.ts';

/**
 * Kafka's `sticky` assignor (KIP-54), EAGER only: an assignment as balanced as the subscriptions allow that moves
 * as few partitions as it can from where they were.
 *
 * In an EAGER rebalance members give up everything before joining, so a member's previous assignment travels in
 * its user data (`StickyAssignorUserData`, with the generation since KIP-341) rather than in the subscription's
 * owned partitions. We read it from there as Kafka does, and fall back to the subscription's owned partitions and
 * generation only when a member sends no user data (Kafka would then see no previous assignment).
 *
 * Previous owners are trusted per partition: the claimant with the highest generation keeps it; two claimants
 * with the same highest generation both lose it (it goes to whoever the algorithm picks).
 */
export class StickyAssignor implements PartitionAssignor {
  readonly name: string = 'sticky';
  readonly supportedProtocols: readonly RebalanceProtocol[] = ['EAGER'];
  readonly version: number = 0;
  /** The partitions of our last assignment, in the order received; null before the first one. */
  #partitions: readonly TopicPartition[] | null = null;
  #generation = DEFAULT_GENERATION;

  /** `StickyAssignorUserData` v1 with our last assignment and its generation; null before any assignment. */
  subscriptionUserData(_topics: ReadonlySet<string>): Uint8Array | null {
    if (this.#partitions === null) return null;
    return encodeStickyUserData(this.#partitions, this.#generation);
  }

  onAssignment(assignment: MemberAssignment, context: AssignmentContext): void {
    this.#partitions = [...assignment.partitions];
    this.#generation = context.generationId;
  }

  assign(
    metadata: AssignorMetadata,
    subscriptions: ReadonlyMap<string, MemberSubscription>,
  ): Map<string, MemberAssignment> {
    const members: StickyMember[] = [];
    for (const [memberId, subscription] of subscriptions) {
      members.push({
        memberId,
        ...previousAssignment(subscription),
        topics: subscription.topics,
        rackId: subscription.rackId,
      });
    }
    const { model, assignment } = stickyTarget(metadata, members);
    return toAssignments(model, assignment);
  }
}

/** A member's previous assignment as `sticky` reads it: from its user data, else from its subscription. */
function previousAssignment(subscription: MemberSubscription): {
  claimed: readonly TopicPartition[];
  generation: number;
} {
  const userData = subscription.userData;
  if (userData !== null && userData.byteLength > 0) {
    const decoded = decodeStickyUserData(userData);
    return { claimed: decoded.partitions, generation: decoded.generation ?? DEFAULT_GENERATION };
  }
  return { claimed: subscription.ownedPartitions, generation: subscription.generationId };
}
