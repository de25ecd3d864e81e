/** Errors of the client loop that an application call may end with. */

/**
 * An operation could not complete within its time (`default.api.timeout.ms`, or the timeout given): Kafka's
 * TimeoutException. Retriable: the same call may succeed later.
 */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly retriable = true;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined || options.cause === null ? {} : { cause: options.cause });
  }
}

/** A call that the consumer's state does not allow (Kafka's IllegalStateException): the application's mistake. */
export class IllegalStateError extends Error {
  override name = 'IllegalStateError';
}
