/**
 * One partition's data from one Fetch response, as the fetch buffer holds it until the application has taken every
 * record (Kafka's CompletedFetch).
 *
 * Invariants:
 * - Built when the response arrives: the batches are split and their headers (and CRCs, with `check.crcs`) checked,
 *   control batches and, under read_committed, the batches of aborted transactions are left out, and the large
 *   compressed batches go to the decompression pipeline at once. Records are not touched until `take`.
 * - Only complete batches are kept (the broker cuts a response at its size limit); records before the fetch offset
 *   are skipped (a compressed batch starts at its first record); `nextOffset` is where the next fetch of the
 *   partition starts: after the last complete batch, skipped ones included.
 * - `take` hands out records in offset order. It stops at a batch still decompressing (and says so). Data that
 *   cannot be read (a bad header, length or CRC found on arrival; a malformed record or a failed decompression
 *   found when reached; a non-empty records section without one complete batch) throws CorruptRecordError when
 *   `take` reaches it, after every record before it, and at every `take` after that: `nextOffset` never passes it.
 */
import {
  type DecodedBatch,
  decodeControlRecordKey,
  decodeRecords,
  type KafkaRecord,
  type LegacyRecord,
  type LegacyRecordBatch,
  RecordBatch,
  type RecordCursor,
  type TopicPartition,
} from '@sluice/protocol';
import { CorruptRecordError } from './errors.ts';
import { type DeserializableRecord, FetchedRecord, PlainRecord } from './fetched-record.ts';

export interface AbortedTransactionRange {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

/** A batch on its way to being read: still compressed, decompressing, ready, or failed. */
export interface BatchSlot {
  readonly batch: DecodedBatch;
  /** The batch to read records from, once decompressed (the batch itself when it was not compressed). */
  ready: DecodedBatch | null;
  error: Error | null;
  /** Waiting in the decompression pipeline's queue, not started. */
  queued: boolean;
  /** Decompressing in the thread pool. */
  pending: boolean;
  /** Output bytes the pipeline counts as decompressed ahead of the reader (0 once reached or dropped). */
  ahead: number;
  /** Nobody wants the result any more (the fetch was dropped): the pipeline skips it. */
  cancelled: boolean;
  /** Called when the pipeline settles it, with the bytes it added. */
  onSettled: ((addedBytes: number) => void) | null;
}

/**
 * Where the pipeline starts decompressions; `CompletedFetch` decompresses small batches itself, when reached.
 */
export interface Decompressor {
  /** Whether the batch goes to the pipeline when the response arrives (else it is decompressed when reached). */
  goesToPool(batch: DecodedBatch): boolean;
  readonly maxDecompressedBytes: number;
  submit(slot: BatchSlot): void;
  /**
   * The reader reached the slot: its output no longer counts as decompressed ahead, and a slot still queued starts
   * at once, whatever the limits.
   */
  reached(slot: BatchSlot): void;
  /** The slot will never be read (its fetch was dropped). */
  dropped(slot: BatchSlot): void;
}

export interface CompletedFetchOptions {
  readonly tp: TopicPartition;
  /** The partition's version in the SubscriptionState when the Fetch was built. */
  readonly version: number;
  readonly fetchOffset: bigint;
  /** The leader epoch of the batch before `fetchOffset` (the Fetch's `lastFetchedEpoch`); default -1. */
  readonly fetchEpoch?: number;
  readonly records: Uint8Array | null;
  readonly isolationLevel: 'read_uncommitted' | 'read_committed';
  readonly abortedTransactions: readonly AbortedTransactionRange[] | null;
  readonly checkCrcs: boolean;
  readonly decompressor: Decompressor;
}

export type TakeResult = 'done' | 'more' | 'waiting';

export class CompletedFetch {
  readonly tp: TopicPartition;
  readonly version: number;
  readonly fetchOffset: bigint;
  /** Where the next fetch of the partition starts. */
  readonly nextOffset: bigint;
  /**
   * The leader epoch of the last batch before `nextOffset`, skipped ones included (-1 for legacy batches): the
   * next Fetch's `lastFetchedEpoch` (KIP-320), and the position's epoch once everything is handed out.
   */
  readonly nextEpoch: number;
  /** Bytes of the records section, plus decompressed output as it is produced. */
  bytes: number;
  /** The offset after the last record handed out, and its batch's leader epoch; null before the first. */
  takenUpTo: bigint | null = null;
  takenEpoch = -1;
  /** Called with bytes added by a decompression that finished. */
  onGrowth: ((bytes: number) => void) | null = null;
  readonly #slots: BatchSlot[];
  readonly #decompressor: Decompressor;
  #index = 0;
  #cursor: RecordCursor | null = null;
  /** Records of the current batch below this offset delta are before the fetch offset. */
  #skipBelowDelta = 0;
  #legacy: KafkaRecord[] | null = null;
  #legacyIndex = 0;
  /** Why the data after the last readable batch could not be read; thrown once `take` gets there. */
  #failure: { readonly problem: string; readonly cause?: Error } | null = null;
  #failureError: CorruptRecordError | null = null;

  constructor(options: CompletedFetchOptions) {
    this.tp = options.tp;
    this.version = options.version;
    this.fetchOffset = options.fetchOffset;
    this.#decompressor = options.decompressor;
    const bytes = options.records;
    this.bytes = bytes === null ? 0 : bytes.length;
    this.#slots = [];
    let nextOffset = options.fetchOffset;
    let nextEpoch = options.fetchEpoch ?? -1;
    if (bytes !== null && bytes.length > 0) {
      const { batches, failure } = decodeRecords(bytes, { checkCrcs: options.checkCrcs, onCorrupt: 'stop' });
      if (failure !== undefined) {
        const where = failure.baseOffset === null ? '' : ` (the batch at offset ${failure.baseOffset})`;
        this.#failure = { problem: `${failure.error.message}${where}`, cause: failure.error };
      } else if (batches.length === 0) {
        // Since KIP-74 a broker always sends at least one whole batch: bytes without one cannot be read.
        this.#failure = { problem: `a non-empty answer (${bytes.length} bytes) held no complete record batch` };
      }
      const aborted =
        options.isolationLevel === 'read_committed' ? new AbortedTransactions(options.abortedTransactions) : null;
      for (const batch of batches) {
        if (batch.nextOffset <= options.fetchOffset) continue;
        nextOffset = batch.nextOffset;
        nextEpoch = batch instanceof RecordBatch ? batch.partitionLeaderEpoch : -1;
        if (batch instanceof RecordBatch) {
          if (aborted?.skip(batch)) continue;
          if (batch.isControl) continue;
        }
        const slot: BatchSlot = {
          batch,
          ready: batch.needsDecompression ? null : batch,
          error: null,
          queued: false,
          pending: false,
          ahead: 0,
          cancelled: false,
          onSettled: null,
        };
        this.#slots.push(slot);
        if (slot.ready === null && this.#decompressor.goesToPool(batch)) {
          slot.queued = true;
          slot.onSettled = (added) => {
            this.bytes += added;
            this.onGrowth?.(added);
          };
          this.#decompressor.submit(slot);
        }
      }
    }
    this.nextOffset = nextOffset;
    this.nextEpoch = nextEpoch;
  }

  /** Whether the fetch carried nothing: no record to hand out, no offset to move past, and no error. */
  get empty(): boolean {
    return this.#slots.length === 0 && this.nextOffset === this.fetchOffset && this.#failure === null;
  }

  /**
   * The error `take` throws from here on, made once (every poll throws the same one), at the partition's position:
   * after the last record handed out (`at` when that is not recorded yet).
   */
  #fail(problem: string, cause?: Error, at: bigint | null = this.takenUpTo): CorruptRecordError {
    this.#failureError ??= new CorruptRecordError(this.tp, at ?? this.fetchOffset, problem, cause);
    return this.#failureError;
  }

  /**
   * Moves up to `max - into.length` records into `into`. 'done': every record is handed out; 'more': `into` is
   * full; 'waiting': the next batch is still decompressing. Throws the error of a batch that failed, when reached.
   */
  take(into: DeserializableRecord[], max: number): TakeResult {
    const tp = this.tp;
    while (into.length < max) {
      const cursor = this.#cursor;
      if (cursor !== null) {
        const skip = this.#skipBelowDelta;
        let lastDelta = -1;
        try {
          while (into.length < max && cursor.next()) {
            if (cursor.offsetDelta < skip) continue;
            into.push(new FetchedRecord(tp, cursor));
            lastDelta = cursor.offsetDelta;
          }
        } catch (error) {
          // A malformed record: the ones before it are handed out, and the error stays until a seek.
          const at = lastDelta >= 0 ? cursor.batch.recordOffset(lastDelta) + 1n : this.takenUpTo;
          const failed = this.#fail((error as Error).message, error as Error, at);
          this.#slots[this.#index]!.error = failed;
          this.#cursor = null;
          throw failed;
        } finally {
          if (lastDelta >= 0) {
            this.takenUpTo = cursor.batch.recordOffset(lastDelta) + 1n;
            this.takenEpoch = cursor.batch.partitionLeaderEpoch;
          }
        }
        // Full: `next()` was not called past the last record taken, so the cursor resumes there.
        if (into.length >= max) return 'more';
        this.#cursor = null;
        this.#passed();
        continue;
      }
      if (this.#legacy !== null) {
        const records = this.#legacy;
        while (into.length < max && this.#legacyIndex < records.length) {
          const record = records[this.#legacyIndex++]!;
          if (record.offset < this.fetchOffset) continue;
          into.push(legacyRecord(tp, record, this.#slots[this.#index]!.ready as LegacyRecordBatch));
          this.takenUpTo = record.offset + 1n;
          this.takenEpoch = -1;
        }
        if (this.#legacyIndex < records.length) return 'more';
        this.#legacy = null;
        this.#passed();
        continue;
      }
      if (this.#index >= this.#slots.length) {
        if (this.#failure === null) return 'done';
        throw this.#fail(this.#failure.problem, this.#failure.cause);
      }
      const slot = this.#slots[this.#index]!;
      // Reached: a batch still queued in the pipeline starts now, ahead of the others.
      if (slot.onSettled !== null) this.#decompressor.reached(slot);
      if (slot.pending) return 'waiting';
      if (slot.error !== null) throw this.#failedAt(slot);
      if (slot.ready === null) {
        // A small batch: decompressed here, when reached (the pool would cost more than it saves).
        try {
          slot.ready = slot.batch.decompressSync({ maxDecompressedBytes: this.#decompressor.maxDecompressedBytes });
        } catch (error) {
          slot.error = error as Error;
          throw this.#failedAt(slot);
        }
        const added = recordsBytes(slot.ready);
        this.bytes += added;
        this.onGrowth?.(added);
      }
      const batch = slot.ready;
      if (batch instanceof RecordBatch) {
        this.#cursor = batch.cursor();
        this.#skipBelowDelta = this.fetchOffset > batch.baseOffset ? Number(this.fetchOffset - batch.baseOffset) : 0;
      } else {
        this.#legacy = [...(batch as Iterable<KafkaRecord>)];
        this.#legacyIndex = 0;
      }
    }
    return this.#index < this.#slots.length ? 'more' : 'done';
  }

  /** The error of a batch that failed when reached (a decompression), as the partition's CorruptRecordError. */
  #failedAt(slot: BatchSlot): CorruptRecordError {
    const error = slot.error!;
    return error instanceof CorruptRecordError ? error : this.#fail(error.message, error);
  }

  /**
   * The reader is past the current batch: the fetch stops referencing its decompressed output (the records handed
   * out still do), so a partition's data is not held whole until its last record is read.
   */
  #passed(): void {
    this.#slots[this.#index]!.ready = null;
    this.#index++;
  }

  /** The fetch is dropped: decompressions not started are skipped. */
  cancel(): void {
    for (let index = this.#index; index < this.#slots.length; index++) {
      const slot = this.#slots[index]!;
      if (slot.cancelled) continue;
      slot.cancelled = true;
      if (slot.onSettled !== null) this.#decompressor.dropped(slot);
    }
  }
}

/** Bytes of a batch's records section: compressed as on the wire, or the decompressed output. */
export function recordsBytes(batch: DecodedBatch): number {
  if (batch instanceof RecordBatch) return batch.recordsBytes.length;
  if (batch.needsDecompression || batch.compression === 'none') return batch.byteLength;
  // A decompressed legacy wrapper: its inner messages (legacy data is not the hot path; counted one by one).
  let bytes = 0;
  for (const record of batch as Iterable<LegacyRecord>) {
    bytes += LEGACY_MESSAGE_OVERHEAD + Math.max(record.keyLength, 0) + Math.max(record.valueLength, 0);
  }
  return bytes;
}

/** offset, size, crc, magic, attributes, timestamp, key and value lengths of a v1 message. */
const LEGACY_MESSAGE_OVERHEAD = 34;

function legacyRecord(tp: TopicPartition, record: KafkaRecord, batch: LegacyRecordBatch): DeserializableRecord {
  return new PlainRecord({
    topic: tp.topic,
    partition: tp.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: batch.magic === 0 ? 'none' : batch.timestampType,
    key: record.key,
    value: record.value,
    headers: [],
    leaderEpoch: -1,
  });
}

/**
 * Kafka's read_committed filter. The response lists the aborted transactions whose data it may contain, as
 * (producer id, first offset). Walking the batches in order: a transaction becomes "aborted" once a batch reaches
 * its first offset; a transactional batch of an aborted producer is dropped; the producer's ABORT marker (a control
 * batch) ends it.
 */
class AbortedTransactions {
  readonly #pending: AbortedTransactionRange[];
  readonly #aborted = new Set<bigint>();

  constructor(ranges: readonly AbortedTransactionRange[] | null) {
    this.#pending = [...(ranges ?? [])].sort((a, b) =>
      a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
    );
  }

  /** Whether to drop the batch (its records are not delivered). */
  skip(batch: RecordBatch): boolean {
    while (this.#pending.length > 0 && this.#pending[0]!.firstOffset <= batch.lastOffset) {
      this.#aborted.add(this.#pending.shift()!.producerId);
    }
    if (batch.isControl) {
      if (batch.isTransactional && this.#aborted.has(batch.producerId) && this.#isAbortMarker(batch)) {
        this.#aborted.delete(batch.producerId);
      }
      return true;
    }
    return batch.isTransactional && this.#aborted.has(batch.producerId);
  }

  #isAbortMarker(batch: RecordBatch): boolean {
    const cursor = batch.cursor();
    return cursor.next() && decodeControlRecordKey(cursor.key).type === 'abort';
  }
}
