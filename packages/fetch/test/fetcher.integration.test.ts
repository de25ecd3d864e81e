/** The fetch pipeline against the real broker: positions, max.poll.records, seek, pause, out of range, new data. */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import type { CompressionType } from '@sluice/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Fetcher } from '../src/fetcher.ts';
import type { ConsumerRecord } from '../src/partition-records.ts';
import { createTopic, produce as produceTo } from './topic-helpers.ts';

const kafka = inject('kafka');
const topic = `fetch-test-${randomUUID().slice(0, 8)}`;
const pool = new ConnectionPool({ connection: { clientId: 'sluice-fetch-test' } });
const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.PLAINTEXT!, pool, topics: [topic] });
const text = new TextDecoder();
const tp = (partition: number) => ({ topic, partition });

function produce(partition: number, from: number, count: number, compression: CompressionType = 'none') {
  const records = Array.from({ length: count }, (_, index) => ({
    key: new TextEncoder().encode(`key-${from + index}`),
    value: new TextEncoder().encode(`p${partition}-${from + index}`),
  }));
  return produceTo(pool, metadata, tp(partition), records, compression);
}

beforeAll(async () => {
  await createTopic(pool, metadata, topic, 3);
  await produce(0, 0, 100);
  await produce(0, 100, 100, 'gzip');
  await produce(0, 200, 100);
  await produce(1, 0, 200, 'lz4');
});

afterAll(() => {
  metadata.close();
  pool.close();
});

/** Polls until `count` records came back (bounded generously: a correctness test). */
async function collect(fetcher: Fetcher, count: number, maxRecords = 500): Promise<ConsumerRecord[]> {
  const records: ConsumerRecord[] = [];
  const deadline = Date.now() + 60_000;
  while (records.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${records.length} of ${count} records`);
    const batch = await fetcher.poll(maxRecords, 1_000);
    expect(batch.length).toBeLessThanOrEqual(maxRecords);
    records.push(...batch);
  }
  return records;
}

function byPartition(records: readonly ConsumerRecord[]): Map<number, number[]> {
  const result = new Map<number, number[]>();
  for (const record of records) {
    const list = result.get(record.partition) ?? [];
    list.push(Number(record.offset));
    result.set(record.partition, list);
  }
  return result;
}

describe('Fetcher', () => {
  it('reads every partition from its position, in order, at most max.poll.records at a time', async () => {
    const fetcher = new Fetcher({ pool, metadata, fetchMaxWaitMs: 100 });
    fetcher.assign([tp(0), tp(1), tp(2)]);
    expect(fetcher.partitionsNeedingPosition()).toHaveLength(3);
    for (const partition of [0, 1, 2]) fetcher.seek(tp(partition), 0n);
    const records = await collect(fetcher, 500, 64);
    const offsets = byPartition(records);
    expect(offsets.get(0)).toEqual(Array.from({ length: 300 }, (_, index) => index));
    expect(offsets.get(1)).toEqual(Array.from({ length: 200 }, (_, index) => index));
    expect(offsets.has(2)).toBe(false);
    const sample = records.find((record) => record.partition === 0 && record.offset === 150n)!;
    expect(text.decode(sample.value!)).toBe('p0-150');
    expect(text.decode(sample.key!)).toBe('key-150');
    expect(fetcher.position(tp(0))).toBe(300n);
    expect(fetcher.position(tp(1))).toBe(200n);
    expect(fetcher.position(tp(2))).toBe(0n);
    expect(fetcher.watermarks(tp(0)).highWatermark).toBe(300n);
    expect(await fetcher.poll(100, 300)).toEqual([]);
    fetcher.close();
  });

  it('seeks, pauses and resumes, flags an out-of-range position, and long-polls for new records', async () => {
    const fetcher = new Fetcher({ pool, metadata, fetchMaxWaitMs: 200 });
    fetcher.assign([tp(0), tp(1)]);
    fetcher.seek(tp(0), 250n);
    fetcher.seek(tp(1), 100_000n);
    const records = await collect(fetcher, 50);
    expect(byPartition(records).get(0)).toEqual(Array.from({ length: 50 }, (_, index) => 250 + index));
    // The broker answered OFFSET_OUT_OF_RANGE for partition 1: the consumer must choose a new position.
    const deadline = Date.now() + 30_000;
    while (fetcher.partitionsNeedingPosition().length === 0 && Date.now() < deadline) await fetcher.poll(10, 100);
    expect(fetcher.partitionsNeedingPosition()).toEqual([tp(1)]);

    fetcher.seek(tp(1), 190n);
    fetcher.pause([tp(1)]);
    expect(await fetcher.poll(100, 500)).toEqual([]);
    fetcher.resume([tp(1)]);
    expect(byPartition(await collect(fetcher, 10)).get(1)).toEqual(
      Array.from({ length: 10 }, (_, index) => 190 + index),
    );

    // At the end of both partitions: new records arrive through the next fetches.
    const waiting = collect(fetcher, 5);
    await produce(0, 300, 5);
    expect(byPartition(await waiting).get(0)).toEqual([300, 301, 302, 303, 304]);
    fetcher.close();
  });

  it('refuses a negative seek and partitions it was not given', () => {
    const fetcher = new Fetcher({ pool, metadata });
    fetcher.assign([tp(0)]);
    expect(() => fetcher.seek(tp(0), -1n)).toThrow(RangeError);
    expect(() => fetcher.seek(tp(2), 0n)).toThrow(/not assigned/);
    fetcher.close();
  });
});
