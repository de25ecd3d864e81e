/**
 * Reading assigned partitions against the real broker: positions through compressed and uncompressed batches,
 * max.poll.records, seeks (by offset, to the beginning and end, by time), pause and resume, out-of-range positions
 * with and without a reset strategy, offset lookups, lag, topic metadata, and interrupting waiting calls.
 */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import type { CompressionType } from '@sluice/protocol';
import { createTopic, produce } from '@sluice/tools-admin';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ConsumerRecord,
  IllegalStateError,
  KafkaConsumer,
  NoOffsetForPartitionError,
  OffsetOutOfRangeError,
  TimeoutError,
  WakeupError,
} from '../src/index.ts';

const kafka = inject('kafka');
const bootstrap = kafka.bootstrap.PLAINTEXT!;
const topic = `positions-${randomUUID().slice(0, 8)}`;
const pool = new ConnectionPool({ connection: { clientId: 'sluice-positions-test' } });
const metadata = new ClusterMetadata({ bootstrapServers: bootstrap, pool, topics: [topic] });
const consumers: Array<KafkaConsumer<unknown, unknown>> = [];
const tp = (partition: number) => ({ topic, partition });
let startedAt = 0n;

function write(partition: number, from: number, count: number, compression: CompressionType = 'none') {
  const records = Array.from({ length: count }, (_, index) => ({
    key: new TextEncoder().encode(`key-${from + index}`),
    value: new TextEncoder().encode(`p${partition}-${from + index}`),
    timestamp: BigInt(Date.now()),
  }));
  return produce(pool, metadata, tp(partition), records, compression);
}

beforeAll(async () => {
  await createTopic(pool, metadata, topic, 3);
  startedAt = BigInt(Date.now());
  await write(0, 0, 100);
  await write(0, 100, 100, 'gzip');
  await write(0, 200, 100);
  await write(1, 0, 200, 'lz4');
});

afterAll(async () => {
  await Promise.all(consumers.splice(0).map((consumer) => consumer.close({ timeoutMs: 5_000 }).catch(() => {})));
  metadata.close();
  pool.close();
});

function reader(config: Record<string, unknown> = {}): KafkaConsumer<string | null, string | null> {
  const created = new KafkaConsumer<string | null, string | null>({
    'bootstrap.servers': bootstrap,
    'key.deserializer': 'string',
    'value.deserializer': 'string',
    'fetch.max.wait.ms': 100,
    'auto.offset.reset': 'earliest',
    ...config,
  });
  consumers.push(created as KafkaConsumer<unknown, unknown>);
  return created;
}

async function collect(
  consumer: KafkaConsumer<string | null, string | null>,
  count: number,
  maxRecords = 500,
): Promise<Array<ConsumerRecord<string | null, string | null>>> {
  const records: Array<ConsumerRecord<string | null, string | null>> = [];
  const deadline = Date.now() + 60_000;
  while (records.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${records.length} of ${count} records`);
    const batch = await consumer.poll(1_000);
    expect(batch.length).toBeLessThanOrEqual(maxRecords);
    records.push(...batch);
  }
  return records;
}

function offsetsByPartition(records: ReadonlyArray<ConsumerRecord<unknown, unknown>>): Map<number, number[]> {
  const result = new Map<number, number[]>();
  for (const record of records) {
    const list = result.get(record.partition) ?? [];
    list.push(Number(record.offset));
    result.set(record.partition, list);
  }
  return result;
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index);

describe('reading assigned partitions', () => {
  it('reads every partition from its position, in order, at most max.poll.records at a time', async () => {
    const consumer = reader({ 'max.poll.records': 64 });
    consumer.assign([tp(0), tp(1), tp(2)]);
    const records = await collect(consumer, 500, 64);
    const byPartition = offsetsByPartition(records);
    expect(byPartition.get(0)).toEqual(range(0, 300));
    expect(byPartition.get(1)).toEqual(range(0, 200));
    expect(records.find((record) => record.partition === 0 && record.offset === 150n)?.value).toBe('p0-150');
    expect(await consumer.position(tp(0))).toBe(300n);
    expect(await consumer.position(tp(2))).toBe(0n);
    expect(consumer.currentLag(tp(0))).toBe(0n);
  });

  it('seeks by offset, to the beginning, the end and a time; pauses and resumes; waits for new records', async () => {
    const consumer = reader();
    consumer.assign([tp(0), tp(1)]);
    consumer.seek(tp(0), 250);
    consumer.seek(tp(1), 150n);
    const tail = await collect(consumer, 100);
    expect(offsetsByPartition(tail).get(0)).toEqual(range(250, 50));
    expect(offsetsByPartition(tail).get(1)).toEqual(range(150, 50));
    consumer.seekToBeginning([tp(1)]);
    expect(await consumer.position(tp(1))).toBe(0n);
    consumer.seekToEnd();
    expect(await consumer.position(tp(0))).toBe(300n);
    expect(await consumer.endOffsets([tp(0), tp(1), tp(2)])).toEqual([300n, 200n, 0n]);
    expect(await consumer.beginningOffsets([tp(0)])).toEqual([0n]);
    const [atStart, pastEnd] = await consumer.offsetsForTimes([
      { ...tp(0), timestamp: startedAt - 1_000n },
      { ...tp(1), timestamp: BigInt(Date.now()) + 60_000n },
    ]);
    expect(atStart?.offset).toBe(0n);
    expect(pastEnd).toBeNull();

    consumer.pause([tp(1)]);
    expect(consumer.paused()).toEqual([tp(1)]);
    await write(0, 300, 5);
    await write(1, 200, 5);
    const fresh = await collect(consumer, 5);
    expect(fresh.map((record) => record.value)).toEqual(range(300, 5).map((index) => `p0-${index}`));
    expect(await consumer.poll(300)).toEqual([]);
    consumer.resume([tp(1)]);
    expect(consumer.paused()).toEqual([]);
    const resumed = await collect(consumer, 5);
    expect(resumed.map((record) => record.value)).toEqual(range(200, 5).map((index) => `p1-${index}`));
  });

  it('resets an out-of-range position with auto.offset.reset, and throws OffsetOutOfRangeError with none until a seek', async () => {
    const resetting = reader({ 'auto.offset.reset': 'earliest' });
    resetting.assign([tp(1)]);
    resetting.seek(tp(1), 1_000_000);
    const again = await collect(resetting, 1);
    expect(again[0]?.offset).toBe(0n);

    const strict = reader({ 'auto.offset.reset': 'none' });
    strict.assign([tp(1)]);
    strict.seek(tp(1), 1_000_000);
    let error: unknown = null;
    const deadline = Date.now() + 30_000;
    while (error === null && Date.now() < deadline)
      error = await strict.poll(500).then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
    expect((error as OffsetOutOfRangeError).offsets).toEqual([{ ...tp(1), offset: 1_000_000n }]);
    await expect(strict.poll(100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    strict.seek(tp(1), 10);
    expect((await collect(strict, 1))[0]?.offset).toBe(10n);
  });

  it('throws NoOffsetForPartitionError for a partition without a committed offset when auto.offset.reset is none', async () => {
    const strict = reader({ 'auto.offset.reset': 'none', 'group.id': `none-${randomUUID().slice(0, 8)}` });
    strict.assign([tp(2)]);
    await expect(strict.position(tp(2))).rejects.toBeInstanceOf(NoOffsetForPartitionError);
    await expect(strict.poll(1_000)).rejects.toBeInstanceOf(NoOffsetForPartitionError);
  });

  it('refuses a negative seek and partitions it was not given', async () => {
    const consumer = reader();
    consumer.assign([tp(0)]);
    expect(() => consumer.seek(tp(0), -1n)).toThrow(RangeError);
    expect(() => consumer.seek(tp(2), 0)).toThrow(IllegalStateError);
    expect(() => consumer.pause([tp(2)])).toThrow(IllegalStateError);
    await expect(consumer.position(tp(2))).rejects.toBeInstanceOf(IllegalStateError);
    expect(() => consumer.subscribe([topic])).toThrow(/group.id/);
  });

  it('lists topics and partitions; an unknown topic has none; lookups of it time out naming why', async () => {
    const consumer = reader({ 'allow.auto.create.topics': false });
    const topics = await consumer.listTopics();
    expect(topics.get(topic)?.map((partition) => partition.partition)).toEqual([0, 1, 2]);
    expect([...topics.keys()].some((name) => name.startsWith('__'))).toBe(false);
    const partitions = await consumer.partitionsFor(topic);
    expect(partitions).toHaveLength(3);
    expect(partitions[0]?.leader?.port).toBeGreaterThan(0);
    const missing = `missing-${randomUUID().slice(0, 8)}`;
    expect(await consumer.partitionsFor(missing)).toEqual([]);
    const lookup = consumer.endOffsets([{ topic: missing, partition: 0 }], { timeoutMs: 1_500 });
    await expect(lookup).rejects.toBeInstanceOf(TimeoutError);
    await expect(lookup).rejects.toThrow(/no leader is known for missing-/);
  });

  it('wakeup interrupts a waiting call, an AbortSignal too, and the consumer goes on afterwards', async () => {
    const consumer = reader({ 'allow.auto.create.topics': false });
    consumer.assign([tp(2)]);
    consumer.seekToEnd();
    const waiting = consumer.endOffsets([{ topic: `missing-${randomUUID().slice(0, 8)}`, partition: 0 }]);
    setTimeout(() => consumer.wakeup(), 200);
    await expect(waiting).rejects.toBeInstanceOf(WakeupError);
    setTimeout(() => consumer.wakeup(), 200);
    await expect(consumer.poll(60_000)).rejects.toBeInstanceOf(WakeupError);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop waiting')), 200);
    await expect(consumer.poll(60_000, { signal: controller.signal })).rejects.toThrow('stop waiting');
    // A wakeup with no call waiting is kept for the next one.
    consumer.wakeup();
    await expect(consumer.poll(10)).rejects.toBeInstanceOf(WakeupError);
    expect(await consumer.poll(100)).toEqual([]);
  });
});
