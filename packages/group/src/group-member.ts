/**
 * One member of a classic consumer group, with real I/O: drives a ClassicMembership (what to send, when) through
 * the connection pool, runs the leader's assignment with the configured assignors, and keeps this member's current
 * partitions, telling a listener what it gains, revokes and loses.
 *
 * This is the I/O loop of Principle 4: the membership decides, this class sends and reports back. Coordination
 * requests use the pool's coordination connections, so a long fetch never delays a heartbeat. The consumer drives
 * it from poll (`polled`, `join` after a revocation); on its own it rejoins by itself after `rejoin-needed` and
 * `lost`, revoking first in an EAGER rebalance.
 */
import type { AssignorMetadata, AssignorTopic, PartitionAssignor, TopicPartition } from '@sluice/assignors';
import { type ClusterMetadata, type ClusterSnapshot, type ConnectionPool, findCoordinator } from '@sluice/net';
import {
  type ApiDescriptor,
  CONSUMER_PROTOCOL_TYPE,
  defaultHeartbeatRequest,
  defaultJoinGroupRequest,
  defaultLeaveGroupRequest,
  defaultSyncGroupRequest,
  heartbeatApi,
  joinGroupApi,
  leaveGroupApi,
  syncGroupApi,
} from '@sluice/protocol';
import {
  ClassicMembership,
  type ClassicMembershipOptions,
  type MembershipEvent,
  type MembershipRequest,
} from './classic-membership.ts';
import {
  acceptAssignment,
  assignAsLeader,
  decodeGroupSubscriptions,
  joinGroupProtocols,
  rebalanceProtocolOf,
} from './consumer-assignment.ts';

/**
 * Kafka's ConsumerRebalanceListener: told, in order, what this member revokes, loses and is assigned. A returned
 * promise is awaited before the rebalance goes on (a consumer commits the offsets of revoked partitions there,
 * before it rejoins); heartbeats continue meanwhile.
 */
export interface RebalanceListener {
  /** Partitions given up in a rebalance (their offsets may still be committed). */
  onPartitionsRevoked?(partitions: readonly TopicPartition[]): void | Promise<void>;
  /** Partitions that are no longer this member's without a rebalance hand-over (their offsets must not be committed). */
  onPartitionsLost?(partitions: readonly TopicPartition[]): void | Promise<void>;
  /** Partitions added by a rebalance (all of them in an EAGER rebalance, only the new ones in a COOPERATIVE one). */
  onPartitionsAssigned?(partitions: readonly TopicPartition[]): void | Promise<void>;
}

export interface GroupMemberOptions extends ClassicMembershipOptions {
  readonly pool: ConnectionPool;
  readonly metadata: ClusterMetadata;
  /** `partition.assignment.strategy`, in order of preference. */
  readonly assignors: readonly PartitionAssignor[];
  /** The subscription. */
  readonly topics: readonly string[];
  /** `client.rack`. */
  readonly rackId?: string | null;
  /** `request.timeout.ms` (JoinGroup gets the rebalance timeout on top, as in Kafka's consumer). Default 30000. */
  readonly requestTimeoutMs?: number;
  readonly listener?: RebalanceListener;
  /** Called once with the error that ended the membership (a fatal group error). */
  readonly onFatal?: (error: Error) => void;
  /**
   * Called with what a listener callback threw or rejected with. The rebalance goes on regardless, as in Kafka's
   * consumer (which rethrows it from poll). Default: ignored.
   */
  readonly onListenerError?: (error: Error) => void;
  readonly now?: () => number;
}

export class GroupMember {
  readonly membership: ClassicMembership;
  readonly #options: GroupMemberOptions;
  readonly #protocol: 'EAGER' | 'COOPERATIVE';
  readonly #now: () => number;
  #owned: TopicPartition[] = [];
  /** The generation of `#owned` (sent in the subscription, KIP-792). */
  #ownedGeneration = -1;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #leftWaiters: Array<() => void> = [];
  #changeWaiters: Array<() => void> = [];
  /** Membership events are handled one after another, listener callbacks awaited, in the order they came. */
  #events: Promise<void> = Promise.resolve();

  constructor(options: GroupMemberOptions) {
    this.#options = options;
    this.#protocol = rebalanceProtocolOf(options.assignors);
    this.#now = options.now ?? Date.now;
    this.membership = new ClassicMembership(options);
  }

  /** The partitions this member owns now. */
  get assignment(): readonly TopicPartition[] {
    return this.#owned;
  }

  /** The rebalance protocol in use. */
  get protocol(): 'EAGER' | 'COOPERATIVE' {
    return this.#protocol;
  }

  /** Joins the group (the consumer's first poll). */
  start(): void {
    this.membership.join(this.#now(), 'the consumer joins the group');
    this.#run();
  }

  /** The application polled (`max.poll.interval.ms` counts from now). */
  polled(): void {
    this.membership.polled(this.#now());
  }

  /** Resolves at the next change of the assignment or of the membership state. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#changeWaiters.push(resolve));
  }

  /**
   * Leaves the group (a dynamic member sends LeaveGroup, so the others rebalance at once) after revoking its
   * partitions, and stops. Resolves when done.
   */
  async close(): Promise<void> {
    if (this.#stopped) return;
    await this.#events;
    await this.#revoke(this.#owned);
    const left = new Promise<void>((resolve) => this.#leftWaiters.push(resolve));
    this.membership.leave('the consumer is being closed');
    this.#run();
    await left;
    this.#stop();
  }

  /** Stops without a word to the group, as a crashed process would: the coordinator expires the session. */
  abandon(): void {
    this.#stop();
  }

  #stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const resolve of this.#leftWaiters.splice(0)) resolve();
    this.#notify();
  }

  #run(): void {
    if (this.#stopped) return;
    const now = this.#now();
    for (const request of this.membership.poll(now)) void this.#send(request);
    const events = this.membership.takeEvents();
    if (events.length > 0) {
      this.#events = this.#events
        .then(() => this.#handle(events))
        .catch((error: unknown) => this.#fatal(error as Error));
    }
    if (this.#stopped) return;
    if (this.membership.state === 'closed') {
      this.#stop();
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    const deadline = this.membership.nextDeadline(this.#now());
    if (deadline === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.#run(), Math.max(0, deadline - this.#now()));
  }

  async #handle(events: readonly MembershipEvent[]): Promise<void> {
    for (const event of events) {
      if (this.#stopped) return;
      switch (event.type) {
        case 'assign-as-leader':
          void this.#assignAsLeader(event);
          break;
        case 'assigned':
          await this.#assigned(event);
          break;
        case 'rejoin-needed':
          // EAGER: give everything up before joining; COOPERATIVE: keep consuming, the assignment says what goes.
          if (this.#protocol === 'EAGER') await this.#revoke(this.#owned);
          this.membership.join(this.#now(), event.reason);
          break;
        case 'lost':
          await this.#lose();
          if (this.membership.state === 'unjoined') this.membership.join(this.#now(), `rejoining: ${event.reason}`);
          break;
        case 'fatal':
          await this.#fatal(event.error);
          return;
        case 'left':
          for (const resolve of this.#leftWaiters.splice(0)) resolve();
          if (this.membership.state === 'unjoined' && !this.#stopped) {
            this.membership.join(this.#now(), 'rejoining after leaving');
          }
          break;
      }
    }
    this.#notify();
    this.#run();
  }

  async #fatal(error: Error): Promise<void> {
    await this.#lose();
    this.#stop();
    this.#options.onFatal?.(error);
  }

  async #assignAsLeader(event: Extract<MembershipEvent, { type: 'assign-as-leader' }>): Promise<void> {
    try {
      const group = decodeGroupSubscriptions(event.members);
      const snapshot = await this.#metadataFor(group.topics);
      const assignments = assignAsLeader({
        assignors: this.#options.assignors,
        protocolName: event.protocolName,
        protocol: this.#protocol,
        metadata: assignorMetadata(snapshot, group.topics),
        group,
      });
      this.membership.completeLeaderAssignment(event.generationId, assignments);
    } catch (error) {
      this.membership.failLeaderAssignment(this.#now(), error as Error);
    }
    this.#run();
  }

  /** Metadata that describes every topic of the group (the leader must know partitions it does not consume). */
  async #metadataFor(topics: ReadonlySet<string>): Promise<ClusterSnapshot> {
    const current = this.#options.metadata.snapshot;
    if (current !== null && [...topics].every((topic) => current.topics.has(topic))) return current;
    const wanted = new Set([...(current?.topics.keys() ?? []), ...topics, ...this.#options.topics]);
    this.#options.metadata.setTopics([...wanted]);
    return this.#options.metadata.refresh();
  }

  async #assigned(event: Extract<MembershipEvent, { type: 'assigned' }>): Promise<void> {
    const assignment = acceptAssignment({
      assignors: this.#options.assignors,
      protocolName: event.protocolName,
      bytes: event.assignment,
      context: { groupId: this.membership.groupId, memberId: event.memberId, generationId: event.generationId },
    });
    const next = assignment.partitions;
    const nextKeys = new Set(next.map(keyOf));
    const ownedKeys = new Set(this.#owned.map(keyOf));
    const revoked = this.#owned.filter((partition) => !nextKeys.has(keyOf(partition)));
    const added = next.filter((partition) => !ownedKeys.has(keyOf(partition)));
    if (revoked.length > 0) await this.#revoke(revoked);
    this.#owned = [...next];
    this.#ownedGeneration = event.generationId;
    if (added.length > 0) await this.#tell((listener) => listener.onPartitionsAssigned?.(added));
    // KIP-429: a cooperative member that gave partitions up rejoins, so that they can be assigned to others.
    if (this.#protocol === 'COOPERATIVE' && revoked.length > 0) {
      this.membership.join(this.#now(), 'partitions were revoked in a cooperative rebalance');
    }
  }

  async #revoke(partitions: readonly TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    // The listener sees the partitions still owned (a consumer commits their offsets there); then they go.
    await this.#tell((listener) => listener.onPartitionsRevoked?.(partitions));
    const gone = new Set(partitions.map(keyOf));
    this.#owned = this.#owned.filter((partition) => !gone.has(keyOf(partition)));
    if (this.#owned.length === 0) this.#ownedGeneration = -1;
  }

  async #lose(): Promise<void> {
    const lost = this.#owned;
    this.#owned = [];
    this.#ownedGeneration = -1;
    if (lost.length > 0) await this.#tell((listener) => listener.onPartitionsLost?.(lost));
  }

  /** Calls the listener and waits for it; what it throws goes to `onListenerError`, the rebalance goes on. */
  async #tell(call: (listener: RebalanceListener) => void | Promise<void>): Promise<void> {
    const listener = this.#options.listener;
    if (listener === undefined) return;
    try {
      await call(listener);
    } catch (error) {
      this.#options.onListenerError?.(error as Error);
    }
  }

  #notify(): void {
    for (const resolve of this.#changeWaiters.splice(0)) resolve();
  }

  async #send(request: MembershipRequest): Promise<void> {
    const membership = this.membership;
    const now = () => this.#now();
    try {
      switch (request.kind) {
        case 'find-coordinator': {
          const coordinator = await this.#findCoordinator(request.groupId);
          membership.onFindCoordinator(request, coordinator, now());
          break;
        }
        case 'join-group': {
          const response = await this.#call(
            request.coordinator,
            joinGroupApi,
            () => ({
              ...defaultJoinGroupRequest(),
              groupId: request.groupId,
              sessionTimeoutMs: request.sessionTimeoutMs,
              rebalanceTimeoutMs: request.rebalanceTimeoutMs,
              memberId: request.memberId,
              groupInstanceId: request.groupInstanceId,
              protocolType: CONSUMER_PROTOCOL_TYPE,
              protocols: joinGroupProtocols(this.#options.assignors, {
                topics: new Set(this.#options.topics),
                ownedPartitions: this.#protocol === 'COOPERATIVE' ? this.#owned : [],
                generationId: this.#protocol === 'COOPERATIVE' ? this.#ownedGeneration : -1,
                rackId: this.#options.rackId ?? null,
              }),
              reason: request.reason,
            }),
            request.rebalanceTimeoutMs + 5_000,
          );
          membership.onJoinGroup(request, response, now());
          break;
        }
        case 'sync-group': {
          const response = await this.#call(request.coordinator, syncGroupApi, () => ({
            ...defaultSyncGroupRequest(),
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: request.groupInstanceId,
            protocolType: CONSUMER_PROTOCOL_TYPE,
            protocolName: request.protocolName,
            assignments: [...request.assignments],
          }));
          membership.onSyncGroup(request, response, now());
          break;
        }
        case 'heartbeat': {
          const response = await this.#call(request.coordinator, heartbeatApi, () => ({
            ...defaultHeartbeatRequest(),
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: request.groupInstanceId,
          }));
          membership.onHeartbeat(request, response.errorCode, now());
          break;
        }
        case 'leave-group': {
          const response = await this.#call(request.coordinator, leaveGroupApi, (version) =>
            version >= 3
              ? {
                  ...defaultLeaveGroupRequest(),
                  groupId: request.groupId,
                  members: [
                    { memberId: request.memberId, groupInstanceId: request.groupInstanceId, reason: request.reason },
                  ],
                }
              : { ...defaultLeaveGroupRequest(), groupId: request.groupId, memberId: request.memberId },
          );
          void response;
          membership.onLeaveGroup(request);
          break;
        }
      }
    } catch (error) {
      membership.onRequestFailed(request, error as Error, now());
    }
    this.#run();
  }

  async #findCoordinator(groupId: string): Promise<{ nodeId: number } | { errorCode: number }> {
    return findCoordinator(this.#options.pool, this.#options.metadata, {
      key: groupId,
      timeoutMs: this.#options.requestTimeoutMs ?? 30_000,
    });
  }

  /** Sends `build(version)` to the coordinator at the highest version both sides speak. */
  async #call<Request, Response>(
    coordinator: number,
    api: ApiDescriptor<Request, Response>,
    build: (version: number) => Request,
    timeoutMs: number = this.#options.requestTimeoutMs ?? 30_000,
  ): Promise<Response> {
    const connection = await this.#options.pool.get({ nodeId: coordinator });
    const version = connection.versionFor(api as ApiDescriptor<unknown, unknown>);
    return connection.send(api, version, build(version), { timeoutMs });
  }
}

/** What the assignors see of the cluster: the group's topics, their partitions and the racks of their replicas. */
export function assignorMetadata(snapshot: ClusterSnapshot, topics: ReadonlySet<string>): AssignorMetadata {
  const result = new Map<string, AssignorTopic>();
  for (const name of topics) {
    const topic = snapshot.topics.get(name);
    if (topic === undefined || topic.error !== null) continue;
    const partitionRacks = topic.partitions.map((partition) =>
      partition.replicas.flatMap((nodeId) => {
        const rack = snapshot.brokers.get(nodeId)?.rack;
        return rack ? [rack] : [];
      }),
    );
    const hasRacks = partitionRacks.some((racks) => racks.length > 0);
    result.set(name, {
      name,
      partitions: topic.partitions.length,
      ...(hasRacks ? { partitionRacks } : {}),
    });
  }
  return { topics: result };
}

function keyOf({ topic, partition }: TopicPartition): string {
  return `${topic}\u0000${partition}`;
}
