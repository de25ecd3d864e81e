import { backoffMs } from './retry.ts';

/**
 * Per-broker reconnect backoff, as Kafka's ClusterConnectionStates keeps it: after a failed attempt (or a lost
 * connection) the broker is not dialled again before `reconnect.backoff.ms * 2^failures`, capped at
 * `reconnect.backoff.max.ms`, with 20 % jitter (KIP-144, KIP-601). A successful connection resets the count.
 *
 * Pure: the caller passes the time, so tests drive it with a fake clock.
 */
export interface ReconnectBackoffOptions {
  /** `reconnect.backoff.ms`, Kafka's default 50. */
  readonly initialMs?: number;
  /** `reconnect.backoff.max.ms`, Kafka's default 1000. */
  readonly maxMs?: number;
  readonly random?: () => number;
}

interface BackoffEntry {
  failures: number;
  until: number;
}

export class ReconnectBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  readonly #entries = new Map<string, BackoffEntry>();

  constructor(options: ReconnectBackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 50;
    this.#maxMs = Math.max(options.maxMs ?? 1000, this.#initialMs);
    this.#random = options.random ?? Math.random;
  }

  /** Records a failed attempt or a lost connection at `now`; returns when the broker may be dialled again. */
  recordFailure(key: string, now: number): number {
    const entry = this.#entries.get(key) ?? { failures: 0, until: 0 };
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

  /** Consecutive failures since the last success. */
  failures(key: string): number {
    return this.#entries.get(key)?.failures ?? 0;
  }

  isBackingOff(key: string, now: number): boolean {
    return this.readyAt(key) > now;
  }
}
