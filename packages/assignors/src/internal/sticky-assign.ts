import type { AssignorMetadata, MemberAssignment, TopicPartition } from '../types.ts';
import { constrainedAssign } from './sticky-constrained.ts';
import { generalAssign } from './sticky-general.ts';
import { buildStickyModel, partitionOf, type StickyMember, type StickyModel } from './sticky-model.ts';
import { buildStickyRacks } from './sticky-rack.ts';

/**
 * The sticky target shared by `sticky` and `cooperative-sticky`: the constrained algorithm when every member
 * subscribes to the same set of topics, the general one otherwise. Returns the model (for the cooperative
 * adjustment) and each member's partitions by member number, ascending.
 */
export function stickyTarget(
  metadata: AssignorMetadata,
  members: readonly StickyMember[],
): { model: StickyModel; assignment: number[][] } {
  const model = buildStickyModel(metadata, members);
  if (model.members.length === 0) return { model, assignment: [] };
  const racks = buildStickyRacks(model);
  const assignment = sameSubscriptions(members) ? constrainedAssign(model, racks) : generalAssign(model, racks);
  for (const list of assignment) list.sort((left, right) => left - right);
  return { model, assignment };
}

/** Whether every member subscribes to the same set of topics (as subscribed, whether or not they exist). */
function sameSubscriptions(members: readonly StickyMember[]): boolean {
  const first = new Set(members[0]!.topics);
  for (const member of members) {
    const topics = new Set(member.topics);
    if (topics.size !== first.size) return false;
    for (const topic of topics) if (!first.has(topic)) return false;
  }
  return true;
}

/**
 * KIP-429's rule for a cooperative rebalance: a partition is not handed to a member other than its current owner
 * while any other member still claims it. The claimant learns from its own assignment that it lost the partition,
 * revokes it and rejoins, and the follow-up rebalance assigns it, so no partition is consumed by two members at
 * once.
 *
 * The current owner is the claimant with the highest generation: it keeps the partition even while a stale
 * claimant lists it too (the stale one consumes nothing it is allowed to). A stale claimant that is given the
 * partition waits like anyone else. A partition claimed by two members of the same generation is held back
 * whoever gets it, as Kafka does: both may be consuming it, and both must stop before anyone resumes.
 */
export function withholdClaimedElsewhere(model: StickyModel, assignment: readonly number[][]): number[][] {
  const claimants = new Int32Array(model.partitionCount);
  for (const claims of model.claims) for (const partition of claims) claimants[partition]!++;
  const mine = new Int32Array(model.partitionCount).fill(-1);
  return assignment.map((partitions, member) => {
    for (const partition of model.claims[member]!) mine[partition] = member;
    return partitions.filter((partition) => {
      if (model.conflicted[partition] === 1) return false;
      if (model.owner[partition] === member) return true;
      const others = claimants[partition]! - (mine[partition] === member ? 1 : 0);
      return others === 0;
    });
  });
}

/** The assignor's result: an entry for every member, partitions in topic/partition order, no user data. */
export function toAssignments(model: StickyModel, assignment: readonly number[][]): Map<string, MemberAssignment> {
  const result = new Map<string, MemberAssignment>();
  model.members.forEach((member, number) => {
    const partitions: TopicPartition[] = (assignment[number] ?? []).map((partition) => partitionOf(model, partition));
    result.set(member.memberId, { partitions, userData: null });
  });
  return result;
}
