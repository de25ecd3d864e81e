// Plain node:net sockets that only read Kafka response frames: the ceilings of `pnpm bench:net`.
//
// They send pre-encoded request bytes and look at nothing but the int32 size prefixes of the responses, so what they
// measure is what Node (and the broker) can move through one socket, with no client code in the way.
import { connect, type OnReadOpts, type Socket } from 'node:net';

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port[,host:port...]` and keeps the first address. */
export function parseAddress(bootstrap: string): Address {
  const first = bootstrap.split(',')[0]!.trim();
  const colon = first.lastIndexOf(':');
  if (colon <= 0) throw new Error(`expected host:port, got "${first}"`);
  return { host: first.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(first.slice(colon + 1)) };
}

/** Opens a plain TCP socket with the options Sluice's Connection uses (no Nagle, keep-alive). */
export function openSocket(address: Address, extra: { onread?: OnReadOptions } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port, noDelay: true, keepAlive: true, ...extra }, () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export type OnReadOptions = OnReadOpts;

/**
 * Counts response frames in a byte stream without keeping any byte: the size prefix (possibly split over chunks)
 * says how many bytes to skip. `onFrame` receives each frame's size (without the prefix).
 */
export class FrameCounter {
  readonly #onFrame: (frameBytes: number) => void;
  #prefix = 0;
  #prefixBytes = 0;
  /** Bytes of the current frame still to come; 0 between frames. */
  #remaining = 0;
  #frameBytes = 0;

  constructor(onFrame: (frameBytes: number) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Uint8Array): void {
    let position = 0;
    const length = chunk.length;
    while (position < length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, length - position);
        this.#remaining -= take;
        position += take;
        if (this.#remaining === 0) this.#onFrame(this.#frameBytes);
        continue;
      }
      this.#prefix = (this.#prefix << 8) | chunk[position++]!;
      if (++this.#prefixBytes < 4) continue;
      this.#frameBytes = this.#prefix;
      this.#remaining = this.#prefix;
      this.#prefix = 0;
      this.#prefixBytes = 0;
      if (this.#frameBytes <= 0) throw new Error(`impossible frame size ${this.#frameBytes}`);
    }
  }
}

/**
 * Assembles frames the way Sluice's FrameAssembler does for frames spread over chunks: one buffer of exactly the
 * frame's size, allocated when the prefix arrives, each chunk copied in. Used to show what that copy costs. With
 * `reuse`, one buffer (grown when too small) serves every frame, so only the copy is left: no fresh memory to fault in.
 */
export class CopyingFrameCounter {
  readonly #onFrame: (frame: Buffer) => void;
  readonly #reuse: boolean;
  readonly #prefix = Buffer.alloc(4);
  #prefixBytes = 0;
  #partial: Buffer | null = null;
  #filled = 0;
  #spare: Buffer | null = null;

  constructor(onFrame: (frame: Buffer) => void, options: { reuse?: boolean } = {}) {
    this.#onFrame = onFrame;
    this.#reuse = options.reuse ?? false;
  }

  #allocate(size: number): Buffer {
    if (!this.#reuse) return Buffer.allocUnsafeSlow(size);
    if (this.#spare === null || this.#spare.length < size) this.#spare = Buffer.allocUnsafeSlow(size);
    return this.#spare.subarray(0, size);
  }

  push(chunk: Buffer): void {
    let position = 0;
    const length = chunk.length;
    while (position < length) {
      const partial = this.#partial;
      if (partial !== null) {
        const take = Math.min(partial.length - this.#filled, length - position);
        chunk.copy(partial, this.#filled, position, position + take);
        this.#filled += take;
        position += take;
        if (this.#filled === partial.length) {
          this.#partial = null;
          this.#filled = 0;
          this.#onFrame(partial);
        }
        continue;
      }
      this.#prefix[this.#prefixBytes++] = chunk[position++]!;
      if (this.#prefixBytes < 4) continue;
      this.#prefixBytes = 0;
      const size = this.#prefix.readInt32BE(0);
      if (size <= 0) throw new Error(`impossible frame size ${size}`);
      this.#partial = this.#allocate(size);
    }
  }
}

/**
 * Reads frames with net.Socket's `onread` option: the kernel writes each frame's body straight into a buffer of
 * exactly the frame's size (no intermediate chunk, no copy). Between frames it reads into a small scratch buffer
 * only as far as the next size prefix. What FrameAssembler could do for large frames.
 */
export class DirectFrameReader {
  readonly #onFrame: (frame: Buffer) => void;
  readonly #reuse: boolean;
  readonly #scratch = Buffer.allocUnsafeSlow(4);
  #scratchBytes = 0;
  #frame: Buffer | null = null;
  #filled = 0;
  #spare: Buffer | null = null;

  /** With `reuse`, one buffer (grown when too small) receives every frame: no fresh memory to fault in. */
  constructor(onFrame: (frame: Buffer) => void, options: { reuse?: boolean } = {}) {
    this.#onFrame = onFrame;
    this.#reuse = options.reuse ?? false;
  }

  #allocate(size: number): Buffer {
    if (!this.#reuse) return Buffer.allocUnsafeSlow(size);
    if (this.#spare === null || this.#spare.length < size) this.#spare = Buffer.allocUnsafeSlow(size);
    return this.#spare.subarray(0, size);
  }

  /** The `onread` options to pass to `net.connect`. */
  get onread(): OnReadOptions {
    return { buffer: () => this.#nextBuffer(), callback: (bytesRead) => this.#onRead(bytesRead) };
  }

  #nextBuffer(): Uint8Array {
    const frame = this.#frame;
    return frame === null ? this.#scratch.subarray(this.#scratchBytes) : frame.subarray(this.#filled);
  }

  #onRead(bytesRead: number): boolean {
    const frame = this.#frame;
    if (frame === null) {
      this.#scratchBytes += bytesRead;
      if (this.#scratchBytes === 4) {
        const size = this.#scratch.readInt32BE(0);
        if (size <= 0) throw new Error(`impossible frame size ${size}`);
        this.#scratchBytes = 0;
        this.#frame = this.#allocate(size);
        this.#filled = 0;
      }
      return true;
    }
    this.#filled += bytesRead;
    if (this.#filled === frame.length) {
      this.#frame = null;
      this.#onFrame(frame);
    }
    return true;
  }
}
