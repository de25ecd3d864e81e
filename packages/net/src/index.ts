// @sluice/net: connections to Kafka brokers.
export { Connection, type ConnectionOptions, type SendOptions, type VersionRange } from './connection.ts';
export { BrokerProtocolError, NetworkError, RequestTimeoutError, UnsupportedVersionError } from './errors.ts';
export { FrameAssembler, FrameSizeError } from './frame-assembler.ts';
export { KafkaError, kafkaErrorDefinition, throwIfKafkaError } from './kafka-error.ts';
export { ErrorCode, KAFKA_ERROR_DEFINITIONS, type KafkaErrorDefinition } from './kafka-errors.generated.ts';
export { type BackoffOptions, backoffMs, type RetryOptions, RetryTimeoutError, withRetries } from './retry.ts';
