// @sluice/offsets: committed offsets of a consumer group.

export {
  CommitFailedError,
  type CommittedOffset,
  type GroupGeneration,
  OffsetCommitter,
  type OffsetCommitterOptions,
  type OffsetToCommit,
  RebalanceInProgressError,
  type TopicPartition,
} from './committer.ts';
