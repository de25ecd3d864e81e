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
