import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.ts';
import { crc32c } from '../src/records/checksums.ts';
import { decodeRecords, encodeRecordBatchSync, type RecordBatch } from '../src/records/index.ts';

const text = (value: string) => new TextEncoder().encode(value);
const limit = { maxDecompressedBytes: 1 << 20 };

/** A v2 batch around hand-written record bytes, with a correct length and CRC, so only the records are wrong. */
function batchAround(records: number[], count: number): Uint8Array {
  const header = Buffer.from(encodeRecordBatchSync({ baseTimestamp: 0n, records: [] }));
  const bytes = Buffer.concat([header, Buffer.from(records)]);
  bytes.writeInt32BE(bytes.length - 12, 8);
  bytes.writeInt32BE(count, 57);
  bytes.writeUInt32BE(crc32c(bytes, 21, bytes.length), 17);
  return bytes;
}

function decodeAll(bytes: Uint8Array): void {
  for (const batch of decodeRecords(bytes, { checkCrcs: false }).batches) {
    for (const record of batch.decompressSync(limit)) {
      record.key;
      record.value;
      record.offset;
      record.timestamp;
      record.headers();
    }
  }
}

function expectReason(run: () => unknown, reason: string, field?: string): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).reason).toBe(reason);
    if (field !== undefined) expect((error as ProtocolError).field).toBe(field);
    return;
  }
  throw new Error(`expected ProtocolError ${reason}`);
}

describe('malformed records', () => {
  // A valid record for reference: length 7, attributes, tsDelta 0, offsetDelta 0, key null, value null, no headers.
  const valid = [0x0c, 0, 0, 0, 0x01, 0x01, 0];

  it('the reference record decodes', () => {
    const records = [...(decodeRecords(batchAround(valid, 1)).batches[0] as RecordBatch)];
    expect(records).toHaveLength(1);
  });

  it.each([
    ['negative record length', [0x03], 'negative-length', 'RecordBatch.records[].length'],
    ['record length past the batch', [0x7e, 0, 0, 0, 1, 1, 0], 'length-too-large', 'RecordBatch.records[].length'],
    ['key length below -1', [0x0c, 0, 0, 0, 0x03, 0x01, 0], 'negative-length', 'RecordBatch.records[].keyLength'],
    [
      'key length past the record',
      [0x0c, 0, 0, 0, 0x28, 0x01, 0],
      'length-too-large',
      'RecordBatch.records[].keyLength',
    ],
    [
      'value length huge',
      [0x14, 0, 0, 0, 0x01, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0],
      'length-too-large',
      'RecordBatch.records[].valueLength',
    ],
    [
      'varint longer than 5 bytes',
      [0x10, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01],
      'varint-too-long',
      'RecordBatch.records[].offsetDelta',
    ],
    [
      'varlong longer than 10 bytes',
      [0x18, 0, ...Array(10).fill(0xff), 0x01],
      'varint-too-long',
      'RecordBatch.records[].timestampDelta',
    ],
    ['record with no room for headers', [0x0a, 0, 0, 0, 0x01, 0x01], 'truncated', 'RecordBatch.records[].headers'],
    [
      'negative headers count',
      [0x0c, 0, 0, 0, 0x01, 0x01, 0x01],
      'negative-length',
      'RecordBatch.records[].headers.length',
    ],
    [
      'huge headers count',
      [0x14, 0, 0, 0, 0x01, 0x01, 0xfe, 0xff, 0xff, 0xff, 0x07],
      'length-too-large',
      'RecordBatch.records[].headers.length',
    ],
    [
      'null header key',
      [0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01],
      'negative-length',
      'RecordBatch.records[].headers[].keyLength',
    ],
    [
      'header value past the record',
      [0x12, 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 0x68, 0x20],
      'length-too-large',
      'RecordBatch.records[].headers[].valueLength',
    ],
    ['bytes after the headers', [0x0e, 0, 0, 0, 0x01, 0x01, 0, 0x55], 'invalid-value', 'RecordBatch.records[].length'],
  ] as const)('%s', (_name, record, reason, field) => {
    expectReason(() => decodeAll(batchAround([...record], 1)), reason, field);
  });

  it('more records declared than present', () => {
    expectReason(() => decodeAll(batchAround([...valid, ...valid], 3)), 'truncated');
  });

  it('bytes after the declared records', () => {
    expectReason(() => decodeAll(batchAround([...valid, ...valid], 1)), 'invalid-value', 'RecordBatch.recordsCount');
  });

  it('a negative or impossible records count', () => {
    expectReason(() => decodeRecords(batchAround(valid, -1), { checkCrcs: false }), 'negative-length');
    expectReason(() => decodeRecords(batchAround(valid, 1_000_000), { checkCrcs: false }), 'length-too-large');
  });

  it('a compressed batch whose count exceeds its decompressed records', () => {
    const bytes = Buffer.from(encodeRecordBatchSync({ compression: 'snappy', records: [{ value: text('x') }] }));
    bytes.writeInt32BE(2 ** 31 - 1, 57);
    expectReason(() => decodeAll(bytes), 'truncated');
  });

  it('property: mutated batches decode or fail with a ProtocolError, never anything else', () => {
    const source = Buffer.concat(
      (['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const).map((compression, index) =>
        encodeRecordBatchSync({
          baseOffset: BigInt(index * 10),
          compression,
          records: [
            { key: text('key'), value: text('value'.repeat(5)), headers: [{ key: 'h1', value: text('x') }] },
            { key: null, value: null, headers: [{ key: 'h2', value: null }] },
          ],
        }),
      ),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(source.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(source.length),
        (mutations, cut) => {
          const bytes = Buffer.from(source);
          for (const [index, value] of mutations) bytes[index] = value;
          try {
            decodeAll(bytes.subarray(0, Math.max(cut, source.length - 50)));
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("decodeRecords with onCorrupt: 'stop'", () => {
  const batchAt = (baseOffset: bigint, values: string[]) =>
    encodeRecordBatchSync({ baseOffset, baseTimestamp: 0n, records: values.map((value) => ({ value: text(value) })) });

  it('returns the batches before a corrupt one, with its error and base offset', () => {
    const bad = Buffer.from(batchAt(2n, ['c', 'd']));
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    const bytes = Buffer.concat([batchAt(0n, ['a', 'b']), bad, batchAt(4n, ['e'])]);
    const decoded = decodeRecords(bytes, { onCorrupt: 'stop' });
    expect(decoded.batches.map((batch) => batch.nextOffset)).toEqual([2n]);
    expect(decoded.failure?.baseOffset).toBe(2n);
    expect(decoded.failure?.error).toBeInstanceOf(ProtocolError);
    expect(decoded.failure?.error.reason).toBe('crc-mismatch');
    // The default throws, as before.
    expect(() => decodeRecords(bytes)).toThrow(ProtocolError);
    // Sound data: no failure.
    expect(decodeRecords(batchAt(0n, ['a']), { onCorrupt: 'stop' }).failure).toBeUndefined();
  });
});
