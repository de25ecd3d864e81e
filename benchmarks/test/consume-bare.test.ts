import { encodeRecordBatchSync } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { walkBatches } from '../src/consume-bare.ts';

// The ceiling counts records from batch headers alone: it must count exactly what the batches hold and advance past
// whole batches only, compressed or not.
function batch(baseOffset: bigint, count: number, compression: 'none' | 'zstd' | 'lz4') {
  const records = Array.from({ length: count }, (_, index) => ({
    key: Buffer.from(`key-${index}`),
    value: Buffer.from(`{"n":${index},"pad":"${'x'.repeat(50)}"}`),
  }));
  return encodeRecordBatchSync({ baseOffset, records, compression });
}

describe('walkBatches', () => {
  it('counts the records of whole batches and finds the next offset', () => {
    const records = Buffer.concat([batch(0n, 3, 'none'), batch(3n, 500, 'zstd'), batch(503n, 7, 'lz4')]);
    expect(walkBatches(records)).toEqual({ nextOffset: 510n, records: 510, bytes: records.length });
  });

  it('leaves a batch cut short by the size limit for the next Fetch', () => {
    const first = batch(100n, 10, 'none');
    const second = batch(110n, 10, 'none');
    const records = Buffer.concat([first, second.subarray(0, second.length - 1)]);
    expect(walkBatches(records)).toEqual({ nextOffset: 110n, records: 10, bytes: first.length });
    expect(walkBatches(second.subarray(0, 40))).toEqual({ nextOffset: null, records: 0, bytes: 0 });
    expect(walkBatches(new Uint8Array(0))).toEqual({ nextOffset: null, records: 0, bytes: 0 });
  });
});
