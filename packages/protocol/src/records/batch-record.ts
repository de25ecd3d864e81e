import type { KafkaRecord } from './kafka-record.ts';
import type { RecordBatch } from './record-batch.ts';
import type { RecordCursor } from './record-cursor.ts';
import { decodeRecordHeaders, type RecordHeader } from './record-headers.ts';

/**
 * One record of a v2 batch. It holds numbers (deltas and positions) and a reference to its batch; the offset,
 * timestamp, key, value and headers are built when read.
 */
export class BatchRecord implements KafkaRecord {
  readonly batch: RecordBatch;
  readonly attributes: number;
  readonly offsetDelta: number;
  /** A number whenever it is a safe integer, else an exact bigint. */
  readonly timestampDelta: number | bigint;
  /** -1 for a null key. */
  readonly keyLength: number;
  /** -1 for a null value. */
  readonly valueLength: number;
  readonly #data: Uint8Array;
  readonly #keyStart: number;
  readonly #valueStart: number;
  readonly #headersStart: number;
  readonly #recordEnd: number;

  constructor(cursor: RecordCursor) {
    this.batch = cursor.batch;
    this.attributes = cursor.attributes;
    this.offsetDelta = cursor.offsetDelta;
    this.timestampDelta = cursor.timestampDelta;
    this.keyLength = cursor.keyLength;
    this.valueLength = cursor.valueLength;
    this.#data = cursor.data;
    this.#keyStart = cursor.keyStart;
    this.#valueStart = cursor.valueStart;
    this.#headersStart = cursor.headersStart;
    this.#recordEnd = cursor.recordEnd;
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
    return this.keyLength < 0 ? null : this.#data.subarray(this.#keyStart, this.#keyStart + this.keyLength);
  }

  get value(): Uint8Array | null {
    return this.valueLength < 0 ? null : this.#data.subarray(this.#valueStart, this.#valueStart + this.valueLength);
  }

  headers(): RecordHeader[] {
    return decodeRecordHeaders(this.#data, this.#headersStart, this.#recordEnd);
  }
}
