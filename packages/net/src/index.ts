// @sluice/net: connections to Kafka brokers.
export { Connection, type ConnectionOptions, type SendOptions, type VersionRange } from './connection.ts';
export { BrokerProtocolError, NetworkError, RequestTimeoutError, UnsupportedVersionError } from './errors.ts';
export { FrameAssembler, FrameSizeError } from './frame-assembler.ts';
