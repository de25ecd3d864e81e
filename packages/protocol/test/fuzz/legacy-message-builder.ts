import { type CompressionType, compressionTypeId } from '../../src/compression/index.ts';
import { crc32 } from '../../src/records/checksums.ts';
import type { FieldPosition } from './field-positions.ts';

// Message format v0/v1 (before KIP-98) written from its documented layout, since the codec only decodes it:
//   offset int64, size int32, crc uint32, magic int8, attributes int8, [timestamp int64 in v1],
//   key int32-length bytes, value int32-length bytes.

export interface LegacyMessageInput {
  readonly offset: bigint;
  readonly magic: 0 | 1;
  readonly compression?: CompressionType;
  readonly logAppendTime?: boolean;
  readonly timestamp?: bigint;
  readonly key?: Uint8Array | null;
  readonly value?: Uint8Array | null;
}

export interface BuiltLegacyMessage {
  readonly bytes: Uint8Array;
  /** Positions relative to the message's first byte: size, key length and value length. */
  readonly positions: FieldPosition[];
  /** Where the value's bytes start. */
  readonly valueStart: number;
}

export function buildLegacyMessage(input: LegacyMessageInput): BuiltLegacyMessage {
  const key = input.key ?? null;
  const value = input.value ?? null;
  const timestampSize = input.magic === 1 ? 8 : 0;
  const size = 4 + 2 + timestampSize + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0);
  const bytes = new Uint8Array(12 + size);
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, input.offset);
  view.setInt32(8, size);
  bytes[16] = input.magic;
  bytes[17] = compressionTypeId(input.compression ?? 'none') | (input.logAppendTime ? 0x08 : 0);
  let position = 18;
  if (input.magic === 1) {
    view.setBigInt64(position, input.timestamp ?? -1n);
    position += 8;
  }
  const positions: FieldPosition[] = [{ offset: 8, encoding: 'int32', size: 4 }];
  for (const field of [key, value]) {
    positions.push({ offset: position, encoding: 'int32', size: 4 });
    view.setInt32(position, field === null ? -1 : field.length);
    position += 4;
    if (field !== null) {
      bytes.set(field, position);
      position += field.length;
    }
  }
  view.setUint32(12, crc32(bytes, 16, bytes.length));
  return { bytes, positions, valueStart: position - (value?.length ?? 0) };
}

/** Sets a legacy message's size and CRC from its bytes (after its value was replaced). */
export function sealLegacyMessage(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setInt32(8, bytes.length - 12);
  view.setUint32(12, crc32(bytes, 16, bytes.length));
}
