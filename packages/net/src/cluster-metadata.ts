import { defaultMetadataRequest, type MetadataRequest, metadataApi, ZERO_UUID } from '@sluice/protocol';
import { type LookupAll, parseBootstrapServers, resolveBootstrapServers } from './bootstrap.ts';
import type { ClusterSnapshot } from './metadata-snapshot.ts';
import { type MetadataAction, MetadataState } from './metadata-state.ts';
import type { BrokerAddress, BrokerTarget, ConnectionPool } from './pool.ts';

export interface ClusterMetadataOptions {
  /** `bootstrap.servers`: `host:port` entries, comma-separated or as a list. */
  readonly bootstrapServers: string | readonly string[];
  /** The pool Metadata requests travel through (on coordination connections); it learns every broker's address. */
  readonly pool: ConnectionPool;
  /** Topics to describe: names, or null for every topic. Default: none (brokers and controller only). */
  readonly topics?: readonly string[] | null;
  /** `metadata.max.age.ms`, default 300000. */
  readonly metadataMaxAgeMs?: number;
  /** `retry.backoff.ms`, default 100. */
  readonly retryBackoffMs?: number;
  /** `retry.backoff.max.ms`, default 1000. */
  readonly retryBackoffMaxMs?: number;
  /** `metadata.recovery.strategy`, default `rebootstrap` (Kafka 4's default). */
  readonly metadataRecoveryStrategy?: 'rebootstrap' | 'none';
  /** `metadata.recovery.rebootstrap.trigger.ms`, default 300000. */
  readonly metadataRecoveryRebootstrapTriggerMs?: number;
  /** `allow.auto.create.topics`: let the broker create described topics that do not exist. Default false here. */
  readonly allowAutoTopicCreation?: boolean;
  /** `default.api.timeout.ms`: how long `refresh()` waits before failing. Default 60000. */
  readonly defaultApiTimeoutMs?: number;
  /** For tests: DNS, clock, jitter. */
  readonly lookup?: LookupAll;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** `refresh()` found no broker to answer within its time. */
export class MetadataTimeoutError extends Error {
  override name = 'MetadataTimeoutError';
  readonly retriable = true;

  constructor(timeoutMs: number, cause: unknown) {
    const reason = cause instanceof Error ? `: ${cause.message}` : '';
    super(`no metadata within ${timeoutMs} ms${reason}`, cause === null ? {} : { cause });
  }
}

interface Waiter {
  readonly version: number;
  readonly resolve: (snapshot: ClusterSnapshot) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Cluster metadata: the thin I/O driver of `MetadataState`. It performs what the state decides (resolve
 * bootstrap.servers, send Metadata through the pool), reports outcomes back, and sleeps until the state's next
 * wake-up. Every decision (when, whom, backoff, rebootstrap, KIP-320 epochs) lives in the state.
 */
export class ClusterMetadata {
  readonly #state: MetadataState;
  readonly #pool: ConnectionPool;
  readonly #servers: readonly BrokerAddress[];
  readonly #lookup: LookupAll | undefined;
  readonly #now: () => number;
  readonly #allowAutoTopicCreation: boolean;
  readonly #timeoutMs: number;
  readonly #waiters = new Set<Waiter>();
  readonly #listeners = new Set<(snapshot: ClusterSnapshot) => void>();
  readonly #errorListeners = new Set<(error: Error) => void>();
  #timer: NodeJS.Timeout | null = null;
  #scheduled = false;
  #closed = false;

  constructor(options: ClusterMetadataOptions) {
    this.#servers = parseBootstrapServers(options.bootstrapServers);
    this.#pool = options.pool;
    this.#lookup = options.lookup;
    this.#now = options.now ?? Date.now;
    this.#allowAutoTopicCreation = options.allowAutoTopicCreation ?? false;
    this.#timeoutMs = options.defaultApiTimeoutMs ?? 60_000;
    this.#state = new MetadataState({
      ...(options.topics === undefined ? {} : { topics: options.topics }),
      ...(options.metadataMaxAgeMs === undefined ? {} : { metadataMaxAgeMs: options.metadataMaxAgeMs }),
      ...(options.retryBackoffMs === undefined ? {} : { retryBackoffMs: options.retryBackoffMs }),
      ...(options.retryBackoffMaxMs === undefined ? {} : { retryBackoffMaxMs: options.retryBackoffMaxMs }),
      ...(options.metadataRecoveryStrategy === undefined ? {} : { recoveryStrategy: options.metadataRecoveryStrategy }),
      ...(options.metadataRecoveryRebootstrapTriggerMs === undefined
        ? {}
        : { rebootstrapTriggerMs: options.metadataRecoveryRebootstrapTriggerMs }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    this.#wake();
  }

  /** The latest snapshot, or null before the first response. */
  get snapshot(): ClusterSnapshot | null {
    return this.#state.snapshot;
  }

  /** Where the state gets its metadata now: the known brokers, or the bootstrap addresses (at start, rebootstrap). */
  get mode(): 'bootstrap' | 'brokers' {
    return this.#state.mode;
  }

  /**
   * Asks for fresh metadata and resolves with the first snapshot from a request sent after this call. Concurrent
   * calls share one request (and wait the refresh backoff, so a burst of errors cannot flood the brokers). Rejects
   * with MetadataTimeoutError after `default.api.timeout.ms`, or at once with an error no retry fixes (a refused
   * login, an untrusted certificate).
   */
  refresh(options: { timeoutMs?: number } = {}): Promise<ClusterSnapshot> {
    return this.#waitFor(this.#state.requestUpdate(), options.timeoutMs ?? this.#timeoutMs);
  }

  /** The current snapshot, or the first one once it arrives. */
  ready(options: { timeoutMs?: number } = {}): Promise<ClusterSnapshot> {
    const snapshot = this.#state.snapshot;
    if (snapshot) return Promise.resolve(snapshot);
    return this.#waitFor(0, options.timeoutMs ?? this.#timeoutMs);
  }

  /** Marks the metadata stale without waiting for the refresh. */
  requestUpdate(): void {
    this.#state.requestUpdate();
    this.#wake();
  }

  /**
   * Reports an error a request met; refreshes when it means the metadata is stale (KafkaError.invalidMetadata, or a
   * NetworkError to a broker that leads partitions). Returns whether a refresh was requested.
   */
  reportError(error: unknown, context: { nodeId?: number } = {}): boolean {
    const stale = this.#state.onRequestError(error, context);
    if (stale) this.#wake();
    return stale;
  }

  /** A leader epoch learnt from a fetch or OffsetsForLeaderEpoch response (KIP-320). */
  noteLeaderEpoch(topic: string, partition: number, leaderEpoch: number): void {
    if (this.#state.noteLeaderEpoch(topic, partition, leaderEpoch)) this.#wake();
  }

  /** Changes the topics described (names, or null for all); refreshes when the set changed. */
  setTopics(topics: readonly string[] | null): void {
    this.#state.setTopics(topics);
    this.#wake();
  }

  /** Calls `listener` with every new snapshot; returns a function that removes it. */
  onUpdate(listener: (snapshot: ClusterSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls `listener` at once with every failure of a metadata attempt that no retry fixes (a refused SASL login,
   * an untrusted certificate, a listener that speaks another protocol), so that an application hears of it at
   * its next call rather than when `default.api.timeout.ms` runs out. Attempts go on after the backoff.
   */
  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Stops refreshing and fails waiting `refresh()` calls. The pool is the caller's to close. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('cluster metadata closed'));
    }
    this.#waiters.clear();
  }

  #waitFor(version: number, timeoutMs: number): Promise<ClusterSnapshot> {
    if (this.#closed) return Promise.reject(new Error('cluster metadata closed'));
    const promise = new Promise<ClusterSnapshot>((resolve, reject) => {
      const waiter: Waiter = {
        version,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          this.#refTimer();
          reject(new MetadataTimeoutError(timeoutMs, this.#state.lastError));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
    this.#wake();
    return promise;
  }

  /** Runs the state soon, once, however many callers woke it. */
  #wake(): void {
    if (this.#closed || this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  #run(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const now = this.#now();
    const action = this.#state.poll(now, (target) => this.#pool.status(target, 'coordination'));
    this.#perform(action, now);
  }

  #perform(action: MetadataAction, now: number): void {
    switch (action.kind) {
      case 'wait':
        if (Number.isFinite(action.until)) {
          this.#timer = setTimeout(() => this.#run(), Math.max(0, action.until - now));
          this.#refTimer();
        }
        return;
      case 'resolve-bootstrap':
        resolveBootstrapServers(this.#servers, this.#lookup ? { lookup: this.#lookup } : {}).then(
          (addresses) => this.#after(() => this.#state.onBootstrapResolved(this.#now(), addresses)),
          (error: unknown) => this.#after(() => this.#state.onBootstrapFailed(this.#now(), error)),
        );
        return;
      case 'send':
        this.#send(action.target, action.topics).then(
          (response) =>
            this.#after(() => {
              const snapshot = this.#state.onResponse(this.#now(), response, action.requestVersion);
              if (snapshot) this.#publish(snapshot);
            }),
          (error: unknown) =>
            this.#after(() => {
              this.#state.onFailure(this.#now(), error);
              this.#reportFatal(error);
            }),
        );
        return;
    }
  }

  #reportFatal(error: unknown): void {
    if (!(error instanceof Error) || (error as { retriable?: unknown }).retriable !== false) return;
    // Whoever waits for metadata hears of it now, not when its time runs out.
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#waiters.clear();
    for (const listener of this.#errorListeners) {
      try {
        listener(error);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  #send(target: BrokerTarget, topics: readonly string[] | null) {
    const request: MetadataRequest = {
      ...defaultMetadataRequest(),
      // null asks for every topic (v1+); names are sent with the zero id, as Kafka does.
      topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation: this.#allowAutoTopicCreation,
    };
    return this.#pool.request(target, metadataApi, request, { purpose: 'coordination' });
  }

  #after(report: () => void): void {
    if (this.#closed) return;
    report();
    this.#wake();
  }

  #publish(snapshot: ClusterSnapshot): void {
    this.#pool.setBrokers(snapshot.brokers);
    const served = this.#state.servedVersion;
    for (const waiter of this.#waiters) {
      if (waiter.version > served) continue;
      clearTimeout(waiter.timer);
      this.#waiters.delete(waiter);
      waiter.resolve(snapshot);
    }
    for (const listener of this.#listeners) {
      try {
        listener(snapshot);
      } catch {
        // A listener's failure is its own; it must not stop metadata updates.
      }
    }
  }

  /** The periodic refresh alone must not keep the process alive; someone waiting for metadata must. */
  #refTimer(): void {
    if (!this.#timer) return;
    if (this.#waiters.size > 0) this.#timer.ref();
    else this.#timer.unref();
  }
}
