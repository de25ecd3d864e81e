import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompressionType } from '../src/compression/index.ts';
import { ProtocolError } from '../src/errors.ts';
import {
  type BatchRecord,
  decodeControlRecordKey,
  decodeRecords,
  encodeControlRecordKey,
  encodeRecordBatch,
  encodeRecordBatchSync,
  RecordBatch,
  type RecordBatchInput,
} from '../src/records/index.ts';

const text = (value: string) => new TextEncoder().encode(value);
const hex = (value: string) => Uint8Array.from(Buffer.from(value.replace(/\s+/g, ''), 'hex'));
const limit = { maxDecompressedBytes: 16 << 20 };
const int64Max = 2n ** 63n - 1n;
const int64Min = -(2n ** 63n);

/** Bitwise CRC-32C (reflected polynomial 0x82F63B78), independent of the crc-32 package. */
function referenceCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function onlyBatch(bytes: Uint8Array, options = {}): RecordBatch {
  const { batches, truncated } = decodeRecords(bytes, options);
  expect(truncated).toBe(false);
  expect(batches).toHaveLength(1);
  const batch = batches[0];
  expect(batch).toBeInstanceOf(RecordBatch);
  return batch as RecordBatch;
}

function expectReason(run: () => unknown, reason: string): ProtocolError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).reason).toBe(reason);
    return error as ProtocolError;
  }
  throw new Error(`expected ProtocolError ${reason}`);
}

describe('byte layout, written by hand from Kafka documentation', () => {
  // One record: key null, value "abc", no headers; baseTimestamp 1000, producer fields -1.
  const body = hex(`
    0000 0000 0000 0000  0000 003b  0000 0000  02  00000000
    0000  0000 0000  0000 0000 0000 03e8  0000 0000 0000 03e8
    ffff ffff ffff ffff  ffff  ffff ffff  0000 0001
    12 00 00 00 01 06 616263 00`);
  new DataView(body.buffer).setUint32(17, referenceCrc32c(body.subarray(21)));

  it('encodes exactly these bytes', () => {
    const encoded = encodeRecordBatchSync({
      baseOffset: 0n,
      partitionLeaderEpoch: 0,
      records: [{ key: null, value: text('abc'), timestamp: 1000n }],
    });
    expect(Buffer.from(encoded).toString('hex')).toBe(Buffer.from(body).toString('hex'));
  });

  it('decodes every field', () => {
    const batch = onlyBatch(body);
    expect(batch).toMatchObject({
      baseOffset: 0n,
      batchLength: 59,
      partitionLeaderEpoch: 0,
      magic: 2,
      crc: referenceCrc32c(body.subarray(21)),
      attributes: 0,
      lastOffsetDelta: 0,
      baseTimestamp: 1000n,
      maxTimestamp: 1000n,
      producerId: -1n,
      producerEpoch: -1,
      baseSequence: -1,
      recordsCount: 1,
      compression: 'none',
      timestampType: 'create-time',
      isTransactional: false,
      isControl: false,
      hasDeleteHorizonMs: false,
      byteOffset: 0,
      byteLength: 71,
    });
    const [record] = [...batch];
    expect(record!.offset).toBe(0n);
    expect(record!.timestamp).toBe(1000n);
    expect(record!.key).toBeNull();
    expect(Buffer.from(record!.value!).toString()).toBe('abc');
    expect(record!.headers()).toEqual([]);
  });

  it('encodes zigzag deltas and headers as documented', () => {
    // timestampDelta -1 -> 01, offsetDelta 0, key "k" (02 6b), value null (01), one header h=v.
    const encoded = encodeRecordBatchSync({
      baseTimestamp: 1000n,
      maxTimestamp: 1000n,
      records: [{ key: text('k'), value: null, timestamp: 999n, headers: [{ key: 'h', value: text('v') }] }],
    });
    expect(Buffer.from(encoded.subarray(61)).toString('hex')).toBe('16000100026b0102026802' + '76');
    const record = [...onlyBatch(encoded)][0]!;
    expect(record.timestamp).toBe(999n);
    expect(record.timestampDelta).toBe(-1);
    expect(record.value).toBeNull();
    expect(record.headers().map((header) => [header.key, Buffer.from(header.value!).toString()])).toEqual([['h', 'v']]);
  });
});

describe('round trips', () => {
  const compressions: CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
  const combinations = compressions.flatMap((compression) =>
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((flags) => ({
      compression,
      logAppendTime: (flags & 1) !== 0,
      isTransactional: (flags & 2) !== 0,
      isControl: (flags & 4) !== 0,
      hasDeleteHorizonMs: (flags & 8) !== 0,
    })),
  );

  it.each(combinations)('%o', async (combination) => {
    const input: RecordBatchInput = {
      baseOffset: 42n,
      partitionLeaderEpoch: 7,
      compression: combination.compression,
      timestampType: combination.logAppendTime ? 'log-append-time' : 'create-time',
      isTransactional: combination.isTransactional,
      isControl: combination.isControl,
      hasDeleteHorizonMs: combination.hasDeleteHorizonMs,
      baseTimestamp: 1_700_000_000_000n,
      maxTimestamp: 1_700_000_009_999n,
      producerId: 123456789n,
      producerEpoch: 3,
      baseSequence: 10,
      records: [
        { key: text('key-0'), value: text('value-0'), timestamp: 1_700_000_000_000n },
        { key: null, value: text('value-1'), timestamp: 1_700_000_000_005n, headers: [{ key: 'trace', value: null }] },
        { key: text('key-2'), value: null, offsetDelta: 5, timestamp: 1_699_999_999_000n },
        { key: new Uint8Array(0), value: new Uint8Array(0), offsetDelta: 6, attributes: 0 },
      ],
    };
    const encoded = await encodeRecordBatch(input);
    const batch = onlyBatch(encoded);
    expect(batch.compression).toBe(combination.compression);
    expect(batch.needsDecompression).toBe(combination.compression !== 'none');
    expect(batch.timestampType).toBe(combination.logAppendTime ? 'log-append-time' : 'create-time');
    expect(batch.isTransactional).toBe(combination.isTransactional);
    expect(batch.isControl).toBe(combination.isControl);
    expect(batch.hasDeleteHorizonMs).toBe(combination.hasDeleteHorizonMs);
    expect(batch.deleteHorizonMs).toBe(combination.hasDeleteHorizonMs ? 1_700_000_000_000n : -1n);
    expect(batch.lastOffsetDelta).toBe(6);
    expect(batch.lastOffset).toBe(48n);
    expect(batch.nextOffset).toBe(49n);
    expect(batch.producerId).toBe(123456789n);
    const plain = await batch.decompress(limit);
    expect(plain.needsDecompression).toBe(false);
    expect(batch.decompressSync(limit).recordsCount).toBe(4);
    const records = [...plain];
    expect(records.map((record) => record.offset)).toEqual([42n, 43n, 47n, 48n]);
    const expectedTimestamps = combination.logAppendTime
      ? [1_700_000_009_999n, 1_700_000_009_999n, 1_700_000_009_999n, 1_700_000_009_999n]
      : [1_700_000_000_000n, 1_700_000_000_005n, 1_699_999_999_000n, 1_700_000_000_000n];
    expect(records.map((record) => record.timestamp)).toEqual(expectedTimestamps);
    expect(records.map((record) => record.timestampMillis)).toEqual(expectedTimestamps.map(Number));
    const strings = (values: (Uint8Array | null)[]) =>
      values.map((value) => (value === null ? null : Buffer.from(value).toString()));
    expect(strings(records.map((record) => record.key))).toEqual(['key-0', null, 'key-2', '']);
    expect(strings(records.map((record) => record.value))).toEqual(['value-0', 'value-1', null, '']);
    expect(records[1]!.headers()).toEqual([{ key: 'trace', value: null }]);
  });

  it('keys and values of an uncompressed batch are views into the input, not copies', () => {
    const encoded = encodeRecordBatchSync({ records: [{ key: text('k'), value: text('v') }] });
    const record = [...onlyBatch(encoded)][0]!;
    expect(record.key!.buffer).toBe(encoded.buffer);
    expect(record.value!.buffer).toBe(encoded.buffer);
    expect(record.value!.byteOffset).toBe(encoded.length - 2);
  });

  it('keeps int64 extremes exact', () => {
    for (const [baseOffset, baseTimestamp, maxTimestamp, producerId] of [
      [int64Max - 10n, int64Max, int64Max, int64Max],
      [int64Min, int64Min, int64Min, int64Min],
      [0n, -1n, -1n, -1n],
      [2n ** 53n + 1n, 2n ** 53n + 1n, 2n ** 60n + 3n, 2n ** 62n + 5n],
    ] as const) {
      const batch = onlyBatch(
        encodeRecordBatchSync({
          baseOffset,
          baseTimestamp,
          maxTimestamp,
          producerId,
          producerEpoch: -32768,
          baseSequence: 2 ** 31 - 1,
          partitionLeaderEpoch: -(2 ** 31),
          records: [
            { value: text('x'), timestamp: baseTimestamp },
            { value: text('y'), offsetDelta: 10 },
          ],
        }),
      );
      expect(batch).toMatchObject({ baseOffset, baseTimestamp, maxTimestamp, producerId, producerEpoch: -32768 });
      expect(batch.baseSequence).toBe(2 ** 31 - 1);
      expect(batch.partitionLeaderEpoch).toBe(-(2 ** 31));
      expect([...batch].map((record) => record.offset)).toEqual([baseOffset, baseOffset + 10n]);
      expect([...batch].map((record) => record.timestamp)).toEqual([baseTimestamp, baseTimestamp]);
    }
  });

  it('keeps timestamp deltas exact past 2^53, as bigints', () => {
    const base = int64Min;
    const far = int64Max;
    const batch = onlyBatch(
      encodeRecordBatchSync({ baseTimestamp: base, maxTimestamp: far, records: [{ timestamp: base + 2n ** 62n }] }),
    );
    const record = [...batch][0]!;
    expect(record.timestampDelta).toBe(2n ** 62n);
    expect(record.timestamp).toBe(base + 2n ** 62n);
    expect(record.timestampMillis).toBe(Number(base + 2n ** 62n));
  });

  it('property: any batch round trips, uncompressed and compressed', () => {
    const bytes = fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null });
    const int64 = fc.bigInt({ min: int64Min, max: int64Max });
    const timestamp = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n });
    const record = fc.record({
      key: bytes,
      value: bytes,
      timestamp,
      headers: fc.array(fc.record({ key: fc.string({ maxLength: 10 }), value: bytes }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.record({
          baseOffset: int64,
          producerId: int64,
          baseTimestamp: timestamp,
          compression: fc.constantFrom<CompressionType>('none', 'gzip', 'snappy', 'lz4', 'zstd'),
          records: fc.array(record, { maxLength: 8 }),
        }),
        (input) => {
          const batch = onlyBatch(encodeRecordBatchSync(input)).decompressSync(limit);
          expect(batch.baseOffset).toBe(input.baseOffset);
          const records = [...batch];
          expect(records).toHaveLength(input.records.length);
          records.forEach((decoded: BatchRecord, index) => {
            const original = input.records[index]!;
            expect(decoded.offset).toBe(input.baseOffset + BigInt(index));
            expect(decoded.timestamp).toBe(original.timestamp);
            expect(decoded.key === null ? null : [...decoded.key]).toEqual(
              original.key === null ? null : [...original.key],
            );
            expect(decoded.value === null ? null : [...decoded.value]).toEqual(
              original.value === null ? null : [...original.value],
            );
            expect(decoded.headers().map((header) => header.key)).toEqual(original.headers.map((header) => header.key));
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('cursor', () => {
  it('walks records with one object, reading fields in place', () => {
    const batch = onlyBatch(
      encodeRecordBatchSync({
        baseOffset: 1000n,
        records: [
          { key: text('a'), value: text('1'), timestamp: 5n },
          { key: text('b'), value: text('22'), timestamp: 7n },
        ],
      }),
    );
    const cursor = batch.cursor();
    const seen: string[] = [];
    while (cursor.next()) {
      seen.push(`${cursor.offset}:${cursor.timestamp}:${cursor.keyLength}:${cursor.valueLength}:${cursor.offsetDelta}`);
    }
    expect(seen).toEqual(['1000:5:1:1:0', '1001:7:1:2:1']);
    expect(cursor.next()).toBe(false);
  });

  it('refuses to read a compressed batch before it is decompressed', () => {
    const batch = onlyBatch(encodeRecordBatchSync({ compression: 'gzip', records: [{ value: text('x') }] }));
    expectReason(() => batch.cursor(), 'invalid-value');
    expectReason(() => [...batch], 'invalid-value');
  });

  it('applies the decompression limit', async () => {
    const batch = onlyBatch(
      encodeRecordBatchSync({ compression: 'zstd', records: [{ value: new Uint8Array(100_000) }] }),
    );
    expectReason(() => batch.decompressSync({ maxDecompressedBytes: 50_000 }), 'decompression-limit');
    const error = await batch
      .decompress({ maxDecompressedBytes: 50_000, syncThresholdBytes: 0 })
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.reason).toBe('decompression-limit');
    expect(error.field).toBe('RecordBatch.records');
    expect(error.offset).toBe(61);
  });

  it('reports corrupt compressed records', () => {
    const encoded = encodeRecordBatchSync({ compression: 'gzip', records: [{ value: text('some value') }] });
    encoded[encoded.length - 6]! ^= 0xff; // gzip's CRC-32 trailer
    const batch = onlyBatch(encoded, { checkCrcs: false });
    expectReason(() => batch.decompressSync(limit), 'decompression-failed');
  });
});

describe('CRC', () => {
  const encoded = encodeRecordBatchSync({ records: [{ key: text('key'), value: text('value') }] });

  it('matches an independent CRC-32C', () => {
    expect(onlyBatch(encoded).crc).toBe(referenceCrc32c(encoded.subarray(21)));
  });

  it('detects a flipped byte when checking, and ignores it when not', () => {
    const corrupt = Uint8Array.from(encoded);
    corrupt[corrupt.length - 3]! ^= 0x20; // inside the value: "value" -> "valUe"
    const error = expectReason(() => decodeRecords(corrupt), 'crc-mismatch');
    expect(error.field).toBe('RecordBatch.crc');
    expect(error.offset).toBe(17);
    const batch = onlyBatch(corrupt, { checkCrcs: false });
    expect(Buffer.from([...batch][0]!.value!).toString()).toBe('valUe');
  });

  it('covers the header from attributes on', () => {
    const corrupt = Uint8Array.from(encoded);
    corrupt[30]! ^= 1; // baseTimestamp
    expectReason(() => decodeRecords(corrupt), 'crc-mismatch');
    const leaderEpoch = Uint8Array.from(encoded);
    leaderEpoch[14]! ^= 1; // partitionLeaderEpoch is outside the CRC, so brokers can rewrite it
    expect(() => decodeRecords(leaderEpoch)).not.toThrow();
  });
});

describe('control batches', () => {
  it('decodes commit and abort markers', () => {
    for (const type of ['commit', 'abort'] as const) {
      const batch = onlyBatch(
        encodeRecordBatchSync({
          isTransactional: true,
          isControl: true,
          producerId: 77n,
          producerEpoch: 2,
          records: [{ key: encodeControlRecordKey(type), value: hex('0000 00000005') }],
        }),
      );
      expect(batch.isControl).toBe(true);
      expect(batch.isTransactional).toBe(true);
      const key = decodeControlRecordKey([...batch][0]!.key);
      expect(key).toEqual({ version: 0, typeId: type === 'abort' ? 0 : 1, type });
    }
  });

  it('names other control types and refuses short keys', () => {
    expect(decodeControlRecordKey(hex('0000 0002')).type).toBe('leader-change');
    expect(decodeControlRecordKey(hex('0000 0063')).type).toBe('unknown');
    expectReason(() => decodeControlRecordKey(hex('00')), 'truncated');
    expectReason(() => decodeControlRecordKey(null), 'truncated');
  });
});

describe('encoder input checks', () => {
  it('refuses values that do not fit their fields', () => {
    expectReason(() => encodeRecordBatchSync({ baseOffset: 2n ** 63n, records: [] }), 'invalid-value');
    expectReason(() => encodeRecordBatchSync({ producerEpoch: 40000, records: [] }), 'invalid-value');
    expectReason(
      () => encodeRecordBatchSync({ baseTimestamp: int64Min, records: [{ timestamp: int64Max }] }),
      'invalid-value',
    );
  });

  it('encodes an empty batch', () => {
    const batch = onlyBatch(encodeRecordBatchSync({ baseOffset: 9n, records: [] }));
    expect(batch.recordsCount).toBe(0);
    expect([...batch]).toEqual([]);
    expect(batch.baseTimestamp).toBe(-1n);
  });
});
