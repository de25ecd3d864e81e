import { type CompressionType, compressSync } from '../../src/compression/index.ts';
import { crc32c } from '../../src/records/checksums.ts';
import { encodeControlRecordKey, encodeRecordBatchSync, type RecordBatchInput } from '../../src/records/index.ts';
import type { InnerSection, Seed } from './corpus-types.ts';
import { type FieldPosition, recordsFieldPositions } from './field-positions.ts';
import { buildLegacyMessage, type LegacyMessageInput, sealLegacyMessage } from './legacy-message-builder.ts';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const recordBatchHeaderLength = 61;

/** One batch (or legacy message) with the seed parts relative to its first byte. */
interface BuiltBatch {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly positions: readonly FieldPosition[];
  readonly inner: readonly InnerSection[];
  readonly exceedsCap: boolean;
}

type Framing = 'xerial' | 'raw';

function sealBatch(batch: Uint8Array): Uint8Array {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  view.setInt32(8, batch.length - 12);
  view.setUint32(17, crc32c(batch, 21, batch.length));
  return batch;
}

const headerPositions: readonly FieldPosition[] = [
  { offset: 8, encoding: 'int32', size: 4 },
  { offset: 23, encoding: 'int32', size: 4 },
  { offset: 57, encoding: 'int32', size: 4 },
];

function v2Batch(name: string, input: RecordBatchInput, framing: Framing = 'xerial'): BuiltBatch {
  const compression = input.compression ?? 'none';
  const plainBatch = encodeRecordBatchSync({ ...input, compression: 'none' });
  const plain = plainBatch.subarray(recordBatchHeaderLength);
  const plainPositions = recordsFieldPositions(plain, 0, plain.length);
  if (compression === 'none') {
    const positions = [
      ...headerPositions,
      ...plainPositions.map((position) => ({ ...position, offset: position.offset + recordBatchHeaderLength })),
    ];
    return { name, bytes: plainBatch, positions, inner: [], exceedsCap: false };
  }
  const bytes = encodeRecordBatchSync(input, { snappyFraming: framing });
  const header = bytes.slice(0, recordBatchHeaderLength);
  const rebuild = (compressed: Uint8Array): Uint8Array => {
    const batch = new Uint8Array(recordBatchHeaderLength + compressed.length);
    batch.set(header, 0);
    batch.set(compressed, recordBatchHeaderLength);
    return sealBatch(batch);
  };
  const inner: InnerSection = {
    batchStart: 0,
    batchEnd: bytes.length,
    format: 'v2',
    compression,
    snappyFraming: framing,
    plain,
    plainPositions,
    rebuild,
  };
  return { name, bytes, positions: headerPositions, inner: [inner], exceedsCap: false };
}

/** A v2 batch whose records section is `compressed` as given (a bomb), with valid length and CRC. */
function v2BatchAround(name: string, compression: CompressionType, compressed: Uint8Array): BuiltBatch {
  const header = encodeRecordBatchSync({ compression: 'none', records: [] }).slice(0, recordBatchHeaderLength);
  header[22] = [0, 1, 2, 3, 4][['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(compression)]!;
  new DataView(header.buffer).setInt32(57, 1000);
  const batch = new Uint8Array(recordBatchHeaderLength + compressed.length);
  batch.set(header, 0);
  batch.set(compressed, recordBatchHeaderLength);
  return { name, bytes: sealBatch(batch), positions: headerPositions, inner: [], exceedsCap: true };
}

function legacyPlain(name: string, input: LegacyMessageInput): BuiltBatch {
  const built = buildLegacyMessage(input);
  return { name, bytes: built.bytes, positions: built.positions, inner: [], exceedsCap: false };
}

function legacyWrapper(
  name: string,
  magic: 0 | 1,
  compression: CompressionType,
  messages: readonly LegacyMessageInput[],
  options: { logAppendTime?: boolean; framing?: Framing } = {},
): BuiltBatch {
  const parts = messages.map((message) => buildLegacyMessage(message));
  const plain = new Uint8Array(parts.reduce((total, part) => total + part.bytes.length, 0));
  const plainPositions: FieldPosition[] = [];
  let position = 0;
  for (const part of parts) {
    plain.set(part.bytes, position);
    for (const field of part.positions) plainPositions.push({ ...field, offset: field.offset + position });
    position += part.bytes.length;
  }
  const framing = options.framing ?? 'xerial';
  // Legacy inner offsets: absolute in v0, relative in v1 with the wrapper carrying the last one (KIP-31).
  const lastOffset = magic === 1 ? 100n + BigInt(messages.length - 1) : messages[messages.length - 1]!.offset;
  const outer = { offset: lastOffset, magic, compression, logAppendTime: options.logAppendTime, timestamp: 1_700_000n };
  const rebuild = (compressed: Uint8Array): Uint8Array => {
    const wrapper = buildLegacyMessage({ ...outer, key: null, value: compressed });
    sealLegacyMessage(wrapper.bytes);
    return wrapper.bytes;
  };
  const built = buildLegacyMessage({
    ...outer,
    key: null,
    value: compressSync(compression, plain, { snappyFraming: framing }),
  });
  const inner: InnerSection = {
    batchStart: 0,
    batchEnd: built.bytes.length,
    format: 'legacy',
    compression,
    snappyFraming: framing,
    plain,
    plainPositions,
    rebuild,
  };
  return { name, bytes: built.bytes, positions: built.positions, inner: [inner], exceedsCap: false };
}

function sampleRecords(count: number): RecordBatchInput['records'] {
  const records = [];
  for (let index = 0; index < count; index++) {
    records.push({
      key: index % 3 === 2 ? null : text(`key-${index}`),
      value: index % 4 === 3 ? null : text(`value ${index} `.repeat(1 + (index % 3))),
      headers:
        index % 2 === 0
          ? [
              { key: 'trace', value: text(`t${index}`) },
              { key: '', value: null },
              { key: 'ünïcode', value: new Uint8Array(0) },
            ]
          : [],
      timestamp: 1_700_000_000_000n + BigInt(index * 17),
      offsetDelta: index,
    });
  }
  return records;
}

const codecs: readonly CompressionType[] = ['gzip', 'snappy', 'lz4', 'zstd'];

function legacyMessages(magic: 0 | 1, count: number): LegacyMessageInput[] {
  const messages: LegacyMessageInput[] = [];
  for (let index = 0; index < count; index++) {
    messages.push({
      offset: magic === 1 ? BigInt(index) : 500n + BigInt(index),
      magic,
      timestamp: 1_600_000_000_000n + BigInt(index),
      key: index % 2 === 0 ? text(`k${index}`) : null,
      value: index % 3 === 2 ? null : text(`legacy value ${index}`),
    });
  }
  return messages;
}

/** Every kind of batch the decoder meets, each valid on its own. */
export function buildBatches(bombs: ReadonlyMap<CompressionType, Uint8Array>): BuiltBatch[] {
  const batches: BuiltBatch[] = [
    v2Batch('v2 plain', { baseOffset: 42n, records: sampleRecords(4) }),
    v2Batch('v2 empty', { records: [] }),
    v2Batch('v2 one record', { baseOffset: 0n, records: [{ key: null, value: text('x') }] }),
    v2Batch('v2 log-append-time transactional', {
      baseOffset: (1n << 62n) + 5n,
      timestampType: 'log-append-time',
      isTransactional: true,
      producerId: 77n,
      producerEpoch: 3,
      baseSequence: 9,
      records: sampleRecords(3),
    }),
    v2Batch('v2 control commit', {
      isControl: true,
      isTransactional: true,
      records: [{ key: encodeControlRecordKey('commit'), value: Uint8Array.of(0, 0, 0, 0, 0, 0) }],
    }),
    v2Batch('v2 delete horizon', {
      hasDeleteHorizonMs: true,
      baseTimestamp: 1_800_000_000_000n,
      records: sampleRecords(2),
    }),
    v2Batch('v2 big deltas', {
      records: [
        { value: text('a'), timestamp: -(1n << 60n), offsetDelta: 2 ** 31 - 1 },
        { value: text('b'), timestamp: 1n << 60n, offsetDelta: -5 },
      ],
    }),
    legacyPlain('legacy v0', { offset: 7n, magic: 0, key: text('k'), value: text('v0 value') }),
    legacyPlain('legacy v1', { offset: 8n, magic: 1, timestamp: 1_600_000_000_000n, key: null, value: text('v1') }),
    legacyPlain('legacy v1 null value', { offset: 9n, magic: 1, logAppendTime: true, key: text('k'), value: null }),
  ];
  for (const compression of codecs) {
    batches.push(v2Batch(`v2 ${compression}`, { baseOffset: 1000n, compression, records: sampleRecords(5) }));
    for (const magic of [0, 1] as const) {
      batches.push(
        legacyWrapper(`legacy v${magic} ${compression} wrapper`, magic, compression, legacyMessages(magic, 3)),
      );
    }
  }
  batches.push(v2Batch('v2 snappy raw', { compression: 'snappy', records: sampleRecords(3) }, 'raw'));
  batches.push(
    legacyWrapper('legacy v1 snappy raw wrapper', 1, 'snappy', legacyMessages(1, 2), {
      framing: 'raw',
      logAppendTime: true,
    }),
  );
  for (const [compression, bomb] of bombs) batches.push(v2BatchAround(`v2 ${compression} bomb`, compression, bomb));
  return batches;
}

function region(name: string, parts: readonly BuiltBatch[], tail?: Uint8Array): Seed {
  const total = parts.reduce((sum, part) => sum + part.bytes.length, 0) + (tail?.length ?? 0);
  const bytes = new Uint8Array(total);
  const positions: FieldPosition[] = [];
  const inner: InnerSection[] = [];
  let offset = 0;
  for (const part of parts) {
    bytes.set(part.bytes, offset);
    for (const position of part.positions) positions.push({ ...position, offset: position.offset + offset });
    for (const section of part.inner) {
      inner.push({ ...section, batchStart: section.batchStart + offset, batchEnd: section.batchEnd + offset });
    }
    offset += part.bytes.length;
  }
  if (tail !== undefined) bytes.set(tail, offset);
  return {
    name: `records: ${name}`,
    target: { kind: 'records' },
    bytes,
    positions,
    inner,
    expectation: parts.some((part) => part.exceedsCap) ? 'exceeds-cap' : 'decodes',
  };
}

/** Records regions: every batch alone, pairs and triples in mixed formats, and regions cut inside a batch. */
export function recordSeeds(bombs: ReadonlyMap<CompressionType, Uint8Array>): Seed[] {
  const batches = buildBatches(bombs);
  const seeds: Seed[] = batches.map((batch) => region(batch.name, [batch]));
  const plain = batches.filter((batch) => !batch.exceedsCap);
  for (let index = 0; index < plain.length; index++) {
    const first = plain[index]!;
    const second = plain[(index * 7 + 3) % plain.length]!;
    const third = plain[(index * 5 + 1) % plain.length]!;
    seeds.push(region(`${first.name} + ${second.name}`, [first, second]));
    seeds.push(region(`${first.name} + ${second.name} + ${third.name}`, [first, second, third]));
    // A broker cuts the last batch at its size limit: the decoder must report it as truncated, not fail.
    const cut = third.bytes.subarray(0, Math.max(1, third.bytes.length >> 1));
    seeds.push(region(`${first.name} + cut ${third.name}`, [first], cut));
  }
  return seeds;
}
