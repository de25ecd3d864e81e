/**
 * Fetched data waiting for the application (Kafka's FetchBuffer and FetchCollector): one queue of completed fetches
 * per partition, filled by the fetch manager, drained by `collect` on the application's poll, with the bytes it
 * holds counted against a cap and the response buffers handed back for reuse.
 *
 * Invariants:
 * - A completed fetch belongs to the partition version it was fetched for (SubscriptionState): after a seek, a
 *   reset or a reassignment it is dropped, never handed out.
 * - `collect` moves the partition's position past what it hands out, and past batches that held nothing to hand
 *   out (control batches, aborted transactions) once everything before them was taken.
 * - `collect` starts one partition further at each call and takes from one partition after another, so no
 *   partition waits behind the others.
 * - Paused partitions keep their buffered records; they are handed out after `resume`.
 * - A fetch that failed while being read (corrupt data, a decompression error) stays at the head of its partition:
 *   every `collect` reports its error again (as Kafka's consumer throws it from every poll) and the partition is
 *   not fetched again, until the application seeks.
 * - The lease rule: the records of a response view its frame buffer. The frame is released (handed back to the
 *   frame buffers for a later response) at the start of the first `collect` after every partition of the response
 *   was drained or dropped, or at the end of a `collect` that drained or dropped it while handing out nothing.
 *   Records handed out by one `collect` therefore stay valid until the next one: for the application, until its
 *   next `poll()`.
 * - `bufferedBytes` counts, for every response not yet released, its records sections and the decompressed output
 *   of its batches; the fetch manager sends no Fetch while it is at `maxBytes` or more.
 */
import type { FetchPosition, SubscriptionState, TopicPartition } from '@sluice/runtime';
import { TopicPartitionMap } from '@sluice/runtime';
import type { CompletedFetch } from './completed-fetch.ts';
import type { DeserializableRecord } from './fetched-record.ts';

/** Where released frames go (`ReusableFrameBuffers` of `@sluice/net`). */
export interface FrameRelease {
  release(view: ArrayBufferView): boolean;
}

/** The part of a response that the buffer hands back once nothing reads it. */
export class ResponseLease {
  /** A view into the response's frame (any view finds the frame), or null when there is nothing to release. */
  readonly frame: ArrayBufferView | null;
  bytes = 0;
  /** Completed fetches of the response not yet drained or dropped. */
  open = 0;

  constructor(frame: ArrayBufferView | null) {
    this.frame = frame;
  }
}

export interface FetchBufferOptions {
  /** Cap on buffered bytes (see the class comment). Default unlimited. */
  readonly maxBytes?: number;
  /** Where frames are released; null: frames are left to the garbage collector. */
  readonly frames?: FrameRelease | null;
  /** A fetch that was being read failed (thrown from the application's next poll). */
  readonly onError?: (error: Error) => void;
}

interface Queued {
  readonly fetch: CompletedFetch;
  readonly lease: ResponseLease;
}

export class FetchBuffer {
  readonly maxBytes: number;
  readonly #frames: FrameRelease | null;
  readonly #onError: (error: Error) => void;
  readonly #queues = new TopicPartitionMap<Queued[]>();
  /** Leases whose responses were drained or dropped since the last collect began: released at the next. */
  #finished: ResponseLease[] = [];
  #bufferedBytes = 0;
  /** Bumped by every `add` and every decompression that finished: a waiting poll wakes only when something new came. */
  #arrivals = 0;
  #next = 0;
  /** Partitions whose head fetch failed: not fetched again until a seek. */
  readonly #failed = new TopicPartitionMap<number>();

  constructor(options: FetchBufferOptions = {}) {
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#frames = options.frames ?? null;
    this.#onError = options.onError ?? (() => {});
  }

  get arrivals(): number {
    return this.#arrivals;
  }

  /** Something new to collect (a decompression finished). */
  noteArrival(): void {
    this.#arrivals++;
  }

  /** Bytes held by responses not yet released. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  get full(): boolean {
    return this.#bufferedBytes >= this.maxBytes;
  }

  /** A lease for one response's frame; `settle` it once every completed fetch of the response was added. */
  lease(frame: ArrayBufferView | null): ResponseLease {
    return new ResponseLease(frame);
  }

  add(fetch: CompletedFetch, lease: ResponseLease): void {
    lease.open++;
    lease.bytes += fetch.bytes;
    this.#bufferedBytes += fetch.bytes;
    fetch.onGrowth = (bytes) => {
      lease.bytes += bytes;
      this.#bufferedBytes += bytes;
    };
    const queue = this.#queues.get(fetch.tp);
    const queued: Queued = { fetch, lease };
    if (queue === undefined) this.#queues.set(fetch.tp, [queued]);
    else queue.push(queued);
    this.#arrivals++;
  }

  /** Every completed fetch of the lease's response was added: a response that gave none is released now. */
  settle(lease: ResponseLease): void {
    if (lease.open === 0) this.#release(lease);
  }

  /** Whether the partition, at this version, stopped on a failed read (then it is not fetched until a seek). */
  blocked(tp: TopicPartition, version: number): boolean {
    return this.#failed.get(tp) === version;
  }

  /**
   * Where the next fetch of the partition starts, with the leader epoch of the last buffered batch before it (its
   * `lastFetchedEpoch`), when something is buffered for this version; else null.
   */
  nextFetchPosition(tp: TopicPartition, version: number): FetchPosition | null {
    const queue = this.#queues.get(tp);
    const last = queue?.[queue.length - 1];
    return last !== undefined && last.fetch.version === version
      ? { offset: last.fetch.nextOffset, leaderEpoch: last.fetch.nextEpoch }
      : null;
  }

  /** Bytes buffered for the partition (for tests and metrics). */
  bufferedBytesOf(tp: TopicPartition): number {
    let bytes = 0;
    for (const { fetch } of this.#queues.get(tp) ?? []) bytes += fetch.bytes;
    return bytes;
  }

  /** Drops what is buffered for partitions no longer assigned, or for an older version of them. */
  retain(subscriptions: SubscriptionState): void {
    for (const [tp, queue] of [...this.#queues]) {
      const state = subscriptions.partition(tp);
      const current: Queued[] = [];
      for (const queued of queue) {
        if (state !== undefined && queued.fetch.version === state.version) current.push(queued);
        else this.#drop(queued);
      }
      if (current.length === 0) this.#queues.delete(tp);
      else if (current.length !== queue.length) this.#queues.set(tp, current);
    }
    for (const [tp, version] of [...this.#failed]) {
      if (subscriptions.partition(tp)?.version !== version) this.#failed.delete(tp);
    }
  }

  /**
   * Drops everything. Frames are not released: records handed out last may still be read, and a frame never
   * released is simply collected.
   */
  clear(): void {
    for (const queue of this.#queues.values()) for (const { fetch } of queue) fetch.cancel();
    this.#queues.clear();
    this.#failed.clear();
    this.#finished = [];
    this.#bufferedBytes = 0;
  }

  /**
   * Up to `maxRecords` records (`max.poll.records`) from the fetchable partitions, taking from one partition after
   * another and starting one partition further at each call. Releases first the responses finished before this
   * call (the lease rule).
   */
  collect(subscriptions: SubscriptionState, maxRecords: number): DeserializableRecord[] {
    this.#releaseFinished();
    const records: DeserializableRecord[] = [];
    if (this.#queues.size === 0) return records;
    const partitions = [...this.#queues.keys()];
    const start = this.#next % partitions.length;
    this.#next = start + 1;
    for (let turn = 0; turn < partitions.length && records.length < maxRecords; turn++) {
      const tp = partitions[(start + turn) % partitions.length]!;
      const state = subscriptions.partition(tp);
      if (state === undefined || !subscriptions.isFetchable(tp)) continue;
      const queue = this.#queues.get(tp)!;
      while (queue.length > 0 && queue[0]!.fetch.version !== state.version) this.#drop(queue.shift()!);
      let offset: bigint | null = null;
      let leaderEpoch = state.position?.leaderEpoch ?? -1;
      while (queue.length > 0 && records.length < maxRecords) {
        const { fetch, lease } = queue[0]!;
        let result: ReturnType<CompletedFetch['take']>;
        try {
          result = fetch.take(records, maxRecords);
        } catch (error) {
          this.#failed.set(tp, fetch.version);
          this.#onError(error as Error);
          if (fetch.takenUpTo !== null) {
            offset = fetch.takenUpTo;
            leaderEpoch = fetch.takenEpoch;
          }
          break;
        }
        if (fetch.takenUpTo !== null) {
          offset = fetch.takenUpTo;
          leaderEpoch = fetch.takenEpoch;
        }
        if (result !== 'done') break;
        // The whole fetch is handed out: batches after its last record (markers, aborted data) count as read, and
        // the position takes the epoch of the last of them.
        queue.shift();
        this.#finish(lease);
        if (fetch.nextOffset > (offset ?? -1n)) {
          offset = fetch.nextOffset;
          leaderEpoch = fetch.nextEpoch;
        }
      }
      if (queue.length === 0) this.#queues.delete(tp);
      if (offset !== null && offset > (state.position?.offset ?? -1n)) {
        subscriptions.advance(tp, state.version, offset, leaderEpoch);
      }
    }
    // Nothing handed out: no record of this call views the responses just finished (their last records went out
    // in earlier calls, which the application is done with), so their frames need not wait for the next call.
    if (records.length === 0) this.#releaseFinished();
    return records;
  }

  #releaseFinished(): void {
    if (this.#finished.length === 0) return;
    const finished = this.#finished;
    this.#finished = [];
    for (const lease of finished) this.#release(lease);
  }

  #drop(queued: Queued): void {
    queued.fetch.cancel();
    this.#finish(queued.lease);
  }

  #finish(lease: ResponseLease): void {
    lease.open--;
    if (lease.open === 0) this.#finished.push(lease);
  }

  #release(lease: ResponseLease): void {
    this.#bufferedBytes -= lease.bytes;
    lease.bytes = 0;
    if (lease.frame !== null) this.#frames?.release(lease.frame);
  }
}
