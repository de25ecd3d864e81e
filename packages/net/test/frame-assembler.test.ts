import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameAssembler, FrameSizeError } from '../src/frame-assembler.ts';

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
