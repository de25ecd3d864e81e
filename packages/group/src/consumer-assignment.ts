/**
 * The consumer side of the classic group protocol's payloads (protocol type "consumer"): what a member sends in
 * JoinGroup, what the leader computes from every member's subscription, and what a member makes of the assignment
 * SyncGroup returns. Pure: no I/O, no clock. The membership state machine calls it at those three points.
 */
import type {
  AssignmentContext,
  AssignorMetadata,
  MemberAssignment,
  MemberSubscription,
  PartitionAssignor,
  RebalanceProtocol,
  TopicPartition,
} from '@sluice/assignors';
import {
  type ConsumerProtocolAssignment,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
  type JoinGroupRequestProtocol,
  type JoinGroupResponseMember,
  ProtocolError,
  type SyncGroupRequestAssignment,
} from '@sluice/protocol';
import { compareTopicPartitions, describePartition, TopicPartitionSet } from '@sluice/runtime';

/** A rebalance cannot go on: the configuration, a member's data or the assignor's result is unusable. */
export class GroupAssignmentError extends Error {
  override name = 'GroupAssignmentError';
  readonly retriable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The rebalance protocol a member uses: the most advanced one that every configured assignor supports (COOPERATIVE
 * over EAGER), as Kafka's consumer chooses it. Assignors with no protocol in common are a configuration error.
 */
export function rebalanceProtocolOf(assignors: readonly PartitionAssignor[]): RebalanceProtocol {
  if (assignors.length === 0) throw new GroupAssignmentError('partition.assignment.strategy names no assignor');
  const names = new Set<string>();
  for (const assignor of assignors) {
    if (names.has(assignor.name)) {
      throw new GroupAssignmentError(`partition.assignment.strategy names the assignor "${assignor.name}" twice`);
    }
    names.add(assignor.name);
  }
  const common = (protocol: RebalanceProtocol) =>
    assignors.every((assignor) => assignor.supportedProtocols.includes(protocol));
  if (common('COOPERATIVE')) return 'COOPERATIVE';
  if (common('EAGER')) return 'EAGER';
  throw new GroupAssignmentError(
    `the assignors ${assignors.map((assignor) => assignor.name).join(', ')} support no rebalance protocol in common`,
  );
}

/** What a member tells the group about itself when it joins. */
export interface JoinSubscription {
  /** The topics it subscribes to. */
  readonly topics: ReadonlySet<string>;
  /** The partitions it owns now (always empty in an EAGER rebalance: everything was revoked before joining). */
  readonly ownedPartitions: readonly TopicPartition[];
  /** The generation of `ownedPartitions`, -1 when it owns nothing from any generation. */
  readonly generationId: number;
  /** `client.rack`, or null. */
  readonly rackId: string | null;
}

/**
 * JoinGroup's protocols: one per assignor, in the order of preference (the coordinator picks the first that every
 * member supports), each carrying the ConsumerProtocolSubscription with that assignor's user data. Topics are sent
 * sorted and owned partitions grouped by topic, partitions ascending.
 */
export function joinGroupProtocols(
  assignors: readonly PartitionAssignor[],
  state: JoinSubscription,
): JoinGroupRequestProtocol[] {
  const topics = [...state.topics].sort(compareStrings);
  const ownedPartitions = groupByTopic(state.ownedPartitions).map(([topic, partitions]) => ({ topic, partitions }));
  return assignors.map((assignor) => ({
    name: assignor.name,
    metadata: encodeConsumerSubscription({
      topics,
      userData: assignor.subscriptionUserData?.(state.topics) ?? null,
      ownedPartitions,
      generationId: state.generationId,
      rackId: state.rackId,
    }),
  }));
}

/** The leader's view of the group after JoinGroup: every member's subscription, decoded. */
export interface GroupSubscriptions {
  readonly subscriptions: Map<string, MemberSubscription>;
  /** Every topic some member subscribes to: the leader needs their metadata to assign. */
  readonly topics: ReadonlySet<string>;
}

/** Decodes the members JoinGroup gave the leader. A member whose metadata cannot be read fails the rebalance. */
export function decodeGroupSubscriptions(members: readonly JoinGroupResponseMember[]): GroupSubscriptions {
  const subscriptions = new Map<string, MemberSubscription>();
  const topics = new Set<string>();
  for (const member of members) {
    if (subscriptions.has(member.memberId)) {
      throw new GroupAssignmentError(`JoinGroup listed the member ${member.memberId} twice`);
    }
    let decoded: ReturnType<typeof decodeConsumerSubscription>['value'];
    try {
      decoded = decodeConsumerSubscription(member.metadata).value;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw new GroupAssignmentError(`the subscription of member ${member.memberId} cannot be read: ${error.message}`, {
        cause: error,
      });
    }
    for (const topic of decoded.topics) topics.add(topic);
    subscriptions.set(member.memberId, {
      topics: decoded.topics,
      userData: decoded.userData,
      ownedPartitions: decoded.ownedPartitions.flatMap(({ topic, partitions }) =>
        partitions.map((partition) => ({ topic, partition })),
      ),
      generationId: decoded.generationId,
      rackId: decoded.rackId,
      groupInstanceId: member.groupInstanceId,
    });
  }
  return { subscriptions, topics };
}

/**
 * The leader's step: runs the assignor the coordinator chose (`protocolName`) and encodes every member's
 * assignment for SyncGroup. Checks what Kafka's consumer checks: the assignor is one of ours, it assigned every
 * member and no one else, and in a COOPERATIVE rebalance it handed no partition to a new owner while another
 * member still owns it (KIP-429: that partition must be revoked first, and assigned in the next rebalance).
 */
export function assignAsLeader(options: {
  readonly assignors: readonly PartitionAssignor[];
  readonly protocolName: string;
  readonly protocol: RebalanceProtocol;
  readonly metadata: AssignorMetadata;
  readonly group: GroupSubscriptions;
}): SyncGroupRequestAssignment[] {
  const assignor = options.assignors.find((candidate) => candidate.name === options.protocolName);
  if (assignor === undefined) {
    throw new GroupAssignmentError(
      `the coordinator chose the assignor "${options.protocolName}", which this member does not have`,
    );
  }
  const subscriptions = options.group.subscriptions;
  const result = assignor.assign(options.metadata, subscriptions);
  for (const memberId of result.keys()) {
    if (!subscriptions.has(memberId)) {
      throw new GroupAssignmentError(
        `the assignor "${assignor.name}" assigned partitions to unknown member ${memberId}`,
      );
    }
  }
  const assignments: SyncGroupRequestAssignment[] = [];
  for (const memberId of subscriptions.keys()) {
    const assignment = result.get(memberId);
    if (assignment === undefined) {
      throw new GroupAssignmentError(`the assignor "${assignor.name}" left member ${memberId} without an assignment`);
    }
    assignments.push({ memberId, assignment: encodeConsumerAssignment(toWire(assignment)) });
  }
  if (options.protocol === 'COOPERATIVE') checkCooperative(assignor.name, subscriptions, result);
  return assignments;
}

/** A member's step after SyncGroup: reads its assignment and tells the chosen assignor (`onAssignment`). */
export function acceptAssignment(options: {
  readonly assignors: readonly PartitionAssignor[];
  readonly protocolName: string;
  readonly bytes: Uint8Array;
  readonly context: AssignmentContext;
}): MemberAssignment {
  let decoded: ConsumerProtocolAssignment;
  try {
    decoded = decodeConsumerAssignment(options.bytes).value;
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new GroupAssignmentError(`the assignment from SyncGroup cannot be read: ${error.message}`, { cause: error });
  }
  const assignment: MemberAssignment = {
    partitions: decoded.assignedPartitions.flatMap(({ topic, partitions }) =>
      partitions.map((partition) => ({ topic, partition })),
    ),
    userData: decoded.userData,
  };
  const assignor = options.assignors.find((candidate) => candidate.name === options.protocolName);
  if (assignor === undefined) {
    throw new GroupAssignmentError(
      `the coordinator chose the assignor "${options.protocolName}", which this member does not have`,
    );
  }
  assignor.onAssignment?.(assignment, options.context);
  return assignment;
}

function checkCooperative(
  assignor: string,
  subscriptions: ReadonlyMap<string, MemberSubscription>,
  result: ReadonlyMap<string, MemberAssignment>,
): void {
  const revoked = new TopicPartitionSet();
  const added: TopicPartition[] = [];
  for (const [memberId, subscription] of subscriptions) {
    const owned = new TopicPartitionSet(subscription.ownedPartitions);
    const assigned = new TopicPartitionSet(result.get(memberId)?.partitions ?? []);
    for (const tp of owned) if (!assigned.has(tp)) revoked.add(tp);
    for (const tp of assigned) if (!owned.has(tp)) added.push(tp);
  }
  const transferred = added.filter((tp) => revoked.has(tp)).sort(compareTopicPartitions);
  if (transferred.length > 0) {
    throw new GroupAssignmentError(
      `the assignor "${assignor}" broke the COOPERATIVE protocol: it moved ${transferred.map(describePartition).join(', ')} to a new owner in the same rebalance that revokes them`,
    );
  }
}

function toWire(assignment: MemberAssignment): ConsumerProtocolAssignment {
  return {
    assignedPartitions: groupByTopic(assignment.partitions).map(([topic, partitions]) => ({ topic, partitions })),
    userData: assignment.userData,
  };
}

/** Partitions grouped by topic: topics in order of first appearance, each topic's partitions ascending. */
function groupByTopic(partitions: readonly TopicPartition[]): Array<[string, number[]]> {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [partition]);
    else list.push(partition);
  }
  for (const list of byTopic.values()) list.sort((a, b) => a - b);
  return [...byTopic];
}

/** Java's String.compareTo order (UTF-16 code units). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
