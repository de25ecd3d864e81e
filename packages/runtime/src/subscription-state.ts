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
 * - KIP-320: a position carries the leader epoch of the record before it, and the partition remembers the leader
 *   epoch (from metadata) it was last checked under (`currentLeaderEpoch`). `awaiting-validation` is a position
 *   whose log may have been truncated (a leader change, a Fetch that named a diverging epoch, a position with an
 *   epoch not yet checked): it is neither fetched nor committed until `completeValidation` says what the leader's
 *   log holds. Entering it bumps the version, so buffered data and answers from before are dropped.
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
  | { readonly kind: 'requested' }
  /** The log was truncated below the position and the leader knows no end for its epoch (KIP-320). */
  | { readonly kind: 'log-truncation'; readonly offset: bigint };

export type FetchState = 'initializing' | 'awaiting-reset' | 'awaiting-validation' | 'fetching';

/**
 * Where a leader epoch ends in the leader's log (OffsetForLeaderEpoch's answer, or a Fetch's diverging epoch): the
 * largest epoch at or below the one asked, and the offset after its last record. -1 / -1n when the leader knows
 * no such epoch.
 */
export interface EpochEndOffset {
  readonly leaderEpoch: number;
  readonly endOffset: bigint;
}

/** A position the leader's log no longer holds (Kafka's SubscriptionState.LogTruncation). */
export interface LogTruncation extends TopicPartition {
  /** The position found truncated: its offset and the leader epoch of the record before it. */
  readonly position: FetchPosition;
  /**
   * The first offset known to diverge from what was read, with its leader epoch: the end of the position's epoch
   * in the leader's log. Null when the leader knows no end for that epoch.
   */
  readonly divergentOffset: FetchPosition | null;
}

/** What `completeValidation` did with the leader's answer. */
export type ValidationResult =
  /** Nothing: the partition is no longer awaiting validation at that version. */
  | { readonly kind: 'ignored' }
  /** The position is in the leader's log: fetching goes on from it. */
  | { readonly kind: 'valid' }
  /** Truncated; the position moved to the divergent offset (a reset strategy is set). */
  | { readonly kind: 'moved'; readonly truncation: LogTruncation }
  /** Truncated, no divergent offset known: the partition waits for a reset to `auto.offset.reset`. */
  | { readonly kind: 'reset'; readonly truncation: LogTruncation }
  /** Truncated and `auto.offset.reset` is `none`: the partition stays until the application seeks. */
  | { readonly kind: 'stopped'; readonly truncation: LogTruncation };

/** One assigned partition, as the managers and the application see it (read-only). */
export interface PartitionView {
  readonly tp: TopicPartition;
  readonly version: number;
  readonly fetchState: FetchState;
  /**
   * The position; during `awaiting-validation`, the position being checked; during `awaiting-reset` after
   * OFFSET_OUT_OF_RANGE, the position that was out of range.
   */
  readonly position: FetchPosition | null;
  /**
   * The leader epoch (from metadata) the position was last checked or set under (Java's `position.currentLeader`);
   * -1 while not known. During `awaiting-validation`, the epoch it is checked against.
   */
  readonly currentLeaderEpoch: number;
  /** During `awaiting-validation`: what the leader already said (a Fetch's diverging epoch), else null. */
  readonly divergingEpoch: EpochEndOffset | null;
  /** During `awaiting-validation`: the truncation found under `auto.offset.reset=none`; stays until a seek. */
  readonly truncation: LogTruncation | null;
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

  /**
   * Sets the next record to read (`seek`). Throws when the partition is not assigned. A position with a leader epoch
   * is not bound to a leader epoch yet (`currentLeaderEpoch` -1): the position validation sees that and checks it
   * against the leader before it is fetched (Java's seekUnvalidated).
   */
  seek(tp: TopicPartition, offset: bigint, leaderEpoch = -1): void {
    if (offset < 0n) throw new RangeError(`cannot seek ${describePartition(tp)} to a negative offset (${offset})`);
    const state = this.#require(tp, 'seek');
    this.#setPosition(state, { offset, leaderEpoch });
  }

  /**
   * Applies a position found for a partition (its committed offset, or a reset) if nothing changed it since the
   * question was asked. Returns whether it was applied. `validate` (a committed offset): a position with a leader
   * epoch awaits validation before it is fetched (Java's seekUnvalidated). `currentLeaderEpoch` (a reset): the
   * leader epoch the position is known to hold under, since the leader's answer was given under it.
   */
  completePosition(
    tp: TopicPartition,
    version: number,
    position: FetchPosition,
    options: { validate?: boolean; currentLeaderEpoch?: number } = {},
  ): boolean {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.version !== version) return false;
    if (state.fetchState !== 'initializing' && state.fetchState !== 'awaiting-reset') return false;
    this.#setPosition(state, position);
    if (options.currentLeaderEpoch !== undefined) state.currentLeaderEpoch = options.currentLeaderEpoch;
    if (options.validate === true && position.leaderEpoch >= 0) state.fetchState = 'awaiting-validation';
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
      state.divergingEpoch = null;
      state.truncation = null;
      state.retryAt = 0;
      this.#changes++;
    }
  }

  // ---- validation (KIP-320) ----------------------------------------------------------------------------------

  /**
   * The fetching partition at `version` may have been truncated: it waits for validation (its version moves on, so
   * buffered data and answers from before are dropped). `divergingEpoch`: the leader already said where the
   * position's epoch ends (a Fetch answer), so no request is needed; `currentLeaderEpoch`: the leader epoch to
   * check against. Also restarts the validation of a partition already awaiting one (a newer leader came). Returns
   * whether the partition now awaits validation.
   */
  requestValidation(
    tp: TopicPartition,
    version: number,
    options: { divergingEpoch?: EpochEndOffset; currentLeaderEpoch?: number } = {},
  ): boolean {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.version !== version || state.position === null) return false;
    if (state.fetchState !== 'fetching' && !(state.fetchState === 'awaiting-validation' && state.truncation === null)) {
      return false;
    }
    state.version = this.#nextVersion++;
    state.fetchState = 'awaiting-validation';
    state.divergingEpoch = options.divergingEpoch ?? null;
    state.truncation = null;
    if (options.currentLeaderEpoch !== undefined) state.currentLeaderEpoch = options.currentLeaderEpoch;
    state.retryAt = 0;
    this.#changes++;
    return true;
  }

  /**
   * A fetching partition's position is valid under this leader epoch (it has no epoch to check, or it was just
   * set): the epoch only grows.
   */
  bindLeaderEpoch(tp: TopicPartition, leaderEpoch: number): void {
    const state = this.#assignment.get(tp);
    if (state === undefined || state.fetchState !== 'fetching') return;
    if (leaderEpoch > state.currentLeaderEpoch) state.currentLeaderEpoch = leaderEpoch;
  }

  /**
   * The leader's answer for a partition awaiting validation at `version` (Kafka's maybeCompleteValidation):
   * `epochEnd` is where the position's epoch ends in the leader's log (null: the leader cannot be asked, the
   * position is taken as it is), checked under `currentLeaderEpoch`.
   * - No end known for the epoch: truncated; a reset to `auto.offset.reset` follows.
   * - The epoch ends before the position: truncated; the position moves to that end (the first offset known to
   *   diverge), with that epoch.
   * - Otherwise the position is valid; it takes the answer's epoch when that is lower (the leader never had the
   *   position's epoch), so a Fetch naming it does not diverge again.
   * With `auto.offset.reset=none` a truncation is not repaired: the partition stays awaiting validation with its
   * `truncation`, until the application seeks.
   */
  completeValidation(
    tp: TopicPartition,
    version: number,
    epochEnd: EpochEndOffset | null,
    currentLeaderEpoch: number,
  ): ValidationResult {
    const state = this.#assignment.get(tp);
    if (
      state === undefined ||
      state.version !== version ||
      state.fetchState !== 'awaiting-validation' ||
      state.truncation !== null ||
      state.position === null
    ) {
      return { kind: 'ignored' };
    }
    const position = state.position;
    const repair = this.defaultResetStrategy !== 'none';
    if (epochEnd !== null && (epochEnd.endOffset < 0n || epochEnd.leaderEpoch < 0)) {
      const truncation: LogTruncation = { topic: tp.topic, partition: tp.partition, position, divergentOffset: null };
      if (!repair) return this.#stop(state, truncation);
      this.requestReset([state.tp], { kind: 'log-truncation', offset: position.offset }, { version });
      return { kind: 'reset', truncation };
    }
    if (epochEnd !== null && epochEnd.endOffset < position.offset) {
      const divergentOffset = { offset: epochEnd.endOffset, leaderEpoch: epochEnd.leaderEpoch };
      const truncation: LogTruncation = { topic: tp.topic, partition: tp.partition, position, divergentOffset };
      if (!repair) return this.#stop(state, truncation);
      this.#setPosition(state, divergentOffset);
      state.currentLeaderEpoch = Math.max(currentLeaderEpoch, state.currentLeaderEpoch);
      return { kind: 'moved', truncation };
    }
    state.fetchState = 'fetching';
    state.divergingEpoch = null;
    state.currentLeaderEpoch = Math.max(currentLeaderEpoch, state.currentLeaderEpoch);
    if (epochEnd !== null && epochEnd.leaderEpoch < position.leaderEpoch) {
      state.position = { offset: position.offset, leaderEpoch: epochEnd.leaderEpoch };
    }
    state.retryAt = 0;
    this.#changes++;
    return { kind: 'valid' };
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
      currentLeaderEpoch: -1,
      divergingEpoch: null,
      truncation: null,
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

  /** A new position, fetched from at once; the leader epoch it holds under is not known yet. */
  #setPosition(state: PartitionState, position: FetchPosition): void {
    state.version = this.#nextVersion++;
    state.position = position;
    state.fetchState = 'fetching';
    state.currentLeaderEpoch = -1;
    state.divergingEpoch = null;
    state.truncation = null;
    state.resetStrategy = null;
    state.resetReason = null;
    state.retryAt = 0;
    this.#changes++;
  }

  #stop(state: PartitionState, truncation: LogTruncation): ValidationResult {
    state.truncation = truncation;
    state.divergingEpoch = null;
    this.#changes++;
    return { kind: 'stopped', truncation };
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
