import { stickyTarget, toAssignments, withholdClaimedElsewhere } from './internal/sticky-assign.ts';
import type { StickyMember } from './internal/sticky-model.ts';
import {
  DEFAULT_GENERATION,
  decodeCooperativeStickyUserData,
  encodeCooperativeStickyUserData,
} from './sticky-user-data.ts';
import type {
  AssignmentContext,
  AssignorMetadata,
  MemberAssignment,
  MemberSubscription,
  PartitionAssignor,
  RebalanceProtocol,
} from './types.ts';

/**
 * Kafka's `cooperative-sticky` assignor (KIP-429): the sticky target, minus every partition that another member
 * still owns. Members keep consuming what they keep; a member that loses partitions revokes them and rejoins, and
 * the follow-up rebalance hands them to their new owners. It also works in an EAGER rebalance, where members own
 * nothing when they join and nothing is held back.
 *
 * Owned partitions come from the subscription (v1+). Their generation comes from the subscription (v2+, KIP-792)
 * when it has one, else from our user data: the generation as an INT32, -1 before the first assignment.
 */
export class CooperativeStickyAssignor implements PartitionAssignor {
  readonly name: string = 'cooperative-sticky';
  readonly supportedProtocols: readonly RebalanceProtocol[] = ['COOPERATIVE', 'EAGER'];
  readonly version: number = 0;
  #generation = DEFAULT_GENERATION;

  /** The generation of our current assignment as a big-endian INT32 (-1 before the first), as Java sends it. */
  subscriptionUserData(_topics: ReadonlySet<string>): Uint8Array | null {
    return encodeCooperativeStickyUserData(this.#generation);
  }

  onAssignment(_assignment: MemberAssignment, context: AssignmentContext): void {
    this.#generation = context.generationId;
  }

  assign(
    metadata: AssignorMetadata,
    subscriptions: ReadonlyMap<string, MemberSubscription>,
  ): Map<string, MemberAssignment> {
    const members: StickyMember[] = [];
    for (const [memberId, subscription] of subscriptions) {
      const generation =
        subscription.generationId >= 0
          ? subscription.generationId
          : (decodeCooperativeStickyUserData(subscription.userData) ?? DEFAULT_GENERATION);
      members.push({
        memberId,
        topics: subscription.topics,
        claimed: subscription.ownedPartitions,
        generation,
        rackId: subscription.rackId,
      });
    }
    const { model, assignment } = stickyTarget(metadata, members);
    return toAssignments(model, withholdClaimedElsewhere(model, assignment));
  }
}
