// @sluice/consumer: the Kafka consumer.

export { type ConsumerRecord, CorruptRecordError } from '@sluice/fetch';
export { type ConsumerGroupMetadata, GroupProtocolUnsupportedError } from '@sluice/group';
/** What a broker answered with an error code (`code`, `errorName`): fatal group errors among others. */
export { KafkaError } from '@sluice/net';
export {
  CommitFailedError,
  type CommittedOffset,
  LOG_TRUNCATION_WARNING,
  LogTruncationError,
  LogTruncationWarning,
  type OffsetAndTimestamp,
  RebalanceInProgressError,
  RetriableCommitFailedError,
} from '@sluice/offsets';
export {
  type FetchPosition,
  IllegalStateError,
  type LogTruncation,
  TimeoutError,
  type TopicPartition,
} from '@sluice/runtime';
export {
  ConfigError,
  type ConsumerConfig,
  type ConsumerConfigInput,
  type OffsetResetStrategy,
  parseConsumerConfig,
  type SecurityProtocol,
} from './config.ts';
export { type Deserializer, type DeserializerContext, deserializers } from './deserializers.ts';
export {
  ConsumerClosedError,
  InvalidGroupIdError,
  NoOffsetForPartitionError,
  OffsetOutOfRangeError,
  RebalanceListenerError,
  RecordDeserializationError,
  WakeupError,
} from './errors.ts';
export {
  type CallOptions,
  type CloseOptions,
  type ConsumerRebalanceListener,
  KafkaConsumer,
  type Node,
  type OffsetAndMetadata,
  type PartitionInfo,
} from './kafka-consumer.ts';
export { SubscriptionPattern } from './subscription-pattern.ts';
