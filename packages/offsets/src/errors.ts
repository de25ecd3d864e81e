/** The commit errors an application acts on, as Kafka's consumer names them. */

/**
 * The commit cannot be made: the group rebalanced without this member, or it is not a member of an active
 * generation any more (Kafka's CommitFailedException). Its partitions may be owned by another member now.
 */
export class CommitFailedError extends Error {
  override name = 'CommitFailedError';
  readonly retriable = false;
}

/**
 * The group is rebalancing (Kafka's RebalanceInProgressException): the commit was not sent. Call `poll()` to
 * complete the rebalance, then commit again what is still assigned.
 */
export class RebalanceInProgressError extends Error {
  override name = 'RebalanceInProgressError';
  readonly retriable = true;
}

/**
 * An asynchronous commit met an error that another attempt could fix (the coordinator moved, a lost connection):
 * Kafka's RetriableCommitFailedException. Asynchronous commits are not retried, so that a later commit is never
 * overtaken by an earlier one; the next commit carries newer offsets anyway.
 */
export class RetriableCommitFailedError extends Error {
  override name = 'RetriableCommitFailedError';
  readonly retriable = true;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
  }
}
