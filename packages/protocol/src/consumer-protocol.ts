/**
 * The consumer group protocol's embedded data (protocol type "consumer"): the subscription a member puts in
 * JoinGroup's protocol metadata, and the assignment the leader puts in SyncGroup. Each is an int16 version followed
 * by ConsumerProtocolSubscription / ConsumerProtocolAssignment at that version (classic encoding, never flexible).
 *
 * Compatibility rules, as Kafka's own consumer applies them so that mixed groups work:
 * - A version above the highest Sluice knows is read at the highest Sluice knows: versions only ever append
 *   fields, so the known prefix is still right, and the unknown fields after it are skipped.
 * - Bytes after the fields of the version read are ignored, for the same reason.
 * - A negative version, or bytes that end inside a field, fail with a ProtocolError.
 */
import { ProtocolError } from './errors.ts';
import type { MessageCodec } from './message-codec.ts';
import {
  type ConsumerProtocolAssignment,
  type ConsumerProtocolSubscription,
  consumerProtocolAssignment,
  consumerProtocolSubscription,
} from './messages/consumer-protocol.generated.ts';
import { Reader } from './primitives/reader.ts';
import { Writer } from './primitives/writer.ts';

/** JoinGroup's `protocolType` for consumer groups. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** What the embedded bytes said, and the value read from them. */
export interface VersionedValue<Value> {
  /** The version the bytes carry (may be above what Sluice knows). */
  readonly version: number;
  readonly value: Value;
}

function encodeVersioned<Value>(codec: MessageCodec<Value>, value: Value, version: number): Uint8Array {
  if (!Number.isInteger(version) || version < codec.minVersion || version > codec.maxVersion) {
    throw new ProtocolError(`${codec.name} has versions ${codec.minVersion}-${codec.maxVersion}, not ${version}`, {
      reason: 'unsupported-version',
      field: codec.name,
      offset: -1,
    });
  }
  const writer = new Writer();
  writer.int16(version, `${codec.name}.version`);
  codec.write(writer, version, value);
  return writer.finish();
}

function decodeVersioned<Value>(codec: MessageCodec<Value>, bytes: Uint8Array): VersionedValue<Value> {
  const reader = new Reader(bytes);
  const version = reader.int16(`${codec.name}.version`);
  if (version < codec.minVersion) {
    throw new ProtocolError(`${codec.name} version ${version} does not exist`, {
      reason: 'unsupported-version',
      field: `${codec.name}.version`,
      offset: 0,
    });
  }
  return { version, value: codec.read(reader, Math.min(version, codec.maxVersion)) };
}

/** A subscription as JoinGroup metadata: version 3 (with owned partitions, generation and rack) unless told. */
export function encodeConsumerSubscription(
  subscription: ConsumerProtocolSubscription,
  version: number = consumerProtocolSubscription.maxVersion,
): Uint8Array {
  return encodeVersioned(consumerProtocolSubscription, subscription, version);
}

/** Reads a member's JoinGroup metadata (as the leader does for every member). */
export function decodeConsumerSubscription(bytes: Uint8Array): VersionedValue<ConsumerProtocolSubscription> {
  return decodeVersioned(consumerProtocolSubscription, bytes);
}

/** An assignment as SyncGroup bytes: version 3 unless told. */
export function encodeConsumerAssignment(
  assignment: ConsumerProtocolAssignment,
  version: number = consumerProtocolAssignment.maxVersion,
): Uint8Array {
  return encodeVersioned(consumerProtocolAssignment, assignment, version);
}

/** Reads the assignment SyncGroup returned. */
export function decodeConsumerAssignment(bytes: Uint8Array): VersionedValue<ConsumerProtocolAssignment> {
  return decodeVersioned(consumerProtocolAssignment, bytes);
}
