/**
 * Membership of one consumer in a KIP-848 consumer group (`group.protocol=consumer`): one request,
 * ConsumerGroupHeartbeat, carries the subscription and the partitions the member owns, and its answer carries the
 * member epoch and, when it changed, the member's target assignment, computed by the broker (`group.remote.assignor`).
 * It does no I/O and keeps no timer: the client loop asks it what to send and when (the loop's clock), and it turns
 * what the broker decides into rebalance steps that the application runs inside `poll()`.
 *
 * The rules follow Kafka's consumer (ConsumerMembershipManager, ConsumerHeartbeatRequestManager, KIP-848, KIP-1082):
 * - Joining: the first poll after `subscribe` sends a heartbeat with member epoch 0 and every field (subscription,
 *   rebalance timeout, rack, assignor, instance id, no owned partitions). From version 1 the member id is the
 *   client's own (a random UUID, kept for the consumer's life); version 0 takes the one the broker gives.
 * - Heartbeats go out at the interval the broker gives, at once when the member joins, acknowledges an assignment,
 *   leaves, or its subscription changed, and one at a time. They carry only the fields that changed since the last
 *   one that was answered; after any error (a lost connection, a coordinator error) the next one carries them all.
 * - Reconciliation, one target at a time: the target's topic ids are resolved through metadata (partitions of a
 *   topic not yet in metadata wait for it, and a metadata update is asked for); the partitions that leave are
 *   revoked first (a step: the commit before revocation and `onPartitionsRevoked`), then the assignment changes and
 *   `onPartitionsAssigned` hears of what was added (a step); then the next heartbeat acknowledges what the member
 *   owns now. A target that arrives meanwhile is reconciled after that acknowledgement.
 * - FENCED_MEMBER_EPOCH and UNKNOWN_MEMBER_ID: the partitions are lost (`onPartitionsLost`, nothing committed) and
 *   the member joins again with epoch 0 and the same member id. The application not polling for
 *   `max.poll.interval.ms` does the same (the member leaves, and comes back at its next poll).
 * - Errors that no retry fixes end the membership (`fatalError`, thrown from every poll): UNRELEASED_INSTANCE_ID,
 *   FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION, GROUP_ID_NOT_FOUND,
 *   INVALID_REQUEST, GROUP_AUTHORIZATION_FAILED, and a broker without the protocol (GroupProtocolUnsupportedError).
 * - Leaving (close, unsubscribe): a heartbeat with epoch -1, or -2 for a static member (`group.instance.id`), whose
 *   assignment the broker then keeps for the session timeout so that a restart gets it back.
 */
import { randomBytes } from 'node:crypto';
import { backoffMs, type ClusterMetadata, ErrorCode, KafkaError, UnsupportedVersionError } from '@sluice/net';
import {
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatRequestTopicPartitions,
  type ConsumerGroupHeartbeatResponse,
  consumerGroupHeartbeatApi,
  defaultConsumerGroupHeartbeatRequest,
  type Uuid,
  uuidFromBytes,
} from '@sluice/protocol';
import {
  type ManagerPoll,
  type SubscriptionState,
  type TopicPartition,
  TopicPartitionSet,
  type UnsentRequest,
  unsent,
} from '@sluice/runtime';
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

/** The broker speaks no KIP-848 consumer group protocol: the group needs `group.protocol=classic`. */
export class GroupProtocolUnsupportedError extends Error {
  override name = 'GroupProtocolUnsupportedError';
  readonly retriable = false;
}

export interface ConsumerMembershipOptions {
  /** `group.id`. */
  readonly groupId: string;
  /** `group.instance.id` (static membership), or null. */
  readonly groupInstanceId: string | null;
  readonly coordinator: CoordinatorView;
  readonly subscriptions: SubscriptionState;
  readonly metadata: Pick<ClusterMetadata, 'snapshot' | 'requestUpdate'>;
  /** `group.remote.assignor`: the broker's assignor by name (`uniform`, `range`), or null for the broker's default. */
  readonly remoteAssignor: string | null;
  /** `client.rack`. */
  readonly rackId: string | null;
  /** `max.poll.interval.ms`: the rebalance timeout, and how long the application may go without polling. */
  readonly rebalanceTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  /** Errors that do not end the membership (TOPIC_AUTHORIZATION_FAILED): reported, and heartbeats go on. */
  readonly onError?: (error: Error) => void;
  readonly random?: () => number;
  /** The member id this client gives itself (heartbeat v1+); a random UUID by default. */
  readonly memberId?: string;
}

export type ConsumerMemberState =
  /** Not in the group: before the first join, after leaving. */
  | 'unsubscribed'
  /** Heartbeating with epoch 0 until the broker answers with an epoch and a target assignment. */
  | 'joining'
  /** A target assignment differs from what the member owns: steps wait for the application. */
  | 'reconciling'
  /** The member reconciled: the next heartbeat tells the broker what it owns now. */
  | 'acknowledging'
  | 'stable'
  /** The broker fenced the member: its partitions are lost (a step), then it joins again. */
  | 'fenced'
  /** The application did not poll for max.poll.interval.ms: the member left; its next poll joins again. */
  | 'stale'
  /** The leave heartbeat (epoch -1 or -2) is on its way. */
  | 'leaving'
  | 'closed'
  /** A fatal error ended the membership. */
  | 'fatal';

/** Member epochs of a leave heartbeat: a dynamic member leaves the group, a static one only goes away for now. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;

/** Heartbeat errors after which the coordinator is looked up again. */
const COORDINATOR_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);

/** Heartbeat errors that end the generation without a hand-over: the partitions are lost, the member rejoins. */
const FENCED_ERRORS: ReadonlySet<number> = new Set([ErrorCode.FENCED_MEMBER_EPOCH, ErrorCode.UNKNOWN_MEMBER_ID]);

/** A target assignment by topic id, each topic's partitions sorted. */
type Assignment = ReadonlyMap<Uuid, readonly number[]>;

interface Reconciliation {
  /** The assignment after this reconciliation, by topic id (the target's resolved part). */
  readonly owned: Assignment;
  /** The same by topic name. */
  readonly partitions: readonly TopicPartition[];
  readonly revoked: readonly TopicPartition[];
  readonly added: readonly TopicPartition[];
  revokedDone: boolean;
}

interface SentFields {
  names: string | null;
  regex: string | null;
  owned: string | null;
}

export class ConsumerMembership implements Membership {
  readonly groupId: string;
  readonly groupInstanceId: string | null;
  readonly #options: ConsumerMembershipOptions;
  readonly #subscriptions: SubscriptionState;
  readonly #random: () => number;
  /** The id this client gives itself (v1+); v0 uses the broker's. */
  readonly #ownMemberId: string;

  #state: ConsumerMemberState = 'unsubscribed';
  #memberId = '';
  #memberEpoch = 0;
  #heartbeatIntervalMs = 0;
  #nextHeartbeatAt = 0;
  /** The heartbeat in flight (its answer is matched to it; a superseded one's answer is ignored). */
  #inFlight: object | null = null;
  #failures = 0;
  #notBefore = 0;
  /** The next heartbeat carries every field (joining, after an error). */
  #sendAll = true;
  /** What the last answered heartbeat carried, to send only what changed. */
  #sent: SentFields = { names: null, regex: null, owned: null };
  /** The latest target assignment the broker gave. */
  #target: Assignment | null = null;
  /** What the member owns, by topic id (what it reports). */
  #owned: Assignment = new Map();
  /** Names of topic ids met in metadata (a topic deleted since keeps its name here for the revocation). */
  readonly #topicNames = new Map<Uuid, string>();
  #reconciliation: Reconciliation | null = null;
  #outstanding: RebalanceStep | null = null;
  #nextStepId = 1;
  #lossPending = false;
  /** Join at the application's next poll. */
  #joinOnPoll = false;
  /** The application polled since `#joinOnPoll`: the member joins as soon as it can (a pattern waits for metadata). */
  #joinArmed = false;
  #lastPoll = 0;
  readonly #pollWait = new PollWait();
  #fatal: Error | null = null;
  #leaving = false;
  #left = false;
  #leaveEnding: 'closed' | 'unjoined' = 'closed';
  /** The leave heartbeat is still to be sent. */
  #leaveToSend = false;
  /** The leave on its way is the one of a poll timeout: the member ends stale, not left. */
  #staleLeave = false;
  /** A pattern subscription joins once a snapshot this recent was matched against it. */
  #patternSince = Number.POSITIVE_INFINITY;
  #patternMatched = false;
  #lastSnapshot: unknown = null;
  /** Target topic ids the metadata did not name, asked for once per target. */
  #unresolvedAsked: Assignment | null = null;

  constructor(options: ConsumerMembershipOptions) {
    this.groupId = options.groupId;
    this.groupInstanceId = options.groupInstanceId;
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.#random = options.random ?? Math.random;
    this.#ownMemberId = options.memberId ?? randomMemberId();
  }

  get state(): ConsumerMemberState {
    return this.#state;
  }

  get memberId(): string {
    return this.#memberId;
  }

  get memberEpoch(): number {
    return this.#memberEpoch;
  }

  get fatalError(): Error | null {
    return this.#fatal;
  }

  get left(): boolean {
    return this.#left;
  }

  get stepPending(): boolean {
    const plan = this.#plan();
    return plan !== null;
  }

  // ---- the application side's calls ---------------------------------------------------------------------------

  subscriptionChanged(now: number): void {
    if (this.#subscriptions.type === 'pattern') {
      this.#patternSince = now;
      this.#patternMatched = false;
    }
    if (this.#leaving || this.#fatal !== null) return;
    if (this.#state === 'unsubscribed') this.#joinOnPoll = true;
  }

  onPoll(now: number): void {
    this.#lastPoll = now;
    if (this.#fatal !== null || this.#leaving) return;
    if (this.#state === 'unsubscribed' && this.#joinOnPoll) {
      this.#joinArmed = true;
      if (this.#canJoin()) this.#join();
    } else if (this.#state === 'stale' && !this.#lossPending) this.#join();
  }

  beginPollWait(now: number): number {
    this.#lastPoll = now;
    return this.#pollWait.begin();
  }

  endPollWait(now: number, token?: number): void {
    if (this.#pollWait.end(token)) this.#lastPoll = now;
  }

  /** Kafka's consumer ignores `enforceRebalance` under the consumer protocol: the broker decides when to rebalance. */
  enforceRebalance(_reason: string): void {}

  commitPermission(): CommitPermission {
    if (this.#fatal !== null) {
      return { kind: 'not-member', reason: `the membership failed: ${this.#fatal.message}` };
    }
    switch (this.#state) {
      case 'reconciling':
      case 'acknowledging':
      case 'stable':
        return {
          kind: 'allowed',
          identity: {
            generationIdOrMemberEpoch: this.#memberEpoch,
            memberId: this.#memberId,
            groupInstanceId: this.groupInstanceId,
          },
        };
      case 'joining':
        return { kind: 'rebalancing' };
      default:
        return {
          kind: 'not-member',
          reason: 'the consumer is not part of an active group (it was fenced or left it, or has not joined yet)',
        };
    }
  }

  groupMetadata(): ConsumerGroupMetadata {
    const inGroup = this.#memberEpoch > 0;
    return {
      groupId: this.groupId,
      generationId: inGroup ? this.#memberEpoch : -1,
      memberId: this.#memberId,
      groupInstanceId: this.groupInstanceId,
    };
  }

  takeStep(_now: number): RebalanceStep | null {
    const plan = this.#plan();
    switch (plan) {
      case null:
        return null;
      case 'lose':
        return this.#take({
          id: this.#nextStepId++,
          kind: 'lose',
          partitions: this.#subscriptions.assignedPartitions(),
        });
      case 'revoke':
        return this.#take({
          id: this.#nextStepId++,
          kind: 'revoke',
          partitions: this.#reconciliation!.revoked,
          notifyEmpty: false,
        });
      case 'assign': {
        const reconciliation = this.#reconciliation!;
        this.#subscriptions.assignFromSubscribed(reconciliation.partitions);
        return this.#take({ id: this.#nextStepId++, kind: 'assign', partitions: reconciliation.added });
      }
    }
  }

  completeStep(step: RebalanceStep, now: number): void {
    if (this.#outstanding?.id !== step.id) return;
    this.#outstanding = null;
    if (this.#leaving) return;
    switch (step.kind) {
      case 'lose':
        this.#subscriptions.assignFromSubscribed([]);
        this.#owned = new Map();
        this.#lossPending = false;
        this.#reconciliation = null;
        if (this.#state === 'fenced') this.#join();
        // A stale member joins at its next poll (this step ran inside one).
        else if (this.#state === 'stale') this.#join();
        break;
      case 'revoke': {
        const reconciliation = this.#reconciliation;
        if (reconciliation !== null && reconciliation.revoked === step.partitions) {
          reconciliation.revokedDone = true;
          removeFromAssignment(this.#subscriptions, step.partitions);
          // What the member owns without them: the broker may hand them on once it hears of it.
          this.#owned = withoutPartitions(this.#owned, step.partitions, this.#topicNames);
        } else {
          removeFromAssignment(this.#subscriptions, step.partitions);
        }
        break;
      }
      case 'assign':
        // What heartbeats report changes once the listener has run, as in Kafka's consumer.
        if (this.#reconciliation !== null) this.#owned = this.#reconciliation.owned;
        this.#reconciliation = null;
        if (this.#state === 'reconciling') {
          this.#state = 'acknowledging';
          this.#nextHeartbeatAt = now;
        }
        break;
    }
  }

  beginLeave(): RebalanceStep {
    this.#leaving = true;
    this.#reconciliation = null;
    this.#outstanding = null;
    const assigned = this.#subscriptions.assignedPartitions();
    const lost = this.#lossPending || this.#state === 'fenced' || this.#state === 'stale' || this.#memberEpoch <= 0;
    this.#lossPending = false;
    return leaveStep(this.#nextStepId++, assigned, lost);
  }

  leave(_reason: string, options: { ending: 'closed' | 'unjoined' }): void {
    this.#leaving = true;
    this.#reconciliation = null;
    this.#outstanding = null;
    this.#target = null;
    this.#joinOnPoll = false;
    this.#joinArmed = false;
    this.#staleLeave = false;
    this.#leaveEnding = options.ending;
    const inGroup = this.#state === 'joining' || this.#memberEpoch > 0;
    if (this.#fatal !== null || !inGroup || this.#state === 'stale' || this.#memberId === '') {
      // Nothing to tell the broker: never joined, left already (stale), or it cannot be told (fatal).
      this.#finishLeave();
      return;
    }
    this.#left = false;
    this.#state = 'leaving';
    this.#leaveToSend = true;
    // The leave supersedes a heartbeat in flight.
    this.#inFlight = null;
    this.#notBefore = 0;
  }

  resetAfterLeave(): void {
    this.#leaving = false;
    this.#left = false;
  }

  // ---- the loop's calls -----------------------------------------------------------------------------------------

  topicsOfInterest(): Iterable<string> {
    return [];
  }

  poll(now: number): ManagerPoll {
    if (this.#fatal !== null) return { requests: [], nextPollAt: Number.POSITIVE_INFINITY };
    this.#watchMetadata();
    if (this.#state === 'unsubscribed' && this.#joinArmed && !this.#leaving && this.#canJoin()) this.#join();
    this.#checkPollInterval(now);
    // Reconciling starts here, so that what the target takes away stops fetching before the application polls.
    if (this.#state === 'reconciling' && this.#reconciliation === null && !this.#leaving) this.#startReconciliation();
    if (!this.#heartbeating()) return { requests: [], nextPollAt: this.#pollDeadline() };
    const coordinatorView = this.#options.coordinator;
    const coordinator = coordinatorView.coordinator;
    if (coordinator === null) {
      if (coordinatorView.fatalError !== null) {
        if (this.#leaving) this.#finishLeave();
        else this.#fail(coordinatorView.fatalError);
        return { requests: [], nextPollAt: Number.POSITIVE_INFINITY };
      }
      coordinatorView.need();
      return { requests: [], nextPollAt: this.#pollDeadline() };
    }
    if (this.#inFlight !== null) return { requests: [], nextPollAt: this.#pollDeadline() };
    if (now < this.#notBefore) return { requests: [], nextPollAt: Math.min(this.#notBefore, this.#pollDeadline()) };
    const due = this.#heartbeatDue(now);
    if (due > now) return { requests: [], nextPollAt: Math.min(due, this.#pollDeadline()) };
    return { requests: [this.#heartbeat(coordinator)], nextPollAt: this.#pollDeadline() };
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #take(step: RebalanceStep): RebalanceStep {
    this.#outstanding = step;
    return step;
  }

  /**
   * What the application's next `takeStep` does: lose the partitions (fenced, stale), revoke what the target takes
   * away, or apply the target. Starts a reconciliation when a target waits and none is on.
   */
  #plan(): 'lose' | 'revoke' | 'assign' | null {
    if (this.#outstanding !== null || this.#leaving || this.#fatal !== null) return null;
    if (this.#lossPending) return 'lose';
    if (this.#reconciliation === null && this.#state === 'reconciling') this.#startReconciliation();
    const reconciliation = this.#reconciliation;
    if (reconciliation === null) return null;
    return reconciliation.revoked.length > 0 && !reconciliation.revokedDone ? 'revoke' : 'assign';
  }

  #canJoin(): boolean {
    if (!this.#subscriptions.hasAutoAssignedPartitions) return false;
    return this.#subscriptions.type !== 'pattern' || this.#patternMatched;
  }

  /** Joins (or rejoins) with epoch 0: the next heartbeat goes out at once with every field. */
  #join(): void {
    this.#state = 'joining';
    this.#joinOnPoll = false;
    this.#joinArmed = false;
    this.#memberEpoch = 0;
    this.#target = null;
    this.#reconciliation = null;
    this.#unresolvedAsked = null;
    this.#sendAll = true;
    this.#nextHeartbeatAt = 0;
  }

  #heartbeating(): boolean {
    switch (this.#state) {
      case 'joining':
      case 'reconciling':
      case 'acknowledging':
      case 'stable':
        return true;
      case 'leaving':
        return this.#leaveToSend || this.#inFlight !== null;
      default:
        return false;
    }
  }

  /** When the next heartbeat is due: now for a join, an acknowledgement, a leave or a new subscription. */
  #heartbeatDue(now: number): number {
    if (this.#state === 'joining' || this.#state === 'acknowledging' || this.#state === 'leaving') return now;
    if (this.#sendAll) return now;
    if (this.#namesKey() !== this.#sent.names) return now;
    const regex = this.#regexToSend();
    if (regex !== null && regex !== this.#sent.regex) return now;
    return this.#nextHeartbeatAt;
  }

  /** When the application's max.poll.interval.ms runs out (it is not counted while it waits inside poll). */
  #pollDeadline(): number {
    if (!this.#inGroup() || this.#pollWait.waiting) return Number.POSITIVE_INFINITY;
    return this.#lastPoll + this.#options.rebalanceTimeoutMs;
  }

  #inGroup(): boolean {
    const state = this.#state;
    return state === 'joining' || state === 'reconciling' || state === 'acknowledging' || state === 'stable';
  }

  /** The application did not poll for max.poll.interval.ms: the member leaves, and rejoins at its next poll. */
  #checkPollInterval(now: number): void {
    if (now < this.#pollDeadline()) return;
    this.#state = 'stale';
    this.#reconciliation = null;
    this.#target = null;
    if (this.#subscriptions.assignedCount > 0) {
      this.#subscriptions.markPendingRevocation(this.#subscriptions.assignedPartitions());
      this.#lossPending = true;
    }
    // The leave goes out without waiting for its answer; the member is out of the group either way.
    if (this.#memberId !== '' && this.#options.coordinator.coordinator !== null) {
      this.#leaveToSend = true;
      this.#state = 'leaving';
      this.#staleLeave = true;
    }
  }

  /**
   * The names the subscription sends (what it matched, for a pattern; none for a coordinator-side regular
   * expression), as a comparable key.
   */
  #namesKey(): string {
    if (this.#subscriptions.type === 'regex') return '';
    return [...this.#subscriptions.subscription].sort().join('\u0000');
  }

  /** The coordinator-side regular expression to send: the subscription's, '' to drop one sent before, or null. */
  #regexToSend(): string | null {
    const regex = this.#subscriptions.regex;
    if (regex !== null) return regex;
    return this.#sent.regex !== null && this.#sent.regex !== '' ? '' : null;
  }

  #heartbeat(coordinator: number): UnsentRequest {
    const token = {};
    this.#inFlight = token;
    const leaving = this.#state === 'leaving';
    if (leaving) this.#leaveToSend = false;
    const namesKey = this.#namesKey();
    const ownedKey = assignmentKey(this.#owned);
    const regex = this.#regexToSend();
    const sendAll = this.#sendAll;
    const fields: SentFields = { names: namesKey, regex: regex ?? this.#sent.regex, owned: ownedKey };
    const options = this.#options;
    return unsent({
      target: { nodeId: coordinator },
      api: consumerGroupHeartbeatApi,
      timeoutMs: options.requestTimeoutMs,
      build: (version): ConsumerGroupHeartbeatRequest => {
        const memberId = version >= 1 ? this.#ownMemberId : this.#memberId;
        if (version >= 1 && this.#memberId === '') this.#memberId = memberId;
        if (leaving) {
          return {
            ...defaultConsumerGroupHeartbeatRequest(),
            groupId: this.groupId,
            memberId,
            memberEpoch: this.groupInstanceId === null ? LEAVE_GROUP_MEMBER_EPOCH : LEAVE_GROUP_STATIC_MEMBER_EPOCH,
            instanceId: this.groupInstanceId,
          };
        }
        const joining = this.#memberEpoch === 0;
        const all = sendAll || joining;
        const byRegex = this.#subscriptions.type === 'regex';
        if (byRegex && version < 1) {
          throw unsupported(
            `a subscription to a SubscriptionPattern (a regular expression the coordinator resolves) needs ConsumerGroupHeartbeat v1 (Kafka 4.0), and the broker speaks v${version}`,
          );
        }
        const regexField = version >= 1 && regex !== null && (all || regex !== this.#sent.regex) ? regex : null;
        return {
          ...defaultConsumerGroupHeartbeatRequest(),
          groupId: this.groupId,
          memberId,
          memberEpoch: this.#memberEpoch,
          instanceId: this.groupInstanceId,
          rackId: all ? options.rackId : null,
          rebalanceTimeoutMs: all ? options.rebalanceTimeoutMs : -1,
          subscribedTopicNames:
            all || namesKey !== this.#sent.names ? (byRegex ? [] : [...this.#subscriptions.subscription].sort()) : null,
          subscribedTopicRegex: regexField,
          serverAssignor: all ? options.remoteAssignor : null,
          topicPartitions: all || ownedKey !== this.#sent.owned ? topicPartitions(this.#owned) : null,
        };
      },
      onResponse: (response, { now: at }) => {
        if (this.#inFlight !== token) return;
        this.#inFlight = null;
        if (leaving) {
          this.#finishLeave();
          return;
        }
        this.#onHeartbeat(response, fields, at);
      },
      onFailure: (error, at) => {
        if (this.#inFlight !== token) return;
        this.#inFlight = null;
        if (leaving) {
          this.#finishLeave();
          return;
        }
        if (error instanceof UnsupportedVersionError) {
          this.#fail(unsupported(`the broker does not speak ConsumerGroupHeartbeat (${error.message})`));
          return;
        }
        if ((error as { retriable?: boolean }).retriable !== true) {
          // A refused login, an untrusted certificate: no retry fixes it.
          this.#fail(error);
          return;
        }
        this.#options.coordinator.markUnknown(error.message, at);
        this.#retryLater(at);
      },
    });
  }

  #retryLater(now: number): void {
    this.#sendAll = true;
    this.#notBefore =
      now +
      backoffMs(this.#failures++, {
        initialMs: this.#options.retryBackoffMs,
        maxMs: this.#options.retryBackoffMaxMs,
        random: this.#random,
      });
  }

  #onHeartbeat(response: ConsumerGroupHeartbeatResponse, fields: SentFields, now: number): void {
    const code = response.errorCode;
    if (code !== 0) {
      this.#onHeartbeatError(code, response.errorMessage, now);
      return;
    }
    this.#failures = 0;
    this.#notBefore = 0;
    this.#sendAll = false;
    this.#sent = fields;
    if (response.memberId !== null && response.memberId !== '') this.#memberId = response.memberId;
    this.#memberEpoch = response.memberEpoch;
    if (response.heartbeatIntervalMs > 0) this.#heartbeatIntervalMs = response.heartbeatIntervalMs;
    this.#nextHeartbeatAt = now + this.#heartbeatIntervalMs;
    if (!this.#inGroup()) return;
    if (response.assignment !== null) {
      this.#target = toAssignment(response.assignment.topicPartitions);
      this.#unresolvedAsked = null;
    }
    const target = this.#target;
    if (this.#reconciliation !== null || target === null) return;
    // An answer to a heartbeat sent before the last reconciliation completed does not acknowledge it.
    if (this.#state === 'acknowledging' && fields.owned !== assignmentKey(this.#owned)) return;
    if (this.#state === 'stable' && response.assignment === null) return;
    this.#state = sameAssignment(target, this.#owned) ? 'stable' : 'reconciling';
    if (this.#state === 'reconciling' && !this.#leaving && this.#outstanding === null) this.#startReconciliation();
  }

  #onHeartbeatError(code: number, brokerMessage: string | null, now: number): void {
    const error = new KafkaError(code, {
      context: `ConsumerGroupHeartbeat of group ${this.groupId}`,
      brokerMessage,
    });
    if (COORDINATOR_ERRORS.has(code)) {
      this.#options.coordinator.markUnknown(error.message, now);
      this.#retryLater(now);
      return;
    }
    if (code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
      this.#retryLater(now);
      return;
    }
    if (FENCED_ERRORS.has(code)) {
      this.#fence();
      return;
    }
    if (code === ErrorCode.TOPIC_AUTHORIZATION_FAILED) {
      this.#options.onError?.(error);
      this.#retryLater(now);
      return;
    }
    if (code === ErrorCode.UNSUPPORTED_VERSION) {
      this.#fail(
        unsupported(
          `the group coordinator refused the consumer group protocol${brokerMessage ? ` (${brokerMessage})` : ''}`,
        ),
      );
      return;
    }
    this.#fail(error);
  }

  /** The broker no longer knows this member at its epoch: the partitions are lost, then the member rejoins. */
  #fence(): void {
    this.#reconciliation = null;
    this.#target = null;
    this.#memberEpoch = 0;
    this.#sendAll = true;
    if (this.#subscriptions.assignedCount === 0 && this.#outstanding === null) {
      this.#owned = new Map();
      this.#join();
      return;
    }
    this.#state = 'fenced';
    this.#subscriptions.markPendingRevocation(this.#subscriptions.assignedPartitions());
    this.#lossPending = true;
  }

  #fail(error: Error): void {
    this.#fatal = error;
    this.#state = 'fatal';
    this.#reconciliation = null;
    this.#inFlight = null;
    if (this.#leaving) this.#left = true;
  }

  #finishLeave(): void {
    this.#memberEpoch = 0;
    this.#owned = new Map();
    this.#target = null;
    this.#sendAll = true;
    this.#sent = { names: null, regex: null, owned: null };
    this.#inFlight = null;
    if (this.#staleLeave) {
      // Left on a poll timeout: the member is stale until the application polls again.
      this.#staleLeave = false;
      this.#state = 'stale';
      return;
    }
    if (this.#fatal === null) this.#state = this.#leaveEnding === 'closed' ? 'closed' : 'unsubscribed';
    this.#left = true;
  }

  /** Resolves the target's topic ids and plans the steps from the current assignment to it. */
  #startReconciliation(): void {
    const target = this.#target;
    if (target === null) return;
    const snapshot = this.#options.metadata.snapshot;
    if (snapshot !== null) for (const [id, name] of snapshot.topicNamesById) this.#topicNames.set(id, name);
    const resolved = new Map<Uuid, readonly number[]>();
    let unresolved = false;
    for (const [id, partitions] of target) {
      if (this.#topicNames.has(id) && (snapshot === null || snapshot.topicNamesById.has(id))) {
        resolved.set(id, partitions);
      } else {
        unresolved = true;
      }
    }
    if (unresolved && this.#unresolvedAsked !== target) {
      // The metadata names these topics from a later update; the loop reconciles again when it arrives.
      this.#unresolvedAsked = target;
      this.#options.metadata.requestUpdate();
    }
    if (sameAssignment(resolved, this.#owned)) {
      if (!unresolved) this.#state = 'stable';
      return;
    }
    const partitions = toPartitions(resolved, this.#topicNames);
    const next = new TopicPartitionSet(partitions);
    const assigned = this.#subscriptions.assignedPartitions();
    const before = new TopicPartitionSet(assigned);
    const revoked = assigned.filter((tp) => !next.has(tp));
    const added = partitions.filter((tp) => !before.has(tp));
    this.#subscriptions.markPendingRevocation(revoked);
    this.#reconciliation = { owned: resolved, partitions, revoked, added, revokedDone: false };
  }

  /** Pattern subscriptions match new metadata; a reconciliation waiting for topic names may go on. */
  #watchMetadata(): void {
    const snapshot = this.#options.metadata.snapshot;
    if (snapshot === null || snapshot === this.#lastSnapshot) return;
    this.#lastSnapshot = snapshot;
    if (this.#subscriptions.type === 'pattern' && snapshot.updatedAt >= this.#patternSince) {
      this.#subscriptions.matchPattern(snapshot.topics.values());
      this.#patternMatched = true;
    }
    const target = this.#target;
    if (this.#state === 'stable' && target !== null && !sameAssignment(target, this.#owned)) {
      // Topics that were unknown when the target came may be named now.
      this.#state = 'reconciling';
    }
  }
}

/** A member id as Kafka's consumer makes one (KIP-1082): a random UUID, never starting with '-'. */
function randomMemberId(): string {
  for (;;) {
    const id = uuidFromBytes(randomBytes(16));
    if (!id.startsWith('-')) return id;
  }
}

function unsupported(detail: string): GroupProtocolUnsupportedError {
  return new GroupProtocolUnsupportedError(
    `group.protocol=consumer needs a broker with the KIP-848 consumer group protocol (Kafka 4.0 or later, with "consumer" in group.coordinator.rebalance.protocols): ${detail}. Use group.protocol=classic with this broker.`,
  );
}

function toAssignment(topics: ReadonlyArray<{ topicId: Uuid; partitions: number[] }>): Assignment {
  const result = new Map<Uuid, readonly number[]>();
  for (const topic of topics) {
    if (topic.partitions.length === 0) continue;
    const merged = new Set([...(result.get(topic.topicId) ?? []), ...topic.partitions]);
    result.set(
      topic.topicId,
      [...merged].sort((a, b) => a - b),
    );
  }
  return result;
}

function assignmentKey(assignment: Assignment): string {
  return [...assignment]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, partitions]) => `${id}:${partitions.join(',')}`)
    .join(';');
}

function sameAssignment(a: Assignment, b: Assignment): boolean {
  return assignmentKey(a) === assignmentKey(b);
}

function topicPartitions(assignment: Assignment): ConsumerGroupHeartbeatRequestTopicPartitions[] {
  return [...assignment].map(([topicId, partitions]) => ({ topicId, partitions: [...partitions] }));
}

function toPartitions(assignment: Assignment, names: ReadonlyMap<Uuid, string>): TopicPartition[] {
  const result: TopicPartition[] = [];
  for (const [id, partitions] of assignment) {
    const topic = names.get(id)!;
    for (const partition of partitions) result.push({ topic, partition });
  }
  return result;
}

function withoutPartitions(
  assignment: Assignment,
  partitions: readonly TopicPartition[],
  names: ReadonlyMap<Uuid, string>,
): Assignment {
  const gone = new TopicPartitionSet(partitions);
  const result = new Map<Uuid, readonly number[]>();
  for (const [id, list] of assignment) {
    const topic = names.get(id);
    const kept = topic === undefined ? list : list.filter((partition) => !gone.has({ topic, partition }));
    if (kept.length > 0) result.set(id, kept);
  }
  return result;
}
