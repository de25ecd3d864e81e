import { defaultMetadataRequest, defaultMetadataResponse, encodeResponse, metadataApi } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.ts';
import { type FrameBufferPool, ReusableFrameBuffers } from '../src/frame-buffers.ts';
import { responseFrame, startFakeBroker, withApiVersions } from './fake-broker.ts';

const MiB = 1024 * 1024;

describe('ReusableFrameBuffers', () => {
  it('gives a buffer of the next power of two from 1 MiB, and the same memory again after a release', () => {
    const pool = new ReusableFrameBuffers();
    const first = pool.acquire(3 * MiB);
    expect(first.length).toBe(4 * MiB);
    expect(pool.release(first.subarray(0, 3 * MiB))).toBe(true);
    expect(pool.retainedBuffers).toBe(1);
    expect(pool.retainedBytes).toBe(4 * MiB);
    const second = pool.acquire(2.5 * MiB);
    expect(second.buffer).toBe(first.buffer);
    expect(pool.retainedBuffers).toBe(0);
    expect(pool.retainedBytes).toBe(0);
    // Another class does not take it.
    pool.release(second);
    expect(pool.acquire(5 * MiB).buffer).not.toBe(first.buffer);
  });

  it('releases by any view into the frame', () => {
    const pool = new ReusableFrameBuffers();
    const frame = pool.acquire(MiB).subarray(0, MiB);
    const record = new Uint8Array(frame.buffer, frame.byteOffset + 1000, 50);
    expect(pool.release(record)).toBe(true);
    expect(pool.acquire(MiB).buffer).toBe(frame.buffer);
  });

  it('gives small frames a plain buffer of their size, never reused', () => {
    const pool = new ReusableFrameBuffers();
    const small = pool.acquire(MiB - 1);
    expect(small.length).toBe(MiB - 1);
    expect(pool.release(small)).toBe(false);
    expect(pool.retainedBuffers).toBe(0);
  });

  it('ignores (returns false for) unknown, foreign and already released memory', () => {
    const pool = new ReusableFrameBuffers();
    const other = new ReusableFrameBuffers();
    expect(pool.release(Buffer.alloc(2 * MiB))).toBe(false);
    expect(pool.release(new Uint8Array(new SharedArrayBuffer(16)))).toBe(false);
    const foreign = other.acquire(2 * MiB);
    expect(pool.release(foreign)).toBe(false);
    const mine = pool.acquire(2 * MiB);
    expect(pool.release(mine)).toBe(true);
    expect(pool.release(mine)).toBe(false);
    expect(pool.retainedBuffers).toBe(1);
  });

  it('keeps at most maxRetainedPerClass released buffers per class', () => {
    const pool = new ReusableFrameBuffers({ maxRetainedPerClass: 2 });
    const large = [pool.acquire(MiB), pool.acquire(MiB), pool.acquire(MiB)];
    const larger = pool.acquire(2 * MiB);
    for (const buffer of [...large, larger]) expect(pool.release(buffer)).toBe(true);
    expect(pool.retainedBuffers).toBe(3);
    expect(pool.retainedBytes).toBe(2 * MiB + 2 * MiB);
    const again = [pool.acquire(MiB), pool.acquire(MiB), pool.acquire(MiB)];
    expect(again[0]!.buffer).toBe(large[1]!.buffer);
    expect(again[1]!.buffer).toBe(large[0]!.buffer);
    expect(large.map((buffer) => buffer.buffer)).not.toContain(again[2]!.buffer);
    pool.clear();
    expect(pool.retainedBuffers).toBe(0);
    expect(pool.retainedBytes).toBe(0);
  });

  it('keeps nothing with maxRetainedPerClass 0, and checks its options', () => {
    const pool = new ReusableFrameBuffers({ maxRetainedPerClass: 0 });
    expect(pool.release(pool.acquire(MiB))).toBe(true);
    expect(pool.retainedBuffers).toBe(0);
    expect(() => new ReusableFrameBuffers({ smallestClassBytes: 3000 })).toThrow(RangeError);
    expect(() => new ReusableFrameBuffers({ maxRetainedPerClass: -1 })).toThrow(RangeError);
  });
});

describe('Connection with frameBuffers', () => {
  it('takes multi-chunk frames from the pool and decodes them correctly across reuse', async () => {
    const pool = new ReusableFrameBuffers({ smallestClassBytes: 64 });
    const acquired: Buffer[] = [];
    const recording: FrameBufferPool = {
      acquire: (size) => {
        const buffer = pool.acquire(size);
        acquired.push(buffer);
        return buffer;
      },
    };
    const broker = await startFakeBroker(
      withApiVersions((request) => {
        const clusterId = `cluster-${request.correlationId}-`.padEnd(300, 'x');
        const body = encodeResponse(metadataApi, 4, { ...defaultMetadataResponse(), clusterId });
        const frame = responseFrame(request.correlationId, body);
        // Two writes some time apart: the frame reaches the client in (at least) two chunks.
        request.socket.write(frame.subarray(0, 100));
        setTimeout(() => request.socket.write(frame.subarray(100)), 20);
      }),
    );
    const connection = await Connection.open({ host: '127.0.0.1', port: broker.port, frameBuffers: recording });
    try {
      const first = await connection.send(metadataApi, 4, defaultMetadataRequest());
      expect(first.clusterId).toBe('cluster-1-'.padEnd(300, 'x'));
      expect(acquired).toHaveLength(1);
      expect(pool.release(acquired[0]!)).toBe(true);
      const second = await connection.send(metadataApi, 4, defaultMetadataRequest());
      expect(second.clusterId).toBe('cluster-2-'.padEnd(300, 'x'));
      expect(acquired).toHaveLength(2);
      expect(acquired[1]!.buffer).toBe(acquired[0]!.buffer);
    } finally {
      connection.close();
      await broker.close();
    }
  });
});
