/** The commit and position errors an application acts on, as Kafka's consumer names them. */
import type { FetchPosition, LogTruncation, TopicPartition } from '@sluice/runtime';

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

/** `topic-partition at offset N (leader epoch E)`. */
function describeTruncation(truncation: LogTruncation): string {
  const { position, divergentOffset } = truncation;
  const where = `${truncation.topic}-${truncation.partition} at offset ${position.offset} (leader epoch ${position.leaderEpoch})`;
  return divergentOffset === null
    ? `${where}: the leader has no end offset for that epoch`
    : `${where}: the leader's log diverges from offset ${divergentOffset.offset} (leader epoch ${divergentOffset.leaderEpoch})`;
}

/**
 * The log of a partition was truncated below the consumer's position (an unclean leader election, KIP-320) and
 * `auto.offset.reset` is `none` (Kafka's LogTruncationException): records the application read are no longer in
 * the leader's log, and records the leader has in their place were not read. The partition is not fetched until
 * the application seeks: to the divergent offset to read what the leader has from there (seek with it and its
 * leader epoch), or anywhere else it decides. Thrown from the poll after the truncation was found, and again every
 * `request.timeout.ms` while the partition stays stopped, as Kafka's consumer does.
 */
export class LogTruncationError extends Error {
  override name = 'LogTruncationError';
  readonly retriable = false;
  /** Each partition with the position found truncated and, when known, the first offset known to diverge. */
  readonly truncations: readonly LogTruncation[];

  constructor(truncations: readonly LogTruncation[]) {
    super(
      `log truncation detected for ${truncations.map(describeTruncation).join('; ')}; auto.offset.reset is none: seek to go on`,
    );
    this.truncations = truncations;
  }

  /** The truncated partitions. */
  get partitions(): TopicPartition[] {
    return this.truncations.map(({ topic, partition }) => ({ topic, partition }));
  }

  /** The positions found truncated (Java's `offsetOutOfRangePartitions`). */
  get fetchPositions(): Array<TopicPartition & FetchPosition> {
    return this.truncations.map(({ topic, partition, position }) => ({ topic, partition, ...position }));
  }

  /** The first offset known to diverge, for the partitions where the leader knows one (Java's `divergentOffsets`). */
  get divergentOffsets(): Array<TopicPartition & FetchPosition> {
    return this.truncations.flatMap(({ topic, partition, divergentOffset }) =>
      divergentOffset === null ? [] : [{ topic, partition, ...divergentOffset }],
    );
  }
}

/** The code of the process warning a repaired truncation emits. */
export const LOG_TRUNCATION_WARNING = 'SLUICE_LOG_TRUNCATION';

/**
 * A truncation was detected and repaired by `auto.offset.reset` (a process warning, as Kafka's consumer logs it):
 * the position moved back to the first offset known to diverge (`moved`), or, where the leader knows no end for the
 * position's epoch, to `auto.offset.reset` (`reset`). Records read past the divergent offset were not the leader's:
 * the application may have acted on records that no longer exist, and reads the leader's records from there.
 */
export class LogTruncationWarning extends Error {
  override name = 'LogTruncationWarning';
  readonly code = LOG_TRUNCATION_WARNING;
  readonly truncations: readonly LogTruncation[];
  readonly action: 'moved' | 'reset';

  constructor(truncations: readonly LogTruncation[], action: 'moved' | 'reset', strategy: string) {
    super(
      action === 'moved'
        ? `log truncation detected for ${truncations.map(describeTruncation).join('; ')}; reading resumes at the divergent offset`
        : `log truncation detected for ${truncations.map(describeTruncation).join('; ')}; the position is reset (auto.offset.reset=${strategy})`,
    );
    this.truncations = truncations;
    this.action = action;
  }
}
