import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import { describe, expect, it } from 'vitest';
import {
  type CompressionType,
  compress,
  compressionTypeFromId,
  compressionTypeId,
  compressSync,
  decompress,
  decompressSync,
} from '../src/compression/index.ts';
import { ProtocolError } from '../src/errors.ts';

const codecs: readonly CompressionType[] = ['gzip', 'snappy', 'lz4', 'zstd'];
const generous = { maxDecompressedBytes: 64 << 20 };

/** Compressible text with some noise, so every codec has work to do. */
function sample(size: number): Uint8Array {
  const words = ['kafka', 'record', 'batch', 'offset', 'partition', 'sluice', 'consumer'];
  const text: string[] = [];
  let length = 0;
  let seed = 7;
  while (length < size) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const word = `${words[seed % words.length]}${seed % 97} `;
    text.push(word);
    length += word.length;
  }
  return new TextEncoder().encode(text.join('')).subarray(0, size);
}

function expectProtocolError(run: () => unknown, reason: string): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).reason).toBe(reason);
    return;
  }
  throw new Error(`expected ProtocolError ${reason}`);
}

async function expectRejection(promise: Promise<unknown>, reason: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).reason).toBe(reason);
}

describe('codec ids', () => {
  it('maps the ids Kafka assigns', () => {
    expect([0, 1, 2, 3, 4].map((id) => compressionTypeFromId(id, { field: 'x', offset: 0 }))).toEqual([
      'none',
      'gzip',
      'snappy',
      'lz4',
      'zstd',
    ]);
    expect(compressionTypeId('zstd')).toBe(4);
  });

  it('refuses ids 5-7', () => {
    for (const id of [5, 6, 7])
      expectProtocolError(() => compressionTypeFromId(id, { field: 'x', offset: 3 }), 'unknown-codec');
  });
});

describe.each(codecs)('%s', (codec) => {
  it.each([0, 1, 100, 70_000, 300_000])('round trips %i bytes sync and async', async (size) => {
    const data = sample(size);
    const compressedSync = compressSync(codec, data);
    const compressedAsync = await compress(codec, data);
    expect(Buffer.from(decompressSync(codec, compressedSync, generous)).equals(Buffer.from(data))).toBe(true);
    // Threshold 0 forces the thread-pool path, whatever the size.
    const viaPool = await decompress(codec, compressedAsync, { ...generous, syncThresholdBytes: 0 });
    expect(Buffer.from(viaPool).equals(Buffer.from(data))).toBe(true);
    const inline = await decompress(codec, compressedAsync, { ...generous, syncThresholdBytes: 1 << 30 });
    expect(Buffer.from(inline).equals(Buffer.from(data))).toBe(true);
  });

  it('accepts output exactly at the limit and refuses one byte less', async () => {
    const data = sample(200_000);
    const compressed = compressSync(codec, data);
    expect(decompressSync(codec, compressed, { maxDecompressedBytes: data.length }).length).toBe(data.length);
    expectProtocolError(
      () => decompressSync(codec, compressed, { maxDecompressedBytes: data.length - 1 }),
      'decompression-limit',
    );
    await expectRejection(
      decompress(codec, compressed, { maxDecompressedBytes: data.length - 1, syncThresholdBytes: 0 }),
      'decompression-limit',
    );
  });

  it('refuses a bomb: 64 MiB of zeros under a 1 MiB limit', async () => {
    const compressed = compressSync(codec, new Uint8Array(64 << 20));
    expectProtocolError(
      () => decompressSync(codec, compressed, { maxDecompressedBytes: 1 << 20 }),
      'decompression-limit',
    );
    await expectRejection(
      decompress(codec, compressed, { maxDecompressedBytes: 1 << 20, syncThresholdBytes: 0 }),
      'decompression-limit',
    );
  });

  it('a zero limit allows only empty output', () => {
    expect(decompressSync(codec, compressSync(codec, new Uint8Array(0)), { maxDecompressedBytes: 0 }).length).toBe(0);
    expectProtocolError(
      () => decompressSync(codec, compressSync(codec, sample(10)), { maxDecompressedBytes: 0 }),
      'decompression-limit',
    );
  });

  it('reports corrupt input as decompression-failed, sync and async', async () => {
    const garbage = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99]);
    expectProtocolError(() => decompressSync(codec, garbage, generous), 'decompression-failed');
    await expectRejection(decompress(codec, garbage, { ...generous, syncThresholdBytes: 0 }), 'decompression-failed');
    const truncated = compressSync(codec, sample(5000));
    expectProtocolError(
      () => decompressSync(codec, truncated.subarray(0, truncated.length >> 1), generous),
      'decompression-failed',
    );
  });

  it('names the field and offset it was given', () => {
    try {
      decompressSync(codec, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), { ...generous, field: 'Batch.records', offset: 61 });
      expect.unreachable();
    } catch (error) {
      expect((error as ProtocolError).field).toBe('Batch.records');
    }
  });

  it('property: random data round trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        const output = decompressSync(codec, compressSync(codec, data), generous);
        expect(Buffer.from(output).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('property: mutated or random input gives output or a ProtocolError, nothing else', () => {
    const valid = compressSync(codec, sample(3000));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(valid.length))
            .map(([index, flip, cut]) => {
              const mutated = Uint8Array.from(valid);
              mutated[index]! ^= flip;
              return mutated.subarray(0, Math.max(cut, index + 1));
            }),
        ),
        (input) => {
          try {
            const output = decompressSync(codec, input, { maxDecompressedBytes: 10_000 });
            expect(output.length).toBeLessThanOrEqual(10_000);
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('none', () => {
  it('passes data through untouched', () => {
    const data = sample(10);
    expect(decompressSync('none', data, generous)).toBe(data);
    expect(compressSync('none', data)).toBe(data);
  });
});

describe('snappy framing', () => {
  const xerialMagic = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];

  it('writes the xerial framing by default, in 32 KiB blocks', () => {
    const data = sample(80_000);
    const framed = Buffer.from(compressSync('snappy', data));
    expect([...framed.subarray(0, 8)]).toEqual(xerialMagic);
    expect(framed.readInt32BE(8)).toBe(1);
    expect(framed.readInt32BE(12)).toBe(1);
    // Three blocks: 32768 + 32768 + 14464 bytes.
    let position = 16;
    const blockSizes: number[] = [];
    while (position < framed.length) {
      const length = framed.readInt32BE(position);
      blockSizes.push((snappy.uncompressSync(framed.subarray(position + 4, position + 4 + length)) as Buffer).length);
      position += 4 + length;
    }
    expect(blockSizes).toEqual([32768, 32768, 14464]);
  });

  it('reads raw snappy, as librdkafka writes it', () => {
    const data = sample(50_000);
    const raw = snappy.compressSync(Buffer.from(data));
    expect(Buffer.from(decompressSync('snappy', raw, generous)).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(compressSync('snappy', data, { snappyFraming: 'raw' })).equals(raw)).toBe(true);
  });

  it('reads a hand-built xerial stream', () => {
    const hello = snappy.compressSync(Buffer.from('hello '));
    const world = snappy.compressSync(Buffer.from('world'));
    const frame = Buffer.concat([
      Buffer.from(xerialMagic),
      Buffer.from([0, 0, 0, 1, 0, 0, 0, 1]),
      Buffer.from([0, 0, 0, hello.length]),
      hello,
      Buffer.from([0, 0, 0, world.length]),
      world,
    ]);
    expect(Buffer.from(decompressSync('snappy', frame, generous)).toString()).toBe('hello world');
  });

  it('checks declared lengths against the limit before decompressing', () => {
    // Raw block that claims 2^32-1 bytes: refused by its header alone.
    const claim = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0x00);
    expectProtocolError(
      () => decompressSync('snappy', claim, { maxDecompressedBytes: 1 << 20 }),
      'decompression-limit',
    );
    expectProtocolError(
      () => decompressSync('snappy', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01), generous),
      'decompression-failed',
    );
  });

  it('refuses bad xerial block lengths', () => {
    const header = Buffer.from([...xerialMagic, 0, 0, 0, 1, 0, 0, 0, 1]);
    for (const tail of [
      [0xff, 0xff, 0xff, 0xff],
      [0, 0, 0x10, 0],
      [0, 0],
    ]) {
      expectProtocolError(
        () => decompressSync('snappy', Buffer.concat([header, Buffer.from(tail)]), generous),
        'decompression-failed',
      );
    }
    expectProtocolError(() => decompressSync('snappy', Buffer.from(xerialMagic), generous), 'decompression-failed');
  });
});

describe('zlib codecs', () => {
  it('gzip reads concatenated members', () => {
    const joined = Buffer.concat([zlib.gzipSync('abc'), zlib.gzipSync('def')]);
    expect(Buffer.from(decompressSync('gzip', joined, generous)).toString()).toBe('abcdef');
  });

  it('zstd reads frames from node:zlib at another level', () => {
    const frame = zlib.zstdCompressSync(Buffer.from(sample(10_000)), {
      params: { [zlib.constants.ZSTD_c_compressionLevel]: 19 },
    });
    expect(decompressSync('zstd', frame, generous).length).toBe(10_000);
  });

  it('refuses a negative or fractional limit', () => {
    expectProtocolError(
      () => decompressSync('gzip', zlib.gzipSync('a'), { maxDecompressedBytes: -1 }),
      'invalid-value',
    );
    expectProtocolError(
      () => decompressSync('gzip', zlib.gzipSync('a'), { maxDecompressedBytes: 1.5 }),
      'invalid-value',
    );
  });
});

describe('large inputs', () => {
  it('decompress runs big inputs off the event loop: timers keep firing', async () => {
    const data = randomBytes(4 << 20);
    const compressed = compressSync('gzip', data);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const pending = decompress('gzip', compressed, generous);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const output = await pending;
    clearInterval(timer);
    expect(output.length).toBe(data.length);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('lz4 (native) output agrees with the library', () => {
  it('decodes frames with block and content checksums', () => {
    const data = Buffer.from(sample(300_000));
    const frame = lz4.compressFrameSync(data, { blockChecksums: true, contentChecksum: true });
    expect(Buffer.from(decompressSync('lz4', frame, generous)).equals(data)).toBe(true);
  });
});
