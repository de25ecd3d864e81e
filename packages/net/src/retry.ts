/**
 * Exponential backoff with jitter, as Kafka's clients wait between attempts (KIP-580): the n-th wait is
 * `retry.backoff.ms * 2^n`, capped at `retry.backoff.max.ms`, times a random factor in [0.8, 1.2]. The managers
 * that retry keep their own attempt counts and deadlines; this is only the arithmetic.
 */
export interface BackoffOptions {
  /** `retry.backoff.ms` (Kafka's default 100). */
  readonly initialMs: number;
  /** `retry.backoff.max.ms` (Kafka's default 1000). */
  readonly maxMs: number;
  /** Relative jitter; Kafka uses 0.2. */
  readonly jitter?: number;
  readonly random?: () => number;
}

/** The wait before retry number `attempt` (0-based). */
export function backoffMs(attempt: number, options: BackoffOptions): number {
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  if (options.maxMs <= options.initialMs) return Math.round(options.maxMs);
  const factor = 1 - jitter + random() * 2 * jitter;
  return Math.round(Math.min(options.maxMs * (1 + jitter), base * factor));
}
