/**
 * The consumer: Kafka's consumer API over Sluice's packages. A group member (`subscribe`) or a manual assignment
 * (`assign`); `poll` joins the group on first use, hands out records, and keeps liveness; offsets are committed
 * automatically (`enable.auto.commit`) or explicitly; `close` commits, leaves the group at once and releases
 * everything; `wakeup` makes a blocked `poll` throw WakeupError from anywhere.
 *
 * Invariants (Kafka's, Principle 6):
 * - Only positions of records already handed to the application are committed, and only for partitions this
 *   member owns. Before a partition is revoked its position is committed (auto commit) and the listener is told;
 *   a lost partition (the generation ended without a hand-over) is never committed.
 * - A partition gets a position before it is fetched: its committed offset, else `auto.offset.reset`.
 */
import type { TopicPartition } from '@sluice/assignors';
import { type ConsumerRecord, Fetcher, OffsetLookup } from '@sluice/fetch';
import { GroupMember, type RebalanceListener } from '@sluice/group';
import { ClusterMetadata, type ConnectionOptions, ConnectionPool, type SaslOptions } from '@sluice/net';
import { type CommittedOffset, OffsetCommitter, type OffsetToCommit } from '@sluice/offsets';
import { type ConsumerConfig, type ConsumerConfigInput, parseConsumerConfig } from './config.ts';
import { type Deserializer, deserializers } from './deserializers.ts';

/** `wakeup()` was called: the `poll` (or blocking call) it interrupted throws this. */
export class WakeupError extends Error {
  override name = 'WakeupError';
}

/** The consumer was used after `close()`. */
export class ConsumerClosedError extends Error {
  override name = 'ConsumerClosedError';
}

/** A partition has no committed offset and `auto.offset.reset` is `none` (or its position is out of range). */
export class NoOffsetForPartitionError extends Error {
  override name = 'NoOffsetForPartitionError';
  readonly partitions: readonly TopicPartition[];

  constructor(partitions: readonly TopicPartition[], why: string) {
    super(`${why} for ${partitions.map(describe).join(', ')} and auto.offset.reset is none`);
    this.partitions = partitions;
  }
}

/** A record's key or value could not be deserialized. The position stays at the record: seek past it to go on. */
export class RecordDeserializationError extends Error {
  override name = 'RecordDeserializationError';
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly part: 'key' | 'value';

  constructor(record: ConsumerRecord, part: 'key' | 'value', cause: unknown) {
    super(
      `cannot deserialize the ${part} of ${record.topic}-${record.partition} at offset ${record.offset}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = record.offset;
    this.part = part;
  }
}

/** Kafka's OffsetAndMetadata. */
export interface OffsetAndMetadata {
  readonly offset: bigint;
  readonly leaderEpoch?: number;
  readonly metadata?: string;
}

export type ConsumerRebalanceListener = RebalanceListener;

export class KafkaConsumer<Key = Uint8Array | null, Value = Uint8Array | null> {
  readonly config: ConsumerConfig;
  readonly #pool: ConnectionPool;
  readonly #metadata: ClusterMetadata;
  readonly #fetcher: Fetcher;
  readonly #lookup: OffsetLookup;
  readonly #committer: OffsetCommitter | null;
  #member: GroupMember | null = null;
  #subscription: string[] = [];
  #listener: ConsumerRebalanceListener | null = null;
  #manual = false;
  #closed = false;
  #wakeup = false;
  #nextAutoCommit = 0;
  /** Errors to throw from the next poll (a deserialization error after records were returned, listener errors). */
  #pendingErrors: Error[] = [];
  /** Owned partitions, as the group assigned them (or as `assign` set them). */
  #owned: TopicPartition[] = [];

  constructor(config: ConsumerConfigInput) {
    this.config = parseConsumerConfig(config);
    const c = this.config;
    this.#pool = new ConnectionPool({
      connection: connectionOptions(c),
      reconnectBackoffMs: c.reconnectBackoffMs,
      reconnectBackoffMaxMs: c.reconnectBackoffMaxMs,
      connectTimeoutMaxMs: c.socketConnectionSetupTimeoutMaxMs,
      connectionsMaxIdleMs: c.connectionsMaxIdleMs < 0 ? Number.POSITIVE_INFINITY : c.connectionsMaxIdleMs,
    });
    this.#metadata = new ClusterMetadata({
      bootstrapServers: c.bootstrapServers,
      pool: this.#pool,
      topics: [],
      metadataMaxAgeMs: c.metadataMaxAgeMs,
      retryBackoffMs: c.retryBackoffMs,
      retryBackoffMaxMs: c.retryBackoffMaxMs,
      allowAutoTopicCreation: c.allowAutoCreateTopics,
      defaultApiTimeoutMs: c.defaultApiTimeoutMs,
    });
    this.#fetcher = new Fetcher({
      pool: this.#pool,
      metadata: this.#metadata,
      fetchMinBytes: c.fetchMinBytes,
      fetchMaxBytes: c.fetchMaxBytes,
      maxPartitionFetchBytes: c.maxPartitionFetchBytes,
      fetchMaxWaitMs: c.fetchMaxWaitMs,
      isolationLevel: c.isolationLevel,
      checkCrcs: c.checkCrcs,
      clientRack: c.clientRack,
      requestTimeoutMs: c.requestTimeoutMs,
      retryBackoffMs: c.retryBackoffMs,
    });
    this.#lookup = new OffsetLookup({
      pool: this.#pool,
      metadata: this.#metadata,
      isolationLevel: c.isolationLevel,
      requestTimeoutMs: c.requestTimeoutMs,
      defaultApiTimeoutMs: c.defaultApiTimeoutMs,
      retryBackoffMs: c.retryBackoffMs,
      retryBackoffMaxMs: c.retryBackoffMaxMs,
    });
    this.#committer =
      c.groupId === null
        ? null
        : new OffsetCommitter({
            pool: this.#pool,
            metadata: this.#metadata,
            groupId: c.groupId,
            generation: () => {
              const generation = this.#member?.membership.generation ?? null;
              return generation === null
                ? null
                : {
                    generationId: generation.generationId,
                    memberId: generation.memberId,
                    groupInstanceId: c.groupInstanceId,
                  };
            },
            requestTimeoutMs: c.requestTimeoutMs,
            defaultApiTimeoutMs: c.defaultApiTimeoutMs,
            retryBackoffMs: c.retryBackoffMs,
            retryBackoffMaxMs: c.retryBackoffMaxMs,
          });
  }

  /**
   * Subscribes to topics: the group decides which of their partitions this consumer reads. Takes effect at the next
   * `poll` (the first poll joins the group). Needs `group.id`.
   */
  subscribe(topics: readonly string[], listener?: ConsumerRebalanceListener): void {
    this.#ensureOpen();
    if (this.#committer === null) throw new Error('subscribe needs a group.id (use assign without one)');
    if (this.#manual) throw new Error('subscribe cannot be mixed with assign: unsubscribe first');
    if (topics.length === 0 || topics.some((topic) => typeof topic !== 'string' || topic === '')) {
      throw new TypeError('subscribe takes a non-empty list of topic names');
    }
    const sorted = [...new Set(topics)].sort();
    this.#listener = listener ?? null;
    if (this.#member !== null && sorted.join('\u0000') === this.#subscription.join('\u0000')) return;
    this.#subscription = sorted;
    this.#metadata.setTopics(sorted);
    // A new subscription is a new membership (a rejoin with the new topics).
    const previous = this.#member;
    this.#member = null;
    if (previous !== null) void previous.close();
  }

  /** Reads exactly these partitions, without group membership (offsets may still be committed with a group.id). */
  assign(partitions: readonly TopicPartition[]): void {
    this.#ensureOpen();
    if (this.#subscription.length > 0) throw new Error('assign cannot be mixed with subscribe: unsubscribe first');
    this.#manual = partitions.length > 0;
    this.#owned = [...partitions];
    this.#metadata.setTopics([...new Set(partitions.map((tp) => tp.topic))]);
    this.#fetcher.assign(this.#owned);
  }

  /** Leaves the group (revoking, with a commit under auto commit) or drops the manual assignment. */
  async unsubscribe(): Promise<void> {
    this.#ensureOpen();
    const member = this.#member;
    this.#member = null;
    this.#subscription = [];
    this.#manual = false;
    if (member !== null) await member.close();
    this.#owned = [];
    this.#fetcher.assign([]);
  }

  /** The partitions this consumer reads now. */
  assignment(): TopicPartition[] {
    return [...this.#owned];
  }

  subscription(): string[] {
    return [...this.#subscription];
  }

  /**
   * Records that arrived, at most `max.poll.records`, waiting up to `timeoutMs` for some. The first call joins the
   * group. Throws WakeupError when `wakeup()` interrupts it, and what a fetch met that no retry can fix.
   */
  async poll(timeoutMs: number): Promise<Array<ConsumerRecord<Key, Value>>> {
    this.#ensureOpen();
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError('poll takes a timeout in ms, 0 or more');
    if (this.#subscription.length === 0 && !this.#manual) {
      throw new Error('poll before subscribe or assign: this consumer has nothing to read');
    }
    const deadline = Date.now() + timeoutMs;
    this.#checkWakeup();
    this.#throwPending();
    this.#ensureMember();
    this.#member?.polled();
    await this.#maybeAutoCommit();
    for (;;) {
      this.#checkWakeup();
      await this.#updatePositions(deadline);
      this.#checkWakeup();
      const remaining = Math.max(0, deadline - Date.now());
      const records = await this.#fetcher.poll(this.config.maxPollRecords, Math.min(remaining, 100));
      this.#checkWakeup();
      this.#throwPending();
      if (records.length > 0) return this.#deserialize(records);
      if (Date.now() >= deadline) return [];
    }
  }

  /** Interrupts a blocked `poll` (or the next one) with WakeupError. Safe to call from anywhere. */
  wakeup(): void {
    this.#wakeup = true;
  }

  /** The offset of the next record `poll` returns for the partition. */
  async position(tp: TopicPartition, options: { timeoutMs?: number } = {}): Promise<bigint> {
    this.#ensureOpen();
    this.#requireOwned(tp);
    await this.#updatePositions(Date.now() + (options.timeoutMs ?? this.config.defaultApiTimeoutMs), [tp]);
    const position = this.#fetcher.position(tp);
    if (position === null) throw new Error(`no position for ${describe(tp)} yet`);
    return position;
  }

  seek(tp: TopicPartition, offset: bigint | number): void {
    this.#ensureOpen();
    this.#requireOwned(tp);
    this.#fetcher.seek(tp, BigInt(offset));
  }

  async seekToBeginning(partitions: readonly TopicPartition[] = this.#owned): Promise<void> {
    this.#ensureOpen();
    const offsets = await this.#lookup.beginningOffsets(partitions);
    for (const [index, tp] of partitions.entries()) this.#fetcher.seek(tp, offsets[index]!);
  }

  async seekToEnd(partitions: readonly TopicPartition[] = this.#owned): Promise<void> {
    this.#ensureOpen();
    const offsets = await this.#lookup.endOffsets(partitions);
    for (const [index, tp] of partitions.entries()) this.#fetcher.seek(tp, offsets[index]!);
  }

  beginningOffsets(partitions: readonly TopicPartition[]): Promise<bigint[]> {
    return this.#lookup.beginningOffsets(partitions);
  }

  endOffsets(partitions: readonly TopicPartition[]): Promise<bigint[]> {
    return this.#lookup.endOffsets(partitions);
  }

  offsetsForTimes(queries: ReadonlyArray<TopicPartition & { timestamp: bigint | number }>) {
    return this.#lookup.offsetsForTimes(queries.map((query) => ({ ...query, timestamp: BigInt(query.timestamp) })));
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#requireOwned(tp);
    this.#fetcher.pause(partitions);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#requireOwned(tp);
    this.#fetcher.resume(partitions);
  }

  /** The committed offsets of the partitions (null where none). Needs `group.id`. */
  committed(partitions: readonly TopicPartition[]): Promise<Array<CommittedOffset | null>> {
    return this.#requireCommitter().committed(partitions);
  }

  /**
   * Commits offsets and waits for the coordinator: the given ones, or the current position of every owned
   * partition. Throws CommitFailedError when the group has rebalanced without this member.
   */
  async commitSync(
    offsets?: ReadonlyArray<TopicPartition & OffsetAndMetadata>,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    this.#ensureOpen();
    const committer = this.#requireCommitter();
    const toCommit = offsets === undefined ? this.#positions(this.#owned) : offsets.map(toOffsetToCommit);
    await committer.commit(toCommit, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
  }

  /** Commits without waiting; the callback (if any) gets the outcome. */
  commitAsync(
    offsets?: ReadonlyArray<TopicPartition & OffsetAndMetadata>,
    callback?: (error: Error | null) => void,
  ): void {
    this.commitSync(offsets).then(
      () => callback?.(null),
      (error: unknown) => callback?.(error as Error),
    );
  }

  /**
   * Commits (under auto commit), leaves the group at once (a dynamic member sends LeaveGroup, so the others
   * rebalance without waiting for its session to expire), and closes every connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.config.enableAutoCommit && this.#committer !== null && this.#manual && this.#owned.length > 0) {
        await this.#committer.commit(this.#positions(this.#owned)).catch(() => {});
      }
      const member = this.#member;
      this.#member = null;
      if (member !== null) await member.close();
    } finally {
      this.#closed = true;
      this.#fetcher.close();
      this.#metadata.close();
      this.#pool.close();
    }
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #ensureOpen(): void {
    if (this.#closed) throw new ConsumerClosedError('the consumer is closed');
  }

  #checkWakeup(): void {
    if (this.#wakeup) {
      this.#wakeup = false;
      throw new WakeupError('poll was woken up');
    }
  }

  #throwPending(): void {
    const error = this.#pendingErrors.shift();
    if (error !== undefined) throw error;
  }

  #requireCommitter(): OffsetCommitter {
    if (this.#committer === null) throw new Error('committing offsets needs a group.id');
    return this.#committer;
  }

  #requireOwned(tp: TopicPartition): void {
    if (!this.#owned.some((owned) => owned.topic === tp.topic && owned.partition === tp.partition)) {
      throw new Error(`${describe(tp)} is not assigned to this consumer`);
    }
  }

  #ensureMember(): void {
    if (this.#member !== null || this.#subscription.length === 0) return;
    const c = this.config;
    const member = new GroupMember({
      groupId: c.groupId!,
      groupInstanceId: c.groupInstanceId,
      sessionTimeoutMs: c.sessionTimeoutMs,
      rebalanceTimeoutMs: c.maxPollIntervalMs,
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      retryBackoffMs: c.retryBackoffMs,
      retryBackoffMaxMs: c.retryBackoffMaxMs,
      requestTimeoutMs: c.requestTimeoutMs,
      pool: this.#pool,
      metadata: this.#metadata,
      assignors: c.partitionAssignmentStrategy,
      topics: this.#subscription,
      rackId: c.clientRack,
      listener: this.#groupListener(),
      onFatal: (error) => this.#pendingErrors.push(error),
      onListenerError: (error) => this.#pendingErrors.push(error),
    });
    this.#member = member;
    member.start();
  }

  /** What the group member tells us, turned into fetcher state, commits and the user's listener. */
  #groupListener(): RebalanceListener {
    return {
      onPartitionsRevoked: async (partitions) => {
        if (this.config.enableAutoCommit) {
          // Commit what was handed out before the partitions go (Kafka's consumer does this in onJoinPrepare).
          await this.#committer!.commit(this.#positions(partitions)).catch((error: unknown) => {
            this.#pendingErrors.push(error as Error);
          });
        }
        try {
          await this.#listener?.onPartitionsRevoked?.(partitions);
        } finally {
          this.#removeOwned(partitions);
        }
      },
      onPartitionsLost: async (partitions) => {
        try {
          // Kafka's default for onPartitionsLost is onPartitionsRevoked; nothing is committed either way.
          if (this.#listener?.onPartitionsLost) await this.#listener.onPartitionsLost(partitions);
          else await this.#listener?.onPartitionsRevoked?.(partitions);
        } finally {
          this.#removeOwned(partitions);
        }
      },
      onPartitionsAssigned: async (partitions) => {
        this.#owned = [...this.#owned, ...partitions];
        this.#fetcher.assign(this.#owned);
        await this.#listener?.onPartitionsAssigned?.(partitions);
      },
    };
  }

  #removeOwned(partitions: readonly TopicPartition[]): void {
    const gone = new Set(partitions.map(keyOf));
    this.#owned = this.#owned.filter((tp) => !gone.has(keyOf(tp)));
    this.#fetcher.assign(this.#owned);
  }

  /** Positions (next offsets) of the partitions that have one, as offsets to commit. */
  #positions(partitions: readonly TopicPartition[]): OffsetToCommit[] {
    const owned = new Set(this.#owned.map(keyOf));
    const result: OffsetToCommit[] = [];
    for (const tp of partitions) {
      if (!owned.has(keyOf(tp))) continue;
      const position = this.#fetcher.position(tp);
      if (position !== null) result.push({ topic: tp.topic, partition: tp.partition, offset: position });
    }
    return result;
  }

  async #maybeAutoCommit(): Promise<void> {
    if (!this.config.enableAutoCommit || this.#committer === null) return;
    const now = Date.now();
    if (now < this.#nextAutoCommit) return;
    this.#nextAutoCommit = now + this.config.autoCommitIntervalMs;
    const offsets = this.#positions(this.#owned);
    if (offsets.length === 0) return;
    // Asynchronous, as Kafka's auto commit: a failure is retried at the next interval.
    this.#committer.commit(offsets).catch(() => {});
  }

  /** Gives a position to every owned partition that needs one: its committed offset, else auto.offset.reset. */
  async #updatePositions(deadline: number, only?: readonly TopicPartition[]): Promise<void> {
    let needing = this.#fetcher.partitionsNeedingPosition();
    if (only !== undefined) {
      const wanted = new Set(only.map(keyOf));
      needing = needing.filter((tp) => wanted.has(keyOf(tp)));
    }
    if (needing.length === 0) return;
    const timeoutMs = Math.max(1, deadline - Date.now());
    const withoutPosition = needing.filter((tp) => this.#fetcher.position(tp) === null);
    const outOfRange = needing.filter((tp) => this.#fetcher.position(tp) !== null);
    const toReset: TopicPartition[] = [...outOfRange];
    if (withoutPosition.length > 0) {
      if (this.#committer !== null) {
        const committed = await this.#committer.committed(withoutPosition, { timeoutMs });
        withoutPosition.forEach((tp, index) => {
          const entry = committed[index];
          if (entry) this.#fetcher.seek(tp, entry.offset);
          else toReset.push(tp);
        });
      } else {
        toReset.push(...withoutPosition);
      }
    }
    if (toReset.length === 0) return;
    const strategy = this.config.autoOffsetReset;
    if (strategy === 'none') {
      throw new NoOffsetForPartitionError(toReset, 'no committed offset or an out-of-range position');
    }
    const offsets =
      strategy === 'earliest'
        ? await this.#lookup.beginningOffsets(toReset, { timeoutMs })
        : await this.#lookup.endOffsets(toReset, { timeoutMs });
    for (const [index, tp] of toReset.entries()) this.#fetcher.seek(tp, offsets[index]!);
  }

  /** Applies the deserializers; on a failure, returns what came before and keeps the failing record for later. */
  #deserialize(records: readonly ConsumerRecord[]): Array<ConsumerRecord<Key, Value>> {
    const keyDeserializer = this.config.keyDeserializer as Deserializer<Key>;
    const valueDeserializer = this.config.valueDeserializer as Deserializer<Value>;
    // The default (bytes for both): the fetched records are already what the application gets.
    if (keyDeserializer === deserializers.bytes && valueDeserializer === deserializers.bytes) {
      return records as Array<ConsumerRecord<Key, Value>>;
    }
    const result: Array<ConsumerRecord<Key, Value>> = [];
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      const context = { topic: record.topic, partition: record.partition, headers: record.headers };
      let part: 'key' | 'value' = 'key';
      try {
        const key = keyDeserializer(record.key, context);
        part = 'value';
        const value = valueDeserializer(record.value, context);
        result.push({ ...record, key, value });
      } catch (error) {
        // Nothing from here on is lost: every partition goes back to its first record not returned.
        const rewound = new Set<string>();
        for (const later of records.slice(index)) {
          if (rewound.has(keyOf(later))) continue;
          rewound.add(keyOf(later));
          this.#fetcher.seek(later, later.offset);
        }
        const failure = new RecordDeserializationError(record, part, error);
        if (result.length === 0) throw failure;
        this.#pendingErrors.push(failure);
        return result;
      }
    }
    return result;
  }
}

function connectionOptions(c: ConsumerConfig): Omit<ConnectionOptions, 'host' | 'port'> {
  const tls = c.securityProtocol === 'SSL' || c.securityProtocol === 'SASL_SSL';
  const sasl = c.securityProtocol === 'SASL_PLAINTEXT' || c.securityProtocol === 'SASL_SSL';
  const saslOptions: SaslOptions | null = sasl
    ? { mechanism: c.saslMechanism, username: c.saslUsername!, password: c.saslPassword! }
    : null;
  return {
    clientId: c.clientId === '' ? null : c.clientId,
    requestTimeoutMs: c.requestTimeoutMs,
    connectTimeoutMs: c.socketConnectionSetupTimeoutMs,
    receiveBufferBytes: c.receiveBufferBytes,
    sendBufferBytes: c.sendBufferBytes,
    tls: tls
      ? {
          ...(c.sslCa ? { ca: c.sslCa } : {}),
          ...(c.sslCertificate ? { cert: c.sslCertificate } : {}),
          ...(c.sslKey ? { key: c.sslKey.reveal() } : {}),
          ...(c.sslEndpointIdentificationAlgorithm === '' ? { checkServerIdentity: () => undefined } : {}),
        }
      : null,
    sasl: saslOptions,
  };
}

function toOffsetToCommit(entry: TopicPartition & OffsetAndMetadata): OffsetToCommit {
  return {
    topic: entry.topic,
    partition: entry.partition,
    offset: entry.offset,
    ...(entry.leaderEpoch === undefined ? {} : { leaderEpoch: entry.leaderEpoch }),
    ...(entry.metadata === undefined ? {} : { metadata: entry.metadata }),
  };
}

function keyOf({ topic, partition }: TopicPartition): string {
  return `${topic}\u0000${partition}`;
}

function describe({ topic, partition }: TopicPartition): string {
  return `${topic}-${partition}`;
}
