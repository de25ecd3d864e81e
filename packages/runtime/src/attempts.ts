/**
 * The retries of one operation that has a deadline (a commit, a committed-offset lookup, an offset or metadata
 * lookup): when the next attempt may start (KIP-580 backoff: `retry.backoff.ms` doubling per failure up to
 * `retry.backoff.max.ms`, with jitter), the last error, and the TimeoutError that ends it. Pure: the caller gives
 * the time.
 */
import { backoffMs } from '@sluice/net';
import { TimeoutError } from './errors.ts';

export interface RetryBackoff {
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  readonly random?: () => number;
}

export class Attempts {
  /** No more attempts after this; Infinity: for as long as it takes. */
  readonly deadline: number;
  readonly #backoff: RetryBackoff;
  #failures = 0;
  #notBefore = 0;
  #lastError: Error | null = null;

  constructor(deadline: number, backoff: RetryBackoff) {
    this.deadline = deadline;
    this.#backoff = backoff;
  }

  /** The error of the last failed attempt, or null. */
  get lastError(): Error | null {
    return this.#lastError;
  }

  /** When the next attempt may start. */
  get notBefore(): number {
    return this.#notBefore;
  }

  /** An attempt failed with an error another attempt may fix: the next one waits for the backoff. */
  failed(error: Error, now: number): void {
    this.#lastError = error;
    const wait = backoffMs(this.#failures++, {
      initialMs: this.#backoff.retryBackoffMs,
      maxMs: this.#backoff.retryBackoffMaxMs,
      ...(this.#backoff.random ? { random: this.#backoff.random } : {}),
    });
    this.#notBefore = Math.max(this.#notBefore, now + wait);
  }

  /** Notes why nothing could be attempted (no leader known, say), without a backoff. */
  note(error: Error): void {
    this.#lastError = error;
  }

  expired(now: number): boolean {
    return now >= this.deadline;
  }

  /** Whether the next attempt may start now. */
  due(now: number): boolean {
    return now >= this.#notBefore;
  }

  /** The error that ends an operation past its deadline, naming the last failure. */
  timeout(what: string): TimeoutError {
    const cause = this.#lastError;
    return new TimeoutError(`${what} did not complete in time${cause ? `: ${cause.message}` : ''}`, { cause });
  }
}
