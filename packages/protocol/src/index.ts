// @sluice/protocol: Kafka's wire codec.
export { ProtocolError, type ProtocolErrorDetails, type ProtocolErrorReason } from './errors.ts';
