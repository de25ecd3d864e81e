import { ProtocolError } from '../errors.ts';
import { type ErrorLocation, limitExceeded } from './options.ts';
import { xxhash32 } from './xxhash32.ts';

// The LZ4 frame format (Kafka uses it since KIP-57): magic 0x184D2204, a frame descriptor (FLG, BD, optional
// content size and dictionary id, header checksum), blocks each prefixed by a little-endian uint32 whose high bit
// marks an uncompressed block, an end mark of 0, and an optional content checksum. Several frames may follow one
// another.
//
// This module reads the frame structure without decompressing, so the output size can be bounded before the
// native library allocates anything: every block decompresses to at most the frame's block maximum. When that
// bound exceeds the caller's limit, `decodeLz4FramesCapped` decodes in JavaScript into a buffer that never grows
// past the limit (an LZ4 block is simple enough to decode here; this path is for suspicious input only).

const frameMagic = 0x184d2204;
const blockMaximumSizes: Readonly<Record<number, number>> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

interface FrameDescriptor {
  /** Position of FLG. */
  readonly descriptorStart: number;
  /** Position of the header checksum byte. */
  readonly headerChecksumPosition: number;
  readonly blockChecksums: boolean;
  readonly contentChecksum: boolean;
  readonly blockMaximumSize: number;
  /** Declared content size, or -1 when the frame does not declare it. */
  readonly contentSize: number;
}

export interface Lz4FramesPlan {
  /** Output size the frames cannot exceed if they decode at all. */
  readonly bound: number;
  /** Sum of declared content sizes, or -1 when any frame leaves it out. */
  readonly declaredSize: number;
  /**
   * The input is one frame with no empty stored block and no compressed block of one byte or less. lz4-napi's frame decoder stops early,
   * silently, after the first frame or at a compressed block that decodes to nothing (found by fuzzing); such
   * input goes to our own decoder, which reads every frame and block and checks every checksum.
   */
  readonly nativeSafe: boolean;
}

function corrupt(message: string, location: ErrorLocation, position: number): ProtocolError {
  return new ProtocolError(`lz4 data is corrupt: ${message}`, {
    reason: 'decompression-failed',
    field: location.field,
    offset: location.offset < 0 ? -1 : location.offset + position,
  });
}

function readUint32(data: Uint8Array, position: number): number {
  return (
    (data[position]! | (data[position + 1]! << 8) | (data[position + 2]! << 16) | (data[position + 3]! << 24)) >>> 0
  );
}

function readDescriptor(data: Uint8Array, start: number, location: ErrorLocation): FrameDescriptor {
  if (start + 7 > data.length) throw corrupt('frame header is truncated', location, start);
  if (readUint32(data, start) !== frameMagic) throw corrupt('bad frame magic', location, start);
  const flags = data[start + 4]!;
  const blockDescriptor = data[start + 5]!;
  if (flags >>> 6 !== 1) throw corrupt(`unsupported frame version ${flags >>> 6}`, location, start + 4);
  if ((flags & 0x02) !== 0 || (blockDescriptor & 0x8f) !== 0) {
    throw corrupt('reserved descriptor bits are set', location, start + 4);
  }
  const blockMaximumSize = blockMaximumSizes[(blockDescriptor >>> 4) & 0x07];
  if (blockMaximumSize === undefined) throw corrupt('unknown block maximum size', location, start + 5);
  const hasContentSize = (flags & 0x08) !== 0;
  const hasDictionary = (flags & 0x01) !== 0;
  if (hasDictionary) throw corrupt('frames with a dictionary are not used by Kafka', location, start + 4);
  const headerChecksumPosition = start + 6 + (hasContentSize ? 8 : 0);
  if (headerChecksumPosition >= data.length) throw corrupt('frame header is truncated', location, start);
  let contentSize = -1;
  if (hasContentSize) {
    const low = readUint32(data, start + 6);
    const high = readUint32(data, start + 10);
    // Sizes past 2^53 cannot be real; saturate so the limit check refuses them.
    contentSize = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 2 ** 32 + low;
  }
  return {
    descriptorStart: start + 4,
    headerChecksumPosition,
    blockChecksums: (flags & 0x10) !== 0,
    contentChecksum: (flags & 0x04) !== 0,
    blockMaximumSize,
    contentSize,
  };
}

function expectedHeaderChecksum(data: Uint8Array, descriptor: FrameDescriptor): number {
  return (xxhash32(data, descriptor.descriptorStart, descriptor.headerChecksumPosition) >>> 8) & 0xff;
}

/**
 * Walks the frames' block headers and returns the output bound and declared size. Refuses input whose
 * structure is broken (lengths past the end, missing end mark).
 */
export function planLz4Frames(data: Uint8Array, location: ErrorLocation): Lz4FramesPlan {
  let bound = 0;
  let declaredSize = 0;
  let position = 0;
  let frames = 0;
  let tinyCompressedBlock = false; // or an empty stored block
  do {
    frames++;
    const descriptor = readDescriptor(data, position, location);
    if (descriptor.contentSize < 0) declaredSize = -1;
    else if (declaredSize >= 0) declaredSize += descriptor.contentSize;
    position = descriptor.headerChecksumPosition + 1;
    for (;;) {
      if (position + 4 > data.length) throw corrupt('block header is truncated', location, position);
      const header = readUint32(data, position);
      position += 4;
      if (header === 0) break;
      const size = header & 0x7fffffff;
      if (size > descriptor.blockMaximumSize) throw corrupt('block larger than the block maximum', location, position);
      position += size + (descriptor.blockChecksums ? 4 : 0);
      if (position > data.length) throw corrupt('block is truncated', location, position);
      const uncompressed = (header & 0x80000000) !== 0;
      if (uncompressed ? size === 0 : size <= 1) tinyCompressedBlock = true;
      bound += uncompressed ? size : descriptor.blockMaximumSize;
    }
    position += descriptor.contentChecksum ? 4 : 0;
    if (position > data.length) throw corrupt('content checksum is truncated', location, position);
  } while (position < data.length);
  return { bound, declaredSize, nativeSafe: frames === 1 && !tinyCompressedBlock };
}

/**
 * A copy of a single frame whose header checksum is recomputed. Kafka before 0.10 (message format v0) computed the
 * checksum over the magic number too (KIP-57), which strict readers refuse.
 */
export function withRepairedHeaderChecksum(data: Uint8Array, location: ErrorLocation): Uint8Array {
  const descriptor = readDescriptor(data, 0, location);
  const copy = Uint8Array.from(data);
  copy[descriptor.headerChecksumPosition] = expectedHeaderChecksum(copy, descriptor);
  return copy;
}

/** Output that grows by doubling and never past the caller's limit. */
class CappedOutput {
  bytes: Uint8Array;
  length = 0;
  readonly #limit: number;
  readonly #location: ErrorLocation;

  constructor(initialCapacity: number, limit: number, location: ErrorLocation) {
    this.bytes = new Uint8Array(Math.min(initialCapacity, limit));
    this.#limit = limit;
    this.#location = location;
  }

  ensure(needed: number): void {
    if (needed <= this.bytes.length) return;
    if (needed > this.#limit) throw limitExceeded(this.#limit, this.#location);
    const grown = new Uint8Array(Math.min(Math.max(needed, this.bytes.length * 2), this.#limit));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/** Decodes one LZ4 block into `output`; matches may reach back to `windowStart` (the frame's or the block's start). */
function decodeBlock(
  data: Uint8Array,
  start: number,
  end: number,
  output: CappedOutput,
  windowStart: number,
  blockEndLimit: number,
  location: ErrorLocation,
): void {
  let position = start;
  while (position < end) {
    const token = data[position++]!;
    let literalLength = token >>> 4;
    if (literalLength === 15) {
      let byte: number;
      do {
        if (position >= end) throw corrupt('literal length runs past the block', location, position);
        byte = data[position++]!;
        literalLength += byte;
      } while (byte === 255);
    }
    if (position + literalLength > end) throw corrupt('literals run past the block', location, position);
    if (output.length + literalLength > blockEndLimit)
      throw corrupt('block exceeds its maximum size', location, position);
    output.ensure(output.length + literalLength);
    output.bytes.set(data.subarray(position, position + literalLength), output.length);
    output.length += literalLength;
    position += literalLength;
    if (position === end) return; // the last sequence holds literals only
    if (position + 2 > end) throw corrupt('match offset runs past the block', location, position);
    const matchOffset = data[position]! | (data[position + 1]! << 8);
    position += 2;
    if (matchOffset === 0 || matchOffset > output.length - windowStart) {
      throw corrupt('match offset points before the output', location, position - 2);
    }
    let matchLength = token & 0x0f;
    if (matchLength === 15) {
      let byte: number;
      do {
        if (position >= end) throw corrupt('match length runs past the block', location, position);
        byte = data[position++]!;
        matchLength += byte;
      } while (byte === 255);
    }
    matchLength += 4;
    if (output.length + matchLength > blockEndLimit)
      throw corrupt('block exceeds its maximum size', location, position);
    output.ensure(output.length + matchLength);
    const bytes = output.bytes;
    // Byte by byte: a match may overlap the bytes it produces (a run).
    let from = output.length - matchOffset;
    const to = output.length + matchLength;
    for (let index = output.length; index < to; index++) bytes[index] = bytes[from++]!;
    output.length = to;
  }
  throw corrupt('block does not end with literals', location, start);
}

/**
 * Decodes the frames in JavaScript, refusing output beyond `limit` before allocating it, and verifies checksums.
 * Call only on data that `planLz4Frames` accepted: it relies on the block structure having been checked.
 */
export function decodeLz4FramesCapped(data: Uint8Array, limit: number, location: ErrorLocation): Uint8Array {
  const output = new CappedOutput(Math.max(data.length * 4, 64 << 10), limit, location);
  let position = 0;
  do {
    const descriptor = readDescriptor(data, position, location);
    if (data[descriptor.headerChecksumPosition] !== expectedHeaderChecksum(data, descriptor)) {
      throw corrupt('header checksum mismatch', location, descriptor.headerChecksumPosition);
    }
    const frameStart = output.length;
    const independent = (data[descriptor.descriptorStart]! & 0x20) !== 0;
    position = descriptor.headerChecksumPosition + 1;
    for (;;) {
      const header = readUint32(data, position);
      position += 4;
      if (header === 0) break;
      const size = header & 0x7fffffff;
      const blockEnd = position + size;
      if (descriptor.blockChecksums && readUint32(data, blockEnd) !== xxhash32(data, position, blockEnd)) {
        throw corrupt('block checksum mismatch', location, blockEnd);
      }
      const blockStart = output.length;
      if ((header & 0x80000000) !== 0) {
        output.ensure(blockStart + size);
        output.bytes.set(data.subarray(position, blockEnd), blockStart);
        output.length += size;
      } else {
        const windowStart = independent ? blockStart : frameStart;
        decodeBlock(data, position, blockEnd, output, windowStart, blockStart + descriptor.blockMaximumSize, location);
      }
      position = blockEnd + (descriptor.blockChecksums ? 4 : 0);
    }
    if (descriptor.contentSize >= 0 && output.length - frameStart !== descriptor.contentSize) {
      throw corrupt('content size does not match the frame header', location, position);
    }
    if (descriptor.contentChecksum) {
      if (readUint32(data, position) !== xxhash32(output.bytes, frameStart, output.length)) {
        throw corrupt('content checksum mismatch', location, position);
      }
      position += 4;
    }
  } while (position < data.length);
  return output.bytes.subarray(0, output.length);
}
