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
  /** After any batch settled. */
  readonly onSettled?: () => void;
}

export class DecompressionPipeline implements Decompressor {
  readonly asyncThresholdBytes: number;
  readonly maxDecompressedBytes: number;
  readonly #concurrency: number;
  readonly #onSettled: () => void;
  readonly #queue: BatchSlot[] = [];
  #head = 0;
  #running = 0;

  constructor(options: DecompressionPipelineOptions) {
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE);
    this.#concurrency = options.concurrency ?? (Number.isInteger(poolSize) && poolSize > 0 ? poolSize : 4);
    this.maxDecompressedBytes = options.maxDecompressedBytes;
    this.asyncThresholdBytes = options.asyncThresholdBytes ?? defaultSyncThresholdBytes;
    this.#onSettled = options.onSettled ?? (() => {});
  }

  /** Batches waiting for their turn or decompressing. */
  get size(): number {
    return this.#queue.length - this.#head + this.#running;
  }

  submit(slot: BatchSlot): void {
    this.#queue.push(slot);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#head < this.#queue.length) {
      const slot = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      if (slot.cancelled) {
        slot.pending = false;
        continue;
      }
      this.#running++;
      const options = { maxDecompressedBytes: this.maxDecompressedBytes, syncThresholdBytes: 0 };
      const decompressing: Promise<unknown> =
        slot.batch instanceof RecordBatch ? slot.batch.decompress(options) : slot.batch.decompress(options);
      decompressing.then(
        (batch) => this.#settle(slot, batch as BatchSlot['ready'], null),
        (error: unknown) => this.#settle(slot, null, error instanceof Error ? error : new Error(String(error))),
      );
    }
  }

  #settle(slot: BatchSlot, batch: BatchSlot['ready'], error: Error | null): void {
    this.#running--;
    slot.pending = false;
    if (!slot.cancelled) {
      slot.ready = batch;
      slot.error = error;
      slot.onSettled?.(batch === null ? 0 : recordsBytes(batch));
    }
    this.#pump();
    this.#onSettled();
  }
}
