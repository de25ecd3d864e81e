/**
 * Membership of one consumer in a classic consumer group (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), as a
 * state machine that does no I/O: it is told the time and the responses, and says which requests to send and when
 * it next wants to run. A driver performs the I/O (see group-member.ts); tests drive it with a fake clock.
 *
 * The rules follow Kafka's consumer (AbstractCoordinator, KIP-345 static membership, KIP-394 member id required,
 * KIP-814 skip assignment):
 * - The coordinator comes from the shared CoordinatorManager; any coordinator error or lost connection marks it
 *   unknown there, and requests in flight to a coordinator that is no longer current are dropped (their answers,
 *   if they come, are ignored).
 * - Joining: JoinGroup (first with an empty member id; the broker answers MEMBER_ID_REQUIRED with one, and the
 *   join is sent again with it), then SyncGroup. The leader computes the assignment in between (`assign-as-leader`
 *   event, answered with `completeLeaderAssignment`). JoinGroup and SyncGroup errors that a new attempt can fix
 *   are retried; errors that say the configuration is wrong end the membership (`fatal`).
 * - Stable: a Heartbeat every `heartbeat.interval.ms` (also while the assignment is being computed and synced).
 *   REBALANCE_IN_PROGRESS asks the consumer to rejoin (`rejoin-needed`: in an EAGER rebalance it revokes its
 *   partitions first, then calls `join`); UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and FENCED_INSTANCE_ID end the
 *   generation (`lost`: the partitions are no longer ours).
 * - No heartbeat answered for `session.timeout.ms`: the coordinator is forgotten and found again; the broker has
 *   probably evicted us, which the next heartbeat will say.
 * - The application did not poll for `max.poll.interval.ms` (the rebalance timeout): the member leaves the group
 *   (`lost`), as Kafka's consumer does, so its partitions go to members that are making progress.
 * - `leave` (close): a dynamic member sends LeaveGroup so the group rebalances at once; a static member does not
 *   (its membership ends when its session times out, so a restart within it keeps the assignment).
 *
 * At most one JoinGroup/SyncGroup/LeaveGroup and one Heartbeat are in flight. A response is
 * matched to the request object it answers; a response to a request that is no longer current is ignored.
 */
import { backoffMs, ErrorCode, KafkaError } from '@sluice/net';
import type {
  JoinGroupResponse,
  JoinGroupResponseMember,
  SyncGroupRequestAssignment,
  SyncGroupResponse,
} from '@sluice/protocol';
import type { CoordinatorView } from './coordinator-manager.ts';

export interface ClassicMembershipOptions {
  /** `group.id`. */
  readonly groupId: string;
  /** The group's coordinator, shared with the commits. */
  readonly coordinator: CoordinatorView;
  /** `group.instance.id` (static membership), or null. */
  readonly groupInstanceId?: string | null;
  /** `session.timeout.ms`, Kafka's default 45000. */
  readonly sessionTimeoutMs?: number;
  /** `max.poll.interval.ms`: the rebalance timeout, and how long the application may go without polling. 300000. */
  readonly rebalanceTimeoutMs?: number;
  /** `heartbeat.interval.ms`, Kafka's default 3000. */
  readonly heartbeatIntervalMs?: number;
  /** `retry.backoff.ms` / `retry.backoff.max.ms`: waits between failed attempts (exponential, with jitter). */
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
  readonly random?: () => number;
}

export type MembershipState =
  /** Not in the group: before the first join, after leaving or losing the membership. */
  | 'unjoined'
  /** Waiting for the coordinator and sending JoinGroup until it succeeds. */
  | 'joining'
  /** The leader: waiting for the consumer to compute the assignment. */
  | 'assigning'
  /** SyncGroup sent; waiting for this member's assignment. */
  | 'syncing'
  /** In the group with an assignment; heartbeating. */
  | 'stable'
  /** LeaveGroup sent (close). */
  | 'leaving'
  | 'closed'
  /** A fatal error ended the membership (see the `fatal` event). */
  | 'failed';

/** The requests the membership asks the driver to send. The driver reports each outcome with the matching `on*`. */
export type MembershipRequest =
  | {
      readonly kind: 'join-group';
      readonly coordinator: number;
      readonly groupId: string;
      readonly memberId: string;
      readonly groupInstanceId: string | null;
      readonly sessionTimeoutMs: number;
      readonly rebalanceTimeoutMs: number;
      /** Why this member (re)joins (JoinGroup v8+ `reason`). */
      readonly reason: string;
    }
  | {
      readonly kind: 'sync-group';
      readonly coordinator: number;
      readonly groupId: string;
      readonly generationId: number;
      readonly memberId: string;
      readonly groupInstanceId: string | null;
      readonly protocolName: string;
      /** Empty unless this member is the leader (and did not skip the assignment). */
      readonly assignments: readonly SyncGroupRequestAssignment[];
    }
  | {
      readonly kind: 'heartbeat';
      readonly coordinator: number;
      readonly groupId: string;
      readonly generationId: number;
      readonly memberId: string;
      readonly groupInstanceId: string | null;
    }
  | {
      readonly kind: 'leave-group';
      readonly coordinator: number;
      readonly groupId: string;
      readonly memberId: string;
      readonly groupInstanceId: string | null;
      readonly reason: string;
    };

/** What happened, for the consumer to act on (drained with `takeEvents`). */
export type MembershipEvent =
  /** This member leads the new generation: compute the assignment and call `completeLeaderAssignment`. */
  | {
      readonly type: 'assign-as-leader';
      readonly generationId: number;
      readonly protocolName: string;
      readonly members: readonly JoinGroupResponseMember[];
    }
  /** SyncGroup returned this member's assignment (ConsumerProtocolAssignment bytes) for `generationId`. */
  | {
      readonly type: 'assigned';
      readonly generationId: number;
      readonly memberId: string;
      readonly protocolName: string;
      readonly assignment: Uint8Array;
    }
  /** The group is rebalancing: prepare (an EAGER consumer revokes everything) and call `join`. */
  | { readonly type: 'rejoin-needed'; readonly reason: string }
  /** The generation is over without a clean hand-over: the partitions are lost. Call `join` to come back. */
  | { readonly type: 'lost'; readonly reason: string }
  /** The membership cannot go on (a configuration or authorization problem). */
  | { readonly type: 'fatal'; readonly error: Error }
  /** `leave` completed: the group no longer counts this member (or, static, will let its session expire). */
  | { readonly type: 'left' };

interface Generation {
  readonly generationId: number;
  readonly memberId: string;
  readonly protocolName: string;
}

/** JoinGroup / SyncGroup errors after which a new attempt (after rediscovering the coordinator) can succeed. */
const COORDINATOR_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
]);

/** Errors that end the membership for good: the same attempt would fail the same way. */
const FATAL_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
  ErrorCode.INVALID_GROUP_ID,
  ErrorCode.INVALID_SESSION_TIMEOUT,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.GROUP_MAX_SIZE_REACHED,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.UNSUPPORTED_VERSION,
]);

export class ClassicMembership {
  readonly groupId: string;
  readonly groupInstanceId: string | null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly #retryBackoffMs: number;
  readonly #retryBackoffMaxMs: number;
  readonly #random: () => number;
  readonly #coordinator: CoordinatorView;

  #state: MembershipState = 'unjoined';
  #events: MembershipEvent[] = [];
  #memberId = '';
  #generation: Generation | null = null;
  /** Set while a JoinGroup should be (re)sent, with the reason. */
  #joinReason: string | null = null;
  /** What the next SyncGroup carries (the leader's assignments, or none); null outside a rebalance. */
  #pendingAssignments: readonly SyncGroupRequestAssignment[] | null = null;
  #leaveReason: string | null = null;
  /** Where `leaving` ends: `closed` for close(), `unjoined` after a poll timeout (the consumer may join again). */
  #afterLeave: 'closed' | 'unjoined' = 'closed';

  #groupInFlight: MembershipRequest | null = null;
  #heartbeatInFlight: MembershipRequest | null = null;
  /** Consecutive failures, for the backoff of the next attempt, and when that attempt may start. */
  #joinFailures = 0;
  #joinNotBefore = 0;
  #heartbeatNotBefore = 0;
  /** When the last heartbeat was sent, and when a heartbeat (or the join) was last answered. */
  #lastHeartbeatSent = 0;
  #lastHeartbeatAnswered = 0;
  #lastPoll = 0;
  /** The application waits inside poll (for records): it is polling for as long as that lasts. */
  #pollWaiting = false;

  constructor(options: ClassicMembershipOptions) {
    this.groupId = options.groupId;
    this.groupInstanceId = options.groupInstanceId ?? null;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 45_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 300_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
    this.#retryBackoffMs = options.retryBackoffMs ?? 100;
    this.#retryBackoffMaxMs = options.retryBackoffMaxMs ?? 1_000;
    this.#random = options.random ?? Math.random;
    this.#coordinator = options.coordinator;
    if (this.heartbeatIntervalMs >= this.sessionTimeoutMs) {
      throw new RangeError(
        `heartbeat.interval.ms (${this.heartbeatIntervalMs}) must be lower than session.timeout.ms (${this.sessionTimeoutMs})`,
      );
    }
  }

  get state(): MembershipState {
    return this.#state;
  }

  /** The coordinator's node id, or null while it is unknown. */
  get coordinator(): number | null {
    return this.#coordinator.coordinator;
  }

  /** The member id the coordinator gave this member ('' before the first JoinGroup answered). */
  get memberId(): string {
    return this.#memberId;
  }

  /** The generation this member is in (after JoinGroup), or null. */
  get generation(): Generation | null {
    return this.#generation;
  }

  /** Events since the last call. */
  takeEvents(): MembershipEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  // ---- the consumer's calls ----------------------------------------------------------------------------------

  /** Join the group (the first poll), or rejoin after `rejoin-needed` / `lost` or a subscription change. */
  join(now: number, reason = 'the consumer joins the group'): void {
    if (this.#state === 'closed' || this.#state === 'failed' || this.#state === 'leaving') return;
    this.#lastPoll = now;
    if (this.#state === 'joining' && this.#joinReason !== null) return;
    this.#joinReason = reason;
    if (this.#state === 'unjoined' || this.#state === 'stable') this.#state = 'joining';
    // While assigning or syncing, the join starts again once this round ends (the round is stale).
  }

  /** The application polled: `max.poll.interval.ms` counts from now. */
  polled(now: number): void {
    this.#lastPoll = now;
  }

  /**
   * The application starts (true) or stops (false) waiting inside poll: while it waits there it is polling, so
   * `max.poll.interval.ms` does not run; it counts again from when the wait ends.
   */
  pollWaiting(now: number, waiting: boolean): void {
    this.#lastPoll = now;
    this.#pollWaiting = waiting;
  }

  /** The leader's assignment for the generation of the last `assign-as-leader` event. */
  completeLeaderAssignment(generationId: number, assignments: readonly SyncGroupRequestAssignment[]): void {
    if (this.#state !== 'assigning' || this.#generation?.generationId !== generationId) return;
    this.#pendingAssignments = assignments;
    this.#state = 'syncing';
  }

  /** The leader could not compute the assignment: try the rebalance again (after a backoff). */
  failLeaderAssignment(now: number, error: Error): void {
    if (this.#state !== 'assigning') return;
    this.#restartJoin(now, `the assignment failed: ${error.message}`, { backoff: true });
  }

  /**
   * Leave the group: LeaveGroup for a dynamic member in a generation, then `left`. Afterwards the membership is
   * `closed` (close), or `unjoined` (unsubscribe: it may join again).
   */
  leave(reason = 'the consumer is being closed', options: { ending?: 'closed' | 'unjoined' } = {}): void {
    if (this.#state === 'leaving') {
      this.#afterLeave = options.ending ?? 'closed';
      return;
    }
    if (this.#state === 'closed' || this.#state === 'failed') return;
    this.#afterLeave = options.ending ?? 'closed';
    const dynamicMember = this.groupInstanceId === null && this.#memberId !== '';
    this.#generation = null;
    this.#joinReason = null;
    this.#pendingAssignments = null;
    this.#groupInFlight = null;
    this.#heartbeatInFlight = null;
    // Kafka's consumer leaves only through a coordinator it knows; otherwise the session expires instead.
    if (dynamicMember && this.#coordinator.coordinator !== null) {
      this.#leaveReason = reason;
      this.#state = 'leaving';
    } else {
      this.#close();
    }
  }

  // ---- what to send, and when to run next ---------------------------------------------------------------------

  /** The requests to send now. Each returned request is in flight until its `on*` call. */
  poll(now: number): MembershipRequest[] {
    const requests: MembershipRequest[] = [];
    if (this.#state === 'closed' || this.#state === 'failed') return requests;
    this.#checkTimeouts(now);
    const coordinator = this.#coordinator.coordinator;
    this.#dropRequestsToOldCoordinator(coordinator);
    if (coordinator === null) {
      if (!this.#needsCoordinator()) return requests;
      const fatal = this.#coordinator.fatalError;
      if (fatal !== null) {
        this.#fail(fatal);
        return requests;
      }
      this.#coordinator.need();
      return requests;
    }
    if (this.#groupInFlight === null) {
      const request = this.#nextGroupRequest(coordinator, now);
      if (request !== null) {
        this.#groupInFlight = request;
        requests.push(request);
      }
    }
    if (this.#heartbeatInFlight === null && this.#heartbeating() && now >= this.#nextHeartbeatAt()) {
      const generation = this.#generation as Generation;
      this.#heartbeatInFlight = {
        kind: 'heartbeat',
        coordinator,
        groupId: this.groupId,
        generationId: generation.generationId,
        memberId: generation.memberId,
        groupInstanceId: this.groupInstanceId,
      };
      this.#lastHeartbeatSent = now;
      requests.push(this.#heartbeatInFlight);
    }
    return requests;
  }

  /** The latest time at which `poll` must run again (heartbeat due, a backoff ending, a timeout to check). */
  nextDeadline(now: number): number {
    if (this.#state === 'closed' || this.#state === 'failed') return Number.POSITIVE_INFINITY;
    let deadline = Number.POSITIVE_INFINITY;
    if (this.#state === 'joining' && this.#groupInFlight === null) {
      deadline = Math.min(deadline, Math.max(now, this.#joinNotBefore));
    }
    if (this.#heartbeating()) {
      if (this.#heartbeatInFlight === null) deadline = Math.min(deadline, Math.max(now, this.#nextHeartbeatAt()));
      deadline = Math.min(deadline, this.#lastHeartbeatAnswered + this.sessionTimeoutMs);
    }
    if (this.#generation !== null && !this.#pollWaiting) {
      deadline = Math.min(deadline, this.#lastPoll + this.rebalanceTimeoutMs);
    }
    return deadline;
  }

  // ---- outcomes -----------------------------------------------------------------------------------------------

  onJoinGroup(request: MembershipRequest, response: JoinGroupResponse, now: number): void {
    if (request !== this.#groupInFlight || request.kind !== 'join-group') return;
    this.#groupInFlight = null;
    const code = response.errorCode;
    if (code === ErrorCode.NONE) {
      this.#joinFailures = 0;
      this.#joinReason = null;
      this.#memberId = response.memberId;
      this.#generation = {
        generationId: response.generationId,
        memberId: response.memberId,
        protocolName: response.protocolName ?? '',
      };
      this.#lastHeartbeatAnswered = now;
      this.#heartbeatNotBefore = now + this.heartbeatIntervalMs;
      const leader = response.leader === response.memberId;
      if (leader && !response.skipAssignment) {
        this.#state = 'assigning';
        this.#events.push({
          type: 'assign-as-leader',
          generationId: response.generationId,
          protocolName: response.protocolName ?? '',
          members: response.members,
        });
      } else {
        this.#pendingAssignments = [];
        this.#state = 'syncing';
      }
      return;
    }
    if (code === ErrorCode.MEMBER_ID_REQUIRED) {
      // KIP-394: the broker named our member id; join again with it, at once.
      this.#memberId = response.memberId;
      return;
    }
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) {
      this.#memberId = '';
      this.#generation = null;
      return;
    }
    if (code === ErrorCode.REBALANCE_IN_PROGRESS) return;
    if (code === ErrorCode.ILLEGAL_GENERATION) {
      this.#generation = null;
      return;
    }
    this.#onGroupRequestError(code, 'JoinGroup', now);
  }

  onSyncGroup(request: MembershipRequest, response: SyncGroupResponse, now: number): void {
    if (request !== this.#groupInFlight || request.kind !== 'sync-group') return;
    this.#groupInFlight = null;
    const code = response.errorCode;
    if (code === ErrorCode.NONE) {
      const generation = this.#generation as Generation;
      this.#pendingAssignments = null;
      if (this.#joinReason !== null) {
        // A rejoin was asked for during this round: its assignment is already stale.
        this.#state = 'joining';
        return;
      }
      this.#state = 'stable';
      this.#lastHeartbeatAnswered = now;
      this.#events.push({
        type: 'assigned',
        generationId: generation.generationId,
        memberId: generation.memberId,
        protocolName: response.protocolName ?? generation.protocolName,
        assignment: response.assignment,
      });
      return;
    }
    if (code === ErrorCode.REBALANCE_IN_PROGRESS) {
      this.#restartJoin(now, 'the group started another rebalance during SyncGroup', { backoff: false });
      return;
    }
    if (code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.ILLEGAL_GENERATION) {
      if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.#memberId = '';
      this.#restartJoin(now, `SyncGroup failed with ${new KafkaError(code).errorName}`, { backoff: false });
      return;
    }
    this.#onGroupRequestError(code, 'SyncGroup', now);
  }

  onHeartbeat(request: MembershipRequest, errorCode: number, now: number): void {
    if (request !== this.#heartbeatInFlight || request.kind !== 'heartbeat') return;
    this.#heartbeatInFlight = null;
    const current = this.#generation;
    // An answer about a generation we have already left says nothing about the current one.
    if (current === null || current.generationId !== request.generationId) return;
    if (errorCode === ErrorCode.NONE) {
      this.#lastHeartbeatAnswered = now;
      this.#heartbeatNotBefore = this.#lastHeartbeatSent + this.heartbeatIntervalMs;
      return;
    }
    if (errorCode === ErrorCode.REBALANCE_IN_PROGRESS) {
      this.#lastHeartbeatAnswered = now;
      this.#heartbeatNotBefore = this.#lastHeartbeatSent + this.heartbeatIntervalMs;
      if (this.#state === 'stable' && this.#joinReason === null) {
        this.#events.push({ type: 'rejoin-needed', reason: 'the group is rebalancing' });
      }
      return;
    }
    if (errorCode === ErrorCode.UNKNOWN_MEMBER_ID || errorCode === ErrorCode.ILLEGAL_GENERATION) {
      if (errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.#memberId = '';
      this.#lose(`the heartbeat failed with ${new KafkaError(errorCode).errorName}`);
      return;
    }
    if (errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
      this.#heartbeatNotBefore = now + this.#backoff(0);
      return;
    }
    if (COORDINATOR_ERRORS.has(errorCode)) {
      this.#forgetCoordinator(`the heartbeat failed with ${new KafkaError(errorCode).errorName}`, now);
      return;
    }
    if (FATAL_ERRORS.has(errorCode)) {
      this.#fail(new KafkaError(errorCode, { context: `Heartbeat for group ${this.groupId}` }));
      return;
    }
    this.#heartbeatNotBefore = now + this.#backoff(0);
  }

  /**
   * LeaveGroup's outcome. Whatever the error code, this member is done: an unknown member has left already, and a
   * failed LeaveGroup only means that its session expires instead.
   */
  onLeaveGroup(request: MembershipRequest): void {
    if (request !== this.#groupInFlight || request.kind !== 'leave-group') return;
    this.#groupInFlight = null;
    this.#close();
  }

  /** A request could not be sent or answered (lost connection, timeout). */
  onRequestFailed(request: MembershipRequest, error: Error, now: number): void {
    if (request === this.#heartbeatInFlight) {
      this.#heartbeatInFlight = null;
      this.#forgetCoordinator(`the heartbeat failed: ${error.message}`, now);
      return;
    }
    if (request !== this.#groupInFlight) return;
    this.#groupInFlight = null;
    if (request.kind === 'leave-group') {
      this.#close();
      return;
    }
    this.#forgetCoordinator(
      `${request.kind === 'sync-group' ? 'SyncGroup' : 'JoinGroup'} failed: ${error.message}`,
      now,
    );
    if (request.kind === 'sync-group') {
      this.#restartJoin(now, `SyncGroup failed: ${error.message}`, { backoff: true });
    } else {
      this.#joinNotBefore = now + this.#backoff(this.#joinFailures++);
    }
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #needsCoordinator(): boolean {
    return (
      this.#state === 'joining' ||
      this.#state === 'assigning' ||
      this.#state === 'syncing' ||
      this.#state === 'stable' ||
      this.#state === 'leaving'
    );
  }

  #heartbeating(): boolean {
    return (
      this.#generation !== null &&
      this.#coordinator.coordinator !== null &&
      // Not while JoinGroup runs: the pending join keeps the member in the group, as in Kafka's consumer.
      (this.#state === 'stable' || this.#state === 'assigning' || this.#state === 'syncing')
    );
  }

  #nextHeartbeatAt(): number {
    return this.#heartbeatNotBefore;
  }

  #nextGroupRequest(coordinator: number, now: number): MembershipRequest | null {
    switch (this.#state) {
      case 'joining':
        if (now < this.#joinNotBefore) return null;
        return {
          kind: 'join-group',
          coordinator,
          groupId: this.groupId,
          memberId: this.#memberId,
          groupInstanceId: this.groupInstanceId,
          sessionTimeoutMs: this.sessionTimeoutMs,
          rebalanceTimeoutMs: this.rebalanceTimeoutMs,
          reason: this.#joinReason ?? 'rejoining',
        };
      case 'syncing': {
        const generation = this.#generation as Generation;
        return {
          kind: 'sync-group',
          coordinator,
          groupId: this.groupId,
          generationId: generation.generationId,
          memberId: generation.memberId,
          groupInstanceId: this.groupInstanceId,
          protocolName: generation.protocolName,
          assignments: this.#pendingAssignments ?? [],
        };
      }
      case 'leaving':
        return {
          kind: 'leave-group',
          coordinator,
          groupId: this.groupId,
          memberId: this.#memberId,
          groupInstanceId: this.groupInstanceId,
          reason: this.#leaveReason ?? 'the consumer is leaving the group',
        };
      default:
        return null;
    }
  }

  #checkTimeouts(now: number): void {
    if (this.#heartbeating() && now - this.#lastHeartbeatAnswered >= this.sessionTimeoutMs) {
      // Kafka's consumer: the session timed out without a heartbeat answer; find the coordinator again.
      this.#lastHeartbeatAnswered = now;
      this.#forgetCoordinator(`no heartbeat was answered for session.timeout.ms (${this.sessionTimeoutMs} ms)`, now);
    }
    const pollExpired = !this.#pollWaiting && now - this.#lastPoll >= this.rebalanceTimeoutMs;
    if (this.#generation !== null && this.#state !== 'leaving' && pollExpired) {
      const reason = `the application did not poll for max.poll.interval.ms (${this.rebalanceTimeoutMs} ms)`;
      const dynamicMember =
        this.groupInstanceId === null && this.#memberId !== '' && this.#coordinator.coordinator !== null;
      const memberId = this.#memberId;
      this.#lose(reason);
      if (dynamicMember) {
        // Leave, so the group rebalances now rather than after the session timeout; the member id goes with it.
        this.#memberId = memberId;
        this.#leaveReason = reason;
        this.#state = 'leaving';
        this.#afterLeave = 'unjoined';
      }
    }
  }

  #onGroupRequestError(code: number, api: string, now: number): void {
    if (code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
      this.#joinNotBefore = now + this.#backoff(this.#joinFailures++);
      if (this.#state === 'syncing') this.#restartJoin(now, `${api}: the coordinator is loading`, { backoff: true });
      return;
    }
    if (COORDINATOR_ERRORS.has(code)) {
      this.#forgetCoordinator(`${api} failed with ${new KafkaError(code).errorName}`, now);
      if (this.#state === 'syncing') this.#restartJoin(now, `${api}: the coordinator moved`, { backoff: false });
      return;
    }
    if (FATAL_ERRORS.has(code)) {
      this.#fail(new KafkaError(code, { context: `${api} for group ${this.groupId}` }));
      return;
    }
    // Unknown or unexpected: try again after a backoff rather than give up on the group.
    this.#restartJoin(now, `${api} failed with ${new KafkaError(code).errorName}`, { backoff: true });
  }

  #restartJoin(now: number, reason: string, options: { backoff: boolean }): void {
    this.#pendingAssignments = null;
    this.#joinReason = reason;
    this.#state = 'joining';
    if (options.backoff) this.#joinNotBefore = now + this.#backoff(this.#joinFailures++);
  }

  #lose(reason: string): void {
    this.#generation = null;
    this.#pendingAssignments = null;
    this.#joinReason = null;
    this.#heartbeatInFlight = null;
    if (this.#state !== 'leaving') this.#state = 'unjoined';
    this.#events.push({ type: 'lost', reason });
  }

  #forgetCoordinator(reason: string, now: number): void {
    this.#coordinator.markUnknown(reason, now);
    // The requests in flight to it are dropped: their answers, if they come, are ignored.
    this.#groupInFlight = null;
    this.#heartbeatInFlight = null;
  }

  /** Someone (a commit, another request) found the coordinator moved: what is in flight to the old one is dropped. */
  #dropRequestsToOldCoordinator(coordinator: number | null): void {
    if (this.#heartbeatInFlight !== null && this.#heartbeatInFlight.coordinator !== coordinator) {
      this.#heartbeatInFlight = null;
    }
    const group = this.#groupInFlight;
    if (group === null || group.coordinator === coordinator) return;
    this.#groupInFlight = null;
    // A LeaveGroup that cannot reach its coordinator is as good as sent: the session expires instead.
    if (group.kind === 'leave-group') this.#close();
  }

  #fail(error: Error): void {
    this.#state = 'failed';
    this.#generation = null;
    this.#groupInFlight = null;
    this.#heartbeatInFlight = null;
    this.#events.push({ type: 'fatal', error });
  }

  #close(): void {
    const next = this.#afterLeave;
    this.#afterLeave = 'closed';
    this.#state = next;
    this.#memberId = next === 'closed' ? this.#memberId : '';
    this.#events.push({ type: 'left' });
  }

  #backoff(failures: number): number {
    return backoffMs(failures, {
      initialMs: this.#retryBackoffMs,
      maxMs: this.#retryBackoffMaxMs,
      random: this.#random,
    });
  }
}
