/**
 * The client-side assignor contract, as Kafka's `ConsumerPartitionAssignor` defines it: the group leader collects
 * every member's subscription (JoinGroup), runs the assignor the members agreed on, and sends each member its
 * assignment (SyncGroup). Assignors are pure: metadata and subscriptions in, assignments out.
 */

import type { TopicPartition } from '@sluice/protocol';

export type { TopicPartition };

/** What an assignor knows of one topic: its partitions (0 .. partitions-1) and where their replicas live. */
export interface AssignorTopic {
  readonly name: string;
  readonly partitions: number;
  /**
   * Racks of each partition's replicas, by partition id (KIP-881 rack-aware assignment). Omitted, or an empty list
   * for a partition, when the racks are not known.
   */
  readonly partitionRacks?: readonly (readonly string[])[];
}

/** The cluster as the leader sees it: the topics in its metadata, by name. A subscribed topic missing here is skipped. */
export interface AssignorMetadata {
  readonly topics: ReadonlyMap<string, AssignorTopic>;
}

/** One member's subscription, from its JoinGroup metadata (ConsumerProtocolSubscription). */
export interface MemberSubscription {
  readonly topics: readonly string[];
  /** The assignor's own data (`subscriptionUserData`), or null. */
  readonly userData: Uint8Array | null;
  /** The partitions the member owns now (subscription v1+); empty in an eager rebalance or when unknown. */
  readonly ownedPartitions: readonly TopicPartition[];
  /** The generation in which the member got `ownedPartitions` (subscription v2+); -1 when unknown. */
  readonly generationId: number;
  /** The member's `client.rack` (subscription v3+), or null. */
  readonly rackId: string | null;
  /**
   * The member's `group.instance.id` (static membership, KIP-345), from JoinGroup's member list; null or omitted
   * for a dynamic member. Range and round-robin order static members by it, ahead of dynamic ones, so that a
   * restarted static member gets its partitions back.
   */
  readonly groupInstanceId?: string | null;
}

/** One member's assignment (ConsumerProtocolAssignment). */
export interface MemberAssignment {
  readonly partitions: readonly TopicPartition[];
  readonly userData: Uint8Array | null;
}

/** Kafka's rebalance protocols: EAGER revokes everything first; COOPERATIVE (KIP-429) revokes only what moves. */
export type RebalanceProtocol = 'EAGER' | 'COOPERATIVE';

/** What a member learns about its group when it receives an assignment. */
export interface AssignmentContext {
  readonly groupId: string;
  readonly memberId: string;
  readonly generationId: number;
}

/**
 * A partition assignor (`partition.assignment.strategy`). Custom assignors implement this interface; the built-in
 * ones are `range`, `roundrobin`, `sticky` and `cooperative-sticky`, under Kafka's names so that Sluice and Java
 * consumers can share a group.
 */
export interface PartitionAssignor {
  /** The name members advertise in JoinGroup; all members must share at least one. */
  readonly name: string;
  /** Protocols this assignor supports; the first is preferred. Kafka's default is EAGER only. */
  readonly supportedProtocols: readonly RebalanceProtocol[];
  /** The assignor's own version (Kafka's `version()`), 0 by default. */
  readonly version: number;
  /** Data to send in this member's subscription (for example its previous assignment), or null. */
  subscriptionUserData?(topics: ReadonlySet<string>): Uint8Array | null;
  /**
   * Assigns the partitions of the subscribed topics to the members. Called on the group leader only. Every member
   * of `subscriptions` must get an entry in the result (possibly with no partitions).
   */
  assign(
    metadata: AssignorMetadata,
    subscriptions: ReadonlyMap<string, MemberSubscription>,
  ): Map<string, MemberAssignment>;
  /** Called on every member with the assignment it received. */
  onAssignment?(assignment: MemberAssignment, context: AssignmentContext): void;
}

/** An assignor's input it cannot work with (for example, partitions owned by two members in one generation). */
export class AssignorError extends Error {
  override name = 'AssignorError';
  readonly assignor: string;

  constructor(assignor: string, message: string) {
    super(`${assignor}: ${message}`);
    this.assignor = assignor;
  }
}
