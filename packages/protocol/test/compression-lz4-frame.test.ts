import fc from 'fast-check';
import * as lz4 from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { decompressSync } from '../src/compression/index.ts';
import { decodeLz4FramesCapped, planLz4Frames } from '../src/compression/lz4-frame.ts';
import { xxhash32 } from '../src/compression/xxhash32.ts';
import { ProtocolError } from '../src/errors.ts';

const location = { field: 'records', offset: -1 };
const text = (value: string) => new TextEncoder().encode(value);

function repeated(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let index = 0; index < size; index++) data[index] = (index * 7) % 251 < 200 ? 97 + (index % 13) : index & 0xff;
  return data;
}

interface FrameParts {
  readonly flags: number;
  readonly blockDescriptor: number;
  readonly body: Buffer;
}

/** Splits a frame that lz4-napi wrote (no content size, no dictionary) into its descriptor and the rest. */
function split(frame: Buffer): FrameParts {
  return { flags: frame[4]!, blockDescriptor: frame[5]!, body: frame.subarray(7) };
}

/** Reassembles a frame with a chosen descriptor and a correct (or KIP-57 broken) header checksum. */
function assemble(parts: FrameParts, options: { contentSize?: number; brokenChecksum?: boolean } = {}): Buffer {
  let flags = parts.flags;
  const descriptor = [0x04, 0x22, 0x4d, 0x18];
  if (options.contentSize !== undefined) flags |= 0x08;
  descriptor.push(flags, parts.blockDescriptor);
  if (options.contentSize !== undefined) {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(options.contentSize));
    descriptor.push(...size);
  }
  const bytes = Uint8Array.from(descriptor);
  const checksumStart = options.brokenChecksum ? 0 : 4;
  descriptor.push((xxhash32(bytes, checksumStart, bytes.length) >>> 8) & 0xff);
  return Buffer.concat([Buffer.from(descriptor), parts.body]);
}

function expectReason(run: () => unknown, reason: string): void {
  expect(run).toThrow(ProtocolError);
  try {
    run();
  } catch (error) {
    expect((error as ProtocolError).reason).toBe(reason);
  }
}

describe('xxhash32', () => {
  it('matches published vectors', () => {
    expect(xxhash32(new Uint8Array(0))).toBe(0x02cc5d05);
    expect(xxhash32(text('abc'))).toBe(0x32d153ff);
    expect(xxhash32(text('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });

  it('agrees with the header checksums lz4-napi writes', () => {
    for (const options of [{}, { contentChecksum: true }, { blockChecksums: true }]) {
      const frame = lz4.compressFrameSync(repeated(1000), options);
      expect((xxhash32(frame, 4, 6) >>> 8) & 0xff).toBe(frame[6]);
    }
  });
});

describe('frame plan', () => {
  it('bounds the output by the block maximum of each block', () => {
    // lz4_flex picks 64 KiB blocks for small inputs (BD 0x40).
    const frame = lz4.compressFrameSync(repeated(1000));
    expect(frame[5]).toBe(0x40);
    expect(planLz4Frames(frame, location)).toEqual({ bound: 65536, declaredSize: -1, nativeSafe: true });
  });

  it('reads a declared content size', () => {
    const frame = assemble(split(lz4.compressFrameSync(repeated(1000))), { contentSize: 1000 });
    expect(planLz4Frames(frame, location).declaredSize).toBe(1000);
  });

  it('refuses broken structure', () => {
    const frame = lz4.compressFrameSync(repeated(1000));
    for (const bad of [frame.subarray(0, 5), frame.subarray(0, frame.length - 2), Buffer.from('not a frame')]) {
      expectReason(() => planLz4Frames(bad, location), 'decompression-failed');
    }
    const badVersion = Buffer.from(frame);
    badVersion[4] = 0x20;
    expectReason(() => planLz4Frames(badVersion, location), 'decompression-failed');
  });
});

describe('content size', () => {
  const data = repeated(5000);
  const frame = assemble(split(lz4.compressFrameSync(data)), { contentSize: 5000 });

  it('decodes a frame that declares its size', () => {
    expect(Buffer.from(decompressSync('lz4', frame, { maxDecompressedBytes: 1 << 20 })).equals(data)).toBe(true);
    expect(Buffer.from(decodeLz4FramesCapped(frame, 5000, location)).equals(data)).toBe(true);
  });

  it('refuses a declared size over the limit before decoding', () => {
    const huge = assemble(split(lz4.compressFrameSync(data)), { contentSize: 2 ** 40 });
    expectReason(() => decompressSync('lz4', huge, { maxDecompressedBytes: 1 << 20 }), 'decompression-limit');
  });

  it('refuses a declared size that lies', () => {
    const liar = assemble(split(lz4.compressFrameSync(data)), { contentSize: 4000 });
    expectReason(() => decodeLz4FramesCapped(liar, 1 << 20, location), 'decompression-failed');
    expectReason(() => decompressSync('lz4', liar, { maxDecompressedBytes: 6000 }), 'decompression-failed');
    // Past the limit, the limit is what is reported.
    expectReason(() => decompressSync('lz4', liar, { maxDecompressedBytes: 4500 }), 'decompression-limit');
  });
});

describe('capped JavaScript decoder', () => {
  it('property: agrees with lz4-napi on any input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }),
          fc.nat(300_000).map((size) => repeated(size)),
        ),
        fc.boolean(),
        (data, checksums) => {
          const frame = lz4.compressFrameSync(Buffer.from(data), {
            blockChecksums: checksums,
            contentChecksum: checksums,
          });
          const output = decodeLz4FramesCapped(frame, data.length, location);
          expect(Buffer.from(output).equals(Buffer.from(data))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is what decompressSync uses when the block bound exceeds the limit', () => {
    const data = repeated(70_000); // two 64 KiB blocks: bound 128 KiB
    const frame = lz4.compressFrameSync(data);
    expect(planLz4Frames(frame, location).bound).toBeGreaterThan(70_000);
    expect(Buffer.from(decompressSync('lz4', frame, { maxDecompressedBytes: 70_000 })).equals(data)).toBe(true);
    expectReason(() => decompressSync('lz4', frame, { maxDecompressedBytes: 69_999 }), 'decompression-limit');
  });

  it('detects checksum mismatches', () => {
    const frame = Buffer.from(lz4.compressFrameSync(repeated(3000), { blockChecksums: true, contentChecksum: true }));
    const badContent = Buffer.from(frame);
    badContent[badContent.length - 1]! ^= 1;
    expectReason(() => decodeLz4FramesCapped(badContent, 1 << 20, location), 'decompression-failed');
    const badHeader = Buffer.from(frame);
    badHeader[6]! ^= 1;
    expectReason(() => decodeLz4FramesCapped(badHeader, 1 << 20, location), 'decompression-failed');
  });

  it('refuses a block that decodes past the frame block maximum', () => {
    const data = repeated(200_000);
    const frame = lz4.compressFrameSync(data); // 256 KiB blocks (BD 0x50)
    expect(frame[5]).toBe(0x50);
    const shrunk = assemble({ ...split(frame), blockDescriptor: 0x40 });
    expectReason(() => decodeLz4FramesCapped(shrunk, 1 << 20, location), 'decompression-failed');
    expectReason(() => decompressSync('lz4', shrunk, { maxDecompressedBytes: 1 << 20 }), 'decompression-failed');
  });

  it('reads concatenated frames', () => {
    const joined = Buffer.concat([
      lz4.compressFrameSync(Buffer.from('abc')),
      lz4.compressFrameSync(Buffer.from('def')),
    ]);
    expect(Buffer.from(decodeLz4FramesCapped(joined, 6, location)).toString()).toBe('abcdef');
  });

  it('property: random bytes after a valid header give a ProtocolError, never a crash', () => {
    const header = lz4.compressFrameSync(Buffer.alloc(0)).subarray(0, 7);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const blockHeader = Buffer.alloc(4);
        blockHeader.writeUInt32LE(tail.length);
        const frame = Buffer.concat([header, blockHeader, tail, Buffer.alloc(4)]);
        try {
          decodeLz4FramesCapped(frame, 1 << 16, location);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('message format v0 header checksum (KIP-57)', () => {
  it('repairs the checksum computed over the magic number when asked', () => {
    const data = repeated(2000);
    const broken = assemble(split(lz4.compressFrameSync(data)), { brokenChecksum: true });
    expectReason(() => decompressSync('lz4', broken, { maxDecompressedBytes: 1 << 20 }), 'decompression-failed');
    const output = decompressSync('lz4', broken, { maxDecompressedBytes: 1 << 20, legacyLz4HeaderChecksum: true });
    expect(Buffer.from(output).equals(data)).toBe(true);
  });
});
