import type { MessageCodec } from '../../src/message-codec.ts';
import { Reader } from '../../src/primitives/reader.ts';

/**
 * Where a seed holds a length, a count or a varint, and how it is encoded: the structure-aware mutators overwrite
 * exactly these bytes with hostile values (-2, -1, 0, 0x7fff, 0x7fffffff ...) or with overlong varints.
 */
export type FieldEncoding = 'int16' | 'int32' | 'int32-little-endian' | 'uint64-little-endian' | 'varint';

export interface FieldPosition {
  readonly offset: number;
  readonly encoding: FieldEncoding;
  /** Bytes the field takes in the seed (varints vary). */
  readonly size: number;
}

/**
 * A Reader that remembers where every length, count and varint was read. Generated codecs call the length-reading
 * methods on the reader they are given, so decoding a valid seed through this reader maps its structure.
 */
class TracingReader extends Reader {
  readonly positions: FieldPosition[] = [];

  #fixed(encoding: 'int16' | 'int32', size: number): void {
    this.positions.push({ offset: this.offset, encoding, size });
  }

  override unsignedVarint(field: string): number {
    const offset = this.offset;
    const value = super.unsignedVarint(field);
    this.positions.push({ offset, encoding: 'varint', size: this.offset - offset });
    return value;
  }

  override string(field: string): string {
    this.#fixed('int16', 2);
    return super.string(field);
  }

  override nullableString(field: string): string | null {
    this.#fixed('int16', 2);
    return super.nullableString(field);
  }

  override bytes(field: string): Uint8Array {
    this.#fixed('int32', 4);
    return super.bytes(field);
  }

  override nullableBytes(field: string): Uint8Array | null {
    this.#fixed('int32', 4);
    return super.nullableBytes(field);
  }

  override arrayCount(field: string, minimumElementSize?: number): number {
    this.#fixed('int32', 4);
    return super.arrayCount(field, minimumElementSize);
  }

  override nullableArrayCount(field: string, minimumElementSize?: number): number {
    this.#fixed('int32', 4);
    return super.nullableArrayCount(field, minimumElementSize);
  }
}

/** The length, count and varint positions of a valid encoding of `codec` at `version`, from `start` on. */
export function messageFieldPositions(
  codec: MessageCodec<unknown>,
  version: number,
  bytes: Uint8Array,
  start = 0,
): FieldPosition[] {
  const reader = new TracingReader(bytes, { offset: start });
  codec.read(reader, version);
  return reader.positions;
}

/** Reads an unsigned LEB128 varint's size at `offset` (at most 10 bytes). */
export function varintSize(bytes: Uint8Array, offset: number): number {
  let size = 1;
  while (size < 10 && offset + size - 1 < bytes.length && (bytes[offset + size - 1]! & 0x80) !== 0) size++;
  return size;
}

/**
 * The varint positions of an uncompressed v2 records section `[start, end)`: each record's length, timestamp and
 * offset deltas, key and value lengths, header count and header key and value lengths.
 */
export function recordsFieldPositions(bytes: Uint8Array, start: number, end: number): FieldPosition[] {
  const positions: FieldPosition[] = [];
  let position = start;
  const varint = (): number => {
    const size = varintSize(bytes, position);
    positions.push({ offset: position, encoding: 'varint', size });
    let raw = 0;
    for (let index = 0; index < size; index++) raw += (bytes[position + index]! & 0x7f) * 2 ** (7 * index);
    position += size;
    const unsigned = raw >>> 0;
    return (unsigned >>> 1) ^ -(unsigned & 1);
  };
  while (position < end) {
    const length = varint();
    const recordEnd = position + length;
    position++; // attributes
    varint(); // timestampDelta
    varint(); // offsetDelta
    for (let index = 0; index < 2; index++) {
      const size = varint();
      if (size > 0) position += size;
    }
    const headers = varint();
    for (let header = 0; header < headers; header++) {
      for (let index = 0; index < 2; index++) {
        const size = varint();
        if (size > 0) position += size;
      }
    }
    position = recordEnd;
  }
  return positions;
}
