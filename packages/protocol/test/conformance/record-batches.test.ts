// Conformance of record batches against Kafka 4.4's own MemoryRecords (tools/oracle: records-build, records-read).
//
// Java -> Sluice: Kafka's MemoryRecordsBuilder writes
//   - magic 2 batches in none, gzip, snappy, lz4 and zstd, without a producer and with a transactional producer
//     (producer id beyond 2^32, epoch, base sequence, leader epoch, base offset beyond 2^53), with create time and
//     with log-append time;
//   - magic 0 and magic 1 message sets in none, gzip, snappy and lz4 (one wrapper message when compressed);
//   - commit and abort control batches (end-transaction markers);
//   - a stream of several batches of mixed formats ending in a partial batch, as a fetch response carries them;
// with values of 10 B, 1 KiB and 100 KiB (so xerial snappy's 32 KiB blocks and lz4's 64 KiB frame blocks repeat),
// headers (null value, empty value, non-ASCII key), null keys, empty keys and null values. Sluice's
// `decodeRecords` (CRC checks on) plus `decompress` reads each: every batch's fields (offsets, CRC, attributes,
// timestamps, producer fields, count) equal Java's reading, and every record (offset, timestamp, key, value,
// headers, control marker) equals Java's and the records the batch was built from.
//
// Sluice -> Java: Sluice's `encodeRecordBatch` writes the same kinds of v2 batches in every codec (snappy in xerial
// framing, as Kafka writes it, and raw), a control batch and a log-append batch. Java's `records-read` finds each
// valid (CRC-32C ok), reads all its records, and lists the same batch fields and records as given. Moreover,
// uncompressed, Sluice's batch is byte for byte the batch Kafka's builder writes for the same records; compressed,
// the headers are the same but for length and CRC, and the records section decompressed from Kafka's batch is byte
// for byte Sluice's records section.
import { type BuildRecordsOptions, type CompressionCodec, type Oracle, startOracle } from '@sluice/tools-oracle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeRecords,
  encodeControlRecordKey,
  encodeRecordBatch,
  type RecordBatch,
  type RecordBatchInput,
} from '../../src/index.ts';
import {
  compressionBlockCount,
  expectedRecordViews,
  javaBatchView,
  largestTimestamp,
  readWithSluice,
  recordContents,
  toOracleRecords,
  toSluiceRecords,
} from './record-views.ts';

const BATCH_CODECS: readonly CompressionCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
// Kafka refuses zstd below magic 2.
const LEGACY_CODECS: readonly CompressionCodec[] = ['none', 'gzip', 'snappy', 'lz4'];
const VALUE_SIZES = [10, 1024, 100 * 1024];
const RECORD_BATCH_HEADER_LENGTH = 61;

interface ProducerVariant {
  readonly name: string;
  readonly baseOffset: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly transactional: boolean;
  readonly partitionLeaderEpoch: number;
}

const PRODUCERS: readonly ProducerVariant[] = [
  {
    name: 'no producer',
    baseOffset: 0n,
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
    transactional: false,
    partitionLeaderEpoch: -1,
  },
  {
    name: 'transactional producer',
    baseOffset: 2n ** 53n + 5n,
    producerId: 2n ** 40n + 7n,
    producerEpoch: 3,
    baseSequence: 17,
    transactional: true,
    partitionLeaderEpoch: 9,
  },
];

const LOG_APPEND_TIME = 1_800_000_000_123n;

let oracle: Oracle;
const casesRun = { javaToSluice: 0, sluiceToJava: 0 };

beforeAll(async () => {
  oracle = await startOracle();
}, 120_000);

afterAll(async () => {
  console.log(
    `conformance, record batches: ${casesRun.javaToSluice} built by Java and read by Sluice, ` +
      `${casesRun.sluiceToJava} encoded by Sluice and read by Java`,
  );
  await oracle?.close();
});

function javaOptions(producer: ProducerVariant): BuildRecordsOptions {
  return {
    baseOffset: producer.baseOffset,
    producerId: producer.producerId,
    producerEpoch: producer.producerEpoch,
    baseSequence: producer.baseSequence,
    transactional: producer.transactional,
    partitionLeaderEpoch: producer.partitionLeaderEpoch,
  };
}

function sluiceInput(producer: ProducerVariant): Omit<RecordBatchInput, 'records'> {
  return {
    baseOffset: producer.baseOffset,
    producerId: producer.producerId,
    producerEpoch: producer.producerEpoch,
    baseSequence: producer.baseSequence,
    isTransactional: producer.transactional,
    partitionLeaderEpoch: producer.partitionLeaderEpoch,
  };
}

/** Java's and Sluice's readings of the same bytes agree; returns them for further checks. */
async function readBoth(bytes: Uint8Array) {
  const [java, sluice] = await Promise.all([oracle.readRecords(bytes), readWithSluice(bytes)]);
  const javaBatches = java.batches.map(javaBatchView);
  expect(sluice.batches).toEqual(javaBatches);
  expect(sluice.bytesConsumed).toBe(java.size - java.trailing);
  expect(sluice.truncated).toBe(java.trailing > 0);
  return { java, javaBatches, sluice };
}

/**
 * With 100 KiB values, the framing must hold several blocks, or the case proves less: xerial snappy from both
 * sides; lz4 from Kafka's side only, since Sluice's lz4 (lz4_flex) writes blocks of up to 4 MiB (a frame descriptor
 * Kafka's reader accepts, shown by the Sluice -> Java cases) where Kafka's writer cuts 64 KiB blocks.
 */
function expectSeveralBlocks(
  codecs: readonly CompressionCodec[],
  codec: CompressionCodec,
  size: number,
  bytes: Uint8Array,
) {
  if (size < 100 * 1024 || !codecs.includes(codec) || (codec !== 'snappy' && codec !== 'lz4')) return;
  const batch = decodeRecords(bytes).batches[0] as RecordBatch;
  expect(compressionBlockCount(codec, batch.recordsBytes)).toBeGreaterThan(2);
}

function hexRange(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.subarray(start, end)).toString('hex');
}

describe('Java -> Sluice: Sluice reads the batches Kafka writes as Kafka reads them', () => {
  describe('magic 2', () => {
    for (const codec of BATCH_CODECS) {
      for (const size of VALUE_SIZES) {
        for (const producer of PRODUCERS) {
          it(`${codec}, values of ${size} B, ${producer.name}`, async () => {
            const records = recordContents(size, { withHeaders: true, seed: size });
            const bytes = await oracle.buildRecords({
              ...javaOptions(producer),
              codec,
              records: toOracleRecords(records),
            });
            const { javaBatches } = await readBoth(bytes);
            expect(javaBatches).toHaveLength(1);
            const batch = javaBatches[0]!;
            expect(batch).toMatchObject({
              magic: 2,
              codec,
              baseOffset: producer.baseOffset.toString(),
              producerId: producer.producerId.toString(),
              producerEpoch: producer.producerEpoch,
              baseSequence: producer.baseSequence,
              transactional: producer.transactional,
              partitionLeaderEpoch: producer.partitionLeaderEpoch,
              timestampType: 'create',
            });
            expect(batch.records).toEqual(
              expectedRecordViews(records, { baseOffset: producer.baseOffset, timestamps: 'given' }),
            );
            casesRun.javaToSluice++;
          });
        }
      }
      it(`${codec}, log-append time`, async () => {
        const records = recordContents(1024, { withHeaders: true, seed: 7 });
        const bytes = await oracle.buildRecords({
          codec,
          timestampType: 'log-append',
          logAppendTime: LOG_APPEND_TIME,
          baseOffset: 300n,
          records: toOracleRecords(records),
        });
        const { javaBatches } = await readBoth(bytes);
        expect(javaBatches[0]).toMatchObject({ timestampType: 'log-append', maxTimestamp: LOG_APPEND_TIME.toString() });
        expect(javaBatches[0]!.records).toEqual(
          expectedRecordViews(records, { baseOffset: 300n, timestamps: LOG_APPEND_TIME }),
        );
        casesRun.javaToSluice++;
      });
    }

    for (const type of ['commit', 'abort'] as const) {
      it(`a control batch: ${type} marker`, async () => {
        const bytes = await oracle.buildRecords({
          control: { type, coordinatorEpoch: 7 },
          baseOffset: 12n,
          producerId: 4000n,
          producerEpoch: 3,
          partitionLeaderEpoch: 5,
          timestamp: 1_700_000_000_000n,
        });
        const { javaBatches } = await readBoth(bytes);
        expect(javaBatches).toHaveLength(1);
        expect(javaBatches[0]).toMatchObject({ control: true, transactional: true, producerId: '4000' });
        expect(javaBatches[0]!.records).toMatchObject([{ offset: '12', controlType: type, coordinatorEpoch: 7 }]);
        casesRun.javaToSluice++;
      });
    }
  });

  for (const magic of [0, 1] as const) {
    describe(`magic ${magic}`, () => {
      for (const codec of LEGACY_CODECS) {
        for (const size of VALUE_SIZES) {
          it(`${codec}, values of ${size} B`, async () => {
            const records = recordContents(size, { withHeaders: false, seed: size + magic });
            const bytes = await oracle.buildRecords({
              magic,
              codec,
              baseOffset: 1000n,
              records: toOracleRecords(records),
            });
            const { javaBatches } = await readBoth(bytes);
            // Uncompressed: one message per record; compressed: one wrapper holding them all.
            expect(javaBatches).toHaveLength(codec === 'none' ? records.length : 1);
            expect(javaBatches.flatMap((batch) => batch.records)).toEqual(
              expectedRecordViews(records, { baseOffset: 1000n, timestamps: magic === 0 ? 'none' : 'given' }),
            );
            casesRun.javaToSluice++;
          });
        }
      }
    });
  }

  it('magic 1, gzip, log-append time: the wrapper time applies to every inner message', async () => {
    const records = recordContents(1024, { withHeaders: false, seed: 11 });
    const bytes = await oracle.buildRecords({
      magic: 1,
      codec: 'gzip',
      timestampType: 'log-append',
      logAppendTime: LOG_APPEND_TIME,
      records: toOracleRecords(records),
    });
    const { javaBatches } = await readBoth(bytes);
    expect(javaBatches[0]).toMatchObject({ timestampType: 'log-append', maxTimestamp: LOG_APPEND_TIME.toString() });
    expect(javaBatches[0]!.records).toEqual(
      expectedRecordViews(records, { baseOffset: 0n, timestamps: LOG_APPEND_TIME }),
    );
    casesRun.javaToSluice++;
  });

  it('a fetch-like stream: batches of every format one after another, then a partial batch', async () => {
    const parts = await Promise.all([
      oracle.buildRecords({
        magic: 0,
        codec: 'snappy',
        baseOffset: 0n,
        records: toOracleRecords(recordContents(10, { withHeaders: false, seed: 1 })),
      }),
      oracle.buildRecords({
        magic: 1,
        codec: 'none',
        baseOffset: 4n,
        records: toOracleRecords(recordContents(10, { withHeaders: false, seed: 2 })),
      }),
      oracle.buildRecords({
        codec: 'zstd',
        baseOffset: 8n,
        records: toOracleRecords(recordContents(1024, { withHeaders: true, seed: 3 })),
      }),
      oracle.buildRecords({ control: { type: 'commit' }, baseOffset: 12n, producerId: 9n, producerEpoch: 0 }),
      oracle.buildRecords({
        codec: 'lz4',
        baseOffset: 13n,
        records: toOracleRecords(recordContents(100 * 1024, { withHeaders: true, seed: 4 })),
      }),
      oracle.buildRecords({
        codec: 'gzip',
        baseOffset: 17n,
        records: toOracleRecords(recordContents(1024, { withHeaders: true, seed: 5 })),
      }),
    ]);
    const last = parts.pop()!;
    const stream = Buffer.concat([...parts, last.subarray(0, last.length - 100)]);
    const { javaBatches, sluice } = await readBoth(stream);
    expect(sluice.truncated).toBe(true);
    // magic 1 uncompressed gives one batch per record (4).
    expect(javaBatches).toHaveLength(1 + 4 + 1 + 1 + 1);
    casesRun.javaToSluice++;
  });
});

describe('Sluice -> Java: Kafka reads the batches Sluice writes, valid, with the same records', () => {
  for (const codec of BATCH_CODECS) {
    for (const size of VALUE_SIZES) {
      for (const producer of PRODUCERS) {
        it(`${codec}, values of ${size} B, ${producer.name}`, async () => {
          const records = recordContents(size, { withHeaders: true, seed: size + 100 });
          const bytes = await encodeRecordBatch({
            ...sluiceInput(producer),
            compression: codec,
            records: toSluiceRecords(records),
          });
          expectSeveralBlocks(['snappy'], codec, size, bytes);
          const { java, javaBatches } = await readBoth(bytes);
          expect(java.trailing).toBe(0);
          expect(javaBatches).toHaveLength(1);
          expect(javaBatches[0]).toMatchObject({
            magic: 2,
            codec,
            baseOffset: producer.baseOffset.toString(),
            lastOffset: (producer.baseOffset + BigInt(records.length - 1)).toString(),
            producerId: producer.producerId.toString(),
            producerEpoch: producer.producerEpoch,
            baseSequence: producer.baseSequence,
            transactional: producer.transactional,
            partitionLeaderEpoch: producer.partitionLeaderEpoch,
            control: false,
            timestampType: 'create',
            maxTimestamp: largestTimestamp(records).toString(),
            count: records.length,
          });
          expect(javaBatches[0]!.records).toEqual(
            expectedRecordViews(records, { baseOffset: producer.baseOffset, timestamps: 'given' }),
          );

          // The same records through Kafka's builder: the same bytes uncompressed; compressed, the same header but
          // for length and CRC, and the same records once decompressed.
          const javaBytes = await oracle.buildRecords({
            ...javaOptions(producer),
            codec,
            records: toOracleRecords(records),
          });
          if (codec === 'none') {
            expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(javaBytes).toString('hex'));
          } else {
            expect(
              hexRange(bytes, 0, 8) + hexRange(bytes, 12, 17) + hexRange(bytes, 21, RECORD_BATCH_HEADER_LENGTH),
            ).toBe(
              hexRange(javaBytes, 0, 8) +
                hexRange(javaBytes, 12, 17) +
                hexRange(javaBytes, 21, RECORD_BATCH_HEADER_LENGTH),
            );
            const plain = await encodeRecordBatch({ ...sluiceInput(producer), records: toSluiceRecords(records) });
            const javaBatch = decodeRecords(javaBytes).batches[0] as RecordBatch;
            const decompressed = await javaBatch.decompress({ maxDecompressedBytes: 64 * 1024 * 1024 });
            expect(Buffer.from(decompressed.recordsBytes).equals(plain.subarray(RECORD_BATCH_HEADER_LENGTH))).toBe(
              true,
            );
          }
          casesRun.sluiceToJava++;
        });
      }
    }
  }

  for (const size of VALUE_SIZES) {
    it(`snappy in raw framing (no xerial header), values of ${size} B`, async () => {
      const records = recordContents(size, { withHeaders: true, seed: size + 200 });
      const bytes = await encodeRecordBatch(
        { compression: 'snappy', baseOffset: 50n, records: toSluiceRecords(records) },
        { snappyFraming: 'raw' },
      );
      const { javaBatches } = await readBoth(bytes);
      expect(javaBatches[0]!.records).toEqual(expectedRecordViews(records, { baseOffset: 50n, timestamps: 'given' }));
      casesRun.sluiceToJava++;
    });
  }

  it('log-append time: Kafka gives every record the batch time', async () => {
    const records = recordContents(1024, { withHeaders: true, seed: 300 });
    const bytes = await encodeRecordBatch({
      compression: 'lz4',
      timestampType: 'log-append-time',
      maxTimestamp: LOG_APPEND_TIME,
      baseOffset: 70n,
      records: toSluiceRecords(records),
    });
    const { javaBatches } = await readBoth(bytes);
    expect(javaBatches[0]).toMatchObject({ timestampType: 'log-append', maxTimestamp: LOG_APPEND_TIME.toString() });
    expect(javaBatches[0]!.records).toEqual(
      expectedRecordViews(records, { baseOffset: 70n, timestamps: LOG_APPEND_TIME }),
    );
    casesRun.sluiceToJava++;
  });

  for (const type of ['commit', 'abort'] as const) {
    it(`a control batch: ${type} marker, byte for byte Kafka's`, async () => {
      const coordinatorEpoch = 7;
      const marker = new Uint8Array(6);
      new DataView(marker.buffer).setInt32(2, coordinatorEpoch); // version 0, then the coordinator epoch
      const bytes = await encodeRecordBatch({
        isControl: true,
        isTransactional: true,
        baseOffset: 12n,
        producerId: 4000n,
        producerEpoch: 3,
        partitionLeaderEpoch: 5,
        records: [{ key: encodeControlRecordKey(type), value: marker, timestamp: 1_700_000_000_000n }],
      });
      const { javaBatches } = await readBoth(bytes);
      expect(javaBatches[0]).toMatchObject({ control: true, transactional: true, producerId: '4000', count: 1 });
      expect(javaBatches[0]!.records).toMatchObject([{ offset: '12', controlType: type, coordinatorEpoch }]);
      const javaBytes = await oracle.buildRecords({
        control: { type, coordinatorEpoch },
        baseOffset: 12n,
        producerId: 4000n,
        producerEpoch: 3,
        partitionLeaderEpoch: 5,
        timestamp: 1_700_000_000_000n,
      });
      expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(javaBytes).toString('hex'));
      casesRun.sluiceToJava++;
    });
  }
});
