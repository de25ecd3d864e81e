/**
 * Reuse of large response-frame buffers.
 *
 * FrameAssembler copies a frame that is spread over several chunks into one buffer of the frame's size. Fresh large
 * buffers are expensive where writing to never-touched memory page-faults (about 4 ms per MB on this project's VM:
 * bench:net measured a Connection at 0.26x of a plain socket for 50 MB Fetch responses). A `FrameBufferPool`
 * supplies those buffers instead; `ReusableFrameBuffers` hands the same memory out again once the caller releases it.
 */

/** Where FrameAssembler gets the buffer for a frame spread over several chunks. */
export interface FrameBufferPool {
  /**
   * A buffer of at least `size` bytes whose first `size` bytes become the frame (the assembler hands out
   * `subarray(0, size)` and overwrites all of those bytes). The bytes after `size` may hold older data.
   */
  acquire(size: number): Buffer;
}

export interface ReusableFrameBuffersOptions {
  /** Released buffers kept per size class; more are left to the garbage collector. Default 4. */
  readonly maxRetainedPerClass?: number;
  /** Smallest size class, a power of two; smaller frames get a plain new buffer and are never reused. Default 1 MiB. */
  readonly smallestClassBytes?: number;
}

const DEFAULT_MAX_RETAINED_PER_CLASS = 4;
const DEFAULT_SMALLEST_CLASS_BYTES = 1024 * 1024;

/**
 * A FrameBufferPool that reuses large frame buffers after the caller releases them.
 *
 * Frames of `smallestClassBytes` (1 MiB) or more get a buffer of the next power of two, taken from the released
 * buffers of that class when there is one; smaller frames get a plain new buffer, as without a pool. At most
 * `maxRetainedPerClass` released buffers are kept per class.
 *
 * Invariant (the caller's): release a frame only when no view of it is in use any more — the decoded response
 * and everything taken from it (records, keys, values are views into the frame). A buffer released too early is
 * overwritten by a later frame under the feet of whoever still reads the old one. Frames never released are not
 * leaked: the pool does not keep buffers it has handed out, the garbage collector takes them.
 *
 * A reused buffer is not cleared: its bytes after the frame may hold an older frame (as with `Buffer.allocUnsafe`),
 * reachable through the view's `.buffer`.
 */
export class ReusableFrameBuffers implements FrameBufferPool {
  readonly #maxRetainedPerClass: number;
  readonly #smallestClassBytes: number;
  /** Released buffers by class size. */
  readonly #released = new Map<number, ArrayBuffer[]>();
  /** Buffers handed out and not yet released, with their class size. Weak: an unreleased frame is simply collected. */
  readonly #handedOut = new WeakMap<ArrayBuffer, number>();
  #retainedBytes = 0;

  constructor(options: ReusableFrameBuffersOptions = {}) {
    const maxRetainedPerClass = options.maxRetainedPerClass ?? DEFAULT_MAX_RETAINED_PER_CLASS;
    const smallestClassBytes = options.smallestClassBytes ?? DEFAULT_SMALLEST_CLASS_BYTES;
    if (!Number.isInteger(maxRetainedPerClass) || maxRetainedPerClass < 0) {
      throw new RangeError(`maxRetainedPerClass must be an integer >= 0, got ${maxRetainedPerClass}`);
    }
    if (
      !Number.isInteger(smallestClassBytes) ||
      smallestClassBytes < 1 ||
      (smallestClassBytes & (smallestClassBytes - 1)) !== 0
    ) {
      throw new RangeError(`smallestClassBytes must be a power of two, got ${smallestClassBytes}`);
    }
    this.#maxRetainedPerClass = maxRetainedPerClass;
    this.#smallestClassBytes = smallestClassBytes;
  }

  /** Released buffers kept for reuse, over all classes. */
  get retainedBuffers(): number {
    let count = 0;
    for (const buffers of this.#released.values()) count += buffers.length;
    return count;
  }

  /** Bytes of the released buffers kept for reuse. */
  get retainedBytes(): number {
    return this.#retainedBytes;
  }

  acquire(size: number): Buffer {
    if (size < this.#smallestClassBytes) return Buffer.allocUnsafeSlow(size);
    const classBytes = this.#classOf(size);
    let memory = this.#released.get(classBytes)?.pop();
    if (memory === undefined) memory = Buffer.allocUnsafeSlow(classBytes).buffer as ArrayBuffer;
    else this.#retainedBytes -= classBytes;
    this.#handedOut.set(memory, classBytes);
    return Buffer.from(memory, 0, classBytes);
  }

  /**
   * Makes the frame that `view` belongs to reusable. `view` may be any view into the frame (the frame itself, a
   * record's value ...): the buffer is found by its ArrayBuffer. Returns true when a buffer was released; false, and
   * nothing happens, for memory this pool does not have out on loan: a frame that was a view of a socket chunk, a
   * small frame, a frame from another pool, or one already released. Release only when no view of the frame is in
   * use any more (see the class comment).
   */
  release(view: ArrayBufferView): boolean {
    const memory = view.buffer;
    if (!(memory instanceof ArrayBuffer)) return false;
    const classBytes = this.#handedOut.get(memory);
    if (classBytes === undefined) return false;
    this.#handedOut.delete(memory);
    let buffers = this.#released.get(classBytes);
    if (buffers === undefined) {
      buffers = [];
      this.#released.set(classBytes, buffers);
    }
    if (buffers.length < this.#maxRetainedPerClass) {
      buffers.push(memory);
      this.#retainedBytes += classBytes;
    }
    return true;
  }

  /** Drops every retained buffer (they go to the garbage collector); buffers out on loan can still be released. */
  clear(): void {
    this.#released.clear();
    this.#retainedBytes = 0;
  }

  #classOf(size: number): number {
    let classBytes = this.#smallestClassBytes;
    while (classBytes < size) classBytes *= 2;
    return classBytes;
  }
}
