import { type MetadataResponse, type Uuid, ZERO_UUID } from '@sluice/protocol';
import { NetworkError } from './errors.ts';
import { KafkaError } from './kafka-error.ts';
import { ErrorCode } from './kafka-errors.generated.ts';
import { type ClusterSnapshot, type KnownEpochs, mergeMetadata } from './metadata-snapshot.ts';
import type { BootstrapAddress, BrokerTarget, ConnectionStatus } from './pool.ts';
import { backoffMs } from './retry.ts';

/**
 * When to refresh cluster metadata and whom to ask: a state machine with no I/O (ARCHITECTURE principle 4). The
 * driver asks `poll(now, statusOf)` what to do, does it, and reports the outcome; `poll` also says when it next
 * wants to run. The rules are Kafka's (Metadata and NetworkClient's DefaultMetadataUpdater):
 *
 * - Refresh when there is no snapshot, when it is `metadata.max.age.ms` old, or when someone asked
 *   (`requestUpdate`: an error said the metadata is stale). Requests are versioned, so a request made while a
 *   refresh is in flight is satisfied only by a later one: the response in flight may predate the problem.
 * - One refresh at a time; concurrent requests coalesce into it. Between attempts wait `retry.backoff.ms`,
 *   doubling per failure up to `retry.backoff.max.ms` (KIP-580).
 * - Ask the least loaded broker: a connected one with the fewest requests in flight, else one being connected to,
 *   else one that may be dialled (not in reconnect backoff), starting at a random offset so clients spread out.
 * - Rebootstrap (KIP-899, `metadata.recovery.strategy=rebootstrap`, Kafka 4's default): when every known broker is
 *   in reconnect backoff, or no metadata could be had for `metadata.recovery.rebootstrap.trigger.ms` (KIP-1102), or
 *   a broker answers REBOOTSTRAP_REQUIRED, resolve `bootstrap.servers` again and ask those addresses.
 */
export interface MetadataStateOptions {
  /** `metadata.max.age.ms`, default 300000. */
  readonly metadataMaxAgeMs?: number;
  /** `retry.backoff.ms`, default 100. */
  readonly retryBackoffMs?: number;
  /** `retry.backoff.max.ms`, default 1000. */
  readonly retryBackoffMaxMs?: number;
  /** `metadata.recovery.strategy`, default `rebootstrap`. */
  readonly recoveryStrategy?: 'rebootstrap' | 'none';
  /** `metadata.recovery.rebootstrap.trigger.ms`, default 300000. */
  readonly rebootstrapTriggerMs?: number;
  /** Topics to describe: names, or null for every topic. Default: none (brokers only). */
  readonly topics?: readonly string[] | null;
  readonly random?: () => number;
}

export type MetadataAction =
  /** Nothing to do before `until` (Infinity: until something is reported or requested). */
  | { readonly kind: 'wait'; readonly until: number }
  /** Resolve `bootstrap.servers` and report with `onBootstrapResolved` / `onBootstrapFailed`. */
  | { readonly kind: 'resolve-bootstrap'; readonly reason: 'start' | 'rebootstrap' }
  /** Send Metadata to `target` and report with `onResponse` / `onFailure`. */
  | {
      readonly kind: 'send';
      readonly target: BrokerTarget;
      /** Topic names to describe, or null for all. */
      readonly topics: readonly string[] | null;
      readonly requestVersion: number;
    };

type Mode = 'bootstrap' | 'brokers';

export class MetadataState {
  readonly #maxAgeMs: number;
  readonly #retryBackoffMs: number;
  readonly #retryBackoffMaxMs: number;
  readonly #recoveryStrategy: 'rebootstrap' | 'none';
  readonly #rebootstrapTriggerMs: number;
  readonly #random: () => number;
  #topics: readonly string[] | null;
  #snapshot: ClusterSnapshot | null = null;
  #bootstrapAddresses: readonly BootstrapAddress[] = [];
  #mode: Mode = 'bootstrap';
  /** Resolve bootstrap.servers before the next attempt. */
  #needsResolve = true;
  #busy = false;
  /** Incremented by every `requestUpdate`; a response satisfies the requests made before it was sent. */
  #requestVersion = 0;
  #servedVersion = -1;
  #lastSuccessAt = Number.NEGATIVE_INFINITY;
  /** No attempt before this: `retry.backoff.ms * 2^failures` after the last attempt's outcome. */
  #allowedAt = Number.NEGATIVE_INFINITY;
  #failures = 0;
  #failingSince: number | null = null;
  #lastError: unknown = null;
  readonly #knownEpochs = new Map<string, { topicId: Uuid; epochs: Map<number, number> }>();

  constructor(options: MetadataStateOptions = {}) {
    this.#maxAgeMs = options.metadataMaxAgeMs ?? 300_000;
    this.#retryBackoffMs = options.retryBackoffMs ?? 100;
    this.#retryBackoffMaxMs = options.retryBackoffMaxMs ?? 1000;
    this.#recoveryStrategy = options.recoveryStrategy ?? 'rebootstrap';
    this.#rebootstrapTriggerMs = options.rebootstrapTriggerMs ?? 300_000;
    this.#random = options.random ?? Math.random;
    this.#topics = options.topics === undefined ? [] : options.topics === null ? null : [...options.topics];
  }

  get snapshot(): ClusterSnapshot | null {
    return this.#snapshot;
  }

  /** The error of the last failed attempt since the last success, or null. */
  get lastError(): unknown {
    return this.#lastError;
  }

  get mode(): Mode {
    return this.#mode;
  }

  /** Requests up to this version have been answered. */
  get servedVersion(): number {
    return this.#servedVersion;
  }

  /** Marks the metadata stale; returns the version a response must serve to satisfy this request. */
  requestUpdate(): number {
    return ++this.#requestVersion;
  }

  /** Changes the topics described; a refresh follows when the set grew or changed. */
  setTopics(topics: readonly string[] | null): number {
    const same =
      topics === null
        ? this.#topics === null
        : this.#topics !== null &&
          topics.length === this.#topics.length &&
          topics.every((topic) => this.#topics!.includes(topic));
    this.#topics = topics === null ? null : [...topics];
    return same ? this.#requestVersion : this.requestUpdate();
  }

  /**
   * Decides whether an error seen by some request means the metadata is stale, and if so asks for a refresh:
   * KafkaError with `invalidMetadata` (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH ...),
   * or a NetworkError to a broker that leads a partition (it may be gone; its partitions have moved).
   */
  onRequestError(error: unknown, context: { nodeId?: number } = {}): boolean {
    const stale =
      (error instanceof KafkaError && error.invalidMetadata) ||
      (error instanceof NetworkError && (context.nodeId === undefined || this.#leads(context.nodeId)));
    if (stale) this.requestUpdate();
    return stale;
  }

  /**
   * A newer leader epoch learnt elsewhere (a fetch response's current leader, OffsetsForLeaderEpoch): remember it
   * so that no older metadata is accepted (KIP-320), and refresh if our snapshot is behind it.
   */
  noteLeaderEpoch(topic: string, partition: number, leaderEpoch: number): boolean {
    const topicId = this.#snapshot?.topics.get(topic)?.topicId ?? ZERO_UUID;
    let known = this.#knownEpochs.get(topic);
    if (!known || (known.topicId !== ZERO_UUID && topicId !== ZERO_UUID && known.topicId !== topicId)) {
      known = { topicId, epochs: new Map() };
      this.#knownEpochs.set(topic, known);
    }
    if ((known.epochs.get(partition) ?? -1) >= leaderEpoch) return false;
    known.epochs.set(partition, leaderEpoch);
    const current = this.#snapshot?.topics.get(topic)?.partitions.find((info) => info.partition === partition);
    if (current && current.leaderEpoch >= leaderEpoch) return false;
    this.requestUpdate();
    return true;
  }

  /** The next thing to do. `statusOf` tells the state of the pool's connection to a target. */
  poll(now: number, statusOf: (target: BrokerTarget) => ConnectionStatus): MetadataAction {
    if (this.#busy) return { kind: 'wait', until: Number.POSITIVE_INFINITY };
    const needUpdate = this.#snapshot === null || this.#requestVersion > this.#servedVersion;
    const dueAt = needUpdate ? now : this.#lastSuccessAt + this.#maxAgeMs;
    // The first attempt goes at once; after that, every attempt (even after a success) waits its backoff.
    const nextAt = Math.max(dueAt, this.#allowedAt);
    if (nextAt > now) return { kind: 'wait', until: nextAt };

    if (
      this.#recoveryStrategy === 'rebootstrap' &&
      this.#mode === 'brokers' &&
      this.#failingSince !== null &&
      now - this.#failingSince >= this.#rebootstrapTriggerMs
    ) {
      this.#startRebootstrap();
    }
    if (this.#needsResolve) return this.#resolve();

    const candidates: BrokerTarget[] =
      this.#mode === 'brokers' && this.#snapshot
        ? [...this.#snapshot.brokers.keys()].map((nodeId) => ({ nodeId }))
        : this.#bootstrapAddresses.map((bootstrap) => ({ bootstrap }));
    const chosen = leastLoaded(candidates, statusOf, this.#random);
    if ('target' in chosen) {
      this.#busy = true;
      return { kind: 'send', target: chosen.target, topics: this.#topics, requestVersion: this.#requestVersion };
    }
    // Every candidate is in reconnect backoff.
    if (this.#mode === 'brokers' && this.#recoveryStrategy === 'rebootstrap') {
      this.#startRebootstrap();
      return this.#resolve();
    }
    return { kind: 'wait', until: Math.max(now + 1, chosen.readyAt) };
  }

  onBootstrapResolved(_now: number, addresses: readonly BootstrapAddress[]): void {
    this.#busy = false;
    this.#needsResolve = false;
    this.#bootstrapAddresses = [...addresses];
  }

  onBootstrapFailed(now: number, error: unknown): void {
    this.#busy = false;
    this.#recordFailure(now, error);
  }

  /**
   * A Metadata response for a request sent with `requestVersion`. Returns the new snapshot, or null when the
   * response was refused (a top-level error, no brokers); refusals count as failed attempts.
   */
  onResponse(now: number, response: MetadataResponse, requestVersion: number): ClusterSnapshot | null {
    this.#busy = false;
    if (response.errorCode === ErrorCode.REBOOTSTRAP_REQUIRED) {
      // KIP-1102: the broker says our view of the cluster is beyond repair from here.
      this.#recordFailure(now, new KafkaError(response.errorCode, { context: 'Metadata' }));
      if (this.#recoveryStrategy === 'rebootstrap') this.#startRebootstrap();
      return null;
    }
    if (response.errorCode !== 0) {
      this.#recordFailure(now, new KafkaError(response.errorCode, { context: 'Metadata' }));
      return null;
    }
    if (response.brokers.length === 0) {
      // Kafka ignores such a response too: a broker still starting may send it, and it would leave us with no one.
      this.#recordFailure(now, new Error('Metadata response listed no brokers'));
      return null;
    }
    const { snapshot, staleEpochs } = mergeMetadata({
      previous: this.#snapshot,
      response,
      knownEpochs: this.#knownEpochs as ReadonlyMap<string, KnownEpochs>,
      now,
    });
    this.#snapshot = snapshot;
    this.#rememberEpochs(snapshot);
    this.#mode = 'brokers';
    this.#lastSuccessAt = now;
    this.#failures = 0;
    this.#allowedAt = now + this.#backoff();
    this.#failingSince = null;
    this.#lastError = null;
    this.#servedVersion = Math.max(this.#servedVersion, requestVersion);
    // A response older than what we know (KIP-320) serves nobody's request for fresh data: ask again.
    if (staleEpochs) this.requestUpdate();
    return snapshot;
  }

  onFailure(now: number, error: unknown): void {
    this.#busy = false;
    this.#recordFailure(now, error);
  }

  #recordFailure(now: number, error: unknown): void {
    this.#failures++;
    this.#allowedAt = now + this.#backoff();
    this.#failingSince ??= now;
    this.#lastError = error;
  }

  #backoff(): number {
    return backoffMs(this.#failures, {
      initialMs: this.#retryBackoffMs,
      maxMs: this.#retryBackoffMaxMs,
      random: this.#random,
    });
  }

  #startRebootstrap(): void {
    this.#mode = 'bootstrap';
    this.#needsResolve = true;
    // The trigger clock starts again: the bootstrap addresses get their own chance.
    this.#failingSince = null;
  }

  #resolve(): MetadataAction {
    this.#busy = true;
    return { kind: 'resolve-bootstrap', reason: this.#snapshot === null ? 'start' : 'rebootstrap' };
  }

  #leads(nodeId: number): boolean {
    for (const topic of this.#snapshot?.topics.values() ?? []) {
      if (topic.partitions.some((partition) => partition.leaderId === nodeId)) return true;
    }
    return false;
  }

  #rememberEpochs(snapshot: ClusterSnapshot): void {
    for (const [name, known] of this.#knownEpochs) {
      const topic = snapshot.topics.get(name);
      // A topic no longer described is forgotten; one re-created under a new id starts over.
      if (!topic || (known.topicId !== ZERO_UUID && topic.topicId !== ZERO_UUID && known.topicId !== topic.topicId)) {
        this.#knownEpochs.delete(name);
      }
    }
    for (const topic of snapshot.topics.values()) {
      let known = this.#knownEpochs.get(topic.name);
      if (!known) {
        known = { topicId: topic.topicId, epochs: new Map() };
        this.#knownEpochs.set(topic.name, known);
      }
      if (known.topicId === ZERO_UUID) known.topicId = topic.topicId;
      for (const partition of topic.partitions) {
        if (partition.leaderEpoch > (known.epochs.get(partition.partition) ?? -1)) {
          known.epochs.set(partition.partition, partition.leaderEpoch);
        }
      }
    }
  }
}

/**
 * Kafka's leastLoadedNode: a connected broker with the fewest requests in flight (an idle one ends the search),
 * else one being connected to, else one that may be dialled. Starting at a random offset spreads clients out.
 * Returns the earliest time a broker leaves backoff when every one is in backoff.
 */
export function leastLoaded(
  candidates: readonly BrokerTarget[],
  statusOf: (target: BrokerTarget) => ConnectionStatus,
  random: () => number,
): { target: BrokerTarget } | { readyAt: number } {
  const offset = Math.floor(random() * candidates.length);
  let connected: { target: BrokerTarget; inFlight: number } | null = null;
  let connecting: BrokerTarget | null = null;
  let canConnect: BrokerTarget | null = null;
  let readyAt = Number.POSITIVE_INFINITY;
  for (let index = 0; index < candidates.length; index++) {
    const target = candidates[(offset + index) % candidates.length]!;
    const status = statusOf(target);
    if (status.state === 'connected') {
      if (status.inFlight === 0) return { target };
      if (connected === null || status.inFlight < connected.inFlight) connected = { target, inFlight: status.inFlight };
    } else if (status.state === 'connecting') {
      connecting ??= target;
    } else if (status.state === 'disconnected') {
      canConnect ??= target;
    } else {
      readyAt = Math.min(readyAt, status.readyAt);
    }
  }
  const target = connected?.target ?? connecting ?? canConnect;
  return target ? { target } : { readyAt };
}
