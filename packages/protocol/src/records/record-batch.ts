import {
  type CodecDecompressOptions,
  type CompressionType,
  compressionTypeFromId,
  type DecompressOptions,
  decompress,
  decompressSync,
} from '../compression/index.ts';
import { ProtocolError } from '../errors.ts';
import type { BatchRecord } from './batch-record.ts';
import { readInt16, readInt32, readInt64, readUint32 } from './bytes.ts';
import { crc32c } from './checksums.ts';
import { addDelta, addDeltaAsNumber } from './kafka-record.ts';
import { RecordCursor } from './record-cursor.ts';

/** Bytes before the records of a v2 batch: baseOffset through recordsCount. */
export const recordBatchHeaderLength = 61;
/** baseOffset (8) + batchLength (4): what precedes the length-counted part of every batch or legacy message. */
export const logOverhead = 12;

// Attribute bits of a v2 batch (KIP-98, KIP-229 for the delete horizon).
export const compressionCodecMask = 0x07;
export const timestampTypeBit = 0x08;
export const transactionalBit = 0x10;
export const controlBit = 0x20;
export const deleteHorizonBit = 0x40;

export type TimestampType = 'create-time' | 'log-append-time';

/** The header of a v2 record batch, field for field as on the wire. */
export interface RecordBatchHeader {
  readonly baseOffset: bigint;
  /** Bytes after this field: the batch occupies 12 + batchLength bytes. */
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: 2;
  /** CRC-32C of attributes through the end of the batch, as an unsigned 32-bit number. */
  readonly crc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
}

interface RecordsSection {
  /** Where the batch started in the buffer it was decoded from. */
  readonly byteOffset: number;
  /** Bytes holding the records: the input buffer, or the decompressed output. */
  readonly data: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** Whether `data[start, end)` still holds compressed records. */
  readonly compressed: boolean;
}

/**
 * A record batch (magic 2). The header is decoded eagerly; records are read only while iterating, straight from
 * the bytes the batch was decoded from (or from its decompressed output), with keys and values as views.
 */
export class RecordBatch implements RecordBatchHeader {
  readonly baseOffset: bigint;
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic = 2 as const;
  readonly crc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
  readonly compression: CompressionType;
  readonly timestampType: TimestampType;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly hasDeleteHorizonMs: boolean;
  /** Where the batch starts in the buffer it was decoded from. */
  readonly byteOffset: number;
  readonly #header: RecordBatchHeader;
  readonly #records: RecordsSection;
  /** `baseTimestamp` as a number, once per batch, for `recordTimestampMillis`. */
  readonly #baseTimestampNumber: number;

  constructor(header: RecordBatchHeader, records: RecordsSection) {
    this.#header = header;
    this.#records = records;
    this.baseOffset = header.baseOffset;
    this.batchLength = header.batchLength;
    this.partitionLeaderEpoch = header.partitionLeaderEpoch;
    this.crc = header.crc;
    this.attributes = header.attributes;
    this.lastOffsetDelta = header.lastOffsetDelta;
    this.baseTimestamp = header.baseTimestamp;
    this.maxTimestamp = header.maxTimestamp;
    this.producerId = header.producerId;
    this.producerEpoch = header.producerEpoch;
    this.baseSequence = header.baseSequence;
    this.recordsCount = header.recordsCount;
    this.compression = compressionTypeFromId(header.attributes & compressionCodecMask, {
      field: 'RecordBatch.attributes',
      offset: records.byteOffset + 21,
    });
    this.timestampType = (header.attributes & timestampTypeBit) === 0 ? 'create-time' : 'log-append-time';
    this.isTransactional = (header.attributes & transactionalBit) !== 0;
    this.isControl = (header.attributes & controlBit) !== 0;
    this.hasDeleteHorizonMs = (header.attributes & deleteHorizonBit) !== 0;
    this.byteOffset = records.byteOffset;
    this.#baseTimestampNumber = Number(header.baseTimestamp);
  }

  /** The offset of the record `offsetDelta` past the base. */
  recordOffset(offsetDelta: number): bigint {
    return this.baseOffset + BigInt(offsetDelta);
  }

  /** A record's timestamp: with log-append time every record carries the batch's maxTimestamp (the append time). */
  recordTimestamp(timestampDelta: number | bigint): bigint {
    if (this.timestampType === 'log-append-time') return this.maxTimestamp;
    return addDelta(this.baseTimestamp, timestampDelta);
  }

  /** `recordTimestamp` as a number of milliseconds: exact for every safe-integer timestamp. */
  recordTimestampMillis(timestampDelta: number | bigint): number {
    if (this.timestampType === 'log-append-time') return Number(this.maxTimestamp);
    return addDeltaAsNumber(this.baseTimestamp, this.#baseTimestampNumber, timestampDelta);
  }

  /** Size of the whole batch on the wire. */
  get byteLength(): number {
    return logOverhead + this.batchLength;
  }

  get lastOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta);
  }

  /** The offset to fetch from after this batch. */
  get nextOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta) + 1n;
  }

  /** When the log cleaner may drop this batch's tombstones and markers (KIP-534); -1n when not set. */
  get deleteHorizonMs(): bigint {
    return this.hasDeleteHorizonMs ? this.baseTimestamp : -1n;
  }

  /** True until `decompress` or `decompressSync` has produced the plain records. */
  get needsDecompression(): boolean {
    return this.#records.compressed;
  }

  /** The records section: compressed as on the wire until decompressed. A view, not a copy. */
  get recordsBytes(): Uint8Array {
    return this.#records.data.subarray(this.#records.start, this.#records.end);
  }

  /**
   * A batch whose records can be iterated: this batch when it is not compressed, else a copy of its header over the
   * decompressed records. Large inputs decompress in libuv's thread pool (see `DecompressOptions`).
   */
  async decompress(options: DecompressOptions): Promise<RecordBatch> {
    if (!this.#records.compressed) return this;
    return this.#withRecords(await decompress(this.compression, this.recordsBytes, this.#decompressOptions(options)));
  }

  /** Like `decompress`, on the calling thread. */
  decompressSync(options: DecompressOptions): RecordBatch {
    if (!this.#records.compressed) return this;
    return this.#withRecords(decompressSync(this.compression, this.recordsBytes, this.#decompressOptions(options)));
  }

  /**
   * A cursor over the records that allocates nothing per record: read its fields after each `next()`.
   * Throws ProtocolError when the batch still needs decompression.
   */
  cursor(): RecordCursor {
    const records = this.#records;
    if (records.compressed) {
      throw new ProtocolError(`batch is ${this.compression}-compressed: decompress it before reading records`, {
        reason: 'invalid-value',
        field: 'RecordBatch.records',
        offset: records.byteOffset + recordBatchHeaderLength,
      });
    }
    return new RecordCursor(this, records.data, records.start, records.end);
  }

  /** Records as small objects whose key, value, offset and headers are computed on access. */
  *[Symbol.iterator](): Iterator<BatchRecord> {
    const cursor = this.cursor();
    while (cursor.next()) yield cursor.toRecord();
  }

  #decompressOptions(options: DecompressOptions): CodecDecompressOptions {
    return {
      ...options,
      field: options.field ?? 'RecordBatch.records',
      offset: options.offset ?? this.byteOffset + recordBatchHeaderLength,
    };
  }

  #withRecords(data: Uint8Array): RecordBatch {
    return new RecordBatch(this.#header, {
      byteOffset: this.byteOffset,
      data,
      start: 0,
      end: data.length,
      compressed: false,
    });
  }
}

export interface DecodeRecordBatchOptions {
  /** Verify each batch's CRC (Kafka's `check.crcs`). Default true. */
  readonly checkCrcs?: boolean;
}

/**
 * Decodes the v2 batch at `position`, which the caller has checked is complete: `data` holds all
 * 12 + batchLength bytes, with batchLength already read from it.
 */
export function decodeRecordBatchAt(
  data: Uint8Array,
  position: number,
  batchLength: number,
  options: DecodeRecordBatchOptions,
): RecordBatch {
  if (batchLength < recordBatchHeaderLength - logOverhead) {
    throw new ProtocolError(`batchLength ${batchLength} is shorter than a batch header`, {
      reason: 'invalid-value',
      field: 'RecordBatch.batchLength',
      offset: position + 8,
    });
  }
  const end = position + logOverhead + batchLength;
  const crc = readUint32(data, position + 17);
  if (options.checkCrcs !== false) {
    const computed = crc32c(data, position + 21, end);
    if (computed !== crc) {
      throw new ProtocolError(`CRC-32C is ${computed} but the batch says ${crc}`, {
        reason: 'crc-mismatch',
        field: 'RecordBatch.crc',
        offset: position + 17,
      });
    }
  }
  const recordsCount = readInt32(data, position + 57);
  if (recordsCount < 0) {
    throw new ProtocolError(`negative records count ${recordsCount}`, {
      reason: 'negative-length',
      field: 'RecordBatch.recordsCount',
      offset: position + 57,
    });
  }
  const attributes = readInt16(data, position + 21);
  const compressed = (attributes & compressionCodecMask) !== 0;
  // A record takes at least 7 bytes uncompressed; compressed counts are checked against the output instead.
  if (!compressed && recordsCount > end - position - recordBatchHeaderLength) {
    throw new ProtocolError(`records count ${recordsCount} exceeds the batch's bytes`, {
      reason: 'length-too-large',
      field: 'RecordBatch.recordsCount',
      offset: position + 57,
    });
  }
  const header: RecordBatchHeader = {
    baseOffset: readInt64(data, position),
    batchLength,
    partitionLeaderEpoch: readInt32(data, position + 12),
    magic: 2,
    crc,
    attributes,
    lastOffsetDelta: readInt32(data, position + 23),
    baseTimestamp: readInt64(data, position + 27),
    maxTimestamp: readInt64(data, position + 35),
    producerId: readInt64(data, position + 43),
    producerEpoch: readInt16(data, position + 51),
    baseSequence: readInt32(data, position + 53),
    recordsCount,
  };
  return new RecordBatch(header, {
    byteOffset: position,
    data,
    start: position + recordBatchHeaderLength,
    end,
    compressed,
  });
}
