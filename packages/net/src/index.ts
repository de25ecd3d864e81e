// @sluice/net: connections to Kafka brokers.

export { ReconnectBackoff, type ReconnectBackoffOptions } from './backoff-state.ts';
export { BootstrapError, type LookupAll, parseBootstrapServers, resolveBootstrapServers } from './bootstrap.ts';
export { ClusterMetadata, type ClusterMetadataOptions, MetadataTimeoutError } from './cluster-metadata.ts';
export { Connection, type ConnectionOptions, type SendOptions, type VersionRange } from './connection.ts';
export { BrokerProtocolError, NetworkError, RequestTimeoutError, UnsupportedVersionError } from './errors.ts';
export { FrameAssembler, FrameSizeError } from './frame-assembler.ts';
export { type FrameBufferPool, ReusableFrameBuffers, type ReusableFrameBuffersOptions } from './frame-buffers.ts';
export { KafkaError, kafkaErrorDefinition, throwIfKafkaError } from './kafka-error.ts';
export { ErrorCode, KAFKA_ERROR_DEFINITIONS, type KafkaErrorDefinition } from './kafka-errors.generated.ts';
export {
  type BrokerInfo,
  type ClusterSnapshot,
  findPartition,
  mergeMetadata,
  type PartitionInfo,
  type TopicInfo,
} from './metadata-snapshot.ts';
export { leastLoaded, type MetadataAction, MetadataState, type MetadataStateOptions } from './metadata-state.ts';
export {
  type BootstrapAddress,
  type BrokerAddress,
  type BrokerTarget,
  ConnectionPool,
  type ConnectionPoolOptions,
  type ConnectionPurpose,
  type ConnectionStatus,
  type PoolRequestOptions,
} from './pool.ts';
export { type BackoffOptions, backoffMs } from './retry.ts';
export type {
  OAuthBearerToken,
  SaslMechanismName,
  SaslOAuthBearerOptions,
  SaslOptions,
  SaslPlainOptions,
  SaslScramOptions,
} from './sasl/options.ts';
export { SaslAuthenticationError } from './sasl/sasl-error.ts';
export { Secret } from './sasl/secret.ts';
export { SOCKET_BUFFER_UNSUPPORTED_WARNING, type SocketBufferSizes } from './socket-buffers.ts';
export { TLS_VERIFICATION_DISABLED_WARNING, TlsError } from './tls.ts';
