import { ProtocolError, type ProtocolErrorReason } from '../errors.ts';
import type { RawTaggedField } from './tagged-fields.ts';

/**
 * Kafka refuses strings longer than this many bytes, in both the classic and the compact encodings
 * (its generated readers and writers check `length > 0x7fff`), so we do too.
 */
export const MAX_STRING_BYTES = 0x7fff;

/** Kafka's generated readers refuse more tagged fields than this in one tagged-field section. */
export const MAX_TAGGED_FIELDS = 10_000;

export interface ReaderOptions {
  /** First byte to read; defaults to 0. */
  readonly offset?: number;
  /** One past the last byte to read; defaults to the end of the bytes. */
  readonly end?: number;
}

/**
 * Reads Kafka's primitive types from a byte region.
 *
 * Every method takes `field`, the path of what is being read (`MetadataResponse.brokers[].host`), so that a
 * {@link ProtocolError} names it. Every length, count and varint is checked against the bytes that remain
 * before anything is allocated, so a hostile frame costs at most its own size. `bytes`-like reads return
 * views into the input (never copies): keep the input alive as long as the views are in use.
 */
export class Reader {
  readonly #buffer: Buffer;
  #offset: number;
  #end: number;

  constructor(bytes: Uint8Array, options: ReaderOptions = {}) {
    // A Buffer view over the same memory: its utf8/base64url decoders are the fast ones in Node.
    this.#buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = options.end ?? bytes.byteLength;
    const offset = options.offset ?? 0;
    if (!(offset >= 0 && offset <= end && end <= bytes.byteLength)) {
      throw new RangeError(`Reader region ${offset}..${end} is outside the ${bytes.byteLength} bytes given`);
    }
    this.#offset = offset;
    this.#end = end;
  }

  /** Position of the next byte to read, relative to the start of the bytes given to the constructor. */
  get offset(): number {
    return this.#offset;
  }

  /** One past the last byte this reader may read. */
  get end(): number {
    return this.#end;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  #fail(reason: ProtocolErrorReason, message: string, field: string, offset: number = this.#offset): never {
    throw new ProtocolError(message, { reason, field, offset });
  }

  #need(count: number, field: string): number {
    const offset = this.#offset;
    if (this.#end - offset < count) {
      this.#fail('truncated', `needs ${count} bytes, ${this.#end - offset} remain`, field);
    }
    this.#offset = offset + count;
    return offset;
  }

  int8(field: string): number {
    const offset = this.#need(1, field);
    return (this.#buffer[offset]! << 24) >> 24;
  }

  int16(field: string): number {
    const offset = this.#need(2, field);
    const buffer = this.#buffer;
    return ((buffer[offset]! << 24) | (buffer[offset + 1]! << 16)) >> 16;
  }

  uint16(field: string): number {
    const offset = this.#need(2, field);
    const buffer = this.#buffer;
    return (buffer[offset]! << 8) | buffer[offset + 1]!;
  }

  int32(field: string): number {
    const offset = this.#need(4, field);
    const buffer = this.#buffer;
    return (buffer[offset]! << 24) | (buffer[offset + 1]! << 16) | (buffer[offset + 2]! << 8) | buffer[offset + 3]!;
  }

  uint32(field: string): number {
    return this.int32(field) >>> 0;
  }

  int64(field: string): bigint {
    const offset = this.#need(8, field);
    return this.#buffer.readBigInt64BE(offset);
  }

  float64(field: string): number {
    const offset = this.#need(8, field);
    return this.#buffer.readDoubleBE(offset);
  }

  /** Kafka's readers take any nonzero byte as true, so we do too (a re-encode writes it back as 1). */
  boolean(field: string): boolean {
    const offset = this.#need(1, field);
    return this.#buffer[offset] !== 0;
  }

  /**
   * A UUID as Kafka's `Uuid.toString()` spells it: 22 characters of unpadded base64url.
   * Strings compare with `===` and key a Map, which is what topic IDs are used for.
   */
  uuid(field: string): string {
    const offset = this.#need(16, field);
    return this.#buffer.toString('base64url', offset, offset + 16);
  }

  /** An unsigned LEB128 varint of at most 32 bits (5 bytes). */
  unsignedVarint(field: string): number {
    const buffer = this.#buffer;
    const end = this.#end;
    let offset = this.#offset;
    if (offset < end) {
      const first = buffer[offset]!;
      if (first < 0x80) {
        this.#offset = offset + 1;
        return first;
      }
    }
    const start = offset;
    let value = 0;
    let multiplier = 1;
    for (let index = 0; index < 5; index++) {
      if (offset >= end) this.#fail('truncated', 'varint ends early', field, start);
      const byte = buffer[offset++]!;
      // The fifth byte may carry only the top 4 of 32 bits and must end the varint.
      if (index === 4 && byte > 0x0f) this.#fail('varint-too-long', 'varint is longer than 32 bits', field, start);
      value += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        this.#offset = offset;
        return value;
      }
      multiplier *= 128;
    }
    return this.#fail('varint-too-long', 'varint is longer than 5 bytes', field, start);
  }

  /** A zigzag varint of at most 32 bits. */
  varint(field: string): number {
    const raw = this.unsignedVarint(field);
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** A zigzag varlong of at most 64 bits (10 bytes). */
  varlong(field: string): bigint {
    const buffer = this.#buffer;
    const end = this.#end;
    const start = this.#offset;
    let offset = start;
    // Up to 7 bytes (49 bits) fit a double exactly: the common small values never touch BigInt arithmetic.
    let value = 0;
    let multiplier = 1;
    for (let index = 0; index < 7; index++) {
      if (offset >= end) this.#fail('truncated', 'varlong ends early', field, start);
      const byte = buffer[offset++]!;
      value += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        this.#offset = offset;
        return BigInt(value % 2 === 0 ? value / 2 : -(value + 1) / 2);
      }
      multiplier *= 128;
    }
    let big = BigInt(value);
    let shift = 49n;
    for (let index = 7; index < 10; index++) {
      if (offset >= end) this.#fail('truncated', 'varlong ends early', field, start);
      const byte = buffer[offset++]!;
      // The tenth byte may carry only bit 63 and must end the varlong.
      if (index === 9 && byte > 0x01) this.#fail('varint-too-long', 'varlong is longer than 64 bits', field, start);
      big |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.#offset = offset;
        return (big >> 1n) ^ -(big & 1n);
      }
      shift += 7n;
    }
    return this.#fail('varint-too-long', 'varlong is longer than 10 bytes', field, start);
  }

  #utf8(length: number, field: string, lengthOffset: number): string {
    if (length > MAX_STRING_BYTES) {
      this.#fail(
        'length-too-large',
        `string of ${length} bytes exceeds Kafka's ${MAX_STRING_BYTES}`,
        field,
        lengthOffset,
      );
    }
    if (length > this.#end - this.#offset) {
      this.#fail(
        'length-too-large',
        `string of ${length} bytes, ${this.#end - this.#offset} remain`,
        field,
        lengthOffset,
      );
    }
    const offset = this.#offset;
    this.#offset = offset + length;
    // Lenient like Kafka's Java (`new String(bytes, UTF_8)`): malformed sequences become U+FFFD rather than
    // failing the whole response over one client-supplied string.
    return this.#buffer.toString('utf8', offset, offset + length);
  }

  /** A classic STRING: int16 length, never null. */
  string(field: string): string {
    const lengthOffset = this.#offset;
    const length = this.int16(field);
    if (length < 0) this.#fail('negative-length', `string length ${length}`, field, lengthOffset);
    return this.#utf8(length, field, lengthOffset);
  }

  /** A classic NULLABLE_STRING: int16 length, -1 for null. */
  nullableString(field: string): string | null {
    const lengthOffset = this.#offset;
    const length = this.int16(field);
    if (length < 0) {
      if (length === -1) return null;
      this.#fail('negative-length', `string length ${length}`, field, lengthOffset);
    }
    return this.#utf8(length, field, lengthOffset);
  }

  /** A COMPACT_STRING: unsigned varint length + 1, never null. */
  compactString(field: string): string {
    const lengthOffset = this.#offset;
    const encoded = this.unsignedVarint(field);
    if (encoded === 0) this.#fail('negative-length', 'null where a string is required', field, lengthOffset);
    return this.#utf8(encoded - 1, field, lengthOffset);
  }

  /** A COMPACT_NULLABLE_STRING: unsigned varint length + 1, 0 for null. */
  compactNullableString(field: string): string | null {
    const lengthOffset = this.#offset;
    const encoded = this.unsignedVarint(field);
    if (encoded === 0) return null;
    return this.#utf8(encoded - 1, field, lengthOffset);
  }

  #view(length: number, field: string, lengthOffset: number): Uint8Array {
    if (length > this.#end - this.#offset) {
      this.#fail('length-too-large', `${length} bytes, ${this.#end - this.#offset} remain`, field, lengthOffset);
    }
    const offset = this.#offset;
    this.#offset = offset + length;
    const buffer = this.#buffer;
    // A plain Uint8Array view (not a Buffer) so that callers see one type whatever they passed in.
    return new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length);
  }

  /** Raw bytes with no length prefix, as a view. */
  rawBytes(length: number, field: string): Uint8Array {
    if (!Number.isInteger(length) || length < 0) this.#fail('negative-length', `raw bytes length ${length}`, field);
    return this.#view(length, field, this.#offset);
  }

  /** Classic BYTES: int32 length, never null. The result is a view into the input. */
  bytes(field: string): Uint8Array {
    const lengthOffset = this.#offset;
    const length = this.int32(field);
    if (length < 0) this.#fail('negative-length', `bytes length ${length}`, field, lengthOffset);
    return this.#view(length, field, lengthOffset);
  }

  /** Classic NULLABLE_BYTES (also RECORDS): int32 length, -1 for null. The result is a view into the input. */
  nullableBytes(field: string): Uint8Array | null {
    const lengthOffset = this.#offset;
    const length = this.int32(field);
    if (length < 0) {
      if (length === -1) return null;
      this.#fail('negative-length', `bytes length ${length}`, field, lengthOffset);
    }
    return this.#view(length, field, lengthOffset);
  }

  /** COMPACT_BYTES: unsigned varint length + 1, never null. The result is a view into the input. */
  compactBytes(field: string): Uint8Array {
    const lengthOffset = this.#offset;
    const encoded = this.unsignedVarint(field);
    if (encoded === 0) this.#fail('negative-length', 'null where bytes are required', field, lengthOffset);
    return this.#view(encoded - 1, field, lengthOffset);
  }

  /** COMPACT_NULLABLE_BYTES (also COMPACT_RECORDS): unsigned varint length + 1, 0 for null. A view into the input. */
  compactNullableBytes(field: string): Uint8Array | null {
    const lengthOffset = this.#offset;
    const encoded = this.unsignedVarint(field);
    if (encoded === 0) return null;
    return this.#view(encoded - 1, field, lengthOffset);
  }

  #checkCount(count: number, minimumElementSize: number, field: string, countOffset: number): number {
    // Every element takes at least `minimumElementSize` bytes (at least 1, as Kafka assumes), so a count larger
    // than the bytes that remain cannot be honest: refuse it before the caller allocates or loops.
    if (count * Math.max(minimumElementSize, 1) > this.#end - this.#offset) {
      this.#fail('length-too-large', `${count} elements, ${this.#end - this.#offset} bytes remain`, field, countOffset);
    }
    return count;
  }

  /** A classic ARRAY count (int32), never null. */
  arrayCount(field: string, minimumElementSize = 1): number {
    const countOffset = this.#offset;
    const count = this.int32(field);
    if (count < 0) this.#fail('negative-length', `array count ${count}`, field, countOffset);
    return this.#checkCount(count, minimumElementSize, field, countOffset);
  }

  /** A classic nullable ARRAY count (int32); -1 means null. */
  nullableArrayCount(field: string, minimumElementSize = 1): number {
    const countOffset = this.#offset;
    const count = this.int32(field);
    if (count < 0) {
      if (count === -1) return -1;
      this.#fail('negative-length', `array count ${count}`, field, countOffset);
    }
    return this.#checkCount(count, minimumElementSize, field, countOffset);
  }

  /** A COMPACT_ARRAY count (unsigned varint count + 1), never null. */
  compactArrayCount(field: string, minimumElementSize = 1): number {
    const countOffset = this.#offset;
    const encoded = this.unsignedVarint(field);
    if (encoded === 0) this.#fail('negative-length', 'null where an array is required', field, countOffset);
    return this.#checkCount(encoded - 1, minimumElementSize, field, countOffset);
  }

  /** A nullable COMPACT_ARRAY count; -1 means null. */
  compactNullableArrayCount(field: string, minimumElementSize = 1): number {
    const countOffset = this.#offset;
    const encoded = this.unsignedVarint(field);
    if (encoded === 0) return -1;
    return this.#checkCount(encoded - 1, minimumElementSize, field, countOffset);
  }

  /** The number of tagged fields that follow (each takes at least 2 bytes: its tag and its size). */
  taggedFieldCount(field: string): number {
    const countOffset = this.#offset;
    const count = this.unsignedVarint(field);
    if (count > MAX_TAGGED_FIELDS) {
      this.#fail('length-too-large', `${count} tagged fields exceed Kafka's ${MAX_TAGGED_FIELDS}`, field, countOffset);
    }
    return this.#checkCount(count, 2, field, countOffset);
  }

  /**
   * Reads a tagged field's size and narrows the reader to it, so that the known field's own reads cannot run past
   * it. Returns the end to give back to {@link leaveTaggedField}.
   */
  enterTaggedField(field: string): number {
    const sizeOffset = this.#offset;
    const size = this.unsignedVarint(field);
    if (size > this.#end - this.#offset) {
      this.#fail(
        'length-too-large',
        `tagged field of ${size} bytes, ${this.#end - this.#offset} remain`,
        field,
        sizeOffset,
      );
    }
    const outerEnd = this.#end;
    this.#end = this.#offset + size;
    return outerEnd;
  }

  /** Requires that the tagged field's value used exactly its declared size, then widens the reader again. */
  leaveTaggedField(outerEnd: number, field: string): void {
    if (this.#offset !== this.#end) {
      this.#fail('invalid-value', `tagged field value left ${this.#end - this.#offset} of its bytes unread`, field);
    }
    this.#end = outerEnd;
  }

  /** A tagged field this codec does not know, kept as raw bytes (a view) so that a re-encode writes it back. */
  unknownTaggedField(tag: number, field: string): RawTaggedField {
    const sizeOffset = this.#offset;
    const size = this.unsignedVarint(field);
    return { tag, data: this.#view(size, field, sizeOffset) };
  }
}
