// @sluice/runtime: the client loop, its request managers' contract, and the consumer's partition state.

export { Attempts, type RetryBackoff } from './attempts.ts';
export { ClientLoop, type ClientLoopOptions, PoolSender, type RequestSender } from './client-loop.ts';
export { type Deferred, deferred } from './deferred.ts';
export { IllegalStateError, TimeoutError } from './errors.ts';
export { MetadataInterest, subscriptionInterest, type TopicInterest } from './metadata-interest.ts';
export {
  IDLE,
  type ManagerPoll,
  type RequestManager,
  type RequestTarget,
  type ResponseContext,
  type UnsentRequest,
  unsent,
} from './request-manager.ts';
export {
  type ConsumedOffset,
  type EpochEndOffset,
  type FetchPosition,
  type FetchState,
  type LogTruncation,
  type OffsetResetStrategy,
  type PartitionView,
  type ResetReason,
  SubscriptionState,
  type SubscriptionStateOptions,
  type SubscriptionType,
  type ValidationResult,
} from './subscription-state.ts';
export {
  type TopicMetadata,
  TopicMetadataManager,
  type TopicMetadataManagerOptions,
} from './topic-metadata-manager.ts';
export {
  compareTopicPartitions,
  describePartition,
  describePartitions,
  type TopicPartition,
  TopicPartitionMap,
  TopicPartitionSet,
} from './topic-partition.ts';
