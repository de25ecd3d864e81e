import type { AssignorMetadata, MemberAssignment, MemberSubscription } from '../src/types.ts';

/**
 * Checks of an assignment against the sticky assignors' guarantees, used by the tests (and handy when debugging a
 * group). Each returns a list of human-readable problems, empty when the property holds.
 */

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * Validity: every member has an entry; no partition is assigned twice; every assigned partition exists and its
 * member subscribes to its topic. With `complete`, also every partition of every subscribed, existing topic is
 * assigned (not so after a cooperative round, which holds some back).
 */
export function validityProblems(
  metadata: AssignorMetadata,
  subscriptions: ReadonlyMap<string, MemberSubscription>,
  result: ReadonlyMap<string, MemberAssignment>,
  complete: boolean,
): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const [memberId, subscription] of subscriptions) {
    const assignment = result.get(memberId);
    if (assignment === undefined) {
      problems.push(`${memberId} has no entry`);
      continue;
    }
    const topics = new Set(subscription.topics);
    for (const { topic, partition } of assignment.partitions) {
      const known = metadata.topics.get(topic);
      if (known === undefined || partition < 0 || partition >= known.partitions) {
        problems.push(`${memberId} got ${topic}-${partition}, which does not exist`);
      }
      if (!topics.has(topic)) problems.push(`${memberId} got ${topic}-${partition} without subscribing to ${topic}`);
      const other = seen.get(key(topic, partition));
      if (other !== undefined) problems.push(`${topic}-${partition} went to both ${other} and ${memberId}`);
      seen.set(key(topic, partition), memberId);
    }
  }
  for (const memberId of result.keys()) {
    if (!subscriptions.has(memberId)) problems.push(`${memberId} is not a member`);
  }
  if (complete) {
    const subscribed = new Set<string>();
    for (const subscription of subscriptions.values()) for (const topic of subscription.topics) subscribed.add(topic);
    for (const topic of subscribed) {
      const known = metadata.topics.get(topic);
      if (known === undefined) continue;
      for (let partition = 0; partition < known.partitions; partition++) {
        if (!seen.has(key(topic, partition))) problems.push(`${topic}-${partition} is unassigned`);
      }
    }
  }
  return problems;
}

/**
 * Balance, Kafka's criterion: no assigned partition could move to another member subscribed to its topic that has
 * two or more partitions fewer than its holder. (When all members share one subscription this is max - min <= 1.)
 */
export function balanceProblems(
  subscriptions: ReadonlyMap<string, MemberSubscription>,
  result: ReadonlyMap<string, MemberAssignment>,
): string[] {
  const problems: string[] = [];
  const counts = new Map<string, number>();
  for (const memberId of subscriptions.keys()) counts.set(memberId, result.get(memberId)?.partitions.length ?? 0);
  // For each topic, the smallest count among its subscribers.
  const fewest = new Map<string, { memberId: string; count: number }>();
  for (const [memberId, subscription] of subscriptions) {
    const count = counts.get(memberId)!;
    for (const topic of subscription.topics) {
      const current = fewest.get(topic);
      if (current === undefined || count < current.count) fewest.set(topic, { memberId, count });
    }
  }
  for (const [memberId, assignment] of result) {
    const count = counts.get(memberId) ?? 0;
    const topics = new Set(assignment.partitions.map(({ topic }) => topic));
    for (const topic of topics) {
      const other = fewest.get(topic);
      if (other !== undefined && count - other.count >= 2) {
        problems.push(`${memberId} (${count}) holds ${topic}, which ${other.memberId} (${other.count}) could take`);
      }
    }
  }
  return problems;
}

/** Partitions each member got that it did not own before (by `owned`), summed over members. */
export function movedPartitions(
  owned: ReadonlyMap<string, readonly { topic: string; partition: number }[]>,
  result: ReadonlyMap<string, MemberAssignment>,
): number {
  let moved = 0;
  for (const [memberId, assignment] of result) {
    const before = new Set((owned.get(memberId) ?? []).map(({ topic, partition }) => key(topic, partition)));
    for (const { topic, partition } of assignment.partitions) if (!before.has(key(topic, partition))) moved++;
  }
  return moved;
}

/** Largest minus smallest partition count over the members of `result`. */
export function countSpread(result: ReadonlyMap<string, MemberAssignment>): number {
  let minimum = Number.POSITIVE_INFINITY;
  let maximum = 0;
  for (const { partitions } of result.values()) {
    minimum = Math.min(minimum, partitions.length);
    maximum = Math.max(maximum, partitions.length);
  }
  return result.size === 0 ? 0 : maximum - minimum;
}
