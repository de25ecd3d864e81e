import { backoffMs } from './retry.ts';

/**
 * Per-broker reconnect backoff and connection set-up timeout, as Kafka's ClusterConnectionStates keeps them:
 * - after a failed attempt (or a lost connection) the broker is not dialled again before
 *   `reconnect.backoff.ms * 2^failures`, capped at `reconnect.backoff.max.ms`, with 20 % jitter (KIP-144);
 * - an attempt may take `socket.connection.setup.timeout.ms * 2^setupFailures`, capped at
 *   `socket.connection.setup.timeout.max.ms`, with 20 % jitter, where only attempts that failed before the
 *   connection was set up count (KIP-601): an unreachable broker is given longer each time, a broker that merely
 *   dropped an established connection is not.
 * A successful connection resets both counts.
 *
 * Pure: the caller passes the time, so tests drive it with a fake clock.
 */
export interface ReconnectBackoffOptions {
  /** `reconnect.backoff.ms`, Kafka's default 50. */
  readonly initialMs?: number;
  /** `reconnect.backoff.max.ms`, Kafka's default 1000. */
  readonly maxMs?: number;
  /** `socket.connection.setup.timeout.ms`, Kafka's default 10000. */
  readonly setupTimeoutMs?: number;
  /** `socket.connection.setup.timeout.max.ms`, Kafka's default 30000 (taken as the base when below it). */
  readonly setupTimeoutMaxMs?: number;
  readonly random?: () => number;
}

interface BackoffEntry {
  failures: number;
  setupFailures: number;
  until: number;
}

export class ReconnectBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #setupTimeoutMs: number;
  readonly #setupTimeoutMaxMs: number;
  readonly #random: () => number;
  readonly #entries = new Map<string, BackoffEntry>();

  constructor(options: ReconnectBackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 50;
    this.#maxMs = Math.max(options.maxMs ?? 1000, this.#initialMs);
    this.#setupTimeoutMs = options.setupTimeoutMs ?? 10_000;
    this.#setupTimeoutMaxMs = Math.max(options.setupTimeoutMaxMs ?? 30_000, this.#setupTimeoutMs);
    this.#random = options.random ?? Math.random;
  }

  /**
   * Records a failed attempt or a lost connection at `now`; returns when the broker may be dialled again.
   * `duringSetup`: the attempt failed before the connection was set up (it lengthens the next set-up timeout).
   */
  recordFailure(key: string, now: number, options: { duringSetup?: boolean } = {}): number {
    const entry = this.#entries.get(key) ?? { failures: 0, setupFailures: 0, until: 0 };
    if (options.duringSetup) entry.setupFailures++;
    const waitMs = backoffMs(entry.failures, {
      initialMs: this.#initialMs,
      maxMs: this.#maxMs,
      random: this.#random,
    });
    entry.failures++;
    entry.until = now + waitMs;
    this.#entries.set(key, entry);
    return entry.until;
  }

  /** A connection was established: the next failure starts again from `reconnect.backoff.ms`. */
  recordSuccess(key: string): void {
    this.#entries.delete(key);
  }

  /** The earliest time the broker may be dialled; 0 when there is no backoff. */
  readyAt(key: string): number {
    return this.#entries.get(key)?.until ?? 0;
  }

  /** How long the next connection attempt to this broker may take to be set up. */
  setupTimeoutMs(key: string): number {
    return backoffMs(this.#entries.get(key)?.setupFailures ?? 0, {
      initialMs: this.#setupTimeoutMs,
      maxMs: this.#setupTimeoutMaxMs,
      random: this.#random,
    });
  }

  /** Consecutive failures since the last success. */
  failures(key: string): number {
    return this.#entries.get(key)?.failures ?? 0;
  }

  isBackingOff(key: string, now: number): boolean {
    return this.readyAt(key) > now;
  }
}
