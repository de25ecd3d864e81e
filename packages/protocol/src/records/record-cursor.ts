import { ProtocolError } from '../errors.ts';
import { BatchRecord } from './batch-record.ts';
import type { RecordBatch } from './record-batch.ts';
import { decodeRecordHeaders, type RecordHeader } from './record-headers.ts';
import { VarintReader } from './varint-reader.ts';

/**
 * Walks the records of one uncompressed batch without allocating per record: `next()` reads the next record's
 * fixed fields and remembers where its key, value and headers lie; the accessors build views, bigints or header
 * objects only when called. The cursor is reused from record to record, so copy what you keep (or call
 * `toRecord()`).
 *
 * Record layout (v2): length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
 * keyLength varint (-1 = null), key, valueLength varint (-1 = null), value, headers count varint, headers.
 */
export class RecordCursor {
  readonly batch: RecordBatch;
  /** The bytes the records are in; the positions below index into it. */
  readonly data: Uint8Array;
  attributes = 0;
  offsetDelta = 0;
  /** A number whenever it is a safe integer, else an exact bigint. */
  timestampDelta: number | bigint = 0;
  keyStart = 0;
  /** -1 for a null key. */
  keyLength = -1;
  valueStart = 0;
  /** -1 for a null value. */
  valueLength = -1;
  /** Where the headers count starts; headers run to `recordEnd`. */
  headersStart = 0;
  recordEnd = 0;
  readonly #reader: VarintReader;
  readonly #end: number;
  #remaining: number;

  constructor(batch: RecordBatch, data: Uint8Array, start: number, end: number) {
    this.batch = batch;
    this.data = data;
    this.#reader = new VarintReader(data, start, end);
    this.#end = end;
    this.#remaining = batch.recordsCount;
  }

  /** Moves to the next record; false after the last one. Throws ProtocolError for malformed records. */
  next(): boolean {
    const reader = this.#reader;
    if (this.#remaining === 0) {
      if (reader.position !== this.#end) {
        throw new ProtocolError(`${this.#end - reader.position} bytes follow the batch's declared records`, {
          reason: 'invalid-value',
          field: 'RecordBatch.recordsCount',
          offset: reader.position,
        });
      }
      return false;
    }
    this.#remaining--;
    reader.limit = this.#end;
    const lengthStart = reader.position;
    const length = reader.readVarint('RecordBatch.records[].length');
    if (length < 0) throw lengthError('negative-length', 'length', length, lengthStart);
    const recordEnd = reader.position + length;
    if (recordEnd > this.#end) throw lengthError('length-too-large', 'length', length, lengthStart);
    reader.limit = recordEnd;
    if (reader.position >= recordEnd) throw truncated('attributes', reader.position);
    this.attributes = this.data[reader.position++]!;
    this.timestampDelta = reader.readVarlong('RecordBatch.records[].timestampDelta');
    this.offsetDelta = reader.readVarint('RecordBatch.records[].offsetDelta');
    this.keyLength = skipBytes(reader, 'keyLength');
    this.keyStart = reader.position - Math.max(this.keyLength, 0);
    this.valueLength = skipBytes(reader, 'valueLength');
    this.valueStart = reader.position - Math.max(this.valueLength, 0);
    if (reader.position >= recordEnd) throw truncated('headers', reader.position);
    this.headersStart = reader.position;
    this.recordEnd = recordEnd;
    reader.position = recordEnd;
    return true;
  }

  get offset(): bigint {
    return this.batch.recordOffset(this.offsetDelta);
  }

  /** With log-append time, every record carries the batch's maxTimestamp (the broker's append time). */
  get timestamp(): bigint {
    return this.batch.recordTimestamp(this.timestampDelta);
  }

  get timestampMillis(): number {
    return this.batch.recordTimestampMillis(this.timestampDelta);
  }

  get key(): Uint8Array | null {
    return this.keyLength < 0 ? null : this.data.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  get value(): Uint8Array | null {
    return this.valueLength < 0 ? null : this.data.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  headers(): RecordHeader[] {
    return decodeRecordHeaders(this.data, this.headersStart, this.recordEnd);
  }

  /** The current record as an object of its own, still viewing the same bytes. */
  toRecord(): BatchRecord {
    return new BatchRecord(this);
  }
}

const keyLengthField = 'RecordBatch.records[].keyLength';
const valueLengthField = 'RecordBatch.records[].valueLength';

/** Reads a nullable byte-array length, checks it against the record, and moves past the bytes. */
function skipBytes(reader: VarintReader, name: 'keyLength' | 'valueLength'): number {
  const lengthStart = reader.position;
  // Constant field names: building the path per record would allocate a string per record.
  const length = reader.readVarint(name === 'keyLength' ? keyLengthField : valueLengthField);
  if (length < -1) throw lengthError('negative-length', name, length, lengthStart);
  if (length > 0) {
    if (length > reader.limit - reader.position) throw lengthError('length-too-large', name, length, lengthStart);
    reader.position += length;
  }
  return length;
}

function lengthError(
  reason: 'negative-length' | 'length-too-large',
  name: string,
  length: number,
  offset: number,
): ProtocolError {
  const problem = reason === 'negative-length' ? 'is negative' : 'exceeds the bytes left';
  return new ProtocolError(`${name} ${length} ${problem}`, { reason, field: `RecordBatch.records[].${name}`, offset });
}

function truncated(name: string, offset: number): ProtocolError {
  return new ProtocolError(`record ends before its ${name}`, {
    reason: 'truncated',
    field: `RecordBatch.records[].${name}`,
    offset,
  });
}
