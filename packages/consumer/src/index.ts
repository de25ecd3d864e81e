// @sluice/consumer: the Kafka consumer.

export type { ConsumerRecord } from '@sluice/fetch';
export { CommitFailedError, RebalanceInProgressError } from '@sluice/offsets';
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
  type ConsumerRebalanceListener,
  KafkaConsumer,
  NoOffsetForPartitionError,
  type OffsetAndMetadata,
  RecordDeserializationError,
  WakeupError,
} from './kafka-consumer.ts';
