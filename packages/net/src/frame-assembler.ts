/**
 * Cuts a TCP byte stream into Kafka response frames (int32 size, then that many bytes).
 *
 * Two ways in:
 * - `push(chunk)`, for chunks the socket allocated ('data' events; TLS sockets). A frame that lies whole inside one
 *   chunk is handed out as a view of that chunk; a frame spread over several chunks is copied once, into a buffer of
 *   exactly its size allocated when its size prefix arrives (no list of chunks, no repeated concatenation).
 * - Direct reads (`readTarget()` + `commitRead()`, for net.Socket's `onread`): the kernel writes the body of a large
 *   frame straight into the frame's own buffer, so its bytes are never copied. Between large frames, reads land in a
 *   64 KiB scratch buffer that is consumed front to back and never rewritten, so small frames are views of it, read
 *   many per system call.
 *
 * With a `frameBuffers` pool, a frame's buffer comes from the pool (see frame-buffers.ts: reused large buffers,
 * released by the caller) and the frame is a view of its first `size` bytes. A size prefix above `maxFrameBytes` is
 * refused before anything is buffered for it.
 */

import type { FrameBufferPool } from './frame-buffers.ts';

/** Smallest frame a response can be: its correlation id. */
const MIN_FRAME_BYTES = 4;

/** Size of a direct-read scratch buffer. */
const SCRATCH_BYTES = 64 * 1024;
/** A scratch buffer with less room than this left is replaced by a new one (the old one lives on in its frames). */
const SCRATCH_MIN_FREE = 8 * 1024;
/**
 * A frame with at least this much still to come is read straight into its buffer; a smaller rest is read into the
 * scratch buffer with whatever follows it and copied (saves a system call per small frame when frames queue up).
 */
const DIRECT_READ_MIN_BYTES = 16 * 1024;

/**
 * A response frame whose size prefix is negative, too small to hold a header, or over the configured limit. When
 * the four bytes read as a size are the start of a TLS record (content type 20-23, version 3.x), the peer speaks
 * TLS: a plaintext client dialled an SSL listener, whose alert reads as a frame of 352 MB.
 */
export class FrameSizeError extends Error {
  override name = 'FrameSizeError';
  readonly retriable = false;
  readonly frameBytes: number;
  readonly maxFrameBytes: number;
  /** The bytes look like a TLS record header: the listener probably expects TLS. */
  readonly likelyTls: boolean;

  constructor(frameBytes: number, maxFrameBytes: number) {
    const likelyTls = looksLikeTlsRecord(frameBytes);
    super(
      likelyTls
        ? 'the broker answered with a TLS record instead of a Kafka response: this listener probably speaks TLS (use security.protocol SSL or SASL_SSL for it)'
        : frameBytes < MIN_FRAME_BYTES
          ? `the broker sent an impossible frame size (${frameBytes} bytes)`
          : `the broker sent a ${frameBytes}-byte frame, over the ${maxFrameBytes}-byte limit`,
    );
    this.frameBytes = frameBytes;
    this.maxFrameBytes = maxFrameBytes;
    this.likelyTls = likelyTls;
  }
}

/** A TLS record starts with its content type (20-23), then the protocol version 3.0-3.4. */
function looksLikeTlsRecord(prefix: number): boolean {
  const contentType = (prefix >>> 24) & 0xff;
  const major = (prefix >>> 16) & 0xff;
  const minor = (prefix >>> 8) & 0xff;
  return contentType >= 20 && contentType <= 23 && major === 3 && minor <= 4;
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
  /** Direct reads: the scratch buffer, how much of it is consumed, and whether the last target was the frame. */
  #scratch: Buffer | null = null;
  #scratchUsed = 0;
  #targetIsFrame = false;

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

  /**
   * Direct reads: the buffer the next read should fill (the rest of a large frame, or free scratch space). Call
   * `commitRead` after each read into it, before asking for the next target.
   */
  readTarget(): Buffer {
    const partial = this.#partial;
    if (partial !== null && partial.length - this.#partialBytes >= DIRECT_READ_MIN_BYTES) {
      this.#targetIsFrame = true;
      return partial.subarray(this.#partialBytes);
    }
    this.#targetIsFrame = false;
    let scratch = this.#scratch;
    if (scratch === null || scratch.length - this.#scratchUsed < SCRATCH_MIN_FREE) {
      scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
      this.#scratch = scratch;
      this.#scratchUsed = 0;
    }
    return scratch.subarray(this.#scratchUsed);
  }

  /**
   * Direct reads: `bytesRead` bytes have been written to the start of the last `readTarget()`. Emits every frame
   * they complete. Throws FrameSizeError on a bad size prefix.
   */
  commitRead(bytesRead: number): void {
    if (this.#targetIsFrame) {
      const partial = this.#partial as Buffer;
      this.#partialBytes += bytesRead;
      if (this.#partialBytes === partial.length) {
        this.#partial = null;
        this.#partialBytes = 0;
        this.#onFrame(partial);
      }
      return;
    }
    const scratch = this.#scratch as Buffer;
    const start = this.#scratchUsed;
    // Consumed for good before the frames are handed out: views of this range stay valid.
    this.#scratchUsed = start + bytesRead;
    this.push(scratch.subarray(start, start + bytesRead));
  }

  #acquire(size: number): Buffer {
    const buffer = (this.#frameBuffers as FrameBufferPool).acquire(size);
    if (buffer.length < size) {
      throw new RangeError(`the frame buffer pool gave ${buffer.length} bytes for a ${size}-byte frame`);
    }
    return buffer.length === size ? buffer : buffer.subarray(0, size);
  }
}
