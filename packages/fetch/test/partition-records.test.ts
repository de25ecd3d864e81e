/** One partition's records from a Fetch response: position, truncation, compression, control and aborted batches. */
import { encodeControlRecordKey, encodeRecordBatchSync, type RecordBatchInput } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { type PartitionRecordsOptions, partitionRecords } from '../src/partition-records.ts';

const tp = { topic: 'orders', partition: 3 };
const text = (value: string) => new TextEncoder().encode(value);

function batch(baseOffset: bigint, count: number, patch: Partial<RecordBatchInput> = {}): Uint8Array {
  return encodeRecordBatchSync({
    baseOffset,
    partitionLeaderEpoch: 5,
    baseTimestamp: 1_000n,
    records: Array.from({ length: count }, (_, index) => ({
      key: text(`k${Number(baseOffset) + index}`),
      value: text(`v${Number(baseOffset) + index}`),
      timestamp: 1_000n + BigInt(index),
    })),
    ...patch,
  });
}

function marker(offset: bigint, producerId: bigint, type: 'abort' | 'commit'): Uint8Array {
  return encodeRecordBatchSync({
    baseOffset: offset,
    isTransactional: true,
    isControl: true,
    producerId,
    producerEpoch: 0,
    records: [{ key: encodeControlRecordKey(type), value: new Uint8Array([0, 0, 0, 0, 0, 0]) }],
  });
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const options = (patch: Partial<PartitionRecordsOptions> = {}): PartitionRecordsOptions => ({
  fetchOffset: 0n,
  isolationLevel: 'read_uncommitted',
  abortedTransactions: null,
  checkCrcs: true,
  maxDecompressedBytes: 1 << 20,
  ...patch,
});
const offsets = (records: ReadonlyArray<{ offset: bigint }>) => records.map((record) => Number(record.offset));

describe('partitionRecords', () => {
  it('returns the records from the fetch position on, as views, and where the next fetch starts', async () => {
    const bytes = concat(batch(0n, 5), batch(5n, 5));
    const { records, nextOffset } = await partitionRecords(tp, bytes, options({ fetchOffset: 3n }));
    expect(offsets(records)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(nextOffset).toBe(10n);
    const first = records[0]!;
    expect(first).toMatchObject({ topic: 'orders', partition: 3, timestamp: 1_003n, timestampType: 'create-time' });
    expect(first.leaderEpoch).toBe(5);
    expect(new TextDecoder().decode(first.value!)).toBe('v3');
    expect(first.key!.buffer).toBe(bytes.buffer);
  });

  it('ignores a batch the broker cut short, and stays put when no batch is complete', async () => {
    const whole = batch(0n, 3);
    const cut = batch(3n, 3).subarray(0, 40);
    const some = await partitionRecords(tp, concat(whole, cut), options());
    expect(offsets(some.records)).toEqual([0, 1, 2]);
    expect(some.nextOffset).toBe(3n);
    const none = await partitionRecords(tp, cut, options({ fetchOffset: 3n }));
    expect(none).toEqual({ records: [], nextOffset: 3n });
    expect(await partitionRecords(tp, null, options({ fetchOffset: 7n }))).toEqual({ records: [], nextOffset: 7n });
  });

  it('decompresses a batch and skips its records before the position', async () => {
    const bytes = concat(batch(0n, 4, { compression: 'gzip' }), batch(4n, 2, { compression: 'lz4' }));
    const { records, nextOffset } = await partitionRecords(tp, bytes, options({ fetchOffset: 2n }));
    expect(offsets(records)).toEqual([2, 3, 4, 5]);
    expect(records.map((record) => new TextDecoder().decode(record.value!))).toEqual(['v2', 'v3', 'v4', 'v5']);
    expect(nextOffset).toBe(6n);
  });

  it('skips control batches, and drops aborted transactions under read_committed only', async () => {
    const bytes = concat(
      batch(0n, 3, { isTransactional: true, producerId: 7n, producerEpoch: 0 }),
      marker(3n, 7n, 'abort'),
      batch(4n, 2, { isTransactional: true, producerId: 8n, producerEpoch: 0 }),
      marker(6n, 8n, 'commit'),
      batch(7n, 1),
      // Producer 7 again, in a later transaction that is not aborted.
      batch(8n, 1, { isTransactional: true, producerId: 7n, producerEpoch: 0 }),
      marker(9n, 7n, 'commit'),
    );
    const abortedTransactions = [{ producerId: 7n, firstOffset: 0n }];
    const uncommitted = await partitionRecords(tp, bytes, options({ abortedTransactions }));
    expect(offsets(uncommitted.records)).toEqual([0, 1, 2, 4, 5, 7, 8]);
    const committed = await partitionRecords(
      tp,
      bytes,
      options({ isolationLevel: 'read_committed', abortedTransactions }),
    );
    expect(offsets(committed.records)).toEqual([4, 5, 7, 8]);
    expect(committed.nextOffset).toBe(10n);
  });

  it('refuses corrupt data with a ProtocolError', async () => {
    const bytes = batch(0n, 2);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await expect(partitionRecords(tp, bytes, options())).rejects.toMatchObject({ name: 'ProtocolError' });
  });
});
