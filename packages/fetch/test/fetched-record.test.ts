/**
 * Lazy records against an eager reference: for generated logs (every codec, both timestamp types, control batches,
 * aborted transactions, legacy message formats, a cut-off tail) and a random fetch offset, the records that
 * `CompletedFetch.take` hands out through the real DecompressionPipeline equal, field by field, those of a decode
 * written here from `decodeRecords`, `decompressSync` and the record cursor.
 */
import {
  type CompressionType,
  decodeRecords,
  encodeControlRecordKey,
  encodeRecordBatchSync,
  RecordBatch,
  type TimestampType,
} from '@sluice/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompletedFetch } from '../src/completed-fetch.ts';
import { DecompressionPipeline } from '../src/decompression-pipeline.ts';
import { type ConsumerRecord, FetchedRecord } from '../src/fetched-record.ts';
import { concat, legacyMessage, legacyWrapper } from './fixtures.ts';

const tp = { topic: 'orders', partition: 7 };
const LIMIT = { maxDecompressedBytes: 1 << 20 };

// ---- the generated log ------------------------------------------------------------------------------------------

interface RecordSpec {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | null }>;
  readonly timestampDelta: number;
  /** Offsets skipped before this record (a compacted batch). */
  readonly gap: number;
}

type Segment =
  | {
      readonly kind: 'batch';
      readonly compression: CompressionType;
      readonly timestampType: TimestampType;
      readonly baseTimestamp: bigint;
      readonly leaderEpoch: number;
      /** 0: not transactional. */
      readonly producer: number;
      readonly records: readonly RecordSpec[];
    }
  | { readonly kind: 'marker'; readonly producer: number; readonly type: 'abort' | 'commit' }
  | {
      readonly kind: 'legacy';
      readonly magic: 0 | 1;
      /** 'none': plain messages, one per record; otherwise a wrapper. */
      readonly compression: CompressionType;
      readonly logAppendTime: boolean;
      readonly timestamp: bigint;
      readonly records: readonly RecordSpec[];
    };

const bytes = fc.option(fc.uint8Array({ maxLength: 24 }), { nil: null, freq: 4 });
const record = fc.record({
  key: bytes,
  value: bytes,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 6 }), value: bytes }), { maxLength: 3 }),
  timestampDelta: fc.integer({ min: -1_000, max: 1_000_000 }),
  gap: fc.constantFrom(0, 0, 0, 1, 3),
});
const records = fc.array(record, { minLength: 1, maxLength: 6 });
const timestamp = fc.oneof(
  fc.bigInt({ min: 1_500_000_000_000n, max: 1_800_000_000_000n }),
  fc.bigInt({ min: 0n, max: 2n ** 62n }),
);

const segment: fc.Arbitrary<Segment> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      compression: fc.constantFrom<CompressionType>('none', 'gzip', 'snappy', 'lz4', 'zstd'),
      timestampType: fc.constantFrom<TimestampType>('create-time', 'log-append-time'),
      baseTimestamp: timestamp,
      leaderEpoch: fc.integer({ min: 0, max: 20 }),
      producer: fc.constantFrom(0, 1, 1, 2),
      records,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('marker' as const),
      producer: fc.constantFrom(1, 2),
      type: fc.constantFrom<'abort' | 'commit'>('abort', 'commit'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({
        kind: fc.constant('legacy' as const),
        magic: fc.constant(0 as const),
        compression: fc.constantFrom<CompressionType>('none', 'gzip', 'snappy'),
        logAppendTime: fc.constant(false),
        timestamp: fc.constant(-1n),
        records,
      }),
      fc.record({
        kind: fc.constant('legacy' as const),
        magic: fc.constant(1 as const),
        compression: fc.constantFrom<CompressionType>('none', 'gzip', 'snappy', 'lz4'),
        logAppendTime: fc.boolean(),
        timestamp,
        records,
      }),
    ),
  },
);

interface Log {
  readonly bytes: Uint8Array;
  readonly firstOffset: bigint;
  readonly endOffset: bigint;
  /** Aborted transactions: the producer's transactional batches in [firstOffset, markerOffset) are dropped. */
  readonly aborted: ReadonlyArray<{ producerId: bigint; firstOffset: bigint; markerOffset: bigint }>;
}

/** Writes the segments one after another from `start`, tracking the transactions as a broker would. */
function writeLog(start: bigint, segments: readonly Segment[], cutTail: boolean): Log {
  const parts: Uint8Array[] = [];
  const open = new Map<number, bigint>();
  const aborted: Array<{ producerId: bigint; firstOffset: bigint; markerOffset: bigint }> = [];
  let next = start;
  for (const part of segments) {
    if (part.kind === 'batch') {
      let delta = -1;
      const inputs = part.records.map((spec) => {
        delta += 1 + spec.gap;
        return {
          key: spec.key,
          value: spec.value,
          headers: spec.headers,
          offsetDelta: delta,
          timestamp: part.baseTimestamp + BigInt(spec.timestampDelta),
        };
      });
      if (part.producer !== 0 && !open.has(part.producer)) open.set(part.producer, next);
      parts.push(
        encodeRecordBatchSync({
          baseOffset: next,
          partitionLeaderEpoch: part.leaderEpoch,
          compression: part.compression,
          timestampType: part.timestampType,
          baseTimestamp: part.baseTimestamp,
          isTransactional: part.producer !== 0,
          producerId: part.producer === 0 ? -1n : BigInt(part.producer),
          producerEpoch: part.producer === 0 ? -1 : 0,
          records: inputs,
        }),
      );
      next += BigInt(delta + 1);
    } else if (part.kind === 'marker') {
      const first = open.get(part.producer);
      if (first !== undefined && part.type === 'abort') {
        aborted.push({ producerId: BigInt(part.producer), firstOffset: first, markerOffset: next });
      }
      open.delete(part.producer);
      parts.push(
        encodeRecordBatchSync({
          baseOffset: next,
          isTransactional: true,
          isControl: true,
          producerId: BigInt(part.producer),
          producerEpoch: 0,
          records: [{ key: encodeControlRecordKey(part.type), value: new Uint8Array([0, 0, 0, 0, 0, 0]) }],
        }),
      );
      next += 1n;
    } else {
      // Legacy formats have no gaps within a set here: offsets run on.
      const count = part.records.length;
      const message = (spec: RecordSpec, offset: bigint) =>
        legacyMessage({
          offset,
          magic: part.magic,
          logAppendTime: part.compression === 'none' && part.logAppendTime,
          timestamp: part.magic === 1 ? part.timestamp + BigInt(spec.timestampDelta) : -1n,
          key: spec.key,
          value: spec.value,
        });
      if (part.compression === 'none') {
        part.records.forEach((spec, index) => {
          parts.push(message(spec, next + BigInt(index)));
        });
      } else {
        // Inner offsets: relative in v1, absolute in v0; the wrapper carries the last one.
        const inner = part.records.map((spec, index) =>
          message(spec, part.magic === 1 ? BigInt(index) : next + BigInt(index)),
        );
        parts.push(
          legacyWrapper(
            {
              offset: next + BigInt(count - 1),
              magic: part.magic,
              compression: part.compression,
              logAppendTime: part.logAppendTime,
              timestamp: part.timestamp,
            },
            inner,
          ),
        );
      }
      next += BigInt(count);
    }
  }
  if (cutTail && parts.length > 0) {
    const last = parts[parts.length - 1]!;
    parts.push(last.subarray(0, Math.min(last.length - 1, 30)));
  }
  return { bytes: concat(...parts), firstOffset: start, endOffset: next, aborted };
}

// ---- the two decodes --------------------------------------------------------------------------------------------

interface Fields {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly timestampType: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: ReadonlyArray<readonly [string, string | null]>;
  readonly leaderEpoch: number;
}

const hex = (view: Uint8Array | null) =>
  view === null ? null : Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('hex');

function fieldsOf(record: ConsumerRecord): Fields {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    key: hex(record.key),
    value: hex(record.value),
    headers: record.headers.map((header) => [header.key, hex(header.value)] as const),
    leaderEpoch: record.leaderEpoch,
  };
}

/** The eager decode: every batch decompressed at once, records read with the cursor or the legacy iterator. */
function reference(log: Log, fetchOffset: bigint, readCommitted: boolean): Fields[] {
  const result: Fields[] = [];
  for (const batch of decodeRecords(log.bytes).batches) {
    if (batch instanceof RecordBatch) {
      if (batch.isControl) continue;
      const abortedBatch = log.aborted.some(
        (range) =>
          batch.isTransactional &&
          range.producerId === batch.producerId &&
          batch.baseOffset >= range.firstOffset &&
          batch.baseOffset < range.markerOffset,
      );
      if (readCommitted && abortedBatch) continue;
      const cursor = batch.decompressSync(LIMIT).cursor();
      while (cursor.next()) {
        if (cursor.offset < fetchOffset) continue;
        result.push({
          ...tp,
          offset: cursor.offset,
          timestamp: cursor.timestamp,
          timestampType: batch.timestampType,
          key: hex(cursor.key),
          value: hex(cursor.value),
          headers: cursor.headers().map((header) => [header.key, hex(header.value)] as const),
          leaderEpoch: batch.partitionLeaderEpoch,
        });
      }
    } else {
      for (const record of batch.decompressSync(LIMIT)) {
        if (record.offset < fetchOffset) continue;
        result.push({
          ...tp,
          offset: record.offset,
          timestamp: record.timestamp,
          timestampType: record.timestampType,
          key: hex(record.key),
          value: hex(record.value),
          headers: [],
          leaderEpoch: -1,
        });
      }
    }
  }
  return result;
}

/** Where the next fetch starts: after the last complete batch that ends past the fetch offset. */
function referenceNextOffset(log: Log, fetchOffset: bigint): bigint {
  let next = fetchOffset;
  for (const batch of decodeRecords(log.bytes).batches) if (batch.nextOffset > fetchOffset) next = batch.nextOffset;
  return next;
}

interface Take {
  readonly records: ConsumerRecord[];
  readonly fetch: CompletedFetch;
}

/** The lazy path: take in chunks of `max`, awaiting the pipeline whenever the next batch is still decompressing. */
async function taken(
  log: Log,
  fetchOffset: bigint,
  readCommitted: boolean,
  pool: { concurrency: number; asyncThresholdBytes: number },
  max: number,
): Promise<Take> {
  let wake: (() => void) | null = null;
  const pipeline = new DecompressionPipeline({
    ...pool,
    maxDecompressedBytes: LIMIT.maxDecompressedBytes,
    onSettled: () => {
      wake?.();
      wake = null;
    },
  });
  const fetch = new CompletedFetch({
    tp,
    version: 1,
    fetchOffset,
    records: log.bytes,
    isolationLevel: readCommitted ? 'read_committed' : 'read_uncommitted',
    abortedTransactions: log.aborted
      // What the broker lists: the aborted transactions that end at or after the fetch offset.
      .filter((range) => range.markerOffset >= fetchOffset)
      .map(({ producerId, firstOffset }) => ({ producerId, firstOffset })),
    checkCrcs: true,
    decompressor: pipeline,
  });
  const records: ConsumerRecord[] = [];
  for (;;) {
    const into: ConsumerRecord[] = [];
    const result = fetch.take(into as never, max);
    records.push(...into);
    if (result === 'done') break;
    if (result === 'waiting') await new Promise<void>((resolve) => (wake = resolve));
    else expect(into).toHaveLength(max);
  }
  expect(pipeline.size).toBe(0);
  return { records, fetch };
}

const pool = fc.record({
  concurrency: fc.integer({ min: 1, max: 4 }),
  asyncThresholdBytes: fc.constantFrom(0, 64, Number.POSITIVE_INFINITY),
});

interface Case {
  readonly start: bigint;
  readonly segments: readonly Segment[];
  readonly cutTail: boolean;
  readonly readCommitted: boolean;
  readonly fetchShift: number;
  readonly max: number;
  readonly pool: { concurrency: number; asyncThresholdBytes: number };
}

async function check({ start, segments, cutTail, readCommitted, fetchShift, max, pool }: Case): Promise<void> {
  const log = writeLog(start, segments, cutTail);
  const fetchOffset = start + BigInt(fetchShift) < 0n ? 0n : start + BigInt(fetchShift);
  const expected = reference(log, fetchOffset, readCommitted);
  const { records, fetch } = await taken(log, fetchOffset, readCommitted, pool, max);
  expect(records.map(fieldsOf)).toEqual(expected);
  // A detached copy reads the same, and so does the millisecond timestamp.
  expect(records.map((record) => fieldsOf(record.detach()))).toEqual(expected);
  for (const record of records) {
    if (record instanceof FetchedRecord) expect(record.timestampMillis).toBe(Number(record.timestamp));
  }
  expect(fetch.nextOffset).toBe(referenceNextOffset(log, fetchOffset));
  const last = expected[expected.length - 1];
  expect(fetch.takenUpTo).toBe(last === undefined ? null : last.offset + 1n);
}

const fetchShift = fc.oneof(fc.integer({ min: -2, max: 4 }), fc.integer({ min: 0, max: 30 }));

describe('FetchedRecord and CompletedFetch against an eager decode', () => {
  it('hand out the same records, field by field, for any log and fetch offset', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          start: fc.bigInt({ min: 0n, max: 1_000n }),
          segments: fc.array(segment, { minLength: 1, maxLength: 8 }),
          cutTail: fc.boolean(),
          readCommitted: fc.boolean(),
          fetchShift,
          max: fc.integer({ min: 1, max: 12 }),
          pool,
        }),
        check,
      ),
      { numRuns: 80 },
    );
  });

  it('drop the same aborted transactions under read_committed, for interleaved transactions of two producers', async () => {
    const transactional = segment.filter((part) => part.kind !== 'legacy');
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          start: fc.bigInt({ min: 0n, max: 100n }),
          segments: fc.array(transactional, { minLength: 2, maxLength: 10 }),
          cutTail: fc.constant(false),
          readCommitted: fc.constant(true),
          fetchShift,
          max: fc.integer({ min: 1, max: 50 }),
          pool,
        }),
        check,
      ),
      { numRuns: 60 },
    );
  });
});
