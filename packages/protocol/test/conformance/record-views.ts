// One comparable shape for a batch as Sluice reads it and as Kafka's Java reads it (the oracle's `records-read`),
// and the record contents both sides are built from.
import { createHash } from 'node:crypto';
import type { BatchReadout, RecordInput as OracleRecordInput, RecordReadout } from '@sluice/tools-oracle';
import {
  type DecodedBatch,
  decodeControlRecordKey,
  decodeRecords,
  type KafkaRecord,
  LegacyRecordBatch,
  type RecordInput,
} from '../../src/index.ts';

export interface HeaderView {
  readonly key: string;
  readonly value: string | null;
}

export interface RecordView {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: readonly HeaderView[];
  readonly controlType?: string;
  readonly coordinatorEpoch?: number;
}

export interface BatchView {
  readonly magic: number;
  /** v2 only: Java computes a legacy wrapper's base offset from its inner messages, Sluice does not expose it. */
  readonly baseOffset?: string;
  readonly lastOffset: string;
  readonly codec: string;
  readonly attributes: number;
  readonly crc: number;
  readonly timestampType: string;
  readonly maxTimestamp: string;
  readonly producerId?: string;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly partitionLeaderEpoch?: number;
  readonly transactional?: boolean;
  readonly control?: boolean;
  readonly count?: number | null;
  readonly records: readonly RecordView[];
}

/** Short bytes as hex, long ones as their length and a hash prefix, so that a failure's diff stays readable. */
export function describeBytes(bytes: Uint8Array | null): string | null {
  if (bytes === null) return null;
  if (bytes.length <= 48) return `hex ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return `${bytes.length} bytes, sha256 ${digest}`;
}

const timestampTypeNames: Readonly<Record<string, string>> = {
  'create-time': 'create',
  'log-append-time': 'log-append',
  none: 'none',
};

const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

function sluiceRecordView(record: KafkaRecord, control: boolean): RecordView {
  const view: RecordView = {
    offset: record.offset.toString(),
    timestamp: record.timestamp.toString(),
    key: describeBytes(record.key),
    value: describeBytes(record.value),
    headers: record.headers().map((header) => ({ key: header.key, value: describeBytes(header.value) })),
  };
  if (!control) return view;
  const marker = decodeControlRecordKey(record.key);
  const value = record.value;
  const coordinatorEpoch =
    value === null ? undefined : new DataView(value.buffer, value.byteOffset, value.byteLength).getInt32(2);
  return { ...view, controlType: marker.type, ...(coordinatorEpoch === undefined ? {} : { coordinatorEpoch }) };
}

async function sluiceBatchView(batch: DecodedBatch): Promise<BatchView> {
  const readable = await batch.decompress({ maxDecompressedBytes: MAX_DECOMPRESSED_BYTES });
  if (readable instanceof LegacyRecordBatch) {
    return {
      magic: readable.magic,
      lastOffset: readable.lastOffset.toString(),
      codec: readable.compression,
      attributes: readable.attributes,
      crc: readable.crc,
      timestampType: timestampTypeNames[readable.timestampType]!,
      maxTimestamp: readable.timestamp.toString(),
      records: [...readable].map((record) => sluiceRecordView(record, false)),
    };
  }
  return {
    magic: readable.magic,
    baseOffset: readable.baseOffset.toString(),
    lastOffset: readable.lastOffset.toString(),
    codec: readable.compression,
    attributes: readable.attributes,
    crc: readable.crc,
    timestampType: timestampTypeNames[readable.timestampType]!,
    maxTimestamp: readable.maxTimestamp.toString(),
    producerId: readable.producerId.toString(),
    producerEpoch: readable.producerEpoch,
    baseSequence: readable.baseSequence,
    partitionLeaderEpoch: readable.partitionLeaderEpoch,
    transactional: readable.isTransactional,
    control: readable.isControl,
    count: readable.recordsCount,
    records: [...readable].map((record) => sluiceRecordView(record, readable.isControl)),
  };
}

export interface SluiceReading {
  readonly batches: BatchView[];
  readonly bytesConsumed: number;
  readonly truncated: boolean;
}

/** Sluice's reading: `decodeRecords` with CRC checks on, every batch decompressed, every record and header read. */
export async function readWithSluice(bytes: Uint8Array): Promise<SluiceReading> {
  const decoded = decodeRecords(bytes, { checkCrcs: true });
  const batches: BatchView[] = [];
  for (const batch of decoded.batches) batches.push(await sluiceBatchView(batch));
  return { batches, bytesConsumed: decoded.bytesConsumed, truncated: decoded.truncated };
}

function javaRecordView(record: RecordReadout): RecordView {
  return {
    offset: record.offset.toString(),
    timestamp: record.timestamp.toString(),
    key: describeBytes(record.key),
    value: describeBytes(record.value),
    headers: record.headers.map((header) => ({ key: header.key, value: describeBytes(header.value) })),
    ...(record.controlType === undefined ? {} : { controlType: record.controlType }),
    ...(record.coordinatorEpoch === undefined ? {} : { coordinatorEpoch: record.coordinatorEpoch }),
  };
}

/** Java's reading of one batch in the same shape; throws when Java found it invalid or could not read its records. */
export function javaBatchView(batch: BatchReadout): BatchView {
  if (!batch.valid) throw new Error(`Java finds the batch at ${batch.position} invalid: ${batch.invalidReason}`);
  if (batch.recordsError !== undefined) {
    throw new Error(`Java cannot read the records of the batch at ${batch.position}: ${batch.recordsError}`);
  }
  const common = {
    magic: batch.magic,
    lastOffset: batch.lastOffset.toString(),
    codec: batch.codec,
    attributes: batch.attributes,
    crc: batch.crc,
    timestampType: batch.timestampType,
    maxTimestamp: batch.maxTimestamp.toString(),
    records: batch.records.map(javaRecordView),
  };
  if (batch.magic < 2) return common;
  return {
    ...common,
    baseOffset: batch.baseOffset.toString(),
    producerId: batch.producerId.toString(),
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    transactional: batch.transactional,
    control: batch.control,
    count: batch.count,
  };
}

/** A record's contents, given once and handed to both Java's builder and Sluice's encoder. */
export interface RecordContents {
  readonly timestamp: bigint;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly { readonly key: string; readonly value: Uint8Array | null }[];
}

const text = new TextEncoder();

// A deterministic xorshift32, so that every run builds the same records.
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

const WORDS =
  'kafka sluice record batch offset fetch partition leader epoch zstd lz4 snappy gzip ünïcödé 日本 🚀'.split(' ');

/**
 * `length` bytes of text made of words picked at random: every codec compresses it (so compressed batches are
 * real), yet it is not so regular that one match covers it (so lz4 and snappy cut it into several blocks).
 */
export function wordyBytes(length: number, seed: number): Uint8Array {
  const next = generator(seed);
  const bytes = new Uint8Array(length);
  let position = 0;
  while (position < length) {
    const word = text.encode(`${WORDS[next() % WORDS.length]}${next() % 97} `);
    const take = Math.min(word.length, length - position);
    bytes.set(word.subarray(0, take), position);
    position += take;
  }
  return bytes;
}

/**
 * Four records around values of `valueSize` bytes: headers (a null value, an empty value, a non-ASCII key), a null
 * key, a null value (a tombstone), timestamps moving back and forth. `withHeaders` false for magic 0 and 1.
 */
export function recordContents(valueSize: number, options: { withHeaders: boolean; seed: number }): RecordContents[] {
  const { withHeaders, seed } = options;
  const base = 1_700_000_000_000n + BigInt(seed);
  const records: RecordContents[] = [
    {
      timestamp: base,
      key: text.encode(`key-${seed}`),
      value: wordyBytes(valueSize, seed),
      headers: withHeaders
        ? [
            { key: 'trace-id', value: text.encode(`trace-${seed}`) },
            { key: 'ünïcödé-日本', value: null },
            { key: '', value: new Uint8Array(0) },
          ]
        : [],
    },
    { timestamp: base + 5n, key: null, value: wordyBytes(valueSize, seed + 1), headers: [] },
    { timestamp: base - 3n, key: text.encode('tombstone'), value: null, headers: [] },
    {
      timestamp: base + 86_400_000n,
      key: new Uint8Array(0),
      value: wordyBytes(valueSize, seed + 2),
      headers: withHeaders ? [{ key: 'size', value: wordyBytes(Math.ceil(valueSize / 10), seed + 3) }] : [],
    },
  ];
  return records;
}

export function toOracleRecords(records: readonly RecordContents[]): OracleRecordInput[] {
  return records.map((record) => ({
    timestamp: record.timestamp,
    key: record.key,
    value: record.value,
    ...(record.headers.length === 0 ? {} : { headers: record.headers }),
  }));
}

export function toSluiceRecords(records: readonly RecordContents[]): RecordInput[] {
  return records.map((record) => ({
    timestamp: record.timestamp,
    key: record.key,
    value: record.value,
    headers: record.headers,
  }));
}

/** The records as they must read back: offsets from `baseOffset` on, timestamps as given (or none, for magic 0). */
export function expectedRecordViews(
  records: readonly RecordContents[],
  options: { baseOffset: bigint; timestamps: 'given' | 'none' | bigint },
): RecordView[] {
  const { baseOffset, timestamps } = options;
  return records.map((record, index) => ({
    offset: (baseOffset + BigInt(index)).toString(),
    timestamp: (timestamps === 'given' ? record.timestamp : timestamps === 'none' ? -1n : timestamps).toString(),
    key: describeBytes(record.key),
    value: describeBytes(record.value),
    headers: record.headers.map((header) => ({ key: header.key, value: describeBytes(header.value) })),
  }));
}

/**
 * How many blocks a compressed records section holds, for the codecs whose framing has blocks: xerial-framed
 * snappy (a 16-byte header, then int32 length + block, 32 KiB of input per block as Kafka writes it) and the lz4
 * frame (7-byte header, then little-endian uint32 size + block, until a zero end mark). Raw snappy counts as 1.
 */
export function compressionBlockCount(codec: 'snappy' | 'lz4', section: Uint8Array): number {
  const view = new DataView(section.buffer, section.byteOffset, section.byteLength);
  let blocks = 0;
  if (codec === 'snappy') {
    if (section[0] !== 0x82) return 1;
    for (let position = 16; position < section.length; position += 4 + view.getInt32(position)) blocks++;
    return blocks;
  }
  const descriptor = section[4]!;
  const blockChecksums = (descriptor & 0x10) !== 0;
  let position = 4 + 2 + ((descriptor & 0x08) !== 0 ? 8 : 0) + 1;
  for (;;) {
    const size = view.getUint32(position, true);
    if (size === 0) return blocks;
    position += 4 + (size & 0x7fffffff) + (blockChecksums ? 4 : 0);
    blocks++;
  }
}

export function largestTimestamp(records: readonly RecordContents[]): bigint {
  let largest = -1n;
  for (const record of records) if (record.timestamp > largest) largest = record.timestamp;
  return largest;
}
