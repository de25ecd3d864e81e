/**
 * Retries with exponential backoff and jitter, as Kafka's clients do (KIP-580): the n-th wait is
 * `retry.backoff.ms * 2^n`, capped at `retry.backoff.max.ms`, times a random factor in [0.8, 1.2]; the whole
 * attempt is bounded by `default.api.timeout.ms`. Only errors that say they are retriable are retried.
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

export interface RetryOptions extends BackoffOptions {
  /** `default.api.timeout.ms`: no retry starts after this much time has passed (Kafka's default 60000). */
  readonly timeoutMs: number;
  /** Whether an error may be retried; default: its `retriable` property is true. */
  readonly isRetriable?: (error: unknown) => boolean;
  /** Called before each wait (for logging, or to refresh metadata when the error says it is stale). */
  readonly onRetry?: (error: unknown, attempt: number, waitMs: number) => void | Promise<void>;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class RetryTimeoutError extends Error {
  override name = 'RetryTimeoutError';
  readonly retriable = true;
  readonly attempts: number;

  constructor(message: string, options: { attempts: number; cause: unknown }) {
    super(message, { cause: options.cause });
    this.attempts = options.attempts;
  }
}

const defaultRetriable = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `operation` until it succeeds, fails with a non-retriable error (rethrown as it is), or the time budget
 * runs out (RetryTimeoutError with the last error as its cause).
 */
export async function withRetries<Result>(
  operation: (attempt: number) => Promise<Result>,
  options: RetryOptions,
): Promise<Result> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const isRetriable = options.isRetriable ?? defaultRetriable;
  const deadline = now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetriable(error)) throw error;
      const remaining = deadline - now();
      const waitMs = backoffMs(attempt, options);
      if (remaining <= waitMs) {
        throw new RetryTimeoutError(
          `gave up after ${attempt + 1} attempt(s) in ${options.timeoutMs} ms: ${(error as Error)?.message ?? String(error)}`,
          { attempts: attempt + 1, cause: error },
        );
      }
      await options.onRetry?.(error, attempt, waitMs);
      await sleep(waitMs, options.signal);
    }
  }
}
