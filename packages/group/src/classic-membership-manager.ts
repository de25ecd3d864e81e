/**
 * Classic group membership as a request manager: drives the ClassicMembership state machine, turns its requests
 * into JoinGroup / SyncGroup / Heartbeat / LeaveGroup at the coordinator's versions, runs the leader's assignment,
 * and turns what the group decides into rebalance steps that the application runs inside `poll()`.
 *
 * The order of a rebalance, as in Kafka's ConsumerCoordinator (onJoinPrepare, onJoinComplete):
 * - A rejoin is needed (the heartbeat says the group rebalances, the subscription or the group's metadata changed,
 *   `enforceRebalance`); it starts at the application's next poll. Before JoinGroup goes out the application
 *   commits what it consumed (auto commit) and revokes: everything in an EAGER rebalance, in a COOPERATIVE one only
 *   the partitions of topics it no longer subscribes to.
 * - SyncGroup's assignment is applied when the application takes the step, inside poll: in a COOPERATIVE rebalance
 *   the partitions that moved away are revoked first (and the member rejoins afterwards, KIP-429), then the
 *   assignment changes and `onPartitionsAssigned` hears of what was added.
 * - A lost generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, max.poll.interval.ms exceeded): the partitions are
 *   lost (`onPartitionsLost`, nothing committed) at the next poll, then the member rejoins.
 * - The leader remembers the partition counts it assigned; a later metadata snapshot that differs (partitions
 *   added, a subscribed topic created) makes it rejoin. A member whose subscription changed (a new pattern match,
 *   `subscribe` with other topics) rejoins with the same member id.
 */
import type { AssignorMetadata, AssignorTopic, PartitionAssignor, RebalanceProtocol } from '@sluice/assignors';
import type { ClusterMetadata, ClusterSnapshot } from '@sluice/net';
import {
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
  type ManagerPoll,
  type SubscriptionState,
  type TopicPartition,
  TopicPartitionSet,
  type UnsentRequest,
  unsent,
} from '@sluice/runtime';
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
import type { CoordinatorView } from './coordinator-manager.ts';
import {
  type CommitPermission,
  type ConsumerGroupMetadata,
  leaveStep,
  type Membership,
  PollWait,
  type RebalanceStep,
  removeFromAssignment,
} from './membership.ts';

export interface ClassicMembershipManagerOptions extends Omit<ClassicMembershipOptions, 'coordinator'> {
  readonly coordinator: CoordinatorView;
  readonly subscriptions: SubscriptionState;
  readonly metadata: Pick<ClusterMetadata, 'snapshot' | 'requestUpdate'>;
  /** `partition.assignment.strategy`, in order of preference. */
  readonly assignors: readonly PartitionAssignor[];
  /** `client.rack`. */
  readonly rackId: string | null;
  /** `request.timeout.ms` (JoinGroup gets the rebalance timeout on top, as in Kafka's consumer). */
  readonly requestTimeoutMs: number;
}

type AssignAsLeader = Extract<MembershipEvent, { type: 'assign-as-leader' }>;

interface Rejoin {
  readonly reason: string;
  /** The revoke step before JoinGroup has run (or nothing needed revoking). */
  prepared: boolean;
}

interface PendingAssignment {
  readonly generationId: number;
  readonly partitions: readonly TopicPartition[];
  /** COOPERATIVE: what the assignment takes away, revoked (in a step of its own) before it is applied. */
  readonly revoked: readonly TopicPartition[];
  revokedDone: boolean;
}

export class ClassicMembershipManager implements Membership {
  readonly groupId: string;
  readonly membership: ClassicMembership;
  readonly protocol: RebalanceProtocol;
  readonly #options: ClassicMembershipManagerOptions;
  readonly #subscriptions: SubscriptionState;
  /** The generation the current assignment came from (sent as owned partitions' generation, KIP-792). */
  #ownedGeneration = -1;
  #rejoin: Rejoin | null = null;
  /** The application polled since the rejoin became needed: it may start. */
  #armed = false;
  #lossPending = false;
  #pendingAssignment: PendingAssignment | null = null;
  #outstanding: RebalanceStep | null = null;
  #nextStepId = 1;
  #leaderTask: AssignAsLeader | null = null;
  /** When the leader's task first waited for metadata (a snapshot after it settles which topics exist). */
  #leaderTaskSince = Number.NaN;
  /** While this member leads: every topic of the group, which the metadata must describe. */
  #groupTopics: ReadonlySet<string> | null = null;
  /** The partition count of each group topic when this member assigned (-1: the topic did not exist). */
  #assignedCounts: ReadonlyMap<string, number> | null = null;
  /** The subscription the last JoinGroup carried. */
  #joinedSubscription: ReadonlySet<string> | null = null;
  #lastSnapshot: ClusterSnapshot | null = null;
  /** A pattern subscription may join once a snapshot this recent was matched against it. */
  #patternSince = Number.POSITIVE_INFINITY;
  #patternMatched = false;
  #fatal: Error | null = null;
  readonly #pollWait = new PollWait();
  #left = false;
  #leaving = false;

  constructor(options: ClassicMembershipManagerOptions) {
    this.groupId = options.groupId;
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.protocol = rebalanceProtocolOf(options.assignors);
    this.membership = new ClassicMembership(options);
  }

  get fatalError(): Error | null {
    return this.#fatal;
  }

  get left(): boolean {
    return this.#left;
  }

  /** Whether a step waits for the application (it wakes a poll that waits for records). */
  get stepPending(): boolean {
    const plan = this.#plan();
    return plan !== null && plan !== 'join';
  }

  // ---- the application side's calls ---------------------------------------------------------------------------

  /**
   * The subscription changed (subscribe, or the pattern became another): the next poll joins, or rejoins with the
   * same member id when already in the group (noticed at the next loop run).
   */
  subscriptionChanged(now: number): void {
    if (this.#subscriptions.type === 'pattern') {
      this.#patternSince = now;
      this.#patternMatched = false;
    }
    if (this.#leaving) return;
    if (this.membership.state === 'unjoined' && this.#rejoin === null) {
      this.#requestRejoin('the consumer joins the group');
    }
    this.#checkSubscription();
  }

  onPoll(now: number): void {
    this.membership.polled(now);
    this.#checkSubscription();
    if (this.#rejoin !== null) this.#armed = true;
  }

  beginPollWait(now: number): number {
    this.membership.pollWaiting(now, true);
    return this.#pollWait.begin();
  }

  endPollWait(now: number, token?: number): void {
    if (this.#pollWait.end(token)) this.membership.pollWaiting(now, false);
  }

  enforceRebalance(reason: string): void {
    if (!this.#subscriptions.hasAutoAssignedPartitions) return;
    this.#requestRejoin(reason);
  }

  commitPermission(): CommitPermission {
    if (this.#fatal !== null) {
      return { kind: 'not-member', reason: `the membership failed: ${this.#fatal.message}` };
    }
    switch (this.membership.state) {
      case 'stable': {
        const generation = this.membership.generation!;
        return {
          kind: 'allowed',
          identity: {
            generationIdOrMemberEpoch: generation.generationId,
            memberId: generation.memberId,
            groupInstanceId: this.membership.groupInstanceId,
          },
        };
      }
      case 'joining':
      case 'assigning':
      case 'syncing':
        return { kind: 'rebalancing' };
      default:
        return {
          kind: 'not-member',
          reason: 'the consumer is not part of an active group (it was kicked out of the group, or has not joined yet)',
        };
    }
  }

  groupMetadata(): ConsumerGroupMetadata {
    const generation = this.membership.generation;
    return {
      groupId: this.groupId,
      generationId: generation?.generationId ?? -1,
      memberId: generation?.memberId ?? this.membership.memberId,
      groupInstanceId: this.membership.groupInstanceId,
    };
  }

  takeStep(now: number): RebalanceStep | null {
    const assigned = this.#subscriptions.assignedPartitions();
    switch (this.#plan()) {
      case 'lose':
        return this.#take({ id: this.#nextStepId++, kind: 'lose', partitions: assigned });
      case 'revoke-moved':
        return this.#take({
          id: this.#nextStepId++,
          kind: 'revoke',
          partitions: this.#pendingAssignment!.revoked,
          notifyEmpty: false,
        });
      case 'assign': {
        const pending = this.#pendingAssignment!;
        const before = new TopicPartitionSet(assigned);
        const added = pending.partitions.filter((tp) => !before.has(tp));
        this.#subscriptions.assignFromSubscribed(pending.partitions);
        this.#ownedGeneration = pending.generationId;
        this.#pendingAssignment = null;
        if (pending.revoked.length > 0 && this.protocol === 'COOPERATIVE') {
          // KIP-429: what this member gave up can be assigned to others only in another rebalance.
          this.#requestRejoin('partitions were revoked in a cooperative rebalance');
          this.#armed = true;
        }
        return this.#take({ id: this.#nextStepId++, kind: 'assign', partitions: added });
      }
      case 'revoke-before-join':
        return this.#take({
          id: this.#nextStepId++,
          kind: 'revoke',
          partitions:
            this.protocol === 'EAGER'
              ? assigned
              : assigned.filter((tp) => !this.#subscriptions.subscription.has(tp.topic)),
          notifyEmpty: this.protocol === 'EAGER',
        });
      case 'join':
        // Nothing to commit or revoke first.
        this.#rejoin!.prepared = true;
        this.#join(now);
        return null;
      case null:
        return null;
    }
  }

  completeStep(step: RebalanceStep, now: number): void {
    if (this.#outstanding?.id !== step.id) return;
    this.#outstanding = null;
    if (this.#leaving) return;
    switch (step.kind) {
      case 'lose':
        this.#subscriptions.assignFromSubscribed([]);
        this.#ownedGeneration = -1;
        this.#lossPending = false;
        this.#requestRejoin('rejoining after the generation was lost');
        this.#armed = true;
        break;
      case 'revoke': {
        removeFromAssignment(this.#subscriptions, step.partitions);
        const pending = this.#pendingAssignment;
        if (pending !== null && !pending.revokedDone && pending.revoked === step.partitions) {
          pending.revokedDone = true;
        } else if (this.#rejoin !== null) {
          this.#rejoin.prepared = true;
          if (this.protocol === 'EAGER') this.#ownedGeneration = -1;
          if (this.#canJoin()) this.#join(now);
        }
        break;
      }
      case 'assign':
        break;
    }
  }

  beginLeave(): RebalanceStep {
    this.#leaving = true;
    this.#rejoin = null;
    this.#armed = false;
    this.#pendingAssignment = null;
    this.#leaderTask = null;
    this.#outstanding = null;
    const assigned = this.#subscriptions.assignedPartitions();
    const lost = this.#lossPending || this.membership.generation === null;
    this.#lossPending = false;
    return leaveStep(this.#nextStepId++, assigned, lost);
  }

  leave(reason: string, options: { ending: 'closed' | 'unjoined' }): void {
    this.#leaving = true;
    this.#rejoin = null;
    this.#armed = false;
    this.#pendingAssignment = null;
    this.#outstanding = null;
    this.#ownedGeneration = -1;
    this.#groupTopics = null;
    this.#assignedCounts = null;
    this.#joinedSubscription = null;
    const state = this.membership.state;
    if (state === 'closed' || state === 'failed' || this.#fatal !== null) {
      this.#left = true;
      return;
    }
    this.#left = false;
    this.membership.leave(reason, options);
    this.#handleEvents();
  }

  /** After `leave(..., { ending: 'unjoined' })` completed: the membership may be used again by a new subscription. */
  resetAfterLeave(): void {
    this.#leaving = false;
    this.#left = false;
  }

  // ---- the loop's calls -----------------------------------------------------------------------------------------

  topicsOfInterest(): Iterable<string> {
    return this.#groupTopics ?? [];
  }

  poll(now: number): ManagerPoll {
    if (this.#fatal !== null) return { requests: [], nextPollAt: Number.POSITIVE_INFINITY };
    this.#watchMetadata();
    this.#checkSubscription();
    this.#handleEvents();
    this.#tryLeaderAssignment(now);
    const requests: UnsentRequest[] = this.membership.poll(now).map((request) => this.#unsent(request));
    this.#handleEvents();
    return { requests, nextPollAt: this.membership.nextDeadline(now) };
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #take(step: RebalanceStep): RebalanceStep {
    this.#outstanding = step;
    return step;
  }

  /**
   * What the application's next `takeStep` does: lose the assignment (the generation is gone), revoke what a
   * cooperative assignment moves away, apply the new assignment, revoke (and commit) before a rejoin, or join
   * with nothing to give up. One decision, for `takeStep` and `stepPending` alike.
   */
  #plan(): 'lose' | 'revoke-moved' | 'assign' | 'revoke-before-join' | 'join' | null {
    if (this.#outstanding !== null || this.#leaving || this.#fatal !== null) return null;
    if (this.#lossPending) return 'lose';
    const pending = this.#pendingAssignment;
    if (pending !== null) return pending.revoked.length > 0 && !pending.revokedDone ? 'revoke-moved' : 'assign';
    const rejoin = this.#rejoin;
    if (rejoin === null || !this.#armed || rejoin.prepared || !this.#canJoin()) return null;
    return this.#subscriptions.assignedCount === 0 && this.#ownedGeneration < 0 ? 'join' : 'revoke-before-join';
  }

  #canJoin(): boolean {
    const state = this.membership.state;
    if (this.#leaving || (state !== 'unjoined' && state !== 'stable')) return false;
    if (!this.#subscriptions.hasAutoAssignedPartitions) return false;
    // A pattern joins with what it matched in metadata newer than the subscription.
    return this.#subscriptions.type !== 'pattern' || this.#patternMatched;
  }

  #join(now: number): void {
    const rejoin = this.#rejoin;
    if (rejoin === null) return;
    this.#rejoin = null;
    this.#armed = false;
    this.#groupTopics = null;
    this.#assignedCounts = null;
    this.membership.join(now, rejoin.reason);
  }

  #requestRejoin(reason: string): void {
    if (this.#leaving) return;
    if (this.#rejoin !== null) return;
    this.#rejoin = { reason, prepared: false };
    this.#armed = false;
  }

  #handleEvents(): void {
    for (const event of this.membership.takeEvents()) {
      switch (event.type) {
        case 'assign-as-leader':
          this.#leaderTask = event;
          this.#leaderTaskSince = Number.NaN;
          break;
        case 'assigned':
          this.#assigned(event);
          break;
        case 'rejoin-needed':
          this.#requestRejoin(event.reason);
          break;
        case 'lost':
          this.#pendingAssignment = null;
          this.#leaderTask = null;
          this.#groupTopics = null;
          this.#assignedCounts = null;
          if (this.#leaving) break;
          this.#rejoin = null;
          if (this.#subscriptions.assignedCount === 0) {
            // Nothing to lose: the member joins again at the next poll.
            this.#ownedGeneration = -1;
            this.#requestRejoin(`rejoining: ${event.reason}`);
            break;
          }
          // Fetching stops at once; the application hears of the loss at its next poll.
          this.#subscriptions.markPendingRevocation(this.#subscriptions.assignedPartitions());
          this.#lossPending = true;
          break;
        case 'fatal':
          this.#fatal = event.error;
          this.#pendingAssignment = null;
          this.#rejoin = null;
          if (this.#leaving) this.#left = true;
          break;
        case 'left':
          // Also after a max.poll.interval.ms leave, which is not ours to report.
          if (this.#leaving) this.#left = true;
          break;
      }
    }
  }

  #assigned(event: Extract<MembershipEvent, { type: 'assigned' }>): void {
    let partitions: readonly TopicPartition[];
    try {
      partitions = acceptAssignment({
        assignors: this.#options.assignors,
        protocolName: event.protocolName,
        bytes: event.assignment,
        context: { groupId: this.groupId, memberId: event.memberId, generationId: event.generationId },
      }).partitions;
    } catch (error) {
      this.#fatal = error as Error;
      return;
    }
    const next = new TopicPartitionSet(partitions);
    const revoked =
      this.protocol === 'COOPERATIVE'
        ? this.#subscriptions.assignedPartitions().filter((tp) => !next.has(tp))
        : this.#subscriptions.assignedPartitions();
    this.#subscriptions.markPendingRevocation(revoked);
    this.#pendingAssignment = { generationId: event.generationId, partitions, revoked, revokedDone: false };
  }

  /** Pattern matching against new metadata, and the leader's check that the group's topics did not change. */
  #watchMetadata(): void {
    const snapshot = this.#options.metadata.snapshot;
    if (snapshot === null || snapshot === this.#lastSnapshot) return;
    this.#lastSnapshot = snapshot;
    if (this.#subscriptions.type === 'pattern' && snapshot.updatedAt >= this.#patternSince) {
      this.#subscriptions.matchPattern(snapshot.topics.values());
      this.#patternMatched = true;
    }
    const counts = this.#assignedCounts;
    if (counts === null || this.membership.generation === null) return;
    for (const [topic, count] of counts) {
      const current = partitionCount(snapshot, topic);
      if (current === count) continue;
      this.#requestRejoin(
        count < 0
          ? `the subscribed topic ${topic} was created`
          : `the partitions of ${topic} changed from ${count} to ${current}`,
      );
      return;
    }
  }

  /** A member whose subscription is not the one it joined with rejoins (with the same member id). */
  #checkSubscription(): void {
    const joined = this.#joinedSubscription;
    if (joined === null || this.membership.generation === null || !this.#subscriptions.hasAutoAssignedPartitions) {
      return;
    }
    if (!sameSet(joined, this.#subscriptions.subscription)) this.#requestRejoin('the subscription changed');
  }

  #tryLeaderAssignment(now: number): void {
    const task = this.#leaderTask;
    if (task === null) return;
    if (this.membership.state !== 'assigning') {
      this.#leaderTask = null;
      return;
    }
    if (Number.isNaN(this.#leaderTaskSince)) this.#leaderTaskSince = now;
    try {
      const group = decodeGroupSubscriptions(task.members);
      const topics = new Set([...group.topics, ...this.#subscriptions.subscription]);
      this.#groupTopics = topics;
      const snapshot = this.#options.metadata.snapshot;
      const described = snapshot !== null && [...topics].every((topic) => snapshot.topics.has(topic));
      // A topic the broker did not describe even in metadata newer than the task does not exist for the assignors.
      if (snapshot === null || (!described && snapshot.updatedAt < this.#leaderTaskSince)) {
        // The metadata describes these topics from the next refresh on; the loop runs again when it arrives.
        this.#options.metadata.requestUpdate();
        return;
      }
      const assignments = assignAsLeader({
        assignors: this.#options.assignors,
        protocolName: task.protocolName,
        protocol: this.protocol,
        metadata: assignorMetadata(snapshot, group.topics),
        group,
      });
      this.#leaderTask = null;
      this.#assignedCounts = new Map([...topics].map((topic) => [topic, partitionCount(snapshot, topic)]));
      this.membership.completeLeaderAssignment(task.generationId, assignments);
    } catch (error) {
      this.#leaderTask = null;
      this.membership.failLeaderAssignment(now, error as Error);
    }
  }

  #unsent(request: MembershipRequest): UnsentRequest {
    const membership = this.membership;
    const options = this.#options;
    const onFailure = (error: Error, now: number) => {
      if ((error as { retriable?: boolean }).retriable !== true) {
        // A refused login, an untrusted certificate, no version in common: no retry fixes it.
        this.#fatal = error;
        return;
      }
      membership.onRequestFailed(request, error, now);
      this.#handleEvents();
    };
    switch (request.kind) {
      case 'join-group': {
        const owned = this.protocol === 'COOPERATIVE' ? this.#subscriptions.assignedPartitions() : [];
        return unsent({
          target: { nodeId: request.coordinator },
          api: joinGroupApi,
          // JoinGroup waits on the broker for the whole rebalance.
          timeoutMs: request.rebalanceTimeoutMs + 5_000,
          build: () => {
            const subscription = new Set(this.#subscriptions.subscription);
            this.#joinedSubscription = subscription;
            return {
              ...defaultJoinGroupRequest(),
              groupId: request.groupId,
              sessionTimeoutMs: request.sessionTimeoutMs,
              rebalanceTimeoutMs: request.rebalanceTimeoutMs,
              memberId: request.memberId,
              groupInstanceId: request.groupInstanceId,
              protocolType: CONSUMER_PROTOCOL_TYPE,
              protocols: joinGroupProtocols(options.assignors, {
                topics: subscription,
                ownedPartitions: owned,
                generationId: owned.length > 0 ? this.#ownedGeneration : -1,
                rackId: options.rackId,
              }),
              reason: request.reason,
            };
          },
          onResponse: (response, { now }) => {
            membership.onJoinGroup(request, response, now);
            this.#handleEvents();
          },
          onFailure,
        });
      }
      case 'sync-group':
        return unsent({
          target: { nodeId: request.coordinator },
          api: syncGroupApi,
          timeoutMs: options.requestTimeoutMs,
          build: () => ({
            ...defaultSyncGroupRequest(),
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: request.groupInstanceId,
            protocolType: CONSUMER_PROTOCOL_TYPE,
            protocolName: request.protocolName,
            assignments: [...request.assignments],
          }),
          onResponse: (response, { now }) => {
            membership.onSyncGroup(request, response, now);
            this.#handleEvents();
          },
          onFailure,
        });
      case 'heartbeat':
        return unsent({
          target: { nodeId: request.coordinator },
          api: heartbeatApi,
          timeoutMs: options.requestTimeoutMs,
          build: () => ({
            ...defaultHeartbeatRequest(),
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: request.groupInstanceId,
          }),
          onResponse: (response, { now }) => {
            membership.onHeartbeat(request, response.errorCode, now);
            this.#handleEvents();
          },
          onFailure,
        });
      case 'leave-group':
        return unsent({
          target: { nodeId: request.coordinator },
          api: leaveGroupApi,
          timeoutMs: options.requestTimeoutMs,
          build: (version) =>
            version >= 3
              ? {
                  ...defaultLeaveGroupRequest(),
                  groupId: request.groupId,
                  members: [
                    { memberId: request.memberId, groupInstanceId: request.groupInstanceId, reason: request.reason },
                  ],
                }
              : { ...defaultLeaveGroupRequest(), groupId: request.groupId, memberId: request.memberId },
          onResponse: () => {
            membership.onLeaveGroup(request);
            this.#handleEvents();
          },
          onFailure: (error, now) => {
            membership.onRequestFailed(request, error, now);
            this.#handleEvents();
          },
        });
    }
  }
}

/** A topic's partition count in the snapshot; -1 when it does not exist there (or has an error). */
function partitionCount(snapshot: ClusterSnapshot, topic: string): number {
  const info = snapshot.topics.get(topic);
  return info === undefined || info.error !== null ? -1 : info.partitions.length;
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
    result.set(name, { name, partitions: topic.partitions.length, ...(hasRacks ? { partitionRacks } : {}) });
  }
  return { topics: result };
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const value of a) if (!b.has(value)) return false;
  return true;
}
