import {
  type CompressionType,
  compressionTypeFromId,
  type DecompressOptions,
  decompress,
  decompressSync,
} from '../compression/index.ts';
import { ProtocolError } from '../errors.ts';
import { readInt32, readInt64, readUint32 } from './bytes.ts';
import { crc32 } from './checksums.ts';
import type { KafkaRecord } from './kafka-record.ts';
import type { RecordHeader } from './record-headers.ts';

// Message sets of message format v0 and v1 (before KIP-98), as old brokers and old log segments still serve them:
//   offset int64, message size int32, then the message: crc uint32 (CRC-32 IEEE of magic..end), magic int8,
//   attributes int8 (codec bits 0-2; timestamp type bit 3 in v1), timestamp int64 (v1 only),
//   key int32-length bytes (-1 = null), value int32-length bytes (-1 = null).
// A compressed message is a wrapper whose value is a compressed message set. Its offset is that of the last inner
// message; inner offsets are absolute in v0 and relative (0..n-1) in v1 (KIP-31).
// This format is not the hot path: inner messages are decoded eagerly once decompressed.

export type LegacyTimestampType = 'none' | 'create-time' | 'log-append-time';

/** Smallest message after offset and size: crc, magic, attributes, key length, value length (+ timestamp in v1). */
export function legacyMessageMinimumSize(magic: 0 | 1): number {
  return magic === 0 ? 14 : 22;
}

const legacyTimestampTypeBit = 0x08;

interface LegacyMessageFields {
  readonly offset: bigint;
  readonly magic: 0 | 1;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: CompressionType;
  readonly timestampType: LegacyTimestampType;
  readonly timestamp: bigint;
  readonly keyStart: number;
  readonly keyLength: number;
  readonly valueStart: number;
  readonly valueLength: number;
}

/** A message of format v0 or v1, decoded (inner messages of a wrapper included). */
export class LegacyRecord implements KafkaRecord {
  readonly offset: bigint;
  readonly magic: 0 | 1;
  readonly timestamp: bigint;
  readonly timestampType: LegacyTimestampType;
  /** -1 for a null key. */
  readonly keyLength: number;
  /** -1 for a null value. */
  readonly valueLength: number;
  readonly #data: Uint8Array;
  readonly #keyStart: number;
  readonly #valueStart: number;

  constructor(data: Uint8Array, fields: LegacyMessageFields) {
    this.offset = fields.offset;
    this.magic = fields.magic;
    this.timestamp = fields.timestamp;
    this.timestampType = fields.timestampType;
    this.keyLength = fields.keyLength;
    this.valueLength = fields.valueLength;
    this.#data = data;
    this.#keyStart = fields.keyStart;
    this.#valueStart = fields.valueStart;
  }

  get timestampMillis(): number {
    return Number(this.timestamp);
  }

  get key(): Uint8Array | null {
    return this.keyLength < 0 ? null : this.#data.subarray(this.#keyStart, this.#keyStart + this.keyLength);
  }

  get value(): Uint8Array | null {
    return this.valueLength < 0 ? null : this.#data.subarray(this.#valueStart, this.#valueStart + this.valueLength);
  }

  headers(): RecordHeader[] {
    return [];
  }
}

export interface DecodeLegacyOptions {
  /** Verify each message's CRC (Kafka's `check.crcs`). Default true. */
  readonly checkCrcs?: boolean;
}

/**
 * One top-level message of a legacy message set: a plain message (one record), or a compressed wrapper whose
 * records appear once it is decompressed.
 */
export class LegacyRecordBatch {
  readonly magic: 0 | 1;
  /** The message's offset; for a wrapper, the offset of its last inner message. */
  readonly offset: bigint;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: CompressionType;
  readonly timestampType: LegacyTimestampType;
  /** -1n in format v0, which has no timestamps. */
  readonly timestamp: bigint;
  /** Where the message (its offset field) starts in the buffer it was decoded from. */
  readonly byteOffset: number;
  /** offset + size + message bytes. */
  readonly byteLength: number;
  readonly #data: Uint8Array;
  readonly #fields: LegacyMessageFields;
  readonly #inner: readonly LegacyRecord[] | undefined;
  readonly #checkCrcs: boolean;

  constructor(
    data: Uint8Array,
    fields: LegacyMessageFields,
    layout: { byteOffset: number; byteLength: number; checkCrcs: boolean; inner?: readonly LegacyRecord[] },
  ) {
    this.magic = fields.magic;
    this.offset = fields.offset;
    this.crc = fields.crc;
    this.attributes = fields.attributes;
    this.compression = fields.compression;
    this.timestampType = fields.timestampType;
    this.timestamp = fields.timestamp;
    this.byteOffset = layout.byteOffset;
    this.byteLength = layout.byteLength;
    this.#data = data;
    this.#fields = fields;
    this.#inner = layout.inner;
    this.#checkCrcs = layout.checkCrcs;
  }

  get lastOffset(): bigint {
    return this.offset;
  }

  /** The offset to fetch from after this message. */
  get nextOffset(): bigint {
    return this.offset + 1n;
  }

  get needsDecompression(): boolean {
    return this.compression !== 'none' && this.#inner === undefined;
  }

  /** Decompresses a wrapper's value and decodes its inner messages; a plain message is returned as is. */
  async decompress(options: DecompressOptions): Promise<LegacyRecordBatch> {
    if (!this.needsDecompression) return this;
    const value = this.#wrapperValue();
    const output = await decompress(this.compression, value, this.#decompressOptions(options));
    return this.#withInner(output);
  }

  decompressSync(options: DecompressOptions): LegacyRecordBatch {
    if (!this.needsDecompression) return this;
    const value = this.#wrapperValue();
    return this.#withInner(decompressSync(this.compression, value, this.#decompressOptions(options)));
  }

  *[Symbol.iterator](): Iterator<LegacyRecord> {
    if (this.#inner !== undefined) {
      yield* this.#inner;
      return;
    }
    if (this.compression !== 'none') {
      throw new ProtocolError(`message is ${this.compression}-compressed: decompress it before reading records`, {
        reason: 'invalid-value',
        field: 'MessageSet[].value',
        offset: this.byteOffset,
      });
    }
    yield new LegacyRecord(this.#data, this.#fields);
  }

  #wrapperValue(): Uint8Array {
    const fields = this.#fields;
    if (fields.valueLength < 0) {
      throw new ProtocolError('compressed wrapper message has a null value', {
        reason: 'invalid-value',
        field: 'MessageSet[].value',
        offset: this.byteOffset,
      });
    }
    return this.#data.subarray(fields.valueStart, fields.valueStart + fields.valueLength);
  }

  #decompressOptions(options: DecompressOptions) {
    return {
      ...options,
      field: options.field ?? 'MessageSet[].value',
      offset: options.offset ?? this.#fields.valueStart,
      legacyLz4HeaderChecksum: this.magic === 0,
    };
  }

  #withInner(output: Uint8Array): LegacyRecordBatch {
    const inner = decodeInnerMessages(output, this.#fields, this.#checkCrcs);
    return new LegacyRecordBatch(this.#data, this.#fields, {
      byteOffset: this.byteOffset,
      byteLength: this.byteLength,
      checkCrcs: this.#checkCrcs,
      inner,
    });
  }
}

function invalid(message: string, field: string, offset: number): ProtocolError {
  return new ProtocolError(message, { reason: 'invalid-value', field, offset });
}

/**
 * Decodes the message at `position` whose offset and size fields were read by the caller, and whose
 * 12 + size bytes are all in `data`.
 */
export function decodeLegacyMessageAt(
  data: Uint8Array,
  position: number,
  size: number,
  options: DecodeLegacyOptions,
): LegacyMessageFields {
  const start = position + 12;
  const end = start + size;
  const magic = data[start + 4];
  if (magic !== 0 && magic !== 1)
    throw invalid(`magic ${magic} is not a legacy format`, 'MessageSet[].magic', start + 4);
  if (size < legacyMessageMinimumSize(magic)) {
    throw invalid(
      `message size ${size} is below the minimum for magic ${magic}`,
      'MessageSet[].messageSize',
      position + 8,
    );
  }
  const crc = readUint32(data, start);
  if (options.checkCrcs !== false) {
    const computed = crc32(data, start + 4, end);
    if (computed !== crc) {
      throw new ProtocolError(`CRC-32 is ${computed} but the message says ${crc}`, {
        reason: 'crc-mismatch',
        field: 'MessageSet[].crc',
        offset: start,
      });
    }
  }
  const attributes = data[start + 5]!;
  const compression = compressionTypeFromId(attributes & 0x07, { field: 'MessageSet[].attributes', offset: start + 5 });
  let cursor = start + 6;
  let timestamp = -1n;
  let timestampType: LegacyTimestampType = 'none';
  if (magic === 1) {
    timestamp = readInt64(data, cursor);
    timestampType = (attributes & legacyTimestampTypeBit) === 0 ? 'create-time' : 'log-append-time';
    cursor += 8;
  }
  const keyLength = readLength(data, cursor, end, 'MessageSet[].keyLength');
  const keyStart = cursor + 4;
  cursor = keyStart + Math.max(keyLength, 0);
  if (cursor + 4 > end) {
    throw new ProtocolError('message ends before its value length', {
      reason: 'truncated',
      field: 'MessageSet[].valueLength',
      offset: cursor,
    });
  }
  const valueLength = readLength(data, cursor, end, 'MessageSet[].valueLength');
  const valueStart = cursor + 4;
  cursor = valueStart + Math.max(valueLength, 0);
  if (cursor !== end)
    throw invalid(`${end - cursor} bytes follow the message's value`, 'MessageSet[].messageSize', cursor);
  return {
    offset: readInt64(data, position),
    magic,
    crc,
    attributes,
    compression,
    timestampType,
    timestamp,
    keyStart,
    keyLength,
    valueStart,
    valueLength,
  };
}

function readLength(data: Uint8Array, position: number, end: number, field: string): number {
  const length = readInt32(data, position);
  if (length < -1)
    throw new ProtocolError(`length ${length} is negative`, { reason: 'negative-length', field, offset: position });
  if (length > end - position - 4) {
    throw new ProtocolError(`length ${length} exceeds the message's bytes`, {
      reason: 'length-too-large',
      field,
      offset: position,
    });
  }
  return length;
}

/** The records inside a decompressed wrapper, with absolute offsets and the wrapper's timestamp rules applied. */
function decodeInnerMessages(data: Uint8Array, wrapper: LegacyMessageFields, checkCrcs: boolean): LegacyRecord[] {
  const messages: LegacyMessageFields[] = [];
  let position = 0;
  while (position < data.length) {
    if (position + 12 > data.length) {
      throw new ProtocolError('inner message set ends inside a message header', {
        reason: 'truncated',
        field: 'MessageSet[].value.messages[]',
        offset: position,
      });
    }
    const size = readInt32(data, position + 8);
    if (size < 0) {
      throw new ProtocolError(`message size ${size} is negative`, {
        reason: 'negative-length',
        field: 'MessageSet[].value.messages[].messageSize',
        offset: position + 8,
      });
    }
    if (size > data.length - position - 12 || size < 5) {
      throw new ProtocolError(`message size ${size} does not fit the inner message set`, {
        reason: size < 5 ? 'invalid-value' : 'truncated',
        field: 'MessageSet[].value.messages[].messageSize',
        offset: position + 8,
      });
    }
    const message = decodeLegacyMessageAt(data, position, size, { checkCrcs });
    if (message.magic !== wrapper.magic) {
      throw invalid(
        `inner magic ${message.magic} differs from the wrapper's ${wrapper.magic}`,
        'MessageSet[].value.messages[].magic',
        position + 16,
      );
    }
    if (message.compression !== 'none') {
      throw invalid(
        'a compressed message inside a compressed message',
        'MessageSet[].value.messages[].attributes',
        position + 17,
      );
    }
    messages.push(message);
    position += 12 + size;
  }
  // v1 inner offsets count from 0 and the wrapper holds the last one's absolute offset (KIP-31).
  let offsetShift = 0n;
  const last = messages[messages.length - 1];
  if (wrapper.magic === 1 && last !== undefined) {
    offsetShift = wrapper.offset - last.offset;
    if (offsetShift + messages[0]!.offset < 0n) {
      throw invalid('inner offsets do not fit the wrapper offset', 'MessageSet[].value.messages[].offset', 0);
    }
  }
  const logAppendTime = wrapper.timestampType === 'log-append-time';
  return messages.map(
    (message) =>
      new LegacyRecord(data, {
        ...message,
        offset: message.offset + offsetShift,
        timestamp: logAppendTime ? wrapper.timestamp : message.timestamp,
        timestampType: wrapper.timestampType,
      }),
  );
}
