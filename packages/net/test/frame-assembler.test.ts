import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameAssembler, FrameSizeError } from '../src/frame-assembler.ts';
import { ReusableFrameBuffers } from '../src/frame-buffers.ts';

function frame(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function collect(maxFrameBytes = 1 << 20): { assembler: FrameAssembler; frames: Buffer[] } {
  const frames: Buffer[] = [];
  return { assembler: new FrameAssembler({ maxFrameBytes, onFrame: (value) => frames.push(value) }), frames };
}

describe('FrameAssembler', () => {
  it('yields the same frames however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 4, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (bodies, cuts) => {
          const stream = Buffer.concat(bodies.map((body) => frame(Buffer.from(body))));
          const { assembler, frames } = collect();
          let position = 0;
          let cut = 0;
          while (position < stream.length) {
            const size = cuts[cut++ % cuts.length]!;
            assembler.push(stream.subarray(position, position + size));
            position += size;
          }
          expect(frames.map((value) => Buffer.from(value))).toEqual(bodies.map((body) => Buffer.from(body)));
          expect(assembler.bufferedBytes).toBe(0);
        },
      ),
    );
  });

  it('hands out a frame that lies inside one chunk as a view of that chunk (no copy)', () => {
    const chunk = Buffer.concat([frame(Buffer.from('first-frame')), frame(Buffer.from('second'))]);
    const { assembler, frames } = collect();
    assembler.push(chunk);
    expect(frames).toHaveLength(2);
    for (const value of frames) expect(value.buffer).toBe(chunk.buffer);
  });

  it('copies a frame spread over chunks once, into a buffer of exactly its size', () => {
    const body = Buffer.alloc(10_000, 7);
    const stream = frame(body);
    const { assembler, frames } = collect();
    for (let position = 0; position < stream.length; position += 1000) {
      assembler.push(stream.subarray(position, position + 1000));
    }
    expect(frames).toHaveLength(1);
    expect(frames[0]!.length).toBe(10_000);
    expect(frames[0]!.buffer.byteLength).toBe(10_000);
    expect(frames[0]!.equals(body)).toBe(true);
  });

  it('refuses a size over the limit, negative or too small for a header, before buffering anything', () => {
    for (const size of [2_000_000, 0x7fffffff, -1, -2, 0, 3]) {
      const { assembler } = collect(1_000_000);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(size);
      expect(() => assembler.push(prefix)).toThrow(FrameSizeError);
      expect(assembler.bufferedBytes).toBe(0);
    }
  });

  it('says the listener probably speaks TLS when the size prefix is a TLS record header', () => {
    // A TLS alert (content type 21, TLS 1.2), as an SSL listener answers a plaintext ApiVersions request.
    const { assembler } = collect(128 * 1024 * 1024);
    let error: unknown;
    try {
      assembler.push(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FrameSizeError);
    expect((error as FrameSizeError).likelyTls).toBe(true);
    expect((error as FrameSizeError).message).toMatch(/probably speaks TLS \(use security.protocol SSL or SASL_SSL/);
    // A plain oversized frame is not mistaken for one.
    const { assembler: other } = collect(100);
    expect(() => other.push(Buffer.from([0x00, 0x00, 0x10, 0x00]))).toThrow(/4096-byte frame, over the 100-byte limit/);
  });

  it('checks a size prefix split across chunks', () => {
    const { assembler } = collect(100);
    assembler.push(Buffer.from([0x00, 0x00]));
    expect(() => assembler.push(Buffer.from([0x10, 0x00]))).toThrow(/4096-byte frame, over the 100-byte limit/);
  });
});

describe('FrameAssembler with frame buffers', () => {
  it('yields correct frames across buffer reuse, whatever the cuts and release order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 4, maxLength: 600 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 50 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
        (bodies, cuts, releaseNow) => {
          const pool = new ReusableFrameBuffers({ smallestClassBytes: 64, maxRetainedPerClass: 2 });
          const held: Array<{ value: Buffer; index: number }> = [];
          const seen: Buffer[] = [];
          let index = 0;
          const assembler = new FrameAssembler({
            maxFrameBytes: 1 << 20,
            frameBuffers: pool,
            onFrame: (value) => {
              // Checked when handed out: a later frame may reuse the memory once this one is released.
              expect(Buffer.from(value)).toEqual(Buffer.from(bodies[index]!));
              seen.push(Buffer.from(value));
              if (releaseNow[index % releaseNow.length]) pool.release(value);
              else held.push({ value, index });
              index++;
            },
          });
          const stream = Buffer.concat(bodies.map((body) => frame(Buffer.from(body))));
          let position = 0;
          let cut = 0;
          while (position < stream.length) {
            const size = cuts[cut++ % cuts.length]!;
            assembler.push(stream.subarray(position, position + size));
            position += size;
          }
          expect(seen).toEqual(bodies.map((body) => Buffer.from(body)));
          // Frames never released are never overwritten.
          for (const { value, index: at } of held) expect(Buffer.from(value)).toEqual(Buffer.from(bodies[at]!));
        },
      ),
    );
  });

  it('hands out a view of exactly the frame size from a pooled buffer, and the same memory after a release', () => {
    const pool = new ReusableFrameBuffers({ smallestClassBytes: 1024 });
    const frames: Buffer[] = [];
    const assembler = new FrameAssembler({
      maxFrameBytes: 1 << 20,
      frameBuffers: pool,
      onFrame: (value) => frames.push(value),
    });
    const push = (body: Buffer) => {
      const stream = frame(body);
      for (let position = 0; position < stream.length; position += 500) {
        assembler.push(stream.subarray(position, position + 500));
      }
    };
    push(Buffer.alloc(1500, 1));
    expect(frames[0]!.length).toBe(1500);
    expect(frames[0]!.buffer.byteLength).toBe(2048);
    pool.release(frames[0]!);
    push(Buffer.alloc(1800, 2));
    expect(frames[1]!.buffer).toBe(frames[0]!.buffer);
    expect(frames[1]!.equals(Buffer.alloc(1800, 2))).toBe(true);
  });

  it('without a pool, still allocates a buffer of exactly the frame size per frame', () => {
    const frames: Buffer[] = [];
    const assembler = new FrameAssembler({ maxFrameBytes: 1 << 20, onFrame: (value) => frames.push(value) });
    for (let round = 0; round < 2; round++) {
      const stream = frame(Buffer.alloc(3000, round));
      for (let position = 0; position < stream.length; position += 1000) {
        assembler.push(stream.subarray(position, position + 1000));
      }
    }
    expect(frames[0]!.buffer.byteLength).toBe(3000);
    expect(frames[1]!.buffer).not.toBe(frames[0]!.buffer);
  });

  it('refuses a pool buffer shorter than the frame', () => {
    const assembler = new FrameAssembler({
      maxFrameBytes: 1 << 20,
      frameBuffers: { acquire: (size) => Buffer.alloc(size - 1) },
      onFrame: () => {},
    });
    expect(() => assembler.push(frame(Buffer.alloc(100)).subarray(0, 50))).toThrow(RangeError);
  });
});

/**
 * Plays the kernel for direct reads: each read copies into the assembler's target as many bytes as the target
 * holds, the stream has left and the next cut allows.
 */
function readDirectly(assembler: FrameAssembler, stream: Buffer, cuts: readonly number[]): Buffer[] {
  const targets: Buffer[] = [];
  let position = 0;
  let cut = 0;
  while (position < stream.length) {
    const target = assembler.readTarget();
    targets.push(target);
    const bytes = Math.min(target.length, stream.length - position, cuts[cut++ % cuts.length]!);
    stream.copy(target, 0, position, position + bytes);
    position += bytes;
    assembler.commitRead(bytes);
  }
  return targets;
}

describe('FrameAssembler with direct reads', () => {
  it('yields the same frames however the reads are cut, large and small frames mixed', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ minLength: 4, maxLength: 300 }),
            fc.integer({ min: 16_000, max: 200_000 }).map((size) => {
              const body = new Uint8Array(size);
              for (let index = 0; index < size; index += 997) body[index] = (index / 997) & 0xff;
              return body;
            }),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 20 }),
        (bodies, cuts) => {
          const stream = Buffer.concat(bodies.map((body) => frame(Buffer.from(body))));
          const { assembler, frames } = collect();
          readDirectly(assembler, stream, cuts);
          // Compared after the whole stream: no frame handed out was overwritten by a later read.
          expect(frames).toHaveLength(bodies.length);
          for (let index = 0; index < bodies.length; index++) {
            expect(frames[index]!.equals(bodies[index]!), `frame ${index}`).toBe(true);
          }
          expect(assembler.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads the body of a large frame straight into the frame buffer (no copy)', () => {
    const body = Buffer.alloc(1_000_000, 5);
    const { assembler, frames } = collect(2_000_000);
    const targets = readDirectly(assembler, frame(body), [64 * 1024]);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.equals(body)).toBe(true);
    expect(frames[0]!.buffer.byteLength).toBe(1_000_000);
    // The first read fills scratch (prefix and the start of the body, copied once); every later one the frame.
    const intoFrame = targets.filter((target) => target.buffer === frames[0]!.buffer);
    expect(intoFrame.length).toBe(targets.length - 1);
    expect(intoFrame.reduce((sum, target) => sum + Math.min(target.length, 64 * 1024), 0)).toBeGreaterThan(900_000);
  });

  it('hands out small frames as views of the scratch buffer, many per read, never overwritten', () => {
    const bodies = Array.from({ length: 2000 }, (_, index) => Buffer.from(`response-${index}`));
    const { assembler, frames } = collect();
    const targets = readDirectly(assembler, Buffer.concat(bodies.map(frame)), [64 * 1024]);
    expect(targets.length).toBeLessThan(5);
    expect(frames.map((value) => value.toString())).toEqual(bodies.map((value) => value.toString()));
    expect(frames[0]!.buffer).toBe(targets[0]!.buffer);
  });

  it('refuses a size over the limit before buffering anything', () => {
    const { assembler } = collect(1_000_000);
    const target = assembler.readTarget();
    target.writeInt32BE(2_000_000, 0);
    expect(() => assembler.commitRead(4)).toThrow(FrameSizeError);
    expect(assembler.bufferedBytes).toBe(0);
  });

  it('takes large frames from the frame buffer pool and reads into them', () => {
    const pool = new ReusableFrameBuffers({ smallestClassBytes: 64 * 1024 });
    const { frames } = { frames: [] as Buffer[] };
    const assembler = new FrameAssembler({
      maxFrameBytes: 1 << 20,
      frameBuffers: pool,
      onFrame: (value) => frames.push(value),
    });
    const first = Buffer.alloc(100_000, 1);
    readDirectly(assembler, frame(first), [30_000]);
    expect(frames[0]!.equals(first)).toBe(true);
    const memory = frames[0]!.buffer;
    expect(pool.release(frames[0]!)).toBe(true);
    const second = Buffer.alloc(90_000, 2);
    readDirectly(assembler, frame(second), [30_000]);
    expect(frames[1]!.buffer).toBe(memory);
    expect(frames[1]!.equals(second)).toBe(true);
  });
});
