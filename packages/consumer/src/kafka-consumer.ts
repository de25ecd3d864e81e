/**
 * The consumer: Kafka's consumer API, the application side of a ConsumerRuntime. A group member (`subscribe`) or
 * a manual assignment (`assign`); `poll` joins the group on first use and hands out records; offsets are committed
 * automatically (`enable.auto.commit`) or explicitly; `close` commits, leaves the group at once and releases
 * everything; `wakeup` makes a blocked call throw WakeupError from anywhere.
 *
 * Kafka's ordering guarantees (and Principle 6):
 * - Rebalance listener callbacks run only inside `poll()`, `close()` and `unsubscribe()`: the client loop never
 *   changes the assignment by itself, it waits for the application to run each rebalance step. Between two polls
 *   the assignment does not change, so `commitSync()` commits exactly the positions of what was handed out, or
 *   fails loudly (CommitFailedError, RebalanceInProgressError, TimeoutError).
 * - Only positions of records already handed to the application are committed, only for partitions assigned.
 *   Before partitions are revoked, their positions are committed (auto commit) and the listener is told; lost
 *   partitions are never committed.
 * - Transient broker trouble (a coordinator that loads or moves, a leader that moves, a lost connection) is retried
 *   by the loop: `poll` returns what it has when its time is up. Only what the application must act on reaches it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConsumerRecord, DeserializableRecord } from '@sluice/fetch';
import type { ConsumerGroupMetadata, RebalanceStep } from '@sluice/group';
import type { BrokerInfo, TopicInfo } from '@sluice/net';
import {
  type CommittedOffset,
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  LogTruncationError,
  type OffsetAndTimestamp,
  type OffsetToCommit,
} from '@sluice/offsets';
import {
  describePartition,
  IllegalStateError,
  type LogTruncation,
  TimeoutError,
  type TopicMetadata,
  type TopicPartition,
  TopicPartitionSet,
} from '@sluice/runtime';
import type { ApplicationEvent, ApplicationEventResults, EventOf } from './application-events.ts';
import { type ConsumerConfig, type ConsumerConfigInput, parseConsumerConfig } from './config.ts';
import { ConsumerRuntime } from './consumer-runtime.ts';
import { type Deserializer, deserializers } from './deserializers.ts';
import {
  ConsumerClosedError,
  InvalidGroupIdError,
  NoOffsetForPartitionError,
  OffsetOutOfRangeError,
  RebalanceListenerError,
  RecordDeserializationError,
  WakeupError,
} from './errors.ts';
import { SubscriptionPattern } from './subscription-pattern.ts';

/** Kafka's OffsetAndMetadata. */
export interface OffsetAndMetadata {
  readonly offset: bigint;
  readonly leaderEpoch?: number;
  readonly metadata?: string;
}

/**
 * Kafka's ConsumerRebalanceListener: told, inside `poll()` (or `close()`, `unsubscribe()`), what this consumer
 * revokes, loses and is assigned. A returned promise is awaited before the rebalance goes on; heartbeats continue
 * meanwhile. The consumer's own calls work inside (commit in `onPartitionsRevoked`, seek in `onPartitionsAssigned`).
 */
export interface ConsumerRebalanceListener {
  /** Partitions given up in a rebalance; their offsets may still be committed here. */
  onPartitionsRevoked?(partitions: readonly TopicPartition[]): void | Promise<void>;
  /** Partitions no longer this consumer's without a hand-over; their offsets must not be committed. Default: revoked. */
  onPartitionsLost?(partitions: readonly TopicPartition[]): void | Promise<void>;
  /** Partitions added by a rebalance (called after every rebalance, with none if nothing was added). */
  onPartitionsAssigned?(partitions: readonly TopicPartition[]): void | Promise<void>;
}

/** Options of the calls that wait: a timeout (default `default.api.timeout.ms`) and an AbortSignal. */
export interface CallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface CloseOptions {
  /** How long close may take in all (commit, callbacks, LeaveGroup). Default 30000, as Kafka's consumer. */
  readonly timeoutMs?: number;
}

/** A broker, as Kafka's Node. */
export type Node = BrokerInfo;

/** Kafka's PartitionInfo. */
export interface PartitionInfo extends TopicPartition {
  /** null while the partition has no leader. */
  readonly leader: Node | null;
  readonly replicas: readonly Node[];
  readonly inSyncReplicas: readonly Node[];
  readonly offlineReplicas: readonly Node[];
}

const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

export class KafkaConsumer<Key = Uint8Array | null, Value = Uint8Array | null> {
  readonly config: ConsumerConfig;
  readonly #runtime: ConsumerRuntime;
  #listener: ConsumerRebalanceListener | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Set inside the rebalance listener's callbacks (see #ensureOpen). */
  readonly #listenerScope = new AsyncLocalStorage<true>();
  #polling = false;
  /** `wakeup()` with no call waiting: the next waiting call throws. */
  #wakeupPending = false;
  readonly #interrupts = new Set<(error: Error) => void>();
  /** Errors to throw from the next poll (a deserialization error after records were returned, listener errors). */
  #pendingErrors: Error[] = [];

  constructor(config: ConsumerConfigInput) {
    this.config = parseConsumerConfig(config);
    this.#runtime = new ConsumerRuntime(this.config);
  }

  // ---- subscription and assignment ----------------------------------------------------------------------------

  /**
   * Subscribes to topics, or to every topic whose whole name matches a pattern: the group decides which of their
   * partitions this consumer reads. Takes effect at the next `poll` (the first poll joins the group); a changed
   * subscription rejoins with the same member. Needs `group.id`. A `RegExp` is matched here against the topics
   * metadata lists; a `SubscriptionPattern` (`group.protocol=consumer`, Kafka 4.0+) is resolved by the coordinator.
   */
  subscribe(topics: readonly string[] | RegExp | SubscriptionPattern, listener?: ConsumerRebalanceListener): void {
    this.#ensureOpen();
    if (topics instanceof SubscriptionPattern) {
      if (this.config.groupProtocol !== 'consumer') {
        throw new IllegalStateError(
          'subscribe(SubscriptionPattern) needs group.protocol=consumer: the coordinator resolves it (use a RegExp under classic)',
        );
      }
      this.#listener = listener ?? null;
      this.#submit({ type: 'subscribe-regex', regex: topics.pattern });
      return;
    }
    if (topics instanceof RegExp) {
      this.#listener = listener ?? null;
      this.#submit({ type: 'subscribe-pattern', pattern: topics });
      return;
    }
    if (!Array.isArray(topics) || topics.length === 0 || topics.some((topic) => typeof topic !== 'string' || !topic)) {
      throw new TypeError('subscribe takes a non-empty list of topic names, a RegExp or a SubscriptionPattern');
    }
    this.#listener = listener ?? null;
    this.#submit({ type: 'subscribe', topics: [...new Set(topics)] });
  }

  /**
   * Reads exactly these partitions, without group membership (offsets may still be committed with a group.id);
   * an empty list drops the assignment. Under auto commit, what was consumed is committed first (asynchronously).
   */
  assign(partitions: readonly TopicPartition[]): void {
    this.#ensureOpen();
    if (this.#runtime.subscriptions.hasAutoAssignedPartitions) {
      throw new IllegalStateError('assign cannot be mixed with subscribe: unsubscribe first');
    }
    this.#autoCommitAsync();
    this.#submit({ type: 'assign', partitions: partitions.map(({ topic, partition }) => ({ topic, partition })) });
  }

  /**
   * Gives up the subscription (or the manual assignment). A group member first commits what it consumed (auto
   * commit), tells the listener (`onPartitionsRevoked`), and leaves the group, waiting up to
   * `default.api.timeout.ms` for the coordinator.
   */
  async unsubscribe(): Promise<void> {
    this.#ensureOpen();
    const subscriptions = this.#runtime.subscriptions;
    if (subscriptions.hasAutoAssignedPartitions && this.#runtime.membership !== null) {
      const deadline = Date.now() + this.config.defaultApiTimeoutMs;
      await this.#leaveGroup(deadline, 'unjoined', 'the consumer unsubscribed from all topics');
    }
    this.#submit({ type: 'unsubscribe' });
    this.#throwPending();
  }

  /** The partitions this consumer reads now (they change only inside poll, close and unsubscribe). */
  assignment(): TopicPartition[] {
    return this.#runtime.subscriptions.assignedPartitions();
  }

  /** The subscribed topics (for a pattern: those it matched in the latest metadata). */
  subscription(): string[] {
    return [...this.#runtime.subscriptions.subscription].sort();
  }

  // ---- the poll loop ------------------------------------------------------------------------------------------

  /**
   * Records that arrived, at most `max.poll.records`, waiting up to `timeoutMs` for some. The first call joins the
   * group; rebalance callbacks run here. Throws WakeupError when `wakeup()` (or the signal) interrupts it, and what
   * the application must act on (fatal group errors, authorization, a record that cannot be deserialized, a
   * position without a reset strategy); transient trouble is retried and never thrown.
   */
  async poll(timeoutMs: number, options: { signal?: AbortSignal } = {}): Promise<Array<ConsumerRecord<Key, Value>>> {
    this.#ensureOpen();
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError('poll takes a timeout in ms, 0 or more');
    const subscriptions = this.#runtime.subscriptions;
    if (subscriptions.type === 'none') {
      throw new IllegalStateError('poll before subscribe or assign: this consumer has nothing to read');
    }
    if (this.#polling) throw new IllegalStateError('poll is already running: a consumer is polled by one loop');
    this.#polling = true;
    try {
      const deadline = Date.now() + timeoutMs;
      this.#checkInterrupt(options.signal);
      this.#throwPending();
      this.#submit({ type: 'poll' });
      for (;;) {
        await this.#runSteps(deadline);
        this.#throwPending();
        this.#throwBackground();
        const records = this.#submit({ type: 'collect', maxRecords: this.config.maxPollRecords });
        if (records.length > 0) return this.#deserialize(records);
        if (Date.now() >= deadline) return [];
        // Waiting here is polling: heartbeats go on and max.poll.interval.ms does not run.
        await this.#interruptible(this.#submit({ type: 'wait', deadline, inPoll: true }), options.signal);
        this.#ensureOpen();
      }
    } finally {
      this.#polling = false;
      if (!this.#runtime.closed) this.#submit({ type: 'poll-end' });
    }
  }

  /**
   * Interrupts the blocking call in progress (poll, commitSync, position, committed, the offset lookups, listTopics,
   * partitionsFor) with WakeupError, or the next one when none is waiting. Safe to call from anywhere.
   */
  wakeup(): void {
    if (this.#interrupts.size === 0) {
      this.#wakeupPending = true;
      return;
    }
    this.#interrupt(new WakeupError('the consumer was woken up'));
  }

  // ---- positions ----------------------------------------------------------------------------------------------

  /**
   * The offset of the next record `poll` returns for the partition, once it has one (its committed offset, or
   * `auto.offset.reset`): waits up to the timeout (TimeoutError).
   */
  async position(tp: TopicPartition, options: CallOptions = {}): Promise<bigint> {
    this.#ensureOpen();
    const subscriptions = this.#runtime.subscriptions;
    if (!subscriptions.isAssigned(tp)) {
      throw new IllegalStateError(`cannot get the position of ${describePartition(tp)}: it is not assigned`);
    }
    const deadline = this.#deadline(options);
    this.#checkInterrupt(options.signal);
    for (;;) {
      const position = subscriptions.position(tp);
      if (position !== null) return position.offset;
      this.#throwBackground([tp]);
      if (!subscriptions.isAssigned(tp)) {
        throw new IllegalStateError(`${describePartition(tp)} was unassigned while waiting for its position`);
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(`no position for ${describePartition(tp)} within the time given`);
      }
      await this.#interruptible(this.#submit({ type: 'wait', deadline }), options.signal);
      this.#ensureOpen();
    }
  }

  /** Sets where the partition is read from next. */
  seek(tp: TopicPartition, offset: bigint | number | OffsetAndMetadata): void {
    this.#ensureOpen();
    const target = typeof offset === 'object' ? offset : { offset: BigInt(offset) };
    this.#submit({
      type: 'seek',
      partition: tp,
      offset: BigInt(target.offset),
      leaderEpoch: target.leaderEpoch ?? -1,
    });
  }

  /** Reads the partitions (default: all assigned) from their first offset; resolved at the next poll or position. */
  seekToBeginning(partitions: readonly TopicPartition[] = this.assignment()): void {
    this.#ensureOpen();
    this.#submit({ type: 'reset-offsets', partitions, to: 'earliest' });
  }

  /** Reads the partitions (default: all assigned) from their end; resolved at the next poll or position. */
  seekToEnd(partitions: readonly TopicPartition[] = this.assignment()): void {
    this.#ensureOpen();
    this.#submit({ type: 'reset-offsets', partitions, to: 'latest' });
  }

  /** The first offset of each partition. */
  async beginningOffsets(partitions: readonly TopicPartition[], options: CallOptions = {}): Promise<bigint[]> {
    const found = await this.#listOffsets(
      partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition, timestamp: EARLIEST_TIMESTAMP })),
      options,
    );
    return found.map((entry, index) => required(entry, partitions[index]!));
  }

  /** The offset after the last record of each partition (the last stable offset under read_committed). */
  async endOffsets(partitions: readonly TopicPartition[], options: CallOptions = {}): Promise<bigint[]> {
    const found = await this.#listOffsets(
      partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition, timestamp: LATEST_TIMESTAMP })),
      options,
    );
    return found.map((entry, index) => required(entry, partitions[index]!));
  }

  /** For each partition, the earliest offset whose timestamp is at or after the given one; null past the last. */
  offsetsForTimes(
    queries: ReadonlyArray<TopicPartition & { readonly timestamp: bigint | number }>,
    options: CallOptions = {},
  ): Promise<Array<OffsetAndTimestamp | null>> {
    const checked = queries.map((query) => {
      const timestamp = BigInt(query.timestamp);
      if (timestamp < 0n) {
        throw new RangeError(`the timestamp for ${describePartition(query)} is negative (${timestamp})`);
      }
      return { topic: query.topic, partition: query.partition, timestamp };
    });
    return this.#listOffsets(checked, options);
  }

  /** Records between the position and the end of the partition, as the last Fetch saw it; null when not known. */
  currentLag(tp: TopicPartition): bigint | null {
    this.#ensureOpen();
    if (!this.#runtime.subscriptions.isAssigned(tp)) {
      throw new IllegalStateError(`cannot get the lag of ${describePartition(tp)}: it is not assigned`);
    }
    return this.#runtime.subscriptions.lag(tp, this.config.isolationLevel);
  }

  pause(partitions: readonly TopicPartition[]): void {
    this.#ensureOpen();
    this.#submit({ type: 'pause', partitions });
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.#ensureOpen();
    this.#submit({ type: 'resume', partitions });
  }

  /** The partitions paused now. */
  paused(): TopicPartition[] {
    return this.#runtime.subscriptions.pausedPartitions();
  }

  // ---- commits ------------------------------------------------------------------------------------------------

  /** The committed offsets of the partitions (null where none). Needs `group.id`. */
  async committed(
    partitions: readonly TopicPartition[],
    options: CallOptions = {},
  ): Promise<Array<CommittedOffset | null>> {
    this.#ensureOpen();
    const found = await this.#interruptible(
      this.#submit({ type: 'fetch-committed', partitions, deadline: this.#deadline(options) }),
      options.signal,
    );
    return partitions.map((tp) => found.get(tp) ?? null);
  }

  /**
   * Commits offsets and waits for the coordinator: the given ones, or the position of every assigned partition
   * (what `poll` handed out). Throws CommitFailedError when the group rebalanced without this member,
   * RebalanceInProgressError during a rebalance (commit again after `poll`), TimeoutError when the coordinator
   * could not be reached in time.
   */
  async commitSync(
    offsets?: ReadonlyArray<TopicPartition & OffsetAndMetadata>,
    options: CallOptions = {},
  ): Promise<void> {
    this.#ensureOpen();
    const toCommit = offsets === undefined ? this.#runtime.subscriptions.allConsumed() : offsets.map(toOffsetToCommit);
    await this.#interruptible(
      this.#submit({ type: 'commit', offsets: toCommit, sync: true, deadline: this.#deadline(options) }),
      options.signal,
    );
  }

  /**
   * Commits without waiting; the callback (if any) gets the outcome. Not retried: a retriable failure is
   * RetriableCommitFailedError (a later commit carries newer offsets anyway).
   */
  commitAsync(callback?: (error: Error | null) => void): void;
  commitAsync(
    offsets?: ReadonlyArray<TopicPartition & OffsetAndMetadata>,
    callback?: (error: Error | null) => void,
  ): void;
  commitAsync(
    first?: ReadonlyArray<TopicPartition & OffsetAndMetadata> | ((error: Error | null) => void),
    second?: (error: Error | null) => void,
  ): void {
    this.#ensureOpen();
    const offsets = typeof first === 'function' ? undefined : first;
    const callback = typeof first === 'function' ? first : second;
    const toCommit = offsets === undefined ? this.#runtime.subscriptions.allConsumed() : offsets.map(toOffsetToCommit);
    this.#submit({
      type: 'commit',
      offsets: toCommit,
      sync: false,
      deadline: Date.now() + this.config.defaultApiTimeoutMs,
    }).then(
      () => callback?.(null),
      (error: unknown) => callback?.(error as Error),
    );
  }

  // ---- the group and the cluster ------------------------------------------------------------------------------

  /** Kafka's ConsumerGroupMetadata (for transactional producers). Needs `group.id`. */
  groupMetadata(): ConsumerGroupMetadata {
    this.#ensureOpen();
    const membership = this.#runtime.membership;
    if (membership === null) throw new InvalidGroupIdError('groupMetadata needs a group.id');
    return membership.groupMetadata();
  }

  /** Rejoins the group at the next poll (Kafka's enforceRebalance). */
  enforceRebalance(reason = 'the application asked for a rebalance'): void {
    this.#ensureOpen();
    if (!this.#runtime.subscriptions.hasAutoAssignedPartitions) {
      throw new IllegalStateError('enforceRebalance needs a subscription (the consumer is not in a group)');
    }
    this.#submit({ type: 'enforce-rebalance', reason });
  }

  /** Every topic the cluster has (internal ones unless `exclude.internal.topics`), with its partitions. */
  async listTopics(options: CallOptions = {}): Promise<Map<string, PartitionInfo[]>> {
    const { topics, brokers } = await this.#topicMetadata(null, options);
    return new Map([...topics].map(([name, info]) => [name, partitionInfos(info, brokers)]));
  }

  /** The partitions of a topic; empty when it does not exist. */
  async partitionsFor(topic: string, options: CallOptions = {}): Promise<PartitionInfo[]> {
    const { topics, brokers } = await this.#topicMetadata([topic], options);
    const info = topics.get(topic);
    return info === undefined ? [] : partitionInfos(info, brokers);
  }

  // ---- close --------------------------------------------------------------------------------------------------

  /**
   * Commits what was consumed (auto commit), tells the listener (`onPartitionsRevoked`, or `onPartitionsLost` when
   * the generation is gone), leaves the group at once (a dynamic member sends LeaveGroup, so the others rebalance
   * without waiting for its session to expire; a static member keeps its place until the session ends), and closes
   * every connection. Returns within `timeoutMs` (default 30 s) even when the coordinator cannot be reached.
   * A blocked call fails with ConsumerClosedError.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closing = this.#close(options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError('close takes a timeout in ms, 0 or more');
    const deadline = Date.now() + timeoutMs;
    this.#interrupt(new ConsumerClosedError('the consumer was closed during this call'));
    try {
      const runtime = this.#runtime;
      if (runtime.membership !== null && runtime.subscriptions.hasAutoAssignedPartitions) {
        await this.#leaveGroup(deadline, 'closed', 'the consumer is being closed');
      } else if (runtime.commits !== null && this.config.enableAutoCommit) {
        await this.#commitQuietly(deadline);
      }
      // Asynchronous commits still in flight get the rest of the time.
      if (runtime.commits !== null) await this.#submit({ type: 'commits-settled', deadline });
    } finally {
      this.#closed = true;
      this.#runtime.close(new ConsumerClosedError('the consumer was closed'));
    }
    this.#throwPending();
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #submit<Type extends ApplicationEvent['type']>(event: EventOf<Type>): ApplicationEventResults[Type] {
    return this.#runtime.submit(event);
  }

  /**
   * Ends this member's part in the group, as Kafka's consumer does: the commit of what was consumed (auto commit),
   * the listener, then LeaveGroup; each step within the deadline.
   */
  async #leaveGroup(deadline: number, ending: 'closed' | 'unjoined', reason: string): Promise<void> {
    const step = this.#submit({ type: 'begin-leave' });
    await this.#runStep(step, deadline);
    await this.#bounded(this.#submit({ type: 'leave', reason, ending }), deadline);
  }

  /** Runs the rebalance steps the group has for the application, one after another, inside poll. */
  async #runSteps(deadline: number): Promise<void> {
    for (;;) {
      const step = this.#submit({ type: 'take-step' });
      if (step === null) return;
      try {
        // The commit before a revocation may take longer than the poll's time: it gets up to
        // default.api.timeout.ms (never more than the rebalance timeout), as a synchronous commit would.
        const commitTime = Math.min(this.config.defaultApiTimeoutMs, this.config.maxPollIntervalMs);
        await this.#runStep(step, Math.max(deadline, Date.now() + commitTime));
      } finally {
        this.#submit({ type: 'complete-step', step });
      }
    }
  }

  async #runStep(step: RebalanceStep, deadline: number): Promise<void> {
    const listener = this.#listener;
    switch (step.kind) {
      case 'revoke':
        if (this.config.enableAutoCommit) await this.#commitQuietly(deadline);
        if (step.partitions.length > 0 || step.notifyEmpty) {
          await this.#tell('onPartitionsRevoked', () => listener?.onPartitionsRevoked?.(step.partitions));
        }
        return;
      case 'assign':
        await this.#tell('onPartitionsAssigned', () => listener?.onPartitionsAssigned?.(step.partitions));
        return;
      case 'lose':
        if (step.partitions.length === 0) return;
        // Kafka's default onPartitionsLost is onPartitionsRevoked; nothing is committed either way.
        await this.#tell('onPartitionsLost', () =>
          listener?.onPartitionsLost
            ? listener.onPartitionsLost(step.partitions)
            : listener?.onPartitionsRevoked?.(step.partitions),
        );
        return;
    }
  }

  /** Calls a listener callback and waits for it; what it throws is rethrown after the rebalance, from poll. */
  async #tell(callback: RebalanceListenerError['callback'], call: () => void | Promise<void>): Promise<void> {
    try {
      await this.#listenerScope.run(true, call);
    } catch (error) {
      this.#pendingErrors.push(new RebalanceListenerError(callback, error));
    }
  }

  /** Commits every position handed out; a failure is not thrown (as Kafka's auto commit on revocation and close). */
  async #commitQuietly(deadline: number): Promise<void> {
    const offsets = this.#runtime.subscriptions.allConsumed();
    if (offsets.length === 0) return;
    await this.#bounded(this.#submit({ type: 'commit', offsets, sync: true, deadline }), deadline).catch(() => {});
  }

  /** Under auto commit, commits what was consumed without waiting (before a manual assignment changes). */
  #autoCommitAsync(): void {
    if (!this.config.enableAutoCommit || this.#runtime.commits === null) return;
    const offsets = this.#runtime.subscriptions.allConsumed();
    if (offsets.length === 0) return;
    void this.#submit({
      type: 'commit',
      offsets,
      sync: false,
      deadline: Date.now() + this.config.defaultApiTimeoutMs,
    }).catch(() => {});
  }

  async #listOffsets(
    queries: ReadonlyArray<TopicPartition & { readonly timestamp: bigint }>,
    options: CallOptions,
  ): Promise<Array<OffsetAndTimestamp | null>> {
    this.#ensureOpen();
    return this.#interruptible(
      this.#submit({ type: 'list-offsets', queries, deadline: this.#deadline(options) }),
      options.signal,
    );
  }

  #topicMetadata(topics: readonly string[] | null, options: CallOptions): Promise<TopicMetadata> {
    this.#ensureOpen();
    return this.#interruptible(
      this.#submit({ type: 'topic-metadata', topics, deadline: this.#deadline(options) }),
      options.signal,
    );
  }

  /** Races a waiting call against `wakeup()`, `close()` and the signal. */
  #interruptible<Result>(promise: Promise<Result>, signal?: AbortSignal): Promise<Result> {
    this.#checkInterrupt(signal);
    return new Promise<Result>((resolve, reject) => {
      const onInterrupt = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onAbort = () => onInterrupt(signal!.reason as Error);
      const cleanup = () => {
        this.#interrupts.delete(onInterrupt);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#interrupts.add(onInterrupt);
      signal?.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          cleanup();
          resolve(value);
        },
        (error: unknown) => {
          cleanup();
          reject(error);
        },
      );
    });
  }

  /** Settles with the promise, or resolves at the deadline (for close and unsubscribe: they go on regardless). */
  #bounded<Result>(promise: Promise<Result>, deadline: number): Promise<Result | undefined> {
    const timedOut = this.#submit({ type: 'deadline', deadline }).then(() => undefined);
    return Promise.race([promise, timedOut]);
  }

  #interrupt(error: Error): void {
    const waiting = [...this.#interrupts];
    this.#interrupts.clear();
    for (const interrupt of waiting) interrupt(error);
  }

  #checkInterrupt(signal?: AbortSignal): void {
    if (this.#wakeupPending) {
      this.#wakeupPending = false;
      throw new WakeupError('the consumer was woken up');
    }
    signal?.throwIfAborted();
  }

  #deadline(options: CallOptions): number {
    const timeoutMs = options.timeoutMs ?? this.config.defaultApiTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError('a timeout is in ms, 0 or more');
    return Date.now() + timeoutMs;
  }

  /**
   * A closed consumer refuses every call; one that is closing refuses them too, except from its rebalance listener
   * (the callbacks close() runs), which may use the consumer as Kafka's listener may: commit, read its generation,
   * positions and assignment.
   */
  #ensureOpen(): void {
    if (this.#closed || (this.#closing !== null && this.#listenerScope.getStore() !== true))
      throw new ConsumerClosedError('the consumer is closed');
  }

  #throwPending(): void {
    const error = this.#pendingErrors.shift();
    if (error !== undefined) throw error;
  }

  /**
   * Throws what the loop met that the application must act on: a fatal group error (every time), errors of
   * fetches and offset lookups, and partitions that need a position but have no reset strategy.
   */
  #throwBackground(only?: readonly TopicPartition[]): void {
    const fatal = this.#runtime.membership?.fatalError;
    if (fatal && this.#runtime.subscriptions.hasAutoAssignedPartitions) throw fatal;
    const [first, ...rest] = this.#runtime.takeErrors();
    if (first !== undefined) {
      this.#pendingErrors.push(...rest);
      throw first;
    }
    const noOffset: TopicPartition[] = [];
    const outOfRange: Array<TopicPartition & { offset: bigint }> = [];
    const truncated: LogTruncation[] = [];
    const wanted = only === undefined ? null : new TopicPartitionSet(only);
    for (const state of this.#runtime.subscriptions.partitions()) {
      // KIP-320 under auto.offset.reset=none: stopped until the application seeks.
      if (state.fetchState === 'awaiting-validation' && state.truncation !== null) {
        if (wanted === null || wanted.has(state.tp)) truncated.push(state.truncation);
        continue;
      }
      if (state.fetchState !== 'awaiting-reset' || state.resetStrategy !== 'none') continue;
      if (wanted !== null && !wanted.has(state.tp)) continue;
      if (state.resetReason?.kind === 'out-of-range')
        outOfRange.push({ ...state.tp, offset: state.resetReason.offset });
      else noOffset.push(state.tp);
    }
    if (truncated.length > 0) throw new LogTruncationError(truncated);
    if (outOfRange.length > 0) throw new OffsetOutOfRangeError(outOfRange);
    if (noOffset.length > 0) throw new NoOffsetForPartitionError(noOffset);
  }

  /**
   * Applies the deserializers, in place (each record is deserialized once, here); on a failure, returns what came
   * before and keeps the failing record for later. With the default byte deserializers, nothing runs per record.
   */
  #deserialize(records: readonly DeserializableRecord[]): Array<ConsumerRecord<Key, Value>> {
    const keyDeserializer = this.config.keyDeserializer as Deserializer<Key>;
    const valueDeserializer = this.config.valueDeserializer as Deserializer<Value>;
    // The default (bytes for both): the fetched records are already what the application gets.
    if (keyDeserializer === deserializers.bytes && valueDeserializer === deserializers.bytes) {
      return records as unknown as Array<ConsumerRecord<Key, Value>>;
    }
    const keyAsIs = keyDeserializer === deserializers.bytes;
    const valueAsIs = valueDeserializer === deserializers.bytes;
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      let part: 'key' | 'value' = 'key';
      try {
        const raw = record as unknown as ConsumerRecord;
        // Headers are decoded only if a deserializer reads them.
        const context = {
          topic: raw.topic,
          partition: raw.partition,
          get headers() {
            return raw.headers;
          },
        };
        const key = keyAsIs ? raw.key : keyDeserializer(raw.key, context);
        part = 'value';
        const value = valueAsIs ? raw.value : valueDeserializer(raw.value, context);
        record.deserialized(key, value);
      } catch (error) {
        this.#rewind(records, index);
        const failure = new RecordDeserializationError(record as unknown as ConsumerRecord, part, error);
        if (index === 0) throw failure;
        this.#pendingErrors.push(failure);
        return records.slice(0, index) as unknown as Array<ConsumerRecord<Key, Value>>;
      }
    }
    return records as unknown as Array<ConsumerRecord<Key, Value>>;
  }

  /** Nothing from `from` on is lost: every partition goes back to its first record not returned. */
  #rewind(records: readonly DeserializableRecord[], from: number): void {
    const rewound = new TopicPartitionSet();
    for (let index = from; index < records.length; index++) {
      const record = records[index]!;
      if (rewound.has(record)) continue;
      rewound.add(record);
      this.#submit({ type: 'seek', partition: record, offset: record.offset, leaderEpoch: record.leaderEpoch });
    }
  }
}

function toOffsetToCommit(entry: TopicPartition & OffsetAndMetadata): OffsetToCommit {
  return {
    topic: entry.topic,
    partition: entry.partition,
    offset: BigInt(entry.offset),
    ...(entry.leaderEpoch === undefined ? {} : { leaderEpoch: entry.leaderEpoch }),
    ...(entry.metadata === undefined ? {} : { metadata: entry.metadata }),
  };
}

function required(entry: OffsetAndTimestamp | null, tp: TopicPartition): bigint {
  if (entry === null) throw new Error(`ListOffsets gave no offset for ${describePartition(tp)}`);
  return entry.offset;
}

function partitionInfos(info: TopicInfo, brokers: ReadonlyMap<number, BrokerInfo>): PartitionInfo[] {
  const node = (id: number): Node => brokers.get(id) ?? { nodeId: id, host: '', port: -1, rack: null };
  return info.partitions.map((partition) => ({
    topic: info.name,
    partition: partition.partition,
    leader: partition.leaderId < 0 ? null : node(partition.leaderId),
    replicas: partition.replicas.map(node),
    inSyncReplicas: partition.isr.map(node),
    offlineReplicas: partition.offlineReplicas.map(node),
  }));
}
