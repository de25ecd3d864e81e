import { xxhash32 } from '../../src/compression/xxhash32.ts';
import type { FieldPosition } from './field-positions.ts';

// Builds LZ4 frames field by field (the frame format's published layout), so that seeds can carry every optional
// part (content size, block and content checksums, uncompressed blocks, several frames) and so that bombs can be
// written directly: a run of zeros is one match of any length, which no library compressor would be asked to make.

const frameMagic = [0x04, 0x22, 0x4d, 0x18];

/** Appends an LZ4 length extension (bytes of 255 then the remainder). */
function pushLengthExtension(output: number[], value: number): void {
  let rest = value;
  while (rest >= 255) {
    output.push(255);
    rest -= 255;
  }
  output.push(rest);
}

function pushSequence(output: number[], literals: Uint8Array, matchLength: number): void {
  const literalNibble = Math.min(literals.length, 15);
  const matchNibble = matchLength === 0 ? 0 : Math.min(matchLength - 4, 15);
  output.push((literalNibble << 4) | matchNibble);
  if (literals.length >= 15) pushLengthExtension(output, literals.length - 15);
  for (const byte of literals) output.push(byte);
  if (matchLength === 0) return;
  output.push(1, 0); // match offset 1: repeat the previous byte
  if (matchLength - 4 >= 15) pushLengthExtension(output, matchLength - 4 - 15);
}

/**
 * One LZ4 block: literals, except that runs of one repeated byte become matches at offset 1. The last 12 bytes
 * stay literals, as the block format asks.
 */
export function encodeLz4Block(data: Uint8Array): Uint8Array {
  const output: number[] = [];
  let literalStart = 0;
  let position = 0;
  const matchEnd = data.length - 12;
  while (position < matchEnd) {
    let run = 1;
    while (position + run < matchEnd && data[position + run] === data[position]) run++;
    if (run >= 9) {
      pushSequence(output, data.subarray(literalStart, position + 1), run - 1);
      position += run;
      literalStart = position;
    } else {
      position += run;
    }
  }
  pushSequence(output, data.subarray(literalStart), 0);
  return Uint8Array.from(output);
}

/** A block of `length` zeros, as one match: a few bytes per 255 bytes of output. */
export function zeroRunLz4Block(length: number): Uint8Array {
  const output: number[] = [];
  pushSequence(output, new Uint8Array(1), length - 1 - 12);
  pushSequence(output, new Uint8Array(12), 0);
  return Uint8Array.from(output);
}

export interface Lz4BlockInput {
  /** Block bytes: LZ4-compressed, or stored as is when `uncompressed`. */
  readonly data: Uint8Array;
  readonly uncompressed?: boolean;
}

export interface Lz4FrameInput {
  readonly blocks: readonly Lz4BlockInput[];
  /** 4..7: 64 KiB, 256 KiB, 1 MiB, 4 MiB. */
  readonly blockMaximumId?: number;
  /** Written into the header when given (which may lie). */
  readonly contentSize?: number;
  readonly blockChecksums?: boolean;
  /** The decompressed content, to checksum: the content checksum is written when given. */
  readonly contentForChecksum?: Uint8Array;
  readonly independentBlocks?: boolean;
  /** Compute the header checksum over the magic too, as Kafka before 0.10 did (KIP-57). */
  readonly legacyHeaderChecksum?: boolean;
}

export interface BuiltLz4Frame {
  readonly bytes: Uint8Array;
  readonly positions: FieldPosition[];
}

export function buildLz4Frame(input: Lz4FrameInput): BuiltLz4Frame {
  const output: number[] = [...frameMagic];
  const positions: FieldPosition[] = [];
  let flags = 0x40;
  if (input.independentBlocks !== false) flags |= 0x20;
  if (input.blockChecksums) flags |= 0x10;
  if (input.contentSize !== undefined) flags |= 0x08;
  if (input.contentForChecksum !== undefined) flags |= 0x04;
  output.push(flags, (input.blockMaximumId ?? 4) << 4);
  if (input.contentSize !== undefined) {
    positions.push({ offset: output.length, encoding: 'uint64-little-endian', size: 8 });
    const low = input.contentSize % 2 ** 32;
    const high = Math.floor(input.contentSize / 2 ** 32);
    pushUint32(output, low);
    pushUint32(output, high);
  }
  const header = Uint8Array.from(output);
  const checksumStart = input.legacyHeaderChecksum ? 0 : 4;
  output.push((xxhash32(header, checksumStart, header.length) >>> 8) & 0xff);
  for (const block of input.blocks) {
    positions.push({ offset: output.length, encoding: 'int32-little-endian', size: 4 });
    pushUint32(output, (block.data.length | (block.uncompressed ? 0x80000000 : 0)) >>> 0);
    for (const byte of block.data) output.push(byte);
    if (input.blockChecksums) pushUint32(output, xxhash32(block.data));
  }
  pushUint32(output, 0);
  if (input.contentForChecksum !== undefined) pushUint32(output, xxhash32(input.contentForChecksum));
  return { bytes: Uint8Array.from(output), positions };
}

function pushUint32(output: number[], value: number): void {
  output.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
}
