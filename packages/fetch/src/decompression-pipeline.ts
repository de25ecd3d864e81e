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
 * - Batches smaller than `asyncThresholdBytes` are not submitted: `CompletedFetch` decompresses them on the
 *   calling thread when it reaches them (bench:decode measured the pool's round trip as dearer than a small batch).
 * - Memory does not depend on the compression ratio: no batch starts while the output of settled batches that the
 *   reader has not reached yet adds up to `maxAheadBytes`. A batch the reader reaches before its turn starts at
 *   once, ahead of the queue and past the limits, so a partition whose data waits (paused, or simply not read yet)
 *   can hold the pipeline back but never stall another partition.
 */
import { defaultSyncThresholdBytes, RecordBatch } from '@sluice/protocol';
import { type BatchSlot, type Decompressor, recordsBytes } from './completed-fetch.ts';

export interface DecompressionPipelineOptions {
  /** Batches in the thread pool at once. Default: `UV_THREADPOOL_SIZE`, else 4 (libuv's default pool size). */
  readonly concurrency?: number;
  /** Cap on one batch's decompressed size. */
  readonly maxDecompressedBytes: number;
  /** Compressed batches at least this large go to the pool. Default 16 KiB. */
  readonly asyncThresholdBytes?: number;
  /** Output of settled batches not yet reached by the reader, beyond which none starts. Default 16 MiB. */
  readonly maxAheadBytes?: number;
  /** After any batch settled. */
  readonly onSettled?: () => void;
}

const DEFAULT_MAX_AHEAD_BYTES = 16 * 1024 * 1024;

export class DecompressionPipeline implements Decompressor {
  readonly asyncThresholdBytes: number;
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
    this.asyncThresholdBytes = options.asyncThresholdBytes ?? defaultSyncThresholdBytes;
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
