import {
  type CompressionType,
  encodeRecordBatchSync,
  encodeResponse,
  type FetchResponsePartitionData,
  fetchApi,
  type RecordInput,
  ZERO_UUID,
} from '@sluice/protocol';

/**
 * The Fetch version every decoder under test speaks: KafkaJS stops at v11, @platformatic/kafka starts at v4 and
 * Sluice reads v4-v18. v11 is the newest version the three share (and the last non-flexible one).
 */
export const fetchVersion = 11;

export const compressionTypes: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
export const recordSizes: readonly number[] = [100, 1000, 10_000];

export interface FixtureShape {
  /** Value bytes per record (keys and headers come on top). */
  readonly valueSize: number;
  readonly partitions: number;
  readonly batchesPerPartition: number;
  readonly recordsPerBatch: number;
}

/**
 * What a Java producer with default settings (batch.size 16 KiB, linger.ms 5, max.request.size 1 MiB) under steady
 * load leaves in the log, and what one Fetch with the default max.partition.fetch.bytes (1 MiB) brings back: one
 * topic, four partitions, about 1 MB of values per partition. Small records fill batches of 500 (a busy producer
 * with compression packs several hundred into one batch); large records make fewer, bigger batches, each far below
 * the 1 MiB message limit.
 */
export function fixtureShape(valueSize: number): FixtureShape {
  const partitions = 4;
  if (valueSize <= 100) return { valueSize, partitions, batchesPerPartition: 20, recordsPerBatch: 500 };
  if (valueSize <= 1000) return { valueSize, partitions, batchesPerPartition: 2, recordsPerBatch: 500 };
  return { valueSize, partitions, batchesPerPartition: 2, recordsPerBatch: 50 };
}

export interface Fixture {
  readonly shape: FixtureShape;
  readonly compression: CompressionType;
  /** The Fetch response body (after the size and the response header) as the broker sends it. */
  readonly body: Buffer;
  readonly records: number;
  readonly batches: number;
  /** Key and value bytes of every record: what "MB/s" counts. */
  readonly payloadBytes: number;
  /** Uncompressed size of all batches' records sections. */
  readonly recordsSectionBytes: number;
  /** The batches' records sections as they are on the wire (compressed unless `none`). */
  readonly compressedSections: readonly Buffer[];
  readonly lastOffset: bigint;
  readonly lastTimestamp: bigint;
}

/** mulberry32: a small seeded generator, so every run benchmarks the same bytes. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

const words = (
  'account active address amount apple basket billing blue browser cart category checkout city click code ' +
  'country coupon currency customer delivery device discount email error event express failed green home ' +
  'inventory invoice item label language latency login logout mobile order page payment pending phone price ' +
  'product profile purchase quantity red refund region release search session shipping signup size status ' +
  'stock store success tablet total tracking update user view warehouse web widget yellow zone'
).split(' ');
const events = ['page_view', 'add_to_cart', 'checkout', 'payment', 'search', 'login', 'refund'];

function pick<Item>(random: () => number, items: readonly Item[]): Item {
  return items[Math.floor(random() * items.length)]!;
}

function hex(random: () => number, length: number): string {
  let text = '';
  while (text.length < length)
    text += Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return text.slice(0, length);
}

/** A JSON-looking event of exactly `size` bytes: field names repeat, ids and numbers do not. */
export function jsonValue(random: () => number, size: number, timestamp: number): Uint8Array {
  let text =
    `{"id":"${hex(random, 16)}","event":"${pick(random, events)}","user":"user-${Math.floor(random() * 100_000)}",` +
    `"ts":${timestamp},"amount":${(random() * 1000).toFixed(2)},"items":[`;
  while (text.length < size) {
    text +=
      `{"sku":"${hex(random, 8)}","name":"${pick(random, words)} ${pick(random, words)}",` +
      `"qty":${1 + Math.floor(random() * 9)},"tags":["${pick(random, words)}","${pick(random, words)}"]},`;
  }
  return Buffer.from(text.slice(0, size), 'latin1');
}

const contentType = Buffer.from('application/json');
/** Bytes of a v2 batch before its records: baseOffset through recordsCount. */
const batchHeaderLength = 61;
const baseTimestamp = 1_750_000_000_000;

function batchRecords(random: () => number, shape: FixtureShape, firstTimestamp: number): RecordInput[] {
  const records: RecordInput[] = [];
  for (let index = 0; index < shape.recordsPerBatch; index++) {
    const timestamp = firstTimestamp + index * 2 + Math.floor(random() * 2);
    records.push({
      key: Buffer.from(`user-${Math.floor(random() * 100_000)}`),
      value: jsonValue(random, shape.valueSize, timestamp),
      headers: [
        { key: 'trace-id', value: Buffer.from(hex(random, 32)) },
        { key: 'content-type', value: contentType },
      ],
      timestamp: BigInt(timestamp),
    });
  }
  return records;
}

/** Builds the Fetch response for one size and codec, with Sluice's encoders (checked against Kafka's elsewhere). */
export function buildFixture(shape: FixtureShape, compression: CompressionType): Fixture {
  const random = seededRandom(shape.valueSize * 7919 + 17);
  const partitions: FetchResponsePartitionData[] = [];
  const compressedSections: Buffer[] = [];
  let records = 0;
  let payloadBytes = 0;
  let recordsSectionBytes = 0;
  let lastOffset = -1n;
  let lastTimestamp = -1n;
  for (let partitionIndex = 0; partitionIndex < shape.partitions; partitionIndex++) {
    const batches: Uint8Array[] = [];
    let offset = 1_000_000n * BigInt(partitionIndex + 1);
    for (let batchIndex = 0; batchIndex < shape.batchesPerPartition; batchIndex++) {
      const firstTimestamp = baseTimestamp + (partitionIndex * shape.batchesPerPartition + batchIndex) * 1000;
      const inputs = batchRecords(random, shape, firstTimestamp);
      const plain = encodeRecordBatchSync({ baseOffset: offset, partitionLeaderEpoch: 0, records: inputs });
      const batch = encodeRecordBatchSync({
        baseOffset: offset,
        partitionLeaderEpoch: 0,
        compression,
        records: inputs,
      });
      batches.push(batch);
      compressedSections.push(
        Buffer.from(batch.buffer, batch.byteOffset + batchHeaderLength, batch.byteLength - batchHeaderLength),
      );
      recordsSectionBytes += plain.byteLength - batchHeaderLength;
      for (const input of inputs) payloadBytes += (input.key?.length ?? 0) + (input.value?.length ?? 0);
      records += inputs.length;
      offset += BigInt(inputs.length);
      lastOffset = offset - 1n;
      lastTimestamp = inputs[inputs.length - 1]!.timestamp!;
    }
    partitions.push({
      partitionIndex,
      errorCode: 0,
      highWatermark: offset,
      lastStableOffset: offset,
      logStartOffset: 0n,
      divergingEpoch: { epoch: -1, endOffset: -1n },
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
      snapshotId: { endOffset: -1n, epoch: -1 },
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: Buffer.concat(batches),
    });
  }
  const encoded = encodeResponse(fetchApi, fetchVersion, {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [{ topic: 'bench-events', topicId: ZERO_UUID, partitions }],
    nodeEndpoints: [],
  });
  return {
    shape,
    compression,
    body: Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength),
    records,
    batches: shape.partitions * shape.batchesPerPartition,
    payloadBytes,
    recordsSectionBytes,
    compressedSections,
    lastOffset,
    lastTimestamp,
  };
}
