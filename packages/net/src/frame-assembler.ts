/**
 * Cuts a TCP byte stream into Kafka response frames (int32 size, then that many bytes).
 *
 * Copies as little as possible: a frame that lies whole inside one chunk is handed out as a view of that chunk;
 * a frame spread over several chunks is copied once, into a buffer of exactly its size allocated when its size
 * prefix arrives (no list of chunks, no repeated concatenation). With a `frameBuffers` pool, that buffer comes from
 * the pool (see frame-buffers.ts: reused large buffers, released by the caller) and the frame is a view of its first
 * `size` bytes. A size prefix above `maxFrameBytes` is refused before anything is buffered for it.
 */

import type { FrameBufferPool } from './frame-buffers.ts';

/** Smallest frame a response can be: its correlation id. */
const MIN_FRAME_BYTES = 4;

/** A response frame whose size prefix is negative, too small to hold a header, or over the configured limit. */
export class FrameSizeError extends Error {
  override name = 'FrameSizeError';
  readonly retriable = false;
  readonly frameBytes: number;
  readonly maxFrameBytes: number;

  constructor(frameBytes: number, maxFrameBytes: number) {
    super(
      frameBytes < MIN_FRAME_BYTES
        ? `the broker sent an impossible frame size (${frameBytes} bytes)`
        : `the broker sent a ${frameBytes}-byte frame, over the ${maxFrameBytes}-byte limit`,
    );
    this.frameBytes = frameBytes;
    this.maxFrameBytes = maxFrameBytes;
  }
}

export class FrameAssembler {
  readonly #maxFrameBytes: number;
  readonly #onFrame: (frame: Buffer) => void;
  readonly #frameBuffers: FrameBufferPool | null;
  /** Size prefix bytes gathered so far when a prefix is split across chunks. */
  readonly #prefix = Buffer.alloc(4);
  #prefixBytes = 0;
  /** The frame being filled across chunks, and how much of it is filled. */
  #partial: Buffer | null = null;
  #partialBytes = 0;

  /**
   * `frameBuffers`: where a frame spread over several chunks is copied to; without it, a new buffer of the frame's
   * exact size (`Buffer.allocUnsafeSlow`).
   */
  constructor(options: {
    maxFrameBytes: number;
    onFrame: (frame: Buffer) => void;
    frameBuffers?: FrameBufferPool | null;
  }) {
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#onFrame = options.onFrame;
    this.#frameBuffers = options.frameBuffers ?? null;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.#prefixBytes + this.#partialBytes;
  }

  /** Feeds one chunk; emits every frame it completes. Throws FrameSizeError on a bad size prefix. */
  push(chunk: Buffer): void {
    let position = 0;
    const length = chunk.length;
    while (position < length) {
      const partial = this.#partial;
      if (partial !== null) {
        const take = Math.min(partial.length - this.#partialBytes, length - position);
        chunk.copy(partial, this.#partialBytes, position, position + take);
        this.#partialBytes += take;
        position += take;
        if (this.#partialBytes === partial.length) {
          this.#partial = null;
          this.#partialBytes = 0;
          this.#onFrame(partial);
        }
        continue;
      }
      let size: number;
      if (this.#prefixBytes === 0 && length - position >= 4) {
        size = chunk.readInt32BE(position);
        position += 4;
      } else {
        const take = Math.min(4 - this.#prefixBytes, length - position);
        chunk.copy(this.#prefix, this.#prefixBytes, position, position + take);
        this.#prefixBytes += take;
        position += take;
        if (this.#prefixBytes < 4) return;
        this.#prefixBytes = 0;
        size = this.#prefix.readInt32BE(0);
      }
      if (size < MIN_FRAME_BYTES || size > this.#maxFrameBytes) throw new FrameSizeError(size, this.#maxFrameBytes);
      if (length - position >= size) {
        // Whole frame in this chunk: a view, no copy.
        const frame = chunk.subarray(position, position + size);
        position += size;
        this.#onFrame(frame);
      } else {
        this.#partial = this.#frameBuffers === null ? Buffer.allocUnsafeSlow(size) : this.#acquire(size);
        this.#partialBytes = 0;
      }
    }
  }

  #acquire(size: number): Buffer {
    const buffer = (this.#frameBuffers as FrameBufferPool).acquire(size);
    if (buffer.length < size) {
      throw new RangeError(`the frame buffer pool gave ${buffer.length} bytes for a ${size}-byte frame`);
    }
    return buffer.length === size ? buffer : buffer.subarray(0, size);
  }
}
