import { ProtocolError, type ProtocolErrorReason } from '../errors.ts';
import { MAX_STRING_BYTES } from './reader.ts';
import type { RawTaggedField } from './tagged-fields.ts';
import { isUuid } from './uuid.ts';

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

export interface WriterOptions {
  /** Bytes to allocate up front; the buffer doubles when full. */
  readonly initialCapacity?: number;
}

/** Bytes an unsigned varint of `value` (0 .. 2^32-1) takes. */
export function unsignedVarintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/**
 * Appends Kafka's primitive types to a growing buffer; {@link finish} returns what was written.
 *
 * Every method takes `field`, the path of what is being written, so that a value the wire cannot carry (a
 * number that is not an int32, a null where the version allows none, a string over Kafka's limit) fails with a
 * {@link ProtocolError} naming it rather than being silently truncated.
 */
export class Writer {
  #buffer: Buffer;
  #offset = 0;

  constructor(options: WriterOptions = {}) {
    this.#buffer = Buffer.allocUnsafe(Math.max(16, options.initialCapacity ?? 256));
  }

  /** Bytes written so far. */
  get offset(): number {
    return this.#offset;
  }

  #fail(reason: ProtocolErrorReason, message: string, field: string): never {
    throw new ProtocolError(message, { reason, field, offset: this.#offset });
  }

  #ensure(count: number): void {
    const needed = this.#offset + count;
    if (needed <= this.#buffer.length) return;
    let capacity = this.#buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.#buffer.copy(grown, 0, 0, this.#offset);
    this.#buffer = grown;
  }

  /** The bytes written: a view of the internal buffer, valid until this writer is written to again. */
  finish(): Uint8Array {
    const buffer = this.#buffer;
    return new Uint8Array(buffer.buffer, buffer.byteOffset, this.#offset);
  }

  int8(value: number, field: string): void {
    if ((value << 24) >> 24 !== value) this.#fail('invalid-value', `${String(value)} is not an int8`, field);
    this.#ensure(1);
    this.#buffer[this.#offset++] = value & 0xff;
  }

  int16(value: number, field: string): void {
    if ((value << 16) >> 16 !== value) this.#fail('invalid-value', `${String(value)} is not an int16`, field);
    this.#ensure(2);
    const buffer = this.#buffer;
    const offset = this.#offset;
    buffer[offset] = (value >>> 8) & 0xff;
    buffer[offset + 1] = value & 0xff;
    this.#offset = offset + 2;
  }

  uint16(value: number, field: string): void {
    if ((value & 0xffff) !== value) this.#fail('invalid-value', `${String(value)} is not a uint16`, field);
    this.#ensure(2);
    const buffer = this.#buffer;
    const offset = this.#offset;
    buffer[offset] = value >>> 8;
    buffer[offset + 1] = value & 0xff;
    this.#offset = offset + 2;
  }

  int32(value: number, field: string): void {
    if ((value | 0) !== value) this.#fail('invalid-value', `${String(value)} is not an int32`, field);
    this.#writeInt32(value);
  }

  uint32(value: number, field: string): void {
    if (value >>> 0 !== value) this.#fail('invalid-value', `${String(value)} is not a uint32`, field);
    this.#writeInt32(value | 0);
  }

  #writeInt32(value: number): void {
    this.#ensure(4);
    const buffer = this.#buffer;
    const offset = this.#offset;
    buffer[offset] = value >>> 24;
    buffer[offset + 1] = (value >>> 16) & 0xff;
    buffer[offset + 2] = (value >>> 8) & 0xff;
    buffer[offset + 3] = value & 0xff;
    this.#offset = offset + 4;
  }

  int64(value: bigint, field: string): void {
    if (typeof value !== 'bigint' || value < MIN_INT64 || value > MAX_INT64) {
      this.#fail('invalid-value', `${String(value)} is not an int64 bigint`, field);
    }
    this.#ensure(8);
    this.#buffer.writeBigInt64BE(value, this.#offset);
    this.#offset += 8;
  }

  float64(value: number, field: string): void {
    if (typeof value !== 'number') this.#fail('invalid-value', `${String(value)} is not a number`, field);
    this.#ensure(8);
    this.#buffer.writeDoubleBE(value, this.#offset);
    this.#offset += 8;
  }

  boolean(value: boolean, field: string): void {
    if (typeof value !== 'boolean') this.#fail('invalid-value', `${String(value)} is not a boolean`, field);
    this.#ensure(1);
    this.#buffer[this.#offset++] = value ? 1 : 0;
  }

  uuid(value: string, field: string): void {
    if (!isUuid(value)) this.#fail('invalid-value', `${String(value)} is not a 22-character base64url UUID`, field);
    this.#ensure(16);
    this.#buffer.write(value, this.#offset, 16, 'base64url');
    this.#offset += 16;
  }

  unsignedVarint(value: number, field: string): void {
    if (value >>> 0 !== value) this.#fail('invalid-value', `${String(value)} is not an unsigned 32-bit varint`, field);
    this.#writeUnsignedVarint(value);
  }

  #writeUnsignedVarint(value: number): void {
    this.#ensure(5);
    const buffer = this.#buffer;
    let offset = this.#offset;
    while (value >= 0x80) {
      buffer[offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buffer[offset++] = value;
    this.#offset = offset;
  }

  varint(value: number, field: string): void {
    if ((value | 0) !== value) this.#fail('invalid-value', `${String(value)} is not an int32`, field);
    this.#writeUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  varlong(value: bigint, field: string): void {
    if (typeof value !== 'bigint' || value < MIN_INT64 || value > MAX_INT64) {
      this.#fail('invalid-value', `${String(value)} is not an int64 bigint`, field);
    }
    let raw = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    this.#ensure(10);
    const buffer = this.#buffer;
    let offset = this.#offset;
    while (raw >= 0x80n) {
      buffer[offset++] = Number(raw & 0x7fn) | 0x80;
      raw >>= 7n;
    }
    buffer[offset++] = Number(raw);
    this.#offset = offset;
  }

  /** Writes `value` as UTF-8 `prefixSize` bytes after the current offset and returns its byte length. */
  #writeUtf8After(value: string, prefixSize: number, field: string): number {
    if (typeof value !== 'string') this.#fail('invalid-value', `${String(value)} is not a string`, field);
    // Every UTF-16 unit takes at least 1 byte of UTF-8, so this refuses early without encoding anything.
    if (value.length > MAX_STRING_BYTES) this.#tooLong(value.length, field);
    this.#ensure(prefixSize + value.length * 3);
    const length = this.#buffer.write(value, this.#offset + prefixSize, 'utf8');
    if (length > MAX_STRING_BYTES) this.#tooLong(length, field);
    return length;
  }

  #tooLong(length: number, field: string): never {
    return this.#fail('length-too-large', `string of ${length}+ bytes exceeds Kafka's ${MAX_STRING_BYTES}`, field);
  }

  /** A classic STRING (int16 length). */
  string(value: string, field: string): void {
    const length = this.#writeUtf8After(value, 2, field);
    const buffer = this.#buffer;
    const offset = this.#offset;
    buffer[offset] = length >>> 8;
    buffer[offset + 1] = length & 0xff;
    this.#offset = offset + 2 + length;
  }

  /** A classic NULLABLE_STRING (int16 length, -1 for null). */
  nullableString(value: string | null, field: string): void {
    if (value === null) {
      this.#writeInt16Raw(-1);
      return;
    }
    this.string(value, field);
  }

  #writeInt16Raw(value: number): void {
    this.#ensure(2);
    this.#buffer[this.#offset] = (value >>> 8) & 0xff;
    this.#buffer[this.#offset + 1] = value & 0xff;
    this.#offset += 2;
  }

  /** A COMPACT_STRING (unsigned varint length + 1). */
  compactString(value: string, field: string): void {
    // Short strings (the usual case) get a one-byte prefix whatever their characters: encode once, in place.
    if (typeof value === 'string' && value.length < 42) {
      const length = this.#writeUtf8After(value, 1, field);
      this.#buffer[this.#offset] = length + 1;
      this.#offset += 1 + length;
      return;
    }
    if (typeof value !== 'string') this.#fail('invalid-value', `${String(value)} is not a string`, field);
    const length = Buffer.byteLength(value, 'utf8');
    if (length > MAX_STRING_BYTES) this.#tooLong(length, field);
    this.#writeUnsignedVarint(length + 1);
    this.#ensure(length);
    this.#buffer.write(value, this.#offset, 'utf8');
    this.#offset += length;
  }

  /** A COMPACT_NULLABLE_STRING (unsigned varint length + 1, 0 for null). */
  compactNullableString(value: string | null, field: string): void {
    if (value === null) {
      this.#writeUnsignedVarint(0);
      return;
    }
    this.compactString(value, field);
  }

  /** Bytes with no length prefix. */
  rawBytes(value: Uint8Array, field: string): void {
    if (!(value instanceof Uint8Array)) this.#fail('invalid-value', `${String(value)} is not a Uint8Array`, field);
    this.#ensure(value.byteLength);
    this.#buffer.set(value, this.#offset);
    this.#offset += value.byteLength;
  }

  /** Classic BYTES (int32 length). */
  bytes(value: Uint8Array, field: string): void {
    if (!(value instanceof Uint8Array)) this.#fail('invalid-value', `${String(value)} is not a Uint8Array`, field);
    this.#writeInt32(value.byteLength);
    this.rawBytes(value, field);
  }

  /** Classic NULLABLE_BYTES and RECORDS (int32 length, -1 for null). */
  nullableBytes(value: Uint8Array | null, field: string): void {
    if (value === null) {
      this.#writeInt32(-1);
      return;
    }
    this.bytes(value, field);
  }

  /** COMPACT_BYTES (unsigned varint length + 1). */
  compactBytes(value: Uint8Array, field: string): void {
    if (!(value instanceof Uint8Array)) this.#fail('invalid-value', `${String(value)} is not a Uint8Array`, field);
    this.#writeUnsignedVarint(value.byteLength + 1);
    this.rawBytes(value, field);
  }

  /** COMPACT_NULLABLE_BYTES and COMPACT_RECORDS (unsigned varint length + 1, 0 for null). */
  compactNullableBytes(value: Uint8Array | null, field: string): void {
    if (value === null) {
      this.#writeUnsignedVarint(0);
      return;
    }
    this.compactBytes(value, field);
  }

  #checkArray(value: readonly unknown[], field: string): number {
    if (!Array.isArray(value)) this.#fail('invalid-value', `${String(value)} is not an array`, field);
    return value.length;
  }

  /** A classic ARRAY count (int32) for `value`, which must be an array. */
  arrayCount(value: readonly unknown[], field: string): void {
    this.#writeInt32(this.#checkArray(value, field));
  }

  /** A classic nullable ARRAY count (int32, -1 for null). */
  nullableArrayCount(value: readonly unknown[] | null, field: string): void {
    this.#writeInt32(value === null ? -1 : this.#checkArray(value, field));
  }

  /** A COMPACT_ARRAY count (unsigned varint count + 1). */
  compactArrayCount(value: readonly unknown[], field: string): void {
    this.#writeUnsignedVarint(this.#checkArray(value, field) + 1);
  }

  /** A nullable COMPACT_ARRAY count (unsigned varint count + 1, 0 for null). */
  compactNullableArrayCount(value: readonly unknown[] | null, field: string): void {
    this.#writeUnsignedVarint(value === null ? 0 : this.#checkArray(value, field) + 1);
  }

  /** Reserves an int32 to fill in later with {@link fillInt32} (a frame's size prefix). Returns its position. */
  reserveInt32(): number {
    this.#ensure(4);
    const position = this.#offset;
    this.#offset += 4;
    return position;
  }

  /** Fills an int32 reserved by {@link reserveInt32}. */
  fillInt32(position: number, value: number, field: string): void {
    if ((value | 0) !== value) this.#fail('invalid-value', `${String(value)} is not an int32`, field);
    if (!(position >= 0 && position + 4 <= this.#offset)) throw new RangeError(`no int32 reserved at ${position}`);
    this.#buffer.writeInt32BE(value, position);
  }

  /** Starts a region whose byte size will be written in front of it by {@link endSized} (a tagged field's value). */
  beginSized(): number {
    return this.#offset;
  }

  /** Puts the unsigned varint size of the region begun at `start` in front of it. */
  endSized(start: number): void {
    const size = this.#offset - start;
    const prefixSize = unsignedVarintSize(size);
    this.#ensure(prefixSize);
    const buffer = this.#buffer;
    // Tagged values are small: moving them by a byte or two is cheaper than sizing every value twice.
    buffer.copyWithin(start + prefixSize, start, this.#offset);
    let offset = start;
    let value = size;
    while (value >= 0x80) {
      buffer[offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buffer[offset] = value;
    this.#offset += prefixSize;
  }

  /** Unknown tagged fields kept from a decode, written back as they came (tag, size, bytes). */
  unknownTaggedFields(fields: readonly RawTaggedField[], field: string): void {
    for (const tagged of fields) {
      this.unsignedVarint(tagged.tag, field);
      this.sizedBytes(tagged.data, field);
    }
  }

  /** An unsigned varint byte length followed by the bytes (the shape of a tagged field's value). */
  sizedBytes(value: Uint8Array, field: string): void {
    if (!(value instanceof Uint8Array)) this.#fail('invalid-value', `${String(value)} is not a Uint8Array`, field);
    this.#writeUnsignedVarint(value.byteLength);
    this.rawBytes(value, field);
  }
}
