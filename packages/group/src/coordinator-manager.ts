/**
 * The group's coordinator, found once and shared by everyone who talks to it (membership, commits, committed
 * offsets): Kafka's CoordinatorRequestManager. FindCoordinator goes to the least loaded broker, at the version the
 * connection negotiated (v4+ takes a batch of keys and answers per key).
 *
 * - Looked up only while someone `need`s it and it is unknown; one lookup at a time.
 * - COORDINATOR_NOT_AVAILABLE, a lost connection or a timeout: looked up again after `retry.backoff.ms`, doubling
 *   per failure up to `retry.backoff.max.ms` (KIP-580).
 * - Whoever meets a coordinator error (NOT_COORDINATOR, a lost connection to it) calls `markUnknown`; the next
 *   lookup starts at once unless lookups have been failing.
 * - An answer that no retry can fix (GROUP_AUTHORIZATION_FAILED, a refused SASL login) becomes `fatalError`, which
 *   the managers waiting for the coordinator hand to the application; lookups continue after the backoff and a
 *   successful one clears it.
 */
import { backoffMs, type ClusterSnapshot, ErrorCode, KafkaError } from '@sluice/net';
import { defaultFindCoordinatorRequest, findCoordinatorApi } from '@sluice/protocol';
import { IDLE, type ManagerPoll, type RequestManager, unsent } from '@sluice/runtime';

export interface CoordinatorManagerOptions {
  /** `group.id`. */
  readonly groupId: string;
  /** What the metadata knows: a lookup waits for the first snapshot (it needs a broker to ask). */
  readonly metadata: { readonly snapshot: ClusterSnapshot | null };
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  readonly random?: () => number;
}

/** How the other managers see the coordinator. */
export interface CoordinatorView {
  /** The coordinator's node id, or null while unknown. */
  readonly coordinator: number | null;
  /** An error that stopped the last lookup and that no retry will fix; null otherwise. */
  readonly fatalError: Error | null;
  /** The caller needs the coordinator: the next poll looks it up if it is unknown. */
  need(): void;
  /** The coordinator answered as if it were not (any more), or its connection failed: look it up again. */
  markUnknown(reason: string, now: number): void;
}

export class CoordinatorManager implements RequestManager, CoordinatorView {
  readonly groupId: string;
  readonly #options: CoordinatorManagerOptions;
  readonly #random: () => number;
  #coordinator: number | null = null;
  #needed = false;
  #inFlight = false;
  #failures = 0;
  #notBefore = 0;
  #fatalError: Error | null = null;
  /** Why the coordinator was last forgotten (for errors that name a cause). */
  #lastReason: string | null = null;

  constructor(options: CoordinatorManagerOptions) {
    this.groupId = options.groupId;
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  get coordinator(): number | null {
    return this.#coordinator;
  }

  get fatalError(): Error | null {
    return this.#fatalError;
  }

  /** Why the coordinator is unknown, if it was known before. */
  get lastReason(): string | null {
    return this.#lastReason;
  }

  need(): void {
    this.#needed = true;
  }

  markUnknown(reason: string, now: number): void {
    if (this.#coordinator === null) return;
    this.#coordinator = null;
    // Whoever used it will want it again.
    this.#needed = true;
    this.#lastReason = reason;
    this.#notBefore = Math.max(this.#notBefore, now);
  }

  poll(now: number): ManagerPoll {
    if (this.#coordinator !== null || !this.#needed || this.#inFlight) return IDLE;
    if (now < this.#notBefore) return { requests: [], nextPollAt: this.#notBefore };
    // A lookup needs a broker to ask; the loop runs again when the first metadata arrives.
    if (this.#options.metadata.snapshot === null) return IDLE;
    this.#inFlight = true;
    const groupId = this.groupId;
    const request = unsent({
      target: 'least-loaded',
      api: findCoordinatorApi,
      timeoutMs: this.#options.requestTimeoutMs,
      build: (version) =>
        version >= 4
          ? { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: [groupId] }
          : { ...defaultFindCoordinatorRequest(), key: groupId, keyType: 0 },
      onResponse: (response, { version, now: at }) => {
        this.#inFlight = false;
        if (version < 4) {
          this.#answer(response.errorCode, response.nodeId, response.errorMessage, at);
          return;
        }
        const entry = response.coordinators.find((coordinator) => coordinator.key === groupId);
        if (entry === undefined) {
          this.#failed(new Error(`FindCoordinator answered without the key ${groupId}`), at);
          return;
        }
        this.#answer(entry.errorCode, entry.nodeId, entry.errorMessage, at);
      },
      onFailure: (error, at) => {
        this.#inFlight = false;
        if ((error as { retriable?: boolean }).retriable !== true) this.#fatalError = error;
        this.#failed(error, at);
      },
    });
    return { requests: [request], nextPollAt: Number.POSITIVE_INFINITY };
  }

  #answer(errorCode: number, nodeId: number, message: string | null, now: number): void {
    if (errorCode === ErrorCode.NONE) {
      this.#coordinator = nodeId;
      this.#failures = 0;
      this.#notBefore = 0;
      this.#fatalError = null;
      this.#needed = false;
      return;
    }
    const error = new KafkaError(errorCode, {
      context: `FindCoordinator for group ${this.groupId}`,
      brokerMessage: message,
    });
    if (!error.retriable) this.#fatalError = error;
    this.#failed(error, now);
  }

  #failed(error: Error, now: number): void {
    this.#lastReason = error.message;
    this.#notBefore =
      now +
      backoffMs(this.#failures++, {
        initialMs: this.#options.retryBackoffMs,
        maxMs: this.#options.retryBackoffMaxMs,
        random: this.#random,
      });
  }
}
