import * as snappy from 'snappy';
import { ProtocolError } from '../errors.ts';
import { decompressionFailed, type ErrorLocation, limitExceeded } from './options.ts';

// Kafka carries snappy in two shapes, and readers must accept both:
// - raw snappy (one block, as librdkafka and most non-Java producers write it);
// - the xerial framing that Kafka's Java producer writes through snappy-java's SnappyOutputStream:
//   magic `\x82SNAPPY\0`, int32 version, int32 minimum compatible version, then blocks each made of an int32
//   big-endian compressed length and a raw snappy block.
// Every raw block starts with its uncompressed length as a varint, so the output size is known, and checked
// against the limit, before anything is decompressed.

const xerialMagic = Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00);
const xerialHeaderLength = 16;
/** snappy-java's default block size; Kafka's Java producer uses it. */
const xerialBlockSize = 32 * 1024;

export type SnappyFraming = 'xerial' | 'raw';

function isXerial(data: Uint8Array): boolean {
  if (data.length < xerialMagic.length) return false;
  for (let index = 0; index < xerialMagic.length; index++) {
    if (data[index] !== xerialMagic[index]) return false;
  }
  return true;
}

/** The uncompressed length a raw snappy block declares (a little-endian base-128 uint32). */
function declaredLength(data: Uint8Array, start: number, end: number, location: ErrorLocation): number {
  let value = 0;
  for (let index = 0; index < 5; index++) {
    if (start + index >= end) throw corrupt('snappy block ends inside its length header', location, start);
    const byte = data[start + index]!;
    value += (byte & 0x7f) * 2 ** (7 * index);
    if ((byte & 0x80) === 0) {
      if (value > 0xffffffff) throw corrupt('snappy length header exceeds 32 bits', location, start);
      return value;
    }
  }
  throw corrupt('snappy length header is longer than 5 bytes', location, start);
}

function corrupt(message: string, location: ErrorLocation, offset: number): ProtocolError {
  return new ProtocolError(message, {
    reason: 'decompression-failed',
    field: location.field,
    offset: location.offset < 0 ? -1 : location.offset + offset,
  });
}

/** Block boundaries of the input, with the declared total checked against the limit. */
function planBlocks(data: Uint8Array, limit: number, location: ErrorLocation): Uint8Array[] {
  if (!isXerial(data)) {
    const size = declaredLength(data, 0, data.length, location);
    if (size > limit) throw limitExceeded(limit, location, size);
    return [data];
  }
  if (data.length < xerialHeaderLength) throw corrupt('xerial snappy header is truncated', location, 0);
  const blocks: Uint8Array[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let total = 0;
  let position = xerialHeaderLength;
  while (position < data.length) {
    if (position + 4 > data.length) throw corrupt('xerial snappy block length is truncated', location, position);
    const length = view.getInt32(position);
    if (length < 0 || position + 4 + length > data.length) {
      throw corrupt(`xerial snappy block length ${length} does not fit the data`, location, position);
    }
    const block = data.subarray(position + 4, position + 4 + length);
    total += declaredLength(block, 0, block.length, location);
    if (total > limit) throw limitExceeded(limit, location, total);
    blocks.push(block);
    position += 4 + length;
  }
  return blocks;
}

function joined(parts: readonly Buffer[], total: number): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

export function snappyDecompressSync(data: Uint8Array, limit: number, location: ErrorLocation): Buffer {
  const blocks = planBlocks(data, limit, location);
  const parts: Buffer[] = [];
  let total = 0;
  for (const block of blocks) {
    let part: Buffer;
    try {
      part = snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
    } catch (error) {
      throw decompressionFailed('snappy', error, location);
    }
    total += part.length;
    parts.push(part);
  }
  return joined(parts, total);
}

export async function snappyDecompress(data: Uint8Array, limit: number, location: ErrorLocation): Promise<Buffer> {
  const blocks = planBlocks(data, limit, location);
  let parts: Buffer[];
  try {
    parts = (await Promise.all(blocks.map((block) => snappy.uncompress(block, { asBuffer: true })))) as Buffer[];
  } catch (error) {
    throw decompressionFailed('snappy', error, location);
  }
  let total = 0;
  for (const part of parts) total += part.length;
  return joined(parts, total);
}

function xerialHeader(): Buffer {
  const header = Buffer.alloc(xerialHeaderLength);
  header.set(xerialMagic, 0);
  header.writeInt32BE(1, 8); // version
  header.writeInt32BE(1, 12); // minimum compatible version
  return header;
}

function xerialChunks(data: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < data.length; start += xerialBlockSize) {
    chunks.push(data.subarray(start, Math.min(start + xerialBlockSize, data.length)));
  }
  return chunks;
}

function xerialFrame(blocks: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [xerialHeader()];
  for (const block of blocks) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

export function snappyCompressSync(data: Uint8Array, framing: SnappyFraming): Buffer {
  if (framing === 'raw') return snappy.compressSync(data);
  return xerialFrame(xerialChunks(data).map((chunk) => snappy.compressSync(chunk)));
}

export async function snappyCompress(data: Uint8Array, framing: SnappyFraming): Promise<Buffer> {
  if (framing === 'raw') return snappy.compress(data);
  return xerialFrame(await Promise.all(xerialChunks(data).map((chunk) => snappy.compress(chunk))));
}
