import * as zlib from 'node:zlib';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import { type CompressionType, compressSync } from '../../src/compression/index.ts';
import type { Seed } from './corpus-types.ts';
import type { FieldPosition } from './field-positions.ts';
import { buildLz4Frame, encodeLz4Block, zeroRunLz4Block } from './lz4-frame-builder.ts';

/**
 * The output cap every fuzz case decompresses with. Small, so that bombs are cheap to build and to refuse, and
 * large enough for every valid seed.
 */
export const decompressionCap = 256 * 1024;

/** How far the bombs expand: 16 times the cap. */
const bombSize = 16 * decompressionCap;

const xerialMagic = Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00);

function textPayload(size: number): Uint8Array {
  const words = ['kafka', 'record', 'offset', 'partition', 'sluice', 'batch', 'header', '\u00e9t\u00e9', '{"a":1}'];
  const parts: string[] = [];
  let length = 0;
  for (let index = 0; length < size; index++) {
    const word = words[(index * 7 + (index >> 3)) % words.length]!;
    parts.push(word);
    length += word.length + 1;
  }
  return new TextEncoder().encode(parts.join(' ')).subarray(0, size);
}

function noisePayload(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = 0x1234567;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

/** The length varint at the start of a raw snappy block. */
function snappyVarint(offset: number, bytes: Uint8Array): FieldPosition {
  let size = 1;
  while ((bytes[offset + size - 1]! & 0x80) !== 0 && size < 5) size++;
  return { offset, encoding: 'varint', size };
}

/** Xerial framing around blocks given as is, so that block lengths may lie. */
function xerial(
  blocks: readonly Uint8Array[],
  lengths?: readonly number[],
): { bytes: Uint8Array; positions: FieldPosition[] } {
  const total = 16 + blocks.reduce((sum, block) => sum + 4 + block.length, 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(xerialMagic, 0);
  view.setInt32(8, 1);
  view.setInt32(12, 1);
  const positions: FieldPosition[] = [];
  let position = 16;
  blocks.forEach((block, index) => {
    positions.push({ offset: position, encoding: 'int32', size: 4 });
    view.setInt32(position, lengths?.[index] ?? block.length);
    bytes.set(block, position + 4);
    positions.push(snappyVarint(position + 4, bytes));
    position += 4 + block.length;
  });
  return { bytes, positions };
}

function gzipPositions(bytes: Uint8Array): FieldPosition[] {
  // ISIZE, the uncompressed size modulo 2^32, ends the member (RFC 1952).
  return [{ offset: bytes.length - 4, encoding: 'int32-little-endian', size: 4 }];
}

interface CompressedSeedInput {
  readonly name: string;
  readonly compression: CompressionType;
  readonly bytes: Uint8Array;
  readonly positions?: readonly FieldPosition[];
  readonly legacyLz4HeaderChecksum?: boolean;
  readonly exceedsCap?: boolean;
  readonly lies?: boolean;
}

function seed(input: CompressedSeedInput): Seed {
  return {
    name: `${input.exceedsCap || input.lies ? 'bomb' : 'compressed'}: ${input.name}`,
    target: {
      kind: 'compressed',
      compression: input.compression,
      legacyLz4HeaderChecksum: input.legacyLz4HeaderChecksum ?? false,
    },
    bytes: input.bytes,
    positions: input.positions ?? [],
    inner: [],
    expectation: input.exceedsCap ? 'exceeds-cap' : input.lies ? 'refused' : 'decodes',
  };
}

/** Small payloads that expand past the cap, one per codec, for the compressed and the records targets. */
export function buildBombs(): Map<CompressionType, Uint8Array> {
  const zeros = new Uint8Array(bombSize);
  const bombs = new Map<CompressionType, Uint8Array>();
  bombs.set('gzip', zlib.gzipSync(zeros, { level: 9 }));
  bombs.set('zstd', zlib.zstdCompressSync(zeros));
  // Snappy expands at most ~24x: a bomb of 4x the cap stays small enough to copy per case.
  bombs.set('snappy', compressSync('snappy', new Uint8Array(4 * decompressionCap)));
  const block = zeroRunLz4Block(4 << 20);
  const blocks = [];
  for (let index = 0; index < bombSize / (4 << 20); index++) blocks.push({ data: block });
  bombs.set('lz4', buildLz4Frame({ blocks, blockMaximumId: 7 }).bytes);
  return bombs;
}

export function compressedSeeds(bombs: ReadonlyMap<CompressionType, Uint8Array>): Seed[] {
  const payloads: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['text 2 KiB', textPayload(2048)],
    ['noise 300 B', noisePayload(300)],
    ['text 70 KiB', textPayload(70 * 1024)],
  ];
  const seeds: Seed[] = [];
  for (const [name, payload] of payloads) {
    const gzip = zlib.gzipSync(payload);
    seeds.push(seed({ name: `gzip ${name}`, compression: 'gzip', bytes: gzip, positions: gzipPositions(gzip) }));
    seeds.push(seed({ name: `zstd ${name}`, compression: 'zstd', bytes: zlib.zstdCompressSync(payload) }));
    const raw = snappy.compressSync(Buffer.from(payload));
    seeds.push(
      seed({ name: `snappy raw ${name}`, compression: 'snappy', bytes: raw, positions: [snappyVarint(0, raw)] }),
    );
    const chunks: Uint8Array[] = [];
    for (let start = 0; start < payload.length || start === 0; start += 32 * 1024) {
      chunks.push(snappy.compressSync(Buffer.from(payload.subarray(start, start + 32 * 1024))));
      if (payload.length === 0) break;
    }
    const framed = xerial(chunks);
    seeds.push(seed({ name: `snappy xerial ${name}`, compression: 'snappy', ...framed }));
    seeds.push(
      seed({ name: `lz4 lz4-napi ${name}`, compression: 'lz4', bytes: lz4.compressFrameSync(Buffer.from(payload)) }),
    );
    const withEverything = buildLz4Frame({
      blocks: [{ data: encodeLz4Block(payload) }],
      contentSize: payload.length,
      blockChecksums: true,
      contentForChecksum: payload,
      blockMaximumId: 5,
    });
    seeds.push(seed({ name: `lz4 checksummed ${name}`, compression: 'lz4', ...withEverything }));
    const half = payload.length >> 1;
    const twoBlocks = buildLz4Frame({
      blocks: [
        { data: payload.subarray(0, half), uncompressed: true },
        { data: encodeLz4Block(payload.subarray(half)) },
      ],
      independentBlocks: false,
      blockMaximumId: 5,
    });
    const legacy = buildLz4Frame({
      blocks: [{ data: encodeLz4Block(payload) }],
      legacyHeaderChecksum: true,
      blockMaximumId: 5,
    });
    seeds.push(seed({ name: `lz4 stored + linked blocks ${name}`, compression: 'lz4', ...twoBlocks }));
    seeds.push(
      seed({ name: `lz4 KIP-57 header ${name}`, compression: 'lz4', legacyLz4HeaderChecksum: true, ...legacy }),
    );
    const concatenated = new Uint8Array(twoBlocks.bytes.length + withEverything.bytes.length);
    concatenated.set(twoBlocks.bytes, 0);
    concatenated.set(withEverything.bytes, twoBlocks.bytes.length);
    const positions = [
      ...twoBlocks.positions,
      ...withEverything.positions.map((field) => ({ ...field, offset: field.offset + twoBlocks.bytes.length })),
    ];
    seeds.push(seed({ name: `lz4 two frames ${name}`, compression: 'lz4', bytes: concatenated, positions }));
  }

  for (const [compression, bytes] of bombs) {
    const positions = compression === 'gzip' ? gzipPositions(bytes) : [];
    seeds.push(seed({ name: `${compression} of ${bombSize} zeros`, compression, bytes, positions, exceedsCap: true }));
  }
  // Lying sizes: a raw snappy block and a xerial block that declare 4 GiB, a xerial length past the data, and lz4
  // frames that declare a huge content size or hold more than they declare.
  const small = snappy.compressSync(Buffer.from(textPayload(100)));
  const lyingRaw = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, ...small.subarray(1)]);
  seeds.push(seed({ name: 'snappy raw declaring 4 GiB', compression: 'snappy', bytes: lyingRaw, exceedsCap: true }));
  const lyingXerial = xerial([lyingRaw]);
  seeds.push(
    seed({ name: 'snappy xerial block declaring 4 GiB', compression: 'snappy', exceedsCap: true, ...lyingXerial }),
  );
  const longXerial = xerial([small], [0x7fffffff]);
  seeds.push(seed({ name: 'snappy xerial block length 0x7fffffff', compression: 'snappy', lies: true, ...longXerial }));
  const manyBlocks = xerial(Array.from({ length: 6 }, () => snappy.compressSync(Buffer.alloc(64 * 1024))));
  seeds.push(
    seed({ name: 'snappy xerial 6 x 64 KiB of zeros', compression: 'snappy', exceedsCap: true, ...manyBlocks }),
  );
  const huge = buildLz4Frame({ blocks: [{ data: encodeLz4Block(textPayload(100)) }], contentSize: 2 ** 40 });
  seeds.push(seed({ name: 'lz4 declaring 1 TiB', compression: 'lz4', exceedsCap: true, ...huge }));
  const understated = buildLz4Frame({
    blocks: [{ data: zeroRunLz4Block(4 << 20) }],
    contentSize: 100,
    blockMaximumId: 7,
  });
  seeds.push(seed({ name: 'lz4 declaring 100 B holding 4 MiB', compression: 'lz4', exceedsCap: true, ...understated }));
  return seeds;
}
