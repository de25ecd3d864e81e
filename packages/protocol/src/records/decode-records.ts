import { ProtocolError } from '../errors.ts';
import { readInt32, readInt64 } from './bytes.ts';
import { decodeLegacyMessageAt, LegacyRecordBatch, legacyMessageMinimumSize } from './legacy-message-set.ts';
import { decodeRecordBatchAt, logOverhead, type RecordBatch } from './record-batch.ts';

/** A batch of format v2, or one top-level message of a legacy (v0/v1) message set. */
export type DecodedBatch = RecordBatch | LegacyRecordBatch;

export interface DecodeRecordsOptions {
  /** Verify each batch's (or legacy message's) CRC, like Kafka's `check.crcs`. Default true. */
  readonly checkCrcs?: boolean;
  /**
   * `throw` (the default): a corrupt batch throws its ProtocolError. `stop`: the batches before it are returned,
   * with the error in `failure`, as a reader that delivers what is sound before failing needs.
   */
  readonly onCorrupt?: 'throw' | 'stop';
}

export interface DecodedRecords {
  /** Complete batches in wire order; records are read from them lazily. */
  readonly batches: DecodedBatch[];
  /** Bytes taken by the complete batches. */
  readonly bytesConsumed: number;
  /**
   * Bytes remained after the last complete batch: the broker cut the response at its size limit, which is normal.
   * The next fetch starts at the last batch's `nextOffset` (or at the same offset when no batch was complete).
   */
  readonly truncated: boolean;
  /** With `onCorrupt: 'stop'`: the error of the first corrupt batch, and its base offset when that is readable. */
  readonly failure?: { readonly error: ProtocolError; readonly baseOffset: bigint | null };
}

/** Offset at which the magic byte sits in both layouts: after offset, length and partitionLeaderEpoch (or crc). */
const magicPosition = 16;

/**
 * Splits a partition's `records` bytes from a Fetch response into batches. Each batch's header is decoded (and its
 * CRC checked when asked); records are not touched. Formats may be mixed, as a log upgraded in place holds both.
 */
export function decodeRecords(data: Uint8Array, options: DecodeRecordsOptions = {}): DecodedRecords {
  const batches: DecodedBatch[] = [];
  const checkCrcs = options.checkCrcs !== false;
  let position = 0;
  try {
    while (position < data.length) {
      const remaining = data.length - position;
      if (remaining <= magicPosition) break;
      const length = readInt32(data, position + 8);
      if (length < 0) {
        throw new ProtocolError(`batch length ${length} is negative`, {
          reason: 'negative-length',
          field: 'RecordBatch.batchLength',
          offset: position + 8,
        });
      }
      if (length < legacyMessageMinimumSize(0)) {
        throw new ProtocolError(`batch length ${length} is below any format's minimum`, {
          reason: 'invalid-value',
          field: 'RecordBatch.batchLength',
          offset: position + 8,
        });
      }
      if (length > remaining - logOverhead) break;
      const magic = data[position + magicPosition];
      if (magic === 2) {
        batches.push(decodeRecordBatchAt(data, position, length, { checkCrcs }));
      } else if (magic === 0 || magic === 1) {
        const fields = decodeLegacyMessageAt(data, position, length, { checkCrcs });
        batches.push(
          new LegacyRecordBatch(data, fields, { byteOffset: position, byteLength: logOverhead + length, checkCrcs }),
        );
      } else {
        throw new ProtocolError(`unknown magic ${magic}`, {
          reason: 'invalid-value',
          field: 'RecordBatch.magic',
          offset: position + magicPosition,
        });
      }
      position += logOverhead + length;
    }
  } catch (error) {
    if (options.onCorrupt !== 'stop' || !(error instanceof ProtocolError)) throw error;
    // `position` is where the corrupt batch starts.
    const baseOffset = data.length - position >= 8 ? readInt64(data, position) : null;
    return { batches, bytesConsumed: position, truncated: false, failure: { error, baseOffset } };
  }
  return { batches, bytesConsumed: position, truncated: position < data.length };
}
