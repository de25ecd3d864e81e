/**
 * Records as `poll` hands them out.
 *
 * A record of a v2 batch is a `FetchedRecord`: it remembers where its fields lie in the batch's bytes (the fetch
 * response, or a decompressed batch) and computes its offset, timestamp, key, value and headers when they are read.
 * Making one costs a few number fields copied from the record cursor; the bigints, the key and value views and the
 * header objects are built only for the fields the application reads.
 *
 * Lifetime: a record's key, value and header values are views into the memory of the response it came from. With
 * reused frame buffers (the default, `fetch.buffer.reuse`), that memory is handed to a later response once the
 * application polls again after the response's last record was handed out: the records of one `poll()` stay valid
 * until the next `poll()` (or `close()`). `detach()` returns a copy that owns its bytes, for records kept longer.
 */
import type { RecordBatch, RecordCursor, RecordHeader, TopicPartition } from '@sluice/protocol';
import { decodeRecordHeaders } from '@sluice/protocol';

export type TimestampType = 'create-time' | 'log-append-time' | 'none';

/** A record as the consumer returns it. */
export interface ConsumerRecord<Key = Uint8Array | null, Value = Uint8Array | null> extends TopicPartition {
  readonly offset: bigint;
  /** Milliseconds since the epoch; -1n when the record has none (message format v0). */
  readonly timestamp: bigint;
  readonly timestampType: TimestampType;
  readonly key: Key;
  readonly value: Value;
  readonly headers: readonly RecordHeader[];
  /** The leader epoch of the batch the record came from; -1 when unknown (legacy formats). */
  readonly leaderEpoch: number;
  /**
   * A copy of this record that owns its bytes (key and value when they are bytes, header values), valid after the
   * response it came from is reused. Records returned by one `poll()` are valid until the next `poll()` otherwise.
   */
  detach(): ConsumerRecord<Key, Value>;
}

/** The consumer's side of a record: deserialized in place, once, by `poll`. */
export interface DeserializableRecord extends ConsumerRecord<unknown, unknown> {
  /** Replaces the key and value the application sees (the deserializers' results). */
  deserialized(key: unknown, value: unknown): void;
}

/** Marks a key or value not replaced by a deserializer: the getter reads the bytes. */
const RAW: unique symbol = Symbol('raw');

const inspect = Symbol.for('nodejs.util.inspect.custom');

/** A record of a v2 batch whose fields are read from the batch's bytes on access. */
export class FetchedRecord implements DeserializableRecord {
  readonly topic: string;
  readonly partition: number;
  readonly #batch: RecordBatch;
  readonly #data: Uint8Array;
  readonly #offsetDelta: number;
  readonly #timestampDelta: number | bigint;
  readonly #keyStart: number;
  readonly #keyLength: number;
  readonly #valueStart: number;
  readonly #valueLength: number;
  readonly #headersStart: number;
  readonly #recordEnd: number;
  #key: unknown = RAW;
  #value: unknown = RAW;
  #headers: RecordHeader[] | null = null;

  /** The record `cursor` is on. */
  constructor(tp: TopicPartition, cursor: RecordCursor) {
    this.topic = tp.topic;
    this.partition = tp.partition;
    this.#batch = cursor.batch;
    this.#data = cursor.data;
    this.#offsetDelta = cursor.offsetDelta;
    this.#timestampDelta = cursor.timestampDelta;
    this.#keyStart = cursor.keyStart;
    this.#keyLength = cursor.keyLength;
    this.#valueStart = cursor.valueStart;
    this.#valueLength = cursor.valueLength;
    this.#headersStart = cursor.headersStart;
    this.#recordEnd = cursor.recordEnd;
  }

  get offset(): bigint {
    return this.#batch.recordOffset(this.#offsetDelta);
  }

  get timestamp(): bigint {
    return this.#batch.recordTimestamp(this.#timestampDelta);
  }

  /** The timestamp as a number of milliseconds (exact for every date a safe integer holds): no bigint made. */
  get timestampMillis(): number {
    return this.#batch.recordTimestampMillis(this.#timestampDelta);
  }

  get timestampType(): TimestampType {
    return this.#batch.timestampType;
  }

  get leaderEpoch(): number {
    return this.#batch.partitionLeaderEpoch;
  }

  get key(): never {
    if (this.#key !== RAW) return this.#key as never;
    const length = this.#keyLength;
    return (length < 0 ? null : this.#data.subarray(this.#keyStart, this.#keyStart + length)) as never;
  }

  get value(): never {
    if (this.#value !== RAW) return this.#value as never;
    const length = this.#valueLength;
    return (length < 0 ? null : this.#data.subarray(this.#valueStart, this.#valueStart + length)) as never;
  }

  /** Decoded on first access (and checked then: malformed headers throw ProtocolError). */
  get headers(): readonly RecordHeader[] {
    let headers = this.#headers;
    if (headers === null) {
      headers = decodeRecordHeaders(this.#data, this.#headersStart, this.#recordEnd);
      this.#headers = headers;
    }
    return headers;
  }

  deserialized(key: unknown, value: unknown): void {
    this.#key = key;
    this.#value = value;
  }

  detach(): ConsumerRecord<never, never> {
    return new PlainRecord({
      topic: this.topic,
      partition: this.partition,
      offset: this.offset,
      timestamp: this.timestamp,
      timestampType: this.timestampType,
      key: copyBytes(this.key),
      value: copyBytes(this.value),
      headers: copyHeaders(this.headers),
      leaderEpoch: this.leaderEpoch,
    }) as ConsumerRecord<never, never>;
  }

  toJSON(): Record<string, unknown> {
    return plainFields(this);
  }

  [inspect](): Record<string, unknown> {
    return plainFields(this);
  }
}

export interface PlainRecordFields extends TopicPartition {
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly timestampType: TimestampType;
  readonly key: unknown;
  readonly value: unknown;
  readonly headers: readonly RecordHeader[];
  readonly leaderEpoch: number;
}

/** A record with its fields as plain properties: records of legacy message sets, and detached copies. */
export class PlainRecord implements DeserializableRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly timestampType: TimestampType;
  key: never;
  value: never;
  readonly headers: readonly RecordHeader[];
  readonly leaderEpoch: number;

  constructor(fields: PlainRecordFields) {
    this.topic = fields.topic;
    this.partition = fields.partition;
    this.offset = fields.offset;
    this.timestamp = fields.timestamp;
    this.timestampType = fields.timestampType;
    this.key = fields.key as never;
    this.value = fields.value as never;
    this.headers = fields.headers;
    this.leaderEpoch = fields.leaderEpoch;
  }

  deserialized(key: unknown, value: unknown): void {
    this.key = key as never;
    this.value = value as never;
  }

  detach(): ConsumerRecord<never, never> {
    return new PlainRecord({
      ...this,
      key: copyBytes(this.key),
      value: copyBytes(this.value),
      headers: copyHeaders(this.headers),
    }) as ConsumerRecord<never, never>;
  }
}

function copyBytes<T>(value: T): T {
  // `new Uint8Array(view)` copies (a Buffer's own `slice` would be another view).
  return (value instanceof Uint8Array ? new Uint8Array(value) : value) as T;
}

function copyHeaders(headers: readonly RecordHeader[]): RecordHeader[] {
  return headers.map((header) => ({
    key: header.key,
    value: header.value === null ? null : new Uint8Array(header.value),
  }));
}

function plainFields(record: ConsumerRecord<unknown, unknown>): Record<string, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    key: record.key,
    value: record.value,
    headers: record.headers,
    leaderEpoch: record.leaderEpoch,
  };
}
