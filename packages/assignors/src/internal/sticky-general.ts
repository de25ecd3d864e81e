import type { StickyModel } from './sticky-model.ts';
import type { StickyRacks } from './sticky-rack.ts';

/**
 * The sticky assignment when members subscribe to different topics (Kafka's "general" path). Our own algorithm,
 * with the same goals as Kafka's, in this order:
 *
 * - valid: every partition goes to exactly one member subscribed to its topic;
 * - balanced: no chain of moves, each handing one partition to a member subscribed to its topic, can take a
 *   partition from a member with `n` partitions to one with `n - 2` or fewer. This is stronger than Kafka's
 *   criterion (no single such move) and is exactly the condition under which the partition counts are as even as
 *   the subscriptions allow (the sum of squared counts is minimal, so the largest count is as small as it can be
 *   and the smallest as large);
 * - sticky: a member keeps the partitions it owned (still subscribed, not lost to a conflict, on its rack when
 *   rack-aware) unless balance needs them elsewhere.
 *
 * Steps: keep the owned partitions; give each unassigned partition, the most constrained topics first, to the
 * least loaded member subscribed to it; then move single partitions from members with 2+ more than another
 * subscriber of the same topic; then shift along chains (breadth-first search over "holds a partition of a
 * topic the next member subscribes to") until no chain improves the balance. Every move lowers the sum of squared
 * counts, so this ends. The moves and chains run twice: first moving only partitions their holder did not own
 * before, then any. The first pass reaches the best balance among assignments that keep every owned partition, so
 * owned partitions move only when balance cannot be had otherwise; in particular a cooperative follow-up round
 * (everyone owns a part of the previous target) keeps everything and just places the withheld partitions.
 *
 * Cost: O(P * S) for the initial placement (S: subscribers of a topic) plus O(S) per single move and
 * O(sum of subscribers over topics) per chain search; chains are rare once the single moves are done.
 */
export function generalAssign(model: StickyModel, racks: StickyRacks): number[][] {
  const memberCount = model.members.length;
  const count = new Int32Array(memberCount);
  const holder = new Int32Array(model.partitionCount).fill(-1);
  // holdings[member].get(topic): the member's partitions of that topic (order irrelevant; removal swaps).
  const holdings: Map<number, number[]>[] = model.members.map(() => new Map());
  const subscribes: Set<number>[] = model.memberTopics.map((topics) => new Set(topics));
  // free[member].get(topic): how many of the member's partitions of that topic it did not own before, which can
  // move without costing stickiness.
  const free: Map<number, number>[] = model.members.map(() => new Map());
  const freeOf = (member: number, topic: number): number => free[member]!.get(topic) ?? 0;
  const holds = (member: number, topic: number, onlyFree: boolean): boolean =>
    onlyFree ? freeOf(member, topic) > 0 : holdings[member]!.has(topic);

  const give = (member: number, partition: number): void => {
    const topic = model.topicOf[partition]!;
    const map = holdings[member]!;
    const list = map.get(topic);
    if (list === undefined) map.set(topic, [partition]);
    else list.push(partition);
    holder[partition] = member;
    count[member]!++;
    if (model.owner[partition] !== member) free[member]!.set(topic, freeOf(member, topic) + 1);
  };
  const take = (member: number, topic: number, index: number): number => {
    const list = holdings[member]!.get(topic)!;
    const partition = list[index]!;
    list[index] = list[list.length - 1]!;
    list.pop();
    if (list.length === 0) holdings[member]!.delete(topic);
    holder[partition] = -1;
    count[member]!--;
    if (model.owner[partition] !== member) free[member]!.set(topic, freeOf(member, topic) - 1);
    return partition;
  };
  /** Which of `from`'s partitions of `topic` to hand to `to`: the one whose move costs least stickiness. */
  const choose = (from: number, topic: number, to: number): number => {
    const list = holdings[from]!.get(topic)!;
    let best = 0;
    let bestScore = -1;
    for (let index = 0; index < list.length; index++) {
      const partition = list[index]!;
      const previous = model.owner[partition];
      let score = previous === to ? 8 : previous !== from ? 4 : 0;
      if (racks.enabled) {
        if (racks.local(to, partition)) score += 2;
        if (!racks.local(from, partition)) score += 1;
      }
      if (score > bestScore || (score === bestScore && partition < list[best]!)) {
        best = index;
        bestScore = score;
      }
    }
    return best;
  };
  const move = (from: number, topic: number, to: number): void => {
    give(to, take(from, topic, choose(from, topic, to)));
  };

  // 1. Keep what each member validly owns and still subscribes to.
  for (let member = 0; member < memberCount; member++) {
    for (const partition of model.claims[member]!) {
      if (model.owner[partition] !== member) continue;
      if (!subscribes[member]!.has(model.topicOf[partition]!)) continue;
      if (racks.mismatch(member, partition)) continue;
      give(member, partition);
    }
  }

  // 2. Place the rest, topics with the fewest subscribers first, each partition on the least loaded subscriber
  //    (a local one when rack-aware and as little loaded).
  const topicOrder = model.topicNames
    .map((_, topic) => topic)
    .sort((left, right) => model.topicMembers[left]!.length - model.topicMembers[right]!.length || left - right);
  for (const topic of topicOrder) {
    const candidates = model.topicMembers[topic]!;
    if (candidates.length === 0) continue;
    for (let partition = model.topicBase[topic]!; partition < model.topicBase[topic + 1]!; partition++) {
      if (holder[partition] !== -1) continue;
      let best = -1;
      let bestLocal = false;
      for (const member of candidates) {
        const local = racks.enabled && racks.local(member, partition);
        if (best < 0 || count[member]! < count[best]! || (count[member] === count[best] && local && !bestLocal)) {
          best = member;
          bestLocal = local;
        }
      }
      give(best, partition);
    }
  }

  // 3. Single moves between two subscribers of one topic.
  const singleMoves = (onlyFree: boolean): void => {
    let changed = true;
    while (changed) {
      changed = false;
      for (const topic of topicOrder) {
        const candidates = model.topicMembers[topic]!;
        if (candidates.length < 2) continue;
        for (;;) {
          let from = -1;
          let to = -1;
          for (const member of candidates) {
            if ((from < 0 || count[member]! > count[from]!) && holds(member, topic, onlyFree)) from = member;
            if (to < 0 || count[member]! < count[to]!) to = member;
          }
          if (from < 0 || count[from]! - count[to]! < 2) break;
          move(from, topic, to);
          changed = true;
        }
      }
    }
  };

  // 4. Chains.
  const parent = new Int32Array(memberCount);
  const parentTopic = new Int32Array(memberCount);
  const visited = new Int32Array(memberCount).fill(-1);
  const topicSeen = new Int32Array(model.topicNames.length).fill(-1);
  let stamp = 0;
  const order = Array.from({ length: memberCount }, (_, member) => member);

  /** A member reachable from `source` with at most `count[source] - 2` partitions, or -1; fills `parent`. */
  const search = (source: number, onlyFree: boolean): number => {
    stamp++;
    const limit = count[source]! - 2;
    const queue = [source];
    visited[source] = stamp;
    for (let head = 0; head < queue.length; head++) {
      const member = queue[head]!;
      for (const topic of holdings[member]!.keys()) {
        if (topicSeen[topic] === stamp || !holds(member, topic, onlyFree)) continue;
        topicSeen[topic] = stamp;
        for (const next of model.topicMembers[topic]!) {
          if (visited[next] === stamp) continue;
          visited[next] = stamp;
          parent[next] = member;
          parentTopic[next] = topic;
          if (count[next]! <= limit) return next;
          queue.push(next);
        }
      }
    }
    return -1;
  };

  const chains = (onlyFree: boolean): void => {
    for (;;) {
      let minimum = Number.POSITIVE_INFINITY;
      for (let member = 0; member < memberCount; member++) minimum = Math.min(minimum, count[member]!);
      order.sort((left, right) => count[right]! - count[left]! || left - right);
      let improved = false;
      for (const source of order) {
        if (count[source]! - minimum < 2) break;
        const target = search(source, onlyFree);
        if (target < 0) continue;
        // Shift one partition along each edge, from the target's end back to the source.
        let member = target;
        while (member !== source) {
          const from = parent[member]!;
          move(from, parentTopic[member]!, member);
          member = from;
        }
        improved = true;
        break;
      }
      if (!improved) return;
    }
  };

  // Balance first by moving only partitions nobody keeps (if a balanced assignment keeps every owned partition,
  // this finds one), then by moving owned ones where that is the only way.
  for (const onlyFree of [true, false]) {
    singleMoves(onlyFree);
    chains(onlyFree);
  }

  const assignment: number[][] = model.members.map(() => []);
  for (let partition = 0; partition < model.partitionCount; partition++) {
    const member = holder[partition]!;
    if (member >= 0) assignment[member]!.push(partition);
  }
  return assignment;
}
