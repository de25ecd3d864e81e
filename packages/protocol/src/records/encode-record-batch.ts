import {
  type CompressionType,
  type CompressOptions,
  compress,
  compressionTypeId,
  compressSync,
} from '../compression/index.ts';
import { ProtocolError } from '../errors.ts';
import { writeInt16, writeInt32, writeInt64 } from './bytes.ts';
import { crc32c } from './checksums.ts';
import {
  controlBit,
  deleteHorizonBit,
  recordBatchHeaderLength,
  type TimestampType,
  timestampTypeBit,
  transactionalBit,
} from './record-batch.ts';

export interface RecordHeaderInput {
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface RecordInput {
  readonly key?: Uint8Array | null;
  readonly value?: Uint8Array | null;
  readonly headers?: readonly RecordHeaderInput[];
  /** Default: the record's index in the batch. */
  readonly offsetDelta?: number;
  /** Absolute timestamp; default the batch's baseTimestamp. */
  readonly timestamp?: bigint;
  /** Record attributes (unused by Kafka so far). Default 0. */
  readonly attributes?: number;
}

export interface RecordBatchInput {
  readonly baseOffset?: bigint;
  readonly partitionLeaderEpoch?: number;
  readonly compression?: CompressionType;
  readonly timestampType?: TimestampType;
  readonly isTransactional?: boolean;
  readonly isControl?: boolean;
  /** Sets attribute bit 6: baseTimestamp then holds the delete horizon (KIP-534). */
  readonly hasDeleteHorizonMs?: boolean;
  /** Default: the first record's timestamp, or -1n for an empty batch. */
  readonly baseTimestamp?: bigint;
  /** Default: the largest record timestamp, or baseTimestamp for an empty batch. */
  readonly maxTimestamp?: bigint;
  /** Default: the largest offsetDelta, or 0 for an empty batch. */
  readonly lastOffsetDelta?: number;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly records: readonly RecordInput[];
}

/** A growable byte buffer for encoding; not used when decoding. */
class ByteSink {
  bytes = new Uint8Array(256);
  length = 0;

  #ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(value: number): void {
    this.#ensure(1);
    this.bytes[this.length++] = value;
  }

  raw(data: Uint8Array): void {
    this.#ensure(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** Zigzag int32. */
  varint(value: number): void {
    let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
    while (unsigned >= 0x80) {
      this.byte((unsigned & 0x7f) | 0x80);
      unsigned >>>= 7;
    }
    this.byte(unsigned);
  }

  /** Zigzag int64. */
  varlong(value: bigint): void {
    let unsigned = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    while (unsigned >= 0x80n) {
      this.byte(Number(unsigned & 0x7fn) | 0x80);
      unsigned >>= 7n;
    }
    this.byte(Number(unsigned));
  }

  nullableBytes(data: Uint8Array | null | undefined): void {
    if (data === null || data === undefined) {
      this.varint(-1);
      return;
    }
    this.varint(data.length);
    this.raw(data);
  }
}

const utf8 = new TextEncoder();

function checkInt(value: number, bits: 16 | 32, field: string): void {
  const limit = 2 ** (bits - 1);
  if (!Number.isInteger(value) || value < -limit || value >= limit) {
    throw new ProtocolError(`${value} is not an int${bits}`, { reason: 'invalid-value', field, offset: -1 });
  }
}

function checkInt64(value: bigint, field: string): void {
  if (BigInt.asIntN(64, value) !== value) {
    throw new ProtocolError(`${value} is not an int64`, { reason: 'invalid-value', field, offset: -1 });
  }
}

interface PreparedBatch {
  readonly header: Uint8Array;
  readonly records: Uint8Array;
  readonly compression: CompressionType;
}

function prepare(input: RecordBatchInput): PreparedBatch {
  const records = input.records;
  const baseTimestamp = input.baseTimestamp ?? records[0]?.timestamp ?? -1n;
  let maxTimestamp = input.maxTimestamp;
  let lastOffsetDelta = input.lastOffsetDelta;
  const sink = new ByteSink();
  const body = new ByteSink();
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    const offsetDelta = record.offsetDelta ?? index;
    const timestamp = record.timestamp ?? baseTimestamp;
    checkInt(offsetDelta, 32, 'RecordBatch.records[].offsetDelta');
    checkInt64(timestamp - baseTimestamp, 'RecordBatch.records[].timestampDelta');
    if (input.maxTimestamp === undefined && (maxTimestamp === undefined || timestamp > maxTimestamp)) {
      maxTimestamp = timestamp;
    }
    if (input.lastOffsetDelta === undefined && (lastOffsetDelta === undefined || offsetDelta > lastOffsetDelta)) {
      lastOffsetDelta = offsetDelta;
    }
    body.length = 0;
    body.byte(record.attributes ?? 0);
    body.varlong(timestamp - baseTimestamp);
    body.varint(offsetDelta);
    body.nullableBytes(record.key);
    body.nullableBytes(record.value);
    const headers = record.headers ?? [];
    body.varint(headers.length);
    for (const header of headers) {
      body.nullableBytes(utf8.encode(header.key));
      body.nullableBytes(header.value);
    }
    sink.varint(body.length);
    sink.raw(body.bytes.subarray(0, body.length));
  }

  const compression = input.compression ?? 'none';
  let attributes = compressionTypeId(compression);
  if (input.timestampType === 'log-append-time') attributes |= timestampTypeBit;
  if (input.isTransactional) attributes |= transactionalBit;
  if (input.isControl) attributes |= controlBit;
  if (input.hasDeleteHorizonMs) attributes |= deleteHorizonBit;

  const header = new Uint8Array(recordBatchHeaderLength);
  const baseOffset = input.baseOffset ?? 0n;
  const partitionLeaderEpoch = input.partitionLeaderEpoch ?? -1;
  const producerId = input.producerId ?? -1n;
  const producerEpoch = input.producerEpoch ?? -1;
  const baseSequence = input.baseSequence ?? -1;
  const finalMaxTimestamp = maxTimestamp ?? baseTimestamp;
  const finalLastOffsetDelta = lastOffsetDelta ?? 0;
  checkInt64(baseOffset, 'RecordBatch.baseOffset');
  checkInt64(baseTimestamp, 'RecordBatch.baseTimestamp');
  checkInt64(finalMaxTimestamp, 'RecordBatch.maxTimestamp');
  checkInt64(producerId, 'RecordBatch.producerId');
  checkInt(partitionLeaderEpoch, 32, 'RecordBatch.partitionLeaderEpoch');
  checkInt(producerEpoch, 16, 'RecordBatch.producerEpoch');
  checkInt(baseSequence, 32, 'RecordBatch.baseSequence');
  checkInt(finalLastOffsetDelta, 32, 'RecordBatch.lastOffsetDelta');
  writeInt64(header, 0, baseOffset);
  // batchLength (8) and crc (17) are written once the compressed size is known.
  writeInt32(header, 12, partitionLeaderEpoch);
  header[16] = 2;
  writeInt16(header, 21, attributes);
  writeInt32(header, 23, finalLastOffsetDelta);
  writeInt64(header, 27, baseTimestamp);
  writeInt64(header, 35, finalMaxTimestamp);
  writeInt64(header, 43, producerId);
  writeInt16(header, 51, producerEpoch);
  writeInt32(header, 53, baseSequence);
  writeInt32(header, 57, records.length);
  return { header, records: sink.bytes.subarray(0, sink.length), compression };
}

function assemble(header: Uint8Array, records: Uint8Array): Uint8Array {
  const batch = new Uint8Array(header.length + records.length);
  batch.set(header, 0);
  batch.set(records, header.length);
  writeInt32(batch, 8, batch.length - 12);
  writeInt32(batch, 17, crc32c(batch, 21, batch.length));
  return batch;
}

/** Encodes a v2 record batch, compressing on the calling thread. */
export function encodeRecordBatchSync(input: RecordBatchInput, options: CompressOptions = {}): Uint8Array {
  const prepared = prepare(input);
  return assemble(prepared.header, compressSync(prepared.compression, prepared.records, options));
}

/** Encodes a v2 record batch, compressing in libuv's thread pool. */
export async function encodeRecordBatch(input: RecordBatchInput, options: CompressOptions = {}): Promise<Uint8Array> {
  const prepared = prepare(input);
  return assemble(prepared.header, await compress(prepared.compression, prepared.records, options));
}
