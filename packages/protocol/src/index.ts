// @sluice/protocol: Kafka's wire codec.
export * from './compression/index.ts';
export {
  CONSUMER_PROTOCOL_TYPE,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
  type VersionedValue,
} from './consumer-protocol.ts';
export {
  decodeMessage,
  decodeRequest,
  decodeResponse,
  decodeResponseFrame,
  encodeMessage,
  encodeRequest,
  encodeRequestFrame,
  encodeResponse,
  findApi,
  type RequestFrameOptions,
  type ResponseFrame,
  requestHeaderVersion,
  responseHeaderVersion,
} from './encoding.ts';
export { ProtocolError, type ProtocolErrorDetails, type ProtocolErrorReason } from './errors.ts';
export type { ApiDescriptor, MessageCodec } from './message-codec.ts';
export * from './messages/index.generated.ts';
export { MAX_STRING_BYTES, MAX_TAGGED_FIELDS, Reader, type ReaderOptions } from './primitives/reader.ts';
export { NO_TAGGED_FIELDS, type RawTaggedField } from './primitives/tagged-fields.ts';
export { isUuid, type Uuid, uuidFromBytes, uuidToBytes, ZERO_UUID } from './primitives/uuid.ts';
export { unsignedVarintSize, Writer, type WriterOptions } from './primitives/writer.ts';
export * from './records/index.ts';
export type { TopicPartition } from './topic-partition.ts';
