/**
 * Decompression off the event loop, in wire order: compressed batches of every response go to libuv's thread pool
 * as they arrive, at most `concurrency` at a time (the pool's size), started in the order they came, so the
 * application reads decompressed batches while the next ones decompress.
 *
 * Invariants:
 * - Batches start in submission order (responses in arrival order, batches in wire order within each), so the
 *   batch the application needs next is never queued behind later ones.
 * - A cancelled batch (its fetch was dropped: a seek, a revocation) is skipped when its turn comes.
 * - Every settled batch calls its slot's `onSettled` and then `onSettled` of the pipeline (which wakes a waiting
 *   poll); an error is kept in the slot and reaches the application when it reads that batch, never as an
 *   unhandled rejection.
 * - Batches smaller than their codec's threshold are not submitted: `CompletedFetch` decompresses them on the
 *   calling thread when it reaches them. Measured end to end (bench:consume, Sluice alone, 2 cores): lz4 batches of
 *   27 KB read at 1.69 M records/s on the calling thread against 1.31 M through the pool, 190 KB ones at 432 k
 *   against 573 k, so lz4 and snappy go to the pool from 64 KiB; node:zlib's zstd (and gzip) is faster on the
 *   calling thread at every batch size measured (17 KB: 1.64 M against 0.87 M; 122 KB: 446 k against 378 k; its async
 *   mode works in chunked steps), so they go to the pool only from 1 MiB.
 * - Memory does not depend on the compression ratio: no batch starts while the output of settled batches that the
 *   reader has not reached yet adds up to `maxAheadBytes`. A batch the reader reaches before its turn starts at
 *   once, ahead of the queue and past the limits, so a partition whose data waits (paused, or simply not read yet)
 *   can hold the pipeline back but never stall another partition.
 */
import { type CompressionType, type DecodedBatch, RecordBatch } from '@sluice/protocol';
import { type BatchSlot, type Decompressor, recordsBytes } from './completed-fetch.ts';

export interface DecompressionPipelineOptions {
  /** Batches in the thread pool at once. Default: `UV_THREADPOOL_SIZE`, else 4 (libuv's default pool size). */
  readonly concurrency?: number;
  /** Cap on one batch's decompressed size. */
  readonly maxDecompressedBytes: number;
  /** Compressed batches at least this large go to the pool, whatever the codec. Default: per codec (see above). */
  readonly asyncThresholdBytes?: number;
  /** Output of settled batches not yet reached by the reader, beyond which none starts. Default 16 MiB. */
  readonly maxAheadBytes?: number;
  /** After any batch settled. */
  readonly onSettled?: () => void;
}

const DEFAULT_MAX_AHEAD_BYTES = 16 * 1024 * 1024;

/** Where the pool starts paying off, per codec (measured: see the invariants). */
const POOL_THRESHOLD_BYTES: Readonly<Record<CompressionType, number>> = {
  none: Number.POSITIVE_INFINITY,
  lz4: 64 * 1024,
  snappy: 64 * 1024,
  zstd: 1024 * 1024,
  gzip: 1024 * 1024,
};

export class DecompressionPipeline implements Decompressor {
  readonly #asyncThresholdBytes: number | null;
  readonly maxDecompressedBytes: number;
  readonly #concurrency: number;
  readonly #onSettled: () => void;
  readonly #maxAheadBytes: number;
  #aheadBytes = 0;
  /** Slots waiting for their turn (a started slot is not kept here: its output must not outlive its reader). */
  readonly #queue: BatchSlot[] = [];
  #running = 0;

  constructor(options: DecompressionPipelineOptions) {
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE);
    this.#concurrency = options.concurrency ?? (Number.isInteger(poolSize) && poolSize > 0 ? poolSize : 4);
    this.maxDecompressedBytes = options.maxDecompressedBytes;
    this.#asyncThresholdBytes = options.asyncThresholdBytes ?? null;
    this.#onSettled = options.onSettled ?? (() => {});
    this.#maxAheadBytes = options.maxAheadBytes ?? DEFAULT_MAX_AHEAD_BYTES;
  }

  /** Output of settled batches the reader has not reached yet. */
  get aheadBytes(): number {
    return this.#aheadBytes;
  }

  /** Batches waiting for their turn or decompressing. */
  get size(): number {
    return this.#queue.length + this.#running;
  }

  goesToPool(batch: DecodedBatch): boolean {
    const threshold = this.#asyncThresholdBytes ?? POOL_THRESHOLD_BYTES[batch.compression];
    return recordsBytes(batch) >= threshold;
  }

  submit(slot: BatchSlot): void {
    slot.queued = true;
    this.#queue.push(slot);
    this.#pump();
  }

  reached(slot: BatchSlot): void {
    if (slot.queued) {
      this.#forget(slot);
      this.#start(slot);
      return;
    }
    this.#forget(slot);
  }

  dropped(slot: BatchSlot): void {
    this.#forget(slot);
  }

  #forget(slot: BatchSlot): void {
    if (slot.queued) {
      slot.queued = false;
      const index = this.#queue.indexOf(slot);
      if (index >= 0) this.#queue.splice(index, 1);
    }
    if (slot.ahead > 0) {
      this.#aheadBytes -= slot.ahead;
      slot.ahead = 0;
      this.#pump();
    }
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0 && this.#aheadBytes < this.#maxAheadBytes) {
      const slot = this.#queue.shift()!;
      slot.queued = false;
      if (slot.cancelled) continue;
      this.#start(slot);
    }
  }

  #start(slot: BatchSlot): void {
    slot.pending = true;
    this.#running++;
    const options = { maxDecompressedBytes: this.maxDecompressedBytes, syncThresholdBytes: 0 };
    const decompressing: Promise<unknown> =
      slot.batch instanceof RecordBatch ? slot.batch.decompress(options) : slot.batch.decompress(options);
    decompressing.then(
      (batch) => this.#settle(slot, batch as BatchSlot['ready'], null),
      (error: unknown) => this.#settle(slot, null, error instanceof Error ? error : new Error(String(error))),
    );
  }

  #settle(slot: BatchSlot, batch: BatchSlot['ready'], error: Error | null): void {
    this.#running--;
    slot.pending = false;
    if (!slot.cancelled) {
      slot.ready = batch;
      slot.error = error;
      const bytes = batch === null ? 0 : recordsBytes(batch);
      slot.ahead = bytes;
      this.#aheadBytes += bytes;
      slot.onSettled?.(bytes);
    }
    this.#pump();
    this.#onSettled();
  }
}
