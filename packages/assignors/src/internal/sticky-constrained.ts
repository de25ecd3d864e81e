import { javaHashMapOrder } from './sticky-java-order.ts';
import type { StickyModel } from './sticky-model.ts';
import type { StickyRacks } from './sticky-rack.ts';

/**
 * The sticky assignment when every member subscribes to the same topics (Kafka's "constrained" fast path). With P
 * partitions and C members every member ends with `floor(P/C)` (minQuota) or `ceil(P/C)` (maxQuota) partitions,
 * and exactly `P % C` members get maxQuota. Runs in O(P log P + C).
 *
 * 1. Each member keeps its previously owned partitions, lowest partition number first (then topic name), up to
 *    its quota: all of them if it owns fewer than minQuota, maxQuota if it owns that many and a maxQuota slot is
 *    left, minQuota otherwise. Members are visited in Java's HashMap order of their ids, as Kafka visits them, so
 *    the same members win the maxQuota slots. With rack awareness only partitions local to the member are kept.
 * 2. With rack awareness, unassigned partitions go round-robin to unfilled members on one of their racks. Unlike
 *    Kafka we count the members this step fills to maxQuota against the `P % C` allowed; Kafka does not, so it
 *    can hand out more maxQuota places than exist and leave a member below minQuota.
 * 3. The rest go round-robin (members in id order, partitions in topic/partition order) to members below
 *    minQuota, then one each to members at minQuota until the maxQuota slots are used up.
 *
 * Returns each member's partitions by member number.
 */
export function constrainedAssign(model: StickyModel, racks: StickyRacks): number[][] {
  const memberCount = model.members.length;
  const total = model.partitionCount;
  const minQuota = Math.floor(total / memberCount);
  const maxQuota = Math.ceil(total / memberCount);
  const expectedAtMax = total % memberCount;
  let currentAtMax = 0;

  const assignment: number[][] = model.members.map(() => []);
  const assigned = new Uint8Array(total);
  // Members below minQuota, and members at minQuota that may still take one more; both end up sorted by id.
  const underMin: number[] = [];
  let atMin: number[] = [];

  const memberNumbers = new Map(model.members.map((member, number) => [member.memberId, number]));
  const partitionNumber = (partition: number): number => partition - model.topicBase[model.topicOf[partition]!]!;

  for (const memberId of javaHashMapOrder(model.inputOrder)) {
    const member = memberNumbers.get(memberId)!;
    const owned = model.claims[member]!.filter(
      (partition) => model.owner[partition] === member && !racks.mismatch(member, partition),
    );
    owned.sort((left, right) => partitionNumber(left) - partitionNumber(right) || left - right);
    let keep: number;
    if (owned.length < minQuota) {
      keep = owned.length;
      underMin.push(member);
    } else if (owned.length >= maxQuota && currentAtMax < expectedAtMax) {
      keep = maxQuota;
      currentAtMax++;
      if (currentAtMax === expectedAtMax) atMin = [];
    } else {
      keep = minQuota;
      if (currentAtMax < expectedAtMax) atMin.push(member);
    }
    const target = assignment[member]!;
    for (let index = 0; index < keep; index++) {
      const partition = owned[index]!;
      target.push(partition);
      assigned[partition] = 1;
    }
  }

  let unassigned: number[] = [];
  for (let partition = 0; partition < total; partition++) if (assigned[partition] === 0) unassigned.push(partition);
  underMin.sort((left, right) => left - right);
  atMin.sort((left, right) => left - right);
  if (racks.anyMemberRack) {
    // Partitions with the fewest local members first (a stable sort keeps topic/partition order among equals).
    unassigned.sort((left, right) => racks.localMembers[left]! - racks.localMembers[right]!);
  }

  if (racks.enabled) {
    const left: number[] = [];
    let next = 0;
    for (const partition of unassigned) {
      let member = -1;
      const index = findLocal(racks, partition, underMin, next);
      if (index >= 0) {
        member = underMin[index]!;
        const count = assignment[member]!.length + 1;
        let following = index;
        if (count >= minQuota) {
          underMin.splice(index, 1);
          if (count < maxQuota && currentAtMax < expectedAtMax) atMin.push(member);
        } else {
          following++;
        }
        next = underMin.length === 0 ? 0 : following % underMin.length;
      } else if (atMin.length > 0) {
        const first = findLocal(racks, partition, atMin, 0);
        if (first >= 0) {
          member = atMin[first]!;
          if (assignment[member]!.length + 1 === maxQuota) {
            atMin.splice(first, 1);
            currentAtMax++;
            if (currentAtMax === expectedAtMax) atMin = [];
          }
        }
      }
      if (member >= 0) assignment[member]!.push(partition);
      else left.push(partition);
    }
    unassigned = left;
  }

  let cursor = 0;
  for (const partition of unassigned) {
    let member: number;
    let fromUnder: boolean;
    if (cursor < underMin.length) {
      member = underMin[cursor]!;
      fromUnder = true;
    } else if (underMin.length > 0) {
      cursor = 0;
      member = underMin[0]!;
      fromUnder = true;
    } else {
      const polled = atMin.shift();
      if (polled === undefined) throw new Error('sticky: no member left below its quota');
      member = polled;
      fromUnder = false;
    }
    const target = assignment[member]!;
    target.push(partition);
    if (fromUnder && target.length === minQuota) {
      underMin.splice(cursor, 1);
      if (currentAtMax < expectedAtMax) atMin.push(member);
    } else {
      if (target.length === maxQuota && maxQuota > minQuota) {
        currentAtMax++;
        if (currentAtMax === expectedAtMax) atMin = [];
      }
      if (fromUnder) cursor++;
    }
  }
  return assignment;
}

/** The index of the first member of `members`, cyclically from `first`, whose rack holds the partition, or -1. */
function findLocal(racks: StickyRacks, partition: number, members: readonly number[], first: number): number {
  for (let offset = 0; offset < members.length; offset++) {
    const index = (first + offset) % members.length;
    if (racks.local(members[index]!, partition)) return index;
  }
  return -1;
}
