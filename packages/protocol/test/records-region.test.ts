import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.ts';
import { decodeRecords, encodeRecordBatchSync, type RecordBatch } from '../src/records/index.ts';

const text = (value: string) => new TextEncoder().encode(value);

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

const batches = [
  encodeRecordBatchSync({ baseOffset: 0n, records: [{ value: text('a') }, { value: text('b') }] }),
  encodeRecordBatchSync({ baseOffset: 2n, compression: 'lz4', records: [{ value: text('c') }] }),
  encodeRecordBatchSync({
    baseOffset: 3n,
    records: [{ key: text('k'), value: text('d'), headers: [{ key: 'h', value: null }] }],
  }),
];
const region = Buffer.concat(batches);

describe('records region', () => {
  it('splits consecutive batches', () => {
    const decoded = decodeRecords(region);
    expect(decoded.truncated).toBe(false);
    expect(decoded.bytesConsumed).toBe(region.length);
    expect(decoded.batches.map((batch) => batch.byteOffset)).toEqual([
      0,
      batches[0]!.length,
      batches[0]!.length + batches[1]!.length,
    ]);
    expect(decoded.batches.map((batch) => batch.nextOffset)).toEqual([2n, 3n, 4n]);
  });

  it('an empty region holds no batches', () => {
    expect(decodeRecords(new Uint8Array(0))).toEqual({ batches: [], bytesConsumed: 0, truncated: false });
  });

  it('reports a trailing partial batch, at every cut point, without error', () => {
    const ends = [batches[0]!.length, batches[0]!.length + batches[1]!.length, region.length];
    for (let cut = 0; cut <= region.length; cut++) {
      const decoded = decodeRecords(region.subarray(0, cut));
      const complete = ends.filter((end) => end <= cut);
      expect(decoded.batches).toHaveLength(complete.length);
      expect(decoded.bytesConsumed).toBe(complete.at(-1) ?? 0);
      expect(decoded.truncated).toBe(cut > (complete.at(-1) ?? 0));
    }
  });

  it('decodes batches from a buffer that is a view into a larger one', () => {
    const larger = Buffer.concat([Buffer.alloc(13, 0xee), region, Buffer.alloc(5, 0xee)]);
    const view = larger.subarray(13, 13 + region.length);
    const decoded = decodeRecords(view);
    expect(decoded.batches).toHaveLength(3);
    const last = decoded.batches[2] as RecordBatch;
    const record = [...last][0]!;
    expect(Buffer.from(record.key!).toString()).toBe('k');
    expect(record.key!.buffer).toBe(larger.buffer);
  });

  it('refuses a negative batch length', () => {
    const bad = Buffer.from(region);
    bad.writeInt32BE(-5, 8);
    const error = expectReason(() => decodeRecords(bad), 'negative-length');
    expect(error.field).toBe('RecordBatch.batchLength');
    expect(error.offset).toBe(8);
  });

  it('refuses a batch length below any header', () => {
    const bad = Buffer.from(region);
    bad.writeInt32BE(10, 8);
    expectReason(() => decodeRecords(bad), 'invalid-value');
    bad.writeInt32BE(30, 8); // fits legacy, but the magic says v2
    expectReason(() => decodeRecords(bad), 'invalid-value');
  });

  it('treats a huge batch length as a truncated batch (the fetch ended inside it)', () => {
    const bad = Buffer.from(region);
    bad.writeInt32BE(0x7fffffff, batches[0]!.length + 8);
    const decoded = decodeRecords(bad);
    expect(decoded.batches).toHaveLength(1);
    expect(decoded.truncated).toBe(true);
  });

  it('refuses an unknown magic', () => {
    const bad = Buffer.from(region);
    bad[16] = 3;
    const error = expectReason(() => decodeRecords(bad), 'invalid-value');
    expect(error.field).toBe('RecordBatch.magic');
  });

  it('refuses unknown compression ids', () => {
    const bad = Buffer.from(batches[0]!);
    bad[22] = (bad[22]! & ~7) | 6;
    expectReason(() => decodeRecords(bad, { checkCrcs: false }), 'unknown-codec');
  });

  it('property: random bytes decode or fail with a ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeRecords(bytes, { checkCrcs: false });
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
