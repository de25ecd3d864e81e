/**
 * What the consumer needs of a group membership, whatever its protocol: the classic one (JoinGroup / SyncGroup /
 * Heartbeat, ClassicMembershipManager) or KIP-848's (ConsumerGroupHeartbeat, ConsumerMembership). A membership is a request manager (it says what to
 * send and when) that never changes the assignment on its own: every change is a rebalance step that the
 * application side runs inside `poll()`, `close()` or `unsubscribe()` (listener callbacks, the commit before a
 * revocation), and the membership goes on only when the step is complete. That is Kafka's ordering guarantee:
 * between two polls the assignment the application sees does not change.
 */
import {
  type RequestManager,
  type SubscriptionState,
  type TopicInterest,
  type TopicPartition,
  TopicPartitionSet,
} from '@sluice/runtime';

export type RebalanceStep =
  /**
   * Partitions given up. The application commits what it consumed (auto commit) and the listener hears of them
   * (`onPartitionsRevoked`); on completion they leave the assignment. `notifyEmpty`: the listener is told even of
   * no partitions (an EAGER rebalance, as Kafka's consumer does).
   */
  | {
      readonly id: number;
      readonly kind: 'revoke';
      readonly partitions: readonly TopicPartition[];
      readonly notifyEmpty: boolean;
    }
  /**
   * The assignment changed when the step was taken (the partitions are already in it); the listener hears of the
   * partitions added (`onPartitionsAssigned`, called even with none, as Kafka's consumer does).
   */
  | { readonly id: number; readonly kind: 'assign'; readonly partitions: readonly TopicPartition[] }
  /**
   * The generation ended without a hand-over: the partitions are not this member's any more and must not be
   * committed. The listener hears of them (`onPartitionsLost`); on completion they leave the assignment.
   */
  | { readonly id: number; readonly kind: 'lose'; readonly partitions: readonly TopicPartition[] };

/** What a commit of this member carries (OffsetCommit's generation or member epoch, member id, instance id). */
export interface CommitIdentity {
  readonly generationIdOrMemberEpoch: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

/** Whether a commit can be made now, and with what. */
export type CommitPermission =
  | { readonly kind: 'allowed'; readonly identity: CommitIdentity }
  /** A rebalance is underway: commit again after `poll()` completes it (RebalanceInProgressError). */
  | { readonly kind: 'rebalancing' }
  /** Not a member of an active generation (kicked out, or never joined): CommitFailedError. */
  | { readonly kind: 'not-member'; readonly reason: string };

/** Kafka's ConsumerGroupMetadata. */
export interface ConsumerGroupMetadata {
  readonly groupId: string;
  /** -1 outside a generation. */
  readonly generationId: number;
  /** '' before the coordinator gave one. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface Membership extends RequestManager, TopicInterest {
  readonly groupId: string;
  /** What stopped the membership for good (a configuration or authorization error); thrown from every poll. */
  readonly fatalError: Error | null;
  /** The LeaveGroup of `leave` was answered, failed, or was not needed: the membership is done. */
  readonly left: boolean;
  /** A step waits for the application to take it (it wakes a poll that waits for records). */
  readonly stepPending: boolean;
  commitPermission(): CommitPermission;
  groupMetadata(): ConsumerGroupMetadata;
  /** The application polled: rebalances may go on, and `max.poll.interval.ms` counts from now. */
  onPoll(now: number): void;
  /**
   * The application waits inside poll for records: it is polling for as long as that lasts, so
   * `max.poll.interval.ms` does not run. Returns a token for `endPollWait`.
   */
  beginPollWait(now: number): number;
  /** The wait of `token` (or, without one, whatever wait is on) ended: `max.poll.interval.ms` counts from now. */
  endPollWait(now: number, token?: number): void;
  /** The subscription (topics, pattern) changed: join at the next poll, or rejoin with the same member. */
  subscriptionChanged(now: number): void;
  /** Rejoin at the next poll (Kafka's `enforceRebalance`). */
  enforceRebalance(reason: string): void;
  /** The next step for the application to run, or null. At most one step is taken at a time. */
  takeStep(now: number): RebalanceStep | null;
  /** The application ran the step's callbacks; the membership goes on. */
  completeStep(step: RebalanceStep, now: number): void;
  /**
   * Stops every rebalance in progress and says how the current assignment ends: revoked (a commit is still
   * possible), or lost (the generation is gone). The application runs it as a step, then calls `leave`.
   */
  beginLeave(): RebalanceStep;
  /** Leaves the group (LeaveGroup for a dynamic member); afterwards `closed`, or `unjoined` to join again later. */
  leave(reason: string, options: { ending: 'closed' | 'unjoined' }): void;
  /** After a `leave` that ends `unjoined` is done: a later subscription joins again. */
  resetAfterLeave(): void;
}

/** The step that ends an assignment when the member leaves: lost (nothing committed) or revoked. */
export function leaveStep(id: number, partitions: readonly TopicPartition[], lost: boolean): RebalanceStep {
  return lost ? { id, kind: 'lose', partitions } : { id, kind: 'revoke', partitions, notifyEmpty: false };
}

/** Takes these partitions out of the group's assignment (a revoke step completed). */
export function removeFromAssignment(subscriptions: SubscriptionState, partitions: readonly TopicPartition[]): void {
  if (partitions.length === 0) return;
  const gone = new TopicPartitionSet(partitions);
  subscriptions.assignFromSubscribed(subscriptions.assignedPartitions().filter((tp) => !gone.has(tp)));
}

/**
 * The application's wait inside poll, if one is on, as a token: a late end of an older, interrupted wait does not
 * end a newer one.
 */
export class PollWait {
  #current = 0;
  #next = 1;

  get waiting(): boolean {
    return this.#current !== 0;
  }

  begin(): number {
    this.#current = this.#next++;
    return this.#current;
  }

  /** Ends the wait of `token` (or, without one, whatever wait is on); false when that wait is not the one on. */
  end(token?: number): boolean {
    if (this.#current === 0 || (token !== undefined && token !== this.#current)) return false;
    this.#current = 0;
    return true;
  }
}
