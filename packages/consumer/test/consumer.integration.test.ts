/**
 * The consumer against the real broker: the poll loop in a group, commits and resuming from them, a group of two
 * sharing a topic with every record read once, two groups reading independently, manual assignment and seeks,
 * wakeup, and a record that cannot be deserialized.
 */
import { randomUUID } from 'node:crypto';
import { produce } from '@sluice/tools-admin';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ConsumerRecord, KafkaConsumer, RecordDeserializationError, WakeupError } from '../src/index.ts';
import { brokerFixture } from './broker-fixture.ts';

const { bootstrap, pool, metadata, newTopic, fill: fillPartitions, consumer } = brokerFixture('consumer-test');
const encoder = new TextEncoder();
const fill = (topic: string, partitions: number, perPartition: number, from = 0) =>
  fillPartitions(topic, [...Array(partitions).keys()], perPartition, from);

/** Polls until `count` records came (bounded generously: correctness, not timing). */
async function pollFor<K, V>(target: KafkaConsumer<K, V>, count: number): Promise<Array<ConsumerRecord<K, V>>> {
  const records: Array<ConsumerRecord<K, V>> = [];
  const deadline = Date.now() + 60_000;
  while (records.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${records.length} of ${count} records`);
    records.push(...(await target.poll(500)));
  }
  return records;
}

describe('KafkaConsumer', () => {
  let topic = '';
  beforeAll(async () => {
    topic = await newTopic(3);
    await fill(topic, 3, 100);
  });

  it('joins on the first poll, reads everything from the earliest offset, commits, and a successor resumes there', async () => {
    const groupId = `group-${randomUUID().slice(0, 8)}`;
    const first = consumer({ 'group.id': groupId, 'enable.auto.commit': false });
    first.subscribe([topic]);
    const records = await pollFor(first, 300);
    expect(records).toHaveLength(300);
    expect(new Set(records.map((record) => record.value)).size).toBe(300);
    expect(records.find((record) => record.partition === 1 && record.offset === 7n)?.value).toBe('1/7');
    expect(first.assignment()).toHaveLength(3);
    await first.commitSync();
    expect((await first.committed([{ topic, partition: 0 }]))[0]?.offset).toBe(100n);
    await first.close();

    const second = consumer({ 'group.id': groupId });
    second.subscribe([topic]);
    expect(await second.poll(2_000)).toEqual([]);
    await fill(topic, 3, 2, 100);
    const fresh = await pollFor(second, 6);
    expect(fresh.map((record) => record.value).sort()).toEqual(
      [0, 1, 2].flatMap((partition) => [`${partition}/100`, `${partition}/101`]).sort(),
    );
    await second.close();
  });

  it('shares a topic in a group of two, every record read once, and reads it again in another group', async () => {
    const shared = await newTopic(4);
    const groupId = `group-${randomUUID().slice(0, 8)}`;
    const a = consumer({ 'group.id': groupId });
    const b = consumer({ 'group.id': groupId });
    a.subscribe([shared]);
    b.subscribe([shared]);
    // Both join (their polls drive the group), then the records come.
    const deadline = Date.now() + 60_000;
    while (
      a.assignment().length + b.assignment().length < 4 ||
      a.assignment().length === 0 ||
      b.assignment().length === 0
    ) {
      if (Date.now() > deadline) throw new Error('the two consumers never shared the partitions');
      await Promise.all([a.poll(200), b.poll(200)]);
    }
    await fill(shared, 4, 25);
    const seen: string[] = [];
    while (seen.length < 100) {
      if (Date.now() > deadline) throw new Error(`read ${seen.length} of 100`);
      const [fromA, fromB] = await Promise.all([a.poll(300), b.poll(300)]);
      seen.push(...[...fromA, ...fromB].map((record) => record.value!));
    }
    expect(seen).toHaveLength(100);
    expect(new Set(seen).size).toBe(100);

    const other = consumer({ 'group.id': `group-${randomUUID().slice(0, 8)}` });
    other.subscribe([shared]);
    expect(await pollFor(other, 100)).toHaveLength(100);
    await Promise.all([a.close(), b.close(), other.close()]);
  });

  it('reads assigned partitions without a group, seeks by offset, beginning, end and time', async () => {
    const reader = consumer({});
    const p0 = { topic, partition: 0 };
    reader.assign([p0]);
    expect(reader.assignment()).toEqual([p0]);
    reader.seek(p0, 90);
    const tail = await pollFor(reader, 10);
    expect(tail[0]!.offset).toBe(90n);
    await reader.seekToBeginning([p0]);
    expect(await reader.position(p0)).toBe(0n);
    expect((await reader.poll(5_000))[0]?.offset).toBe(0n);
    await reader.seekToEnd([p0]);
    const end = await reader.position(p0);
    expect(end).toBe((await reader.endOffsets([p0]))[0]);
    const [found] = await reader.offsetsForTimes([{ ...p0, timestamp: 0 }]);
    expect(found?.offset).toBe(0n);
    await reader.close();
    await expect(reader.poll(10)).rejects.toThrow(/closed/);
  });

  it('wakeup makes a blocked poll throw WakeupError, and the consumer goes on afterwards', async () => {
    const reader = consumer({});
    reader.assign([{ topic, partition: 2 }]);
    await reader.seekToEnd();
    setTimeout(() => reader.wakeup(), 300);
    await expect(reader.poll(60_000)).rejects.toBeInstanceOf(WakeupError);
    expect(await reader.poll(100)).toEqual([]);
    await reader.close();
  });

  it('stops at a record it cannot deserialize, returns what came before, and goes on after a seek past it', async () => {
    const bad = await newTopic(1);
    await produce(pool, metadata, { topic: bad, partition: 0 }, [
      { value: encoder.encode('{"n":1}') },
      { value: encoder.encode('not json') },
      { value: encoder.encode('{"n":3}') },
    ]);
    const reader = new KafkaConsumer<Uint8Array | null, unknown>({
      'bootstrap.servers': bootstrap,
      'value.deserializer': 'json',
      'fetch.max.wait.ms': 100,
    });
    const tp = { topic: bad, partition: 0 };
    reader.assign([tp]);
    reader.seek(tp, 0);
    const records = await pollFor(reader, 1);
    expect(records.map((record) => record.value)).toEqual([{ n: 1 }]);
    const error = await reader.poll(5_000).then(
      () => null,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(RecordDeserializationError);
    expect((error as RecordDeserializationError).offset).toBe(1n);
    // Still stuck on it: the failing record was not skipped silently.
    await expect(reader.poll(5_000)).rejects.toBeInstanceOf(RecordDeserializationError);
    reader.seek(tp, 2);
    expect((await pollFor(reader, 1)).map((record) => record.value)).toEqual([{ n: 3 }]);
    await reader.close();
  });
});
