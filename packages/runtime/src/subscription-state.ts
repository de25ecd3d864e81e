/**
 * The one owner of a consumer's partition state (Kafka's SubscriptionState): what it subscribed to, what it is
 * assigned, and per assigned partition its position, whether it is paused or about to be revoked, and whether it
 * still waits for a position (its committed offset, or a reset). Nothing else keeps a copy: the managers read and
 * change it, the application side reads it.
 *
 * Invariants:
 * - A partition's `version` changes at every seek, reset and (re)assignment. Whoever acts on a partition remembers
 *   the version it started from (a Fetch, an OffsetFetch, a ListOffsets) and applies its outcome only while the
 *   version is unchanged, so an answer to a question nobody asks any more is dropped, never applied.
 * - A partition is fetched only with a valid position (fetch state `fetching`), not paused and not pending
 *   revocation. Positions move forward only through `advance` (records handed to the application) or by a seek.
 * - Positions are committed only for assigned partitions with a valid position (`allConsumed`).
 */
import { IllegalStateError } from './errors.ts';
import { describePartition, type TopicPartition, TopicPartitionMap } from './topic-partition.ts';

/**
 * How the partitions are chosen: none; subscribed topics; a pattern matched here against metadata; a regular
 * expression the group coordinator resolves (KIP-848, `regex`); or manually assigned partitions.
 */
export type SubscriptionType = 'none' | 'topics' | 'pattern' | 'regex' | 'user-assigned';
export type OffsetResetStrategy = 'earliest' | 'latest' | 'none';

/** Where the next record of a partition comes from, with the leader epoch of the last record before it (KIP-320). */
export interface FetchPosition {
  readonly offset: bigint;
  /** -1 when unknown. */
  readonly leaderEpoch: number;
}

/** Why a partition waits for a reset. */
export type ResetReason =
  | { readonly kind: 'no-committed-offset' }
  | { readonly kind: 'out-of-range'; readonly offset: bigint }
  | { readonly kind: 'requested' };

export type FetchState = 'initializing' | 'awaiting-reset' | 'fetching';

/** One assigned partition, as the managers and the application see it (read-only). */
export interface PartitionView {
  readonly tp: TopicPartition;
  readonly version: number;
  readonly fetchState: FetchState;
  /** The position; during `awaiting-reset` after OFFSET_OUT_OF_RANGE, the position that was out of range. */
  readonly position: FetchPosition | null;
  readonly resetStrategy: OffsetResetStrategy | null;
  readonly resetReason: ResetReason | null;
  readonly paused: boolean;
  readonly pendingRevocation: boolean;
  /** No offset request (OffsetFetch, ListOffsets) for this partition before this time. */
  readonly retryAt: number;
  /** From the last Fetch response; null until one came. */
  readonly highWatermark: bigint | null;
  readonly lastStableOffset: bigint | null;
  readonly logStartOffset: bigint | null;
}

type PartitionState = { -readonly [Key in keyof PartitionView]: PartitionView[Key] };

/** A partition's position as an offset to commit. */
export interface ConsumedOffset extends TopicPartition {
  readonly offset: bigint;
  readonly leaderEpoch: number;
}

export interface SubscriptionStateOptions {
  /** `auto.offset.reset`. */
  readonly defaultResetStrategy: OffsetResetStrategy;
  /** `exclude.internal.topics`: a pattern never matches internal topics (`__consumer_offsets` ...). Default true. */
  readonly excludeInternalTopics?: boolean;
}

export class SubscriptionState {
  readonly defaultResetStrategy: OffsetResetStrategy;
  readonly #excludeInternal: boolean;
  #type: SubscriptionType = 'none';
  /** Subscribed topics: as given, or those the pattern matched in the latest metadata. */
  #subscription: ReadonlySet<string> = new Set();
  #pattern: RegExp | null = null;
  /** The coordinator-side regular expression (RE2J syntax) of a `regex` subscription. */
  #regex: string | null = null;
  #assignment = new TopicPartitionMap<PartitionState>();
  #nextVersion = 1;
  #changes = 0;

  constructor(options: SubscriptionStateOptions) {
    this.defaultResetStrategy = options.defaultResetStrategy;
    this.#excludeInternal = options.excludeInternalTopics ?? true;
  }

  /** Bumped at every change the application may be waiting for (positions, assignment, resets). */
  get changes(): number {
    return this.#changes;
  }

  get type(): SubscriptionType {
    return this.#type;
  }

  /** Whether the group assigns the partitions (topics, a pattern or a coordinator-side regular expression). */
  get hasAutoAssignedPartitions(): boolean {
    return this.#type === 'topics' || this.#type === 'pattern' || this.#type === 'regex';
  }

  get subscription(): ReadonlySet<string> {
    return this.#subscription;
  }

  get pattern(): RegExp | null {
    return this.#pattern;
  }

  get regex(): string | null {
    return this.#regex;
  }

  // ---- subscription -------------------------------------------------------------------------------------------

  /** Subscribes to these topics (replacing any earlier topics or pattern). Returns whether the subscription changed. */
  subscribe(topics: Iterable<string>): boolean {
    this.#requireNot('user-assigned', 'subscribe');
    const next = new Set(topics);
    const changed = this.#type !== 'topics' || !sameSet(next, this.#subscription);
    this.#type = 'topics';
    this.#pattern = null;
    this.#regex = null;
    this.#subscription = next;
    if (changed) this.#changes++;
    return changed;
  }

  /** Subscribes to the topics whose whole name matches `pattern` (Java's `Matcher.matches`), as metadata lists them. */
  subscribePattern(pattern: RegExp): void {
    this.#requireNot('user-assigned', 'subscribe');
    const anchored = new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gy]/g, ''));
    if (
      this.#type === 'pattern' &&
      this.#pattern?.source === anchored.source &&
      this.#pattern.flags === anchored.flags
    ) {
      return;
    }
    this.#type = 'pattern';
    this.#pattern = anchored;
    this.#regex = null;
    this.#subscription = new Set();
    this.#changes++;
  }

  /**
   * Subscribes to the topics the group coordinator matches against `regex` (KIP-848 `SubscriptionPattern`, RE2J
   * syntax, whole names). The subscription then lists the topics of the assignment. Returns whether it changed.
   */
  subscribeRegex(regex: string): boolean {
    this.#requireNot('user-assigned', 'subscribe');
    if (this.#type === 'regex' && this.#regex === regex) return false;
    this.#type = 'regex';
    this.#pattern = null;
    this.#regex = regex;
    this.#subscription = new Set(this.assignedTopics());
    this.#changes++;
    return true;
  }

  /**
   * Matches the pattern against the topics of a metadata snapshot. Returns whether the subscription changed (a
   * member in a group then rejoins).
   */
  matchPattern(topics: Iterable<{ readonly name: string; readonly isInternal: boolean }>): boolean {
    if (this.#type !== 'pattern' || this.#pattern === null) return false;
    const matched = new Set<string>();
    for (const topic of topics) {
      if (this.#excludeInternal && topic.isInternal) continue;
      if (this.#pattern.test(topic.name)) matched.add(topic.name);
    }
    if (sameSet(matched, this.#subscription)) return false;
    this.#subscription = matched;
    this.#changes++;
    return true;
  }

  /** Reads exactly these partitions, without a group (`assign`). Partitions kept keep their state. */
  assignFromUser(partitions: readonly TopicPartition[]): void {
    this.#requireNot('topics', 'assign');
    this.#requireNot('pattern', 'assign');
    this.#requireNot('regex', 'assign');
    this.#type = partitions.length === 0 ? 'none' : 'user-assigned';
    this.#replaceAssignment(partitions);
  }

  /** The group's assignment (from a rebalance). Partitions kept keep their state; new ones start initializing. */
  assignFromSubscribed(partitions: readonly TopicPartition[]): void {
    if (!this.hasAutoAssignedPartitions) {
      throw new IllegalStateError('a group assignment needs a subscription (subscribe, not assign)');
    }
    this.#replaceAssignment(partitions);
    // What a coordinator-side regular expression matched is what the coordinator assigned.
    if (this.#type === 'regex') this.#subscription = new Set(partitions.map((tp) => tp.topic));
  }

  /** Drops the subscription, the pattern and the assignment. */
  unsubscribe(): void {
    this.#type = 'none';
    this.#pattern = null;
    this.#regex = null;
    this.#subscription = new Set();
    this.#replaceAssignment([]);
  }

  // ---- the assignment -----------------------------------------------------------------------------------------

  /** The assigned partitions, in the order they were assigned. */
  assignedPartitions(): TopicPartition[] {
    return [...this.#assignment.keys()];
  }

  get assignedCount(): number {
    return this.#assignment.size;
  }

  isAssigned(tp: TopicPartition): boolean {
    return this.#assignment.has(tp);
  }

  /** The partition's state, or undefined when it is not assigned. */
  partition(tp: TopicPartition): PartitionView | undefined {
    return this.#assignment.get(tp);
  }

  /** Every assigned partition's state, in assignment order. */
  partitions(): IterableIterator<PartitionView> {
    return this.#assignment.values();
  }

  /** The topics of the assignment. */
  assignedTopics(): IterableIterator<string> {
    return this.#assignment.topics();
  }

  // ---- positions ----------------------------------------------------------------------------------------------

  /** The position, when the partition is fetching (null while it waits for one, or when not assigned). */
  position(tp: TopicPartition): FetchPosition | null {
    const state = this.#assignment.get(tp);
    return state !== undefined && state.fetchState === 'fetching' ? state.position : null;
  }

  /** Sets the next record to read (`seek`). Throws when the partition is not assigned. */
  seek(tp: TopicPartition, offset: bigint, leaderEpoch = -1): void {
    if (offset < 0n) throw new RangeError(`cannot seek ${describePartition(tp)} to a negative offset (${offset})`);
    const state = this.#require(tp, 'seek');
    this.#setPosition(state, { offset, leaderEpoch });
  }

  /**
   * Applies a position found for a partition (its committed offset, or a reset) if nothing changed it since the
   * question was asked. Returns whether it was applied.
   */
  completePosition(tp: TopicPartition, version: number, position: FetchPosition): boolean {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.version !== version || state.fetchState === 'fetching') return false;
    this.#setPosition(state, position);
    return true;
  }

  /**
   * Records handed to the application: the position moves to `offset` (the next record). Ignored when the
   * partition was sought, reset or reassigned since the records were fetched (another `version`).
   */
  advance(tp: TopicPartition, version: number, offset: bigint, leaderEpoch: number): void {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.version !== version || state.fetchState !== 'fetching') return;
    state.position = { offset, leaderEpoch };
  }

  /**
   * The partitions wait for a reset to `strategy` (the default: `auto.offset.reset`). With `version`, only if the
   * partition is still at that version (an OFFSET_OUT_OF_RANGE answer about the current position).
   */
  requestReset(
    partitions: Iterable<TopicPartition>,
    reason: ResetReason,
    options: { strategy?: OffsetResetStrategy; version?: number } = {},
  ): void {
    for (const tp of partitions) {
      const state = options.version === undefined ? this.#require(tp, 'reset') : this.#assignment.get(tp);
      if (state === undefined) continue;
      if (options.version !== undefined && state.version !== options.version) continue;
      state.version = this.#nextVersion++;
      state.fetchState = 'awaiting-reset';
      state.resetStrategy = options.strategy ?? this.defaultResetStrategy;
      state.resetReason = reason;
      state.retryAt = 0;
      this.#changes++;
    }
  }

  /** An initializing partition has no committed offset: it waits for a reset with `auto.offset.reset`. */
  noCommittedOffset(tp: TopicPartition, version: number): void {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.version !== version || state.fetchState !== 'initializing') return;
    this.requestReset([tp], { kind: 'no-committed-offset' }, { version });
  }

  /** No offset request for these partitions before `until` (after a failed one). */
  backOff(partitions: Iterable<TopicPartition>, until: number): void {
    for (const tp of partitions) {
      const state = this.#assignment.get(tp);
      if (state !== undefined) state.retryAt = Math.max(state.retryAt, until);
    }
  }

  /** Whether the partition may be fetched now. */
  isFetchable(tp: TopicPartition): boolean {
    const state = this.#assignment.get(tp);
    return state !== undefined && fetchable(state);
  }

  /** The positions of the assigned partitions that have a valid one: what a commit of "everything" commits. */
  allConsumed(): ConsumedOffset[] {
    const result: ConsumedOffset[] = [];
    for (const state of this.#assignment.values()) {
      if (state.fetchState !== 'fetching' || state.position === null) continue;
      result.push({
        topic: state.tp.topic,
        partition: state.tp.partition,
        offset: state.position.offset,
        leaderEpoch: state.position.leaderEpoch,
      });
    }
    return result;
  }

  /** The partition's last Fetch watermarks. */
  updateWatermarks(
    tp: TopicPartition,
    version: number,
    marks: { highWatermark: bigint; lastStableOffset: bigint; logStartOffset: bigint },
  ): void {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.version !== version) return;
    state.highWatermark = marks.highWatermark;
    state.lastStableOffset = marks.lastStableOffset >= 0n ? marks.lastStableOffset : null;
    state.logStartOffset = marks.logStartOffset >= 0n ? marks.logStartOffset : null;
  }

  /**
   * Records between the position and the end of the partition (the high watermark, or the last stable offset
   * under read_committed) as the last Fetch response saw it; null when not known.
   */
  lag(tp: TopicPartition, isolationLevel: 'read_uncommitted' | 'read_committed'): bigint | null {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.fetchState !== 'fetching' || state.position === null) return null;
    const end = isolationLevel === 'read_committed' ? state.lastStableOffset : state.highWatermark;
    if (end === null || end < 0n) return null;
    const lag = end - state.position.offset;
    return lag > 0n ? lag : 0n;
  }

  // ---- pause, revocation --------------------------------------------------------------------------------------

  pause(partitions: Iterable<TopicPartition>): void {
    for (const tp of partitions) this.#require(tp, 'pause').paused = true;
    this.#changes++;
  }

  resume(partitions: Iterable<TopicPartition>): void {
    for (const tp of partitions) this.#require(tp, 'resume').paused = false;
    this.#changes++;
  }

  pausedPartitions(): TopicPartition[] {
    const result: TopicPartition[] = [];
    for (const state of this.#assignment.values()) if (state.paused) result.push(state.tp);
    return result;
  }

  /** These partitions are about to be revoked: nothing more is fetched or handed out for them. */
  markPendingRevocation(partitions: Iterable<TopicPartition>): void {
    for (const tp of partitions) {
      const state = this.#assignment.get(tp);
      if (state !== undefined) state.pendingRevocation = true;
    }
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #replaceAssignment(partitions: readonly TopicPartition[]): void {
    const next = new TopicPartitionMap<PartitionState>();
    for (const tp of partitions) {
      const kept = this.#assignment.get(tp);
      if (kept !== undefined) {
        kept.pendingRevocation = false;
        next.set(kept.tp, kept);
      } else if (!next.has(tp)) {
        next.set(tp, this.#newState(tp));
      }
    }
    this.#assignment = next;
    this.#changes++;
  }

  #newState(tp: TopicPartition): PartitionState {
    return {
      tp: { topic: tp.topic, partition: tp.partition },
      version: this.#nextVersion++,
      fetchState: 'initializing',
      position: null,
      resetStrategy: null,
      resetReason: null,
      paused: false,
      pendingRevocation: false,
      retryAt: 0,
      highWatermark: null,
      lastStableOffset: null,
      logStartOffset: null,
    };
  }

  #setPosition(state: PartitionState, position: FetchPosition): void {
    state.version = this.#nextVersion++;
    state.position = position;
    state.fetchState = 'fetching';
    state.resetStrategy = null;
    state.resetReason = null;
    state.retryAt = 0;
    this.#changes++;
  }

  #require(tp: TopicPartition, action: string): PartitionState {
    const state = this.#assignment.get(tp);
    if (state === undefined) {
      throw new IllegalStateError(`cannot ${action} ${describePartition(tp)}: it is not assigned to this consumer`);
    }
    return state;
  }

  #requireNot(type: SubscriptionType, action: string): void {
    if (this.#type !== type) return;
    const reason =
      type === 'user-assigned'
        ? 'the consumer reads manually assigned partitions (unsubscribe or assign([]) first)'
        : 'the consumer is subscribed (unsubscribe first)';
    throw new IllegalStateError(`cannot ${action}: ${reason}`);
  }
}

function fetchable(state: PartitionState): boolean {
  return state.fetchState === 'fetching' && state.position !== null && !state.paused && !state.pendingRevocation;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const value of a) if (!b.has(value)) return false;
  return true;
}
