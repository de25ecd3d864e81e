import { describe, expect, it } from 'vitest';
import { CopyingFrameCounter, DirectFrameReader, FrameCounter, parseAddress } from '../src/net-raw-socket.ts';

// Keeps the ceilings of `pnpm bench:net` honest: however the stream is cut, every plain-socket reader must see every
// frame whole, with its exact size and (where it keeps bytes) its exact content.
function stream(sizes: readonly number[]): { bytes: Buffer; frames: Buffer[] } {
  const frames = sizes.map((size, index) => Buffer.alloc(size, index + 1));
  const parts: Buffer[] = [];
  for (const frame of frames) {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(frame.length);
    parts.push(prefix, frame);
  }
  return { bytes: Buffer.concat(parts), frames };
}

function cuts(bytes: Buffer, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  let state = seed;
  for (let position = 0; position < bytes.length; ) {
    state = (state * 1103515245 + 12345) >>> 0;
    const length = 1 + (state % 97);
    chunks.push(bytes.subarray(position, position + length));
    position += length;
  }
  return chunks;
}

const sizes = [4, 5, 300, 1, 64, 1000, 7, 4];

describe('bench:net plain-socket readers', () => {
  for (const seed of [1, 2, 3, 42]) {
    it(`see every frame whatever the chunking (seed ${seed})`, () => {
      const { bytes, frames } = stream(sizes);
      const counted: number[] = [];
      const copied: Buffer[] = [];
      const reused: Buffer[] = [];
      const counter = new FrameCounter((size) => counted.push(size));
      const copier = new CopyingFrameCounter((frame) => copied.push(Buffer.from(frame)));
      const reuser = new CopyingFrameCounter((frame) => reused.push(Buffer.from(frame)), { reuse: true });
      for (const chunk of cuts(bytes, seed)) {
        counter.push(chunk);
        copier.push(chunk);
        reuser.push(chunk);
      }
      expect(counted).toEqual(sizes);
      expect(copied).toEqual(frames);
      expect(reused).toEqual(frames);
    });
  }

  for (const reuse of [false, true]) {
    it(`onread reader receives frames in place (reuse ${reuse})`, () => {
      const { bytes, frames } = stream(sizes);
      const received: Buffer[] = [];
      const reader = new DirectFrameReader((frame) => received.push(Buffer.from(frame)), { reuse });
      const { buffer, callback } = reader.onread;
      // What Node does: read at most the offered buffer's length into it, call back, ask for the next buffer.
      let position = 0;
      let state = 7;
      while (position < bytes.length) {
        const target = typeof buffer === 'function' ? buffer() : buffer;
        state = (state * 1103515245 + 12345) >>> 0;
        const length = Math.min(target.length, 1 + (state % 150), bytes.length - position);
        target.set(bytes.subarray(position, position + length));
        position += length;
        callback(length, target);
      }
      expect(received).toEqual(frames);
    });
  }

  it('parses bootstrap addresses', () => {
    expect(parseAddress('127.0.0.1:9092,other:9093')).toEqual({ host: '127.0.0.1', port: 9092 });
    expect(parseAddress('[::1]:9092')).toEqual({ host: '::1', port: 9092 });
  });
});
