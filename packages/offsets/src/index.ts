// @sluice/offsets: committed offsets, positions and offset lookups of a consumer.

export {
  CommitManager,
  type CommitManagerOptions,
  type CommittedOffset,
  type OffsetToCommit,
} from './commit-manager.ts';
export {
  CommitFailedError,
  LOG_TRUNCATION_WARNING,
  LogTruncationError,
  LogTruncationWarning,
  RebalanceInProgressError,
  RetriableCommitFailedError,
} from './errors.ts';
export {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type OffsetAndTimestamp,
  type OffsetQuery,
  OffsetsManager,
  type OffsetsManagerOptions,
} from './offsets-manager.ts';
export { PositionValidator, type PositionValidatorOptions } from './position-validator.ts';
