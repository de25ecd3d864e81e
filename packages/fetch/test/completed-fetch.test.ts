/**
 * One partition's data from one Fetch response: batches split at construction, records made at `take`, stopping at
 * a batch still decompressing, at `max`, or at a batch that failed.
 */
import { type DecodedBatch, decodeRecords, ProtocolError } from '@sluice/protocol';
import { describe, expect, it, vi } from 'vitest';
import {
  type BatchSlot,
  CompletedFetch,
  type CompletedFetchOptions,
  type Decompressor,
  recordsBytes,
} from '../src/completed-fetch.ts';
import { DecompressionPipeline } from '../src/decompression-pipeline.ts';
import { CorruptRecordError } from '../src/errors.ts';
import { type DeserializableRecord, FetchedRecord, PlainRecord } from '../src/fetched-record.ts';
import { batch, concat, legacyMessage, legacyWrapper, malformedAt, marker, signal, text, utf8 } from './fixtures.ts';

const tp = { topic: 'orders', partition: 3 };
const MAX_DECOMPRESSED = 1 << 20;

/**
 * Decompresses nothing by itself: records what is submitted, starts it at once (as a pipeline with room does) and
 * lets the test settle it.
 */
class FakeDecompressor implements Decompressor {
  readonly maxDecompressedBytes = MAX_DECOMPRESSED;
  readonly submitted: BatchSlot[] = [];
  readonly reachedSlots: BatchSlot[] = [];
  readonly droppedSlots: BatchSlot[] = [];
  readonly asyncThresholdBytes: number;

  constructor(asyncThresholdBytes = 0) {
    this.asyncThresholdBytes = asyncThresholdBytes;
  }

  goesToPool(batch: DecodedBatch): boolean {
    return recordsBytes(batch) >= this.asyncThresholdBytes;
  }

  submit(slot: BatchSlot): void {
    this.submitted.push(slot);
    slot.queued = false;
    slot.pending = true;
  }

  reached(slot: BatchSlot): void {
    this.reachedSlots.push(slot);
  }

  dropped(slot: BatchSlot): void {
    this.droppedSlots.push(slot);
  }

  /** Settles as the pipeline does: the result (or the error) in the slot, then its `onSettled`. */
  settle(slot: BatchSlot, error: Error | null = null): void {
    const ready = error === null ? slot.batch.decompressSync({ maxDecompressedBytes: MAX_DECOMPRESSED }) : null;
    slot.pending = false;
    if (slot.cancelled) return;
    slot.ready = ready;
    slot.error = error;
    slot.onSettled?.(ready === null ? 0 : recordsBytes(ready));
  }
}

/** Small compressed batches are decompressed by `take` itself. */
const inline = () => new FakeDecompressor(Number.POSITIVE_INFINITY);

function completed(records: Uint8Array | null, patch: Partial<CompletedFetchOptions> = {}): CompletedFetch {
  return new CompletedFetch({
    tp,
    version: 1,
    fetchOffset: 0n,
    records,
    isolationLevel: 'read_uncommitted',
    abortedTransactions: null,
    checkCrcs: true,
    decompressor: inline(),
    ...patch,
  });
}

const offsets = (records: ReadonlyArray<{ offset: bigint }>) => records.map((record) => Number(record.offset));

/** Every record, with `take` expected to end with `result`. */
function takeAll(fetch: CompletedFetch, result = 'done'): DeserializableRecord[] {
  const into: DeserializableRecord[] = [];
  expect(fetch.take(into, 1_000)).toBe(result);
  return into;
}

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('CompletedFetch: what it holds', () => {
  it('hands out the records from the fetch offset on, as lazy views, and says where the next fetch starts', () => {
    const bytes = concat(batch(0n, 5), batch(5n, 5));
    const fetch = completed(bytes, { fetchOffset: 3n });
    expect(fetch.nextOffset).toBe(10n);
    expect(fetch.bytes).toBe(bytes.length);
    expect(fetch.empty).toBe(false);
    expect(fetch.takenUpTo).toBeNull();
    const records = takeAll(fetch);
    expect(offsets(records)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    const first = records[0]!;
    expect(first).toBeInstanceOf(FetchedRecord);
    expect(first).toMatchObject({ topic: 'orders', partition: 3, timestamp: 1_003n, timestampType: 'create-time' });
    expect(first.leaderEpoch).toBe(5);
    expect(utf8(first.value as Uint8Array)).toBe('v3');
    expect((first.key as Uint8Array).buffer).toBe(bytes.buffer);
    expect(fetch.takenUpTo).toBe(10n);
    expect(fetch.takenEpoch).toBe(5);
    expect(fetch.take([], 10)).toBe('done');
  });

  it('ignores a batch the broker cut short after whole ones; bytes without one whole batch cannot be read', () => {
    const whole = batch(0n, 3);
    const cut = batch(3n, 3).subarray(0, 40);
    const some = completed(concat(whole, cut));
    expect(offsets(takeAll(some))).toEqual([0, 1, 2]);
    expect(some.nextOffset).toBe(3n);
    // Since KIP-74 a broker sends at least one whole batch: Kafka's consumer fails to make progress here, and says so.
    const none = completed(cut, { fetchOffset: 3n });
    expect(none).toMatchObject({ empty: false, nextOffset: 3n });
    const error = thrownBy(() => none.take([], 100));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ topic: 'orders', partition: 3, offset: 3n });
    expect((error as Error).message).toMatch(/held no complete record batch/);
    expect(completed(null, { fetchOffset: 7n })).toMatchObject({ empty: true, nextOffset: 7n, bytes: 0 });
    expect(completed(new Uint8Array(0), { fetchOffset: 7n })).toMatchObject({ empty: true, nextOffset: 7n });
  });

  it('leaves out the batches that end before the fetch offset', () => {
    const before = completed(batch(0n, 3), { fetchOffset: 3n });
    expect(before).toMatchObject({ empty: true, nextOffset: 3n });
    const after = completed(concat(batch(0n, 3), batch(3n, 2)), { fetchOffset: 3n });
    expect(offsets(takeAll(after))).toEqual([3, 4]);
  });

  it('decompresses a small compressed batch when take reaches it, skipping its records before the fetch offset', () => {
    const bytes = concat(batch(0n, 4, { compression: 'gzip' }), batch(4n, 2, { compression: 'lz4' }));
    const decompressor = inline();
    const fetch = completed(bytes, { fetchOffset: 2n, decompressor });
    const growth = vi.fn();
    fetch.onGrowth = growth;
    expect(decompressor.submitted).toEqual([]);
    const records = takeAll(fetch);
    expect(offsets(records)).toEqual([2, 3, 4, 5]);
    expect(records.map((record) => utf8(record.value as Uint8Array))).toEqual(['v2', 'v3', 'v4', 'v5']);
    expect(fetch.nextOffset).toBe(6n);
    // The decompressed records count, on top of the compressed bytes.
    expect(growth).toHaveBeenCalledTimes(2);
    const added = growth.mock.calls.reduce((sum, [bytes]) => sum + (bytes as number), 0);
    expect(added).toBeGreaterThan(0);
    expect(fetch.bytes).toBe(bytes.length + added);
  });

  it('skips control batches, and drops aborted transactions under read_committed only', () => {
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
    const uncommitted = completed(bytes, { abortedTransactions });
    expect(offsets(takeAll(uncommitted))).toEqual([0, 1, 2, 4, 5, 7, 8]);
    const committed = completed(bytes, { isolationLevel: 'read_committed', abortedTransactions });
    expect(offsets(takeAll(committed))).toEqual([4, 5, 7, 8]);
    expect(committed.nextOffset).toBe(10n);
    // Only markers and aborted data after the last record: take is done, and the fetch still moves to 10.
    const onlyAborted = completed(bytes.subarray(0, batch(0n, 3).length + marker(3n, 7n, 'abort').length), {
      isolationLevel: 'read_committed',
      abortedTransactions,
    });
    expect(onlyAborted).toMatchObject({ empty: false, nextOffset: 4n });
    expect(takeAll(onlyAborted)).toEqual([]);
    expect(onlyAborted.takenUpTo).toBeNull();
  });

  it('counts what a compressed legacy wrapper decompresses to, as it does for a v2 batch', () => {
    // A decompressed legacy wrapper keeps its on-the-wire byteLength: its inner messages are what it holds.
    const inner = Array.from({ length: 10 }, (_, index) =>
      legacyMessage({ offset: BigInt(index), magic: 1, timestamp: 1n, value: text('a'.repeat(1_000)) }),
    );
    const plainBytes = inner.reduce((sum, message) => sum + message.length, 0);
    const wrapper = legacyWrapper({ offset: 9n, magic: 1, compression: 'gzip', timestamp: 1n }, inner);
    expect(wrapper.length).toBeLessThan(plainBytes / 10);
    const fetch = completed(wrapper);
    expect(takeAll(fetch)).toHaveLength(10);
    expect(fetch.bytes).toBeGreaterThanOrEqual(wrapper.length + plainBytes);
  });

  it('hands out the batches before a corrupt one, then throws CorruptRecordError at its offset at every take', () => {
    const bad = batch(5n, 3);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    const fetch = completed(concat(batch(0n, 5), bad, batch(8n, 2)), { fetchOffset: 2n });
    expect(fetch.nextOffset).toBe(5n);
    const into: DeserializableRecord[] = [];
    const error = thrownBy(() => fetch.take(into, 100));
    expect(offsets(into)).toEqual([2, 3, 4]);
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ topic: 'orders', partition: 3, offset: 5n });
    expect((error as Error).cause).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/orders-3 at offset 5 .*CRC-32C/);
    expect(thrownBy(() => fetch.take([], 100))).toBe(error);
    // Without check.crcs the batch is read as it is.
    expect(offsets(takeAll(completed(concat(batch(0n, 5), bad), { checkCrcs: false })))).toHaveLength(8);
    // A corrupt first batch: nothing is handed out, the position stays at the fetch offset.
    const first = completed(bad, { fetchOffset: 5n });
    expect(first.empty).toBe(false);
    expect(thrownBy(() => first.take([], 100))).toMatchObject({ offset: 5n });
  });

  it('hands out the batches before an impossible batch length, then throws', () => {
    const bad = batch(5n, 3);
    new DataView(bad.buffer, bad.byteOffset).setInt32(8, -7);
    const fetch = completed(concat(batch(0n, 5), bad));
    const into: DeserializableRecord[] = [];
    const error = thrownBy(() => fetch.take(into, 100));
    expect(offsets(into)).toEqual([0, 1, 2, 3, 4]);
    expect(error).toMatchObject({ name: 'CorruptRecordError', offset: 5n });
  });

  it('hands out legacy messages (v0 and v1, plain and compressed) as plain records', () => {
    const bytes = concat(
      legacyMessage({ offset: 0n, magic: 0, key: text('a'), value: text('v0') }),
      legacyMessage({ offset: 1n, magic: 1, timestamp: 1_234n, value: null }),
      legacyWrapper({ offset: 4n, magic: 1, compression: 'gzip', timestamp: 2_000n, logAppendTime: true }, [
        legacyMessage({ offset: 0n, magic: 1, timestamp: 1n, value: text('w2') }),
        legacyMessage({ offset: 1n, magic: 1, timestamp: 1n, value: text('w3') }),
        legacyMessage({ offset: 2n, magic: 1, timestamp: 1n, value: text('w4') }),
      ]),
      batch(5n, 1),
    );
    const fetch = completed(bytes, { fetchOffset: 1n });
    const records = takeAll(fetch);
    expect(records.map((record) => record.constructor)).toEqual([
      PlainRecord,
      PlainRecord,
      PlainRecord,
      PlainRecord,
      FetchedRecord,
    ]);
    expect(
      records.slice(0, 4).map((record) => ({
        offset: record.offset,
        timestamp: record.timestamp,
        timestampType: record.timestampType,
        value: utf8(record.value as Uint8Array | null),
        headers: record.headers,
        leaderEpoch: record.leaderEpoch,
      })),
    ).toEqual([
      { offset: 1n, timestamp: 1_234n, timestampType: 'create-time', value: null, headers: [], leaderEpoch: -1 },
      { offset: 2n, timestamp: 2_000n, timestampType: 'log-append-time', value: 'w2', headers: [], leaderEpoch: -1 },
      { offset: 3n, timestamp: 2_000n, timestampType: 'log-append-time', value: 'w3', headers: [], leaderEpoch: -1 },
      { offset: 4n, timestamp: 2_000n, timestampType: 'log-append-time', value: 'w4', headers: [], leaderEpoch: -1 },
    ]);
    expect(completed(bytes).take([], 1)).toBe('more');
    expect(fetch.nextOffset).toBe(6n);
  });
});

describe('CompletedFetch: take', () => {
  it('stops at max in the middle of a batch and resumes exactly where it stopped', () => {
    const fetch = completed(concat(batch(0n, 5), batch(5n, 5, { compression: 'snappy' })), { fetchOffset: 1n });
    const taken: number[] = [];
    const first: DeserializableRecord[] = [];
    expect(fetch.take(first, 3)).toBe('more');
    expect(offsets(first)).toEqual([1, 2, 3]);
    expect(fetch.takenUpTo).toBe(4n);
    taken.push(...offsets(first));
    // `into` may already hold another partition's records: they count against max.
    const shared: DeserializableRecord[] = [first[0]!];
    expect(fetch.take(shared, 3)).toBe('more');
    expect(offsets(shared.slice(1))).toEqual([4, 5]);
    taken.push(...offsets(shared.slice(1)));
    for (;;) {
      const into: DeserializableRecord[] = [];
      const result = fetch.take(into, 3);
      taken.push(...offsets(into));
      if (result === 'done') break;
      expect(result).toBe('more');
      expect(into).toHaveLength(3);
    }
    expect(taken).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(fetch.takenUpTo).toBe(10n);
  });

  it('takes nothing when into is already full', () => {
    const fetch = completed(batch(0n, 2));
    const into: DeserializableRecord[] = [];
    expect(fetch.take(into, 0)).toBe('more');
    expect(into).toEqual([]);
    expect(offsets(takeAll(fetch))).toEqual([0, 1]);
  });

  it('resumes a legacy message set where max stopped it', () => {
    const inner = [0, 1, 2, 3].map((index) =>
      legacyMessage({ offset: BigInt(index), magic: 1, value: text(`m${index}`) }),
    );
    const fetch = completed(legacyWrapper({ offset: 3n, magic: 1, compression: 'snappy' }, inner));
    const taken: number[] = [];
    let result: string;
    do {
      const into: DeserializableRecord[] = [];
      result = fetch.take(into, 3);
      taken.push(...offsets(into));
    } while (result !== 'done');
    expect(taken).toEqual([0, 1, 2, 3]);
  });

  it('hands out the records before a malformed one, then throws the same error at every take', () => {
    const fetch = completed(concat(batch(0n, 2), malformedAt(batch(2n, 4), 2)));
    const into: DeserializableRecord[] = [];
    const error = thrownBy(() => fetch.take(into, 100));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ offset: 4n });
    expect((error as Error).cause).toBeInstanceOf(ProtocolError);
    expect(offsets(into)).toEqual([0, 1, 2, 3]);
    expect(fetch.takenUpTo).toBe(4n);
    const again: DeserializableRecord[] = [];
    expect(thrownBy(() => fetch.take(again, 100))).toBe(error);
    expect(thrownBy(() => fetch.take(again, 100))).toBe(error);
    expect(again).toEqual([]);
    expect(fetch.takenUpTo).toBe(4n);
  });

  it('sends the large compressed batches to the decompressor when built, in wire order, and keeps the small ones', () => {
    const large = batch(2n, 40, { compression: 'gzip' });
    const small = batch(42n, 1, { compression: 'gzip' });
    const later = batch(43n, 40, { compression: 'zstd' });
    const threshold = Math.min(recordsBytes(decodeOnly(large)), recordsBytes(decodeOnly(later)));
    expect(recordsBytes(decodeOnly(small))).toBeLessThan(threshold);
    const decompressor = new FakeDecompressor(threshold);
    completed(concat(batch(0n, 2), large, small, later), { decompressor });
    expect(decompressor.submitted.map((slot) => slot.batch.nextOffset)).toEqual([42n, 83n]);
    expect(decompressor.submitted.every((slot) => slot.pending && slot.ready === null)).toBe(true);
  });

  it('says it is waiting while the next batch decompresses, and goes on once it settled', () => {
    const decompressor = new FakeDecompressor(0);
    const fetch = completed(
      concat(batch(0n, 2), batch(2n, 3, { compression: 'gzip' }), batch(5n, 2, { compression: 'zstd' })),
      { decompressor },
    );
    const growth = vi.fn();
    fetch.onGrowth = growth;
    const bytes = fetch.bytes;
    const [gzip, zstd] = decompressor.submitted;
    const into: DeserializableRecord[] = [];
    expect(fetch.take(into, 100)).toBe('waiting');
    expect(offsets(into)).toEqual([0, 1]);
    expect(fetch.takenUpTo).toBe(2n);
    expect(fetch.take(into, 100)).toBe('waiting');
    // A later batch settling does not let take past the one still pending.
    decompressor.settle(zstd!);
    expect(fetch.take(into, 100)).toBe('waiting');
    expect(offsets(into)).toEqual([0, 1]);
    decompressor.settle(gzip!);
    expect(fetch.take(into, 100)).toBe('done');
    expect(offsets(into)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(growth).toHaveBeenCalledTimes(2);
    const added = growth.mock.calls.map(([bytes]) => bytes as number);
    expect(added.every((bytes) => bytes > 0)).toBe(true);
    expect(fetch.bytes).toBe(bytes + added[0]! + added[1]!);
    // Once read past, the batches' outputs are no longer held by the fetch (records handed out still view them).
    expect([gzip!.ready, zstd!.ready]).toEqual([null, null]);
  });

  it('throws the error of a batch whose decompression failed, after the records before it, at every take', () => {
    const decompressor = new FakeDecompressor(0);
    const fetch = completed(concat(batch(0n, 2), batch(2n, 3, { compression: 'lz4' }), batch(5n, 1)), {
      decompressor,
    });
    const failure = new ProtocolError('lz4 data is corrupt', { reason: 'decompression-failed', field: 'x', offset: 0 });
    decompressor.settle(decompressor.submitted[0]!, failure);
    const into: DeserializableRecord[] = [];
    const error = thrownBy(() => fetch.take(into, 100));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ offset: 2n, cause: failure });
    expect(offsets(into)).toEqual([0, 1]);
    expect(thrownBy(() => fetch.take(into, 100))).toBe(error);
    expect(offsets(into)).toEqual([0, 1]);
  });

  it('throws the error of a small batch that fails to decompress when take reaches it, and again after', () => {
    const bytes = garbled(batch(2n, 3, { compression: 'gzip' }));
    const fetch = completed(concat(batch(0n, 2), bytes), { checkCrcs: false });
    const into: DeserializableRecord[] = [];
    const error = thrownBy(() => fetch.take(into, 100));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ offset: 2n });
    expect(offsets(into)).toEqual([0, 1]);
    expect(thrownBy(() => fetch.take(into, 100))).toBe(error);
  });

  it('cancel marks the batches not yet reached, which the decompressor then skips', () => {
    const decompressor = new FakeDecompressor(0);
    const fetch = completed(
      concat(batch(0n, 2, { compression: 'gzip' }), batch(2n, 2, { compression: 'gzip' }), batch(4n, 2)),
      { decompressor },
    );
    const [first, second] = decompressor.submitted;
    decompressor.settle(first!);
    expect(offsets(takeAll(fetch, 'waiting'))).toEqual([0, 1]);
    fetch.cancel();
    expect(second!.cancelled).toBe(true);
    const growth = vi.fn();
    fetch.onGrowth = growth;
    decompressor.settle(second!);
    expect(growth).not.toHaveBeenCalled();
  });
});

/** The batch with garbage for compressed records (its CRC no longer matches: read with checkCrcs off). */
function garbled(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy.fill(0xaa, 61);
  return copy;
}

const decodeOnly = (bytes: Uint8Array) => decodeRecords(bytes).batches[0]!;

describe('CompletedFetch with the DecompressionPipeline', () => {
  it('settles batches in submission order, at most `concurrency` at a time', async () => {
    const settled = signal();
    let count = 0;
    const pipeline = new DecompressionPipeline({
      concurrency: 1,
      maxDecompressedBytes: MAX_DECOMPRESSED,
      asyncThresholdBytes: 0,
      onSettled: () => {
        if (++count === 4) settled.resolve();
      },
    });
    const order: string[] = [];
    const first = completed(concat(batch(0n, 50, { compression: 'zstd' }), batch(50n, 50, { compression: 'gzip' })), {
      decompressor: pipeline,
    });
    const second = completed(concat(batch(0n, 5, { compression: 'lz4' }), batch(5n, 5, { compression: 'snappy' })), {
      decompressor: pipeline,
    });
    first.onGrowth = () => order.push('first');
    second.onGrowth = () => order.push('second');
    expect(pipeline.size).toBe(4);
    await settled.promise;
    expect(order).toEqual(['first', 'first', 'second', 'second']);
    expect(pipeline.size).toBe(0);
    expect(offsets(takeAll(first))).toHaveLength(100);
    expect(offsets(takeAll(second))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('skips the batches of a cancelled fetch that had not started, and drops the result of one that had', async () => {
    const settled = signal();
    const pipeline = new DecompressionPipeline({
      concurrency: 1,
      maxDecompressedBytes: MAX_DECOMPRESSED,
      asyncThresholdBytes: 0,
      onSettled: () => settled.resolve(),
    });
    const spy = vi.fn();
    const fetch = completed(concat(batch(0n, 2, { compression: 'gzip' }), batch(2n, 2, { compression: 'gzip' })), {
      decompressor: pipeline,
    });
    fetch.onGrowth = spy;
    fetch.cancel();
    await settled.promise;
    expect(pipeline.size).toBe(0);
    expect(spy).not.toHaveBeenCalled();
  });

  it('keeps a failed decompression in its slot for take, never as an unhandled rejection', async () => {
    const bytes = garbled(batch(2n, 3, { compression: 'zstd' }));
    const settled = signal();
    const pipeline = new DecompressionPipeline({
      maxDecompressedBytes: MAX_DECOMPRESSED,
      asyncThresholdBytes: 0,
      onSettled: () => settled.resolve(),
    });
    const fetch = completed(concat(batch(0n, 2), bytes), { decompressor: pipeline, checkCrcs: false });
    await settled.promise;
    const into: DeserializableRecord[] = [];
    const error = thrownBy(() => fetch.take(into, 100));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ offset: 2n });
    expect(offsets(into)).toEqual([0, 1]);
    expect(thrownBy(() => fetch.take(into, 100))).toBe(error);
  });

  it('starts no batch while the output not yet reached adds up to maxAheadBytes, and goes on as the reader reaches it', async () => {
    let settledCount = 0;
    let wake = signal();
    const pipeline = new DecompressionPipeline({
      concurrency: 1,
      maxDecompressedBytes: MAX_DECOMPRESSED,
      asyncThresholdBytes: 0,
      maxAheadBytes: 1,
      onSettled: () => {
        settledCount++;
        wake.resolve();
      },
    });
    const fetch = completed(concat(...[0n, 10n, 20n, 30n].map((base) => batch(base, 10, { compression: 'zstd' }))), {
      decompressor: pipeline,
    });
    await wake.promise;
    // The first output fills the budget: the rest wait for the reader.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settledCount).toBe(1);
    expect(pipeline.size).toBe(3);
    expect(pipeline.aheadBytes).toBeGreaterThan(0);
    const into: DeserializableRecord[] = [];
    let result = fetch.take(into, 1_000);
    while (result !== 'done') {
      wake = signal();
      if (result === 'waiting') await wake.promise;
      result = fetch.take(into, 1_000);
    }
    expect(offsets(into)).toEqual(Array.from({ length: 40 }, (_, index) => index));
    expect(pipeline.aheadBytes).toBe(0);
    expect(pipeline.size).toBe(0);
  });

  it('starts a queued batch at once when the reader reaches it, so data waiting elsewhere never stalls a partition', async () => {
    let wake = signal();
    const pipeline = new DecompressionPipeline({
      concurrency: 1,
      maxDecompressedBytes: MAX_DECOMPRESSED,
      asyncThresholdBytes: 0,
      maxAheadBytes: 1,
      onSettled: () => wake.resolve(),
    });
    // A partition nobody reads (paused, say) takes the whole budget ...
    const waiting = completed(batch(0n, 10, { compression: 'lz4' }), { decompressor: pipeline });
    await wake.promise;
    // ... and another partition's batches, queued behind it, start when their reader reaches them.
    const other = completed(concat(batch(0n, 5, { compression: 'gzip' }), batch(5n, 5, { compression: 'snappy' })), {
      decompressor: pipeline,
      tp: { topic: 'orders', partition: 4 },
    });
    expect(pipeline.size).toBe(2);
    const into: DeserializableRecord[] = [];
    let result = other.take(into, 100);
    while (result !== 'done') {
      expect(result).toBe('waiting');
      wake = signal();
      await wake.promise;
      result = other.take(into, 100);
    }
    expect(offsets(into)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(pipeline.size).toBe(0);
    waiting.cancel();
    expect(pipeline.aheadBytes).toBe(0);
  });
});
