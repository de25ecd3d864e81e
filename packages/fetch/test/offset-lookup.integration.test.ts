/** Offsets by position and by time against the real broker. */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool, KafkaError, RetryTimeoutError } from '@sluice/net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OffsetLookup } from '../src/offset-lookup.ts';
import { createTopic, produce } from './topic-helpers.ts';

const kafka = inject('kafka');
const topic = `lookup-test-${randomUUID().slice(0, 8)}`;
const pool = new ConnectionPool({ connection: { clientId: 'sluice-lookup-test' } });
const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.PLAINTEXT!, pool, topics: [topic] });
const BASE = 1_700_000_000_000n;

beforeAll(async () => {
  await createTopic(pool, metadata, topic, 2);
  // Partition 0: ten records, one second apart from BASE (offsets 0-9). Partition 1 stays empty.
  const records = Array.from({ length: 10 }, (_, index) => ({
    value: new TextEncoder().encode(`record-${index}`),
    timestamp: BASE + BigInt(index) * 1000n,
  }));
  await produce(pool, metadata, { topic, partition: 0 }, records);
});

afterAll(() => {
  metadata.close();
  pool.close();
});

describe('OffsetLookup', () => {
  const lookup = new OffsetLookup({ pool, metadata });
  const both = [
    { topic, partition: 0 },
    { topic, partition: 1 },
  ];

  it('finds where each partition begins and ends', async () => {
    expect(await lookup.beginningOffsets(both)).toEqual([0n, 0n]);
    expect(await lookup.endOffsets(both)).toEqual([10n, 0n]);
    // read_committed ends at the last stable offset: no transactions here, so the same.
    const committed = new OffsetLookup({ pool, metadata, isolationLevel: 'read_committed' });
    expect(await committed.endOffsets(both)).toEqual([10n, 0n]);
  });

  it('finds the first offset at or after a timestamp, and null past the last record', async () => {
    const found = await lookup.offsetsForTimes([
      { topic, partition: 0, timestamp: BASE + 3000n },
      { topic, partition: 0, timestamp: BASE + 3500n },
      { topic, partition: 0, timestamp: 0n },
      { topic, partition: 0, timestamp: BASE + 60_000n },
      { topic, partition: 1, timestamp: BASE },
    ]);
    expect(found.map((entry) => entry?.offset ?? null)).toEqual([3n, 4n, 0n, null, null]);
    expect(found[0]).toMatchObject({ timestamp: BASE + 3000n });
    expect(found[0]!.leaderEpoch).toBeGreaterThanOrEqual(0);
    await expect(lookup.offsetsForTimes([{ topic, partition: 0, timestamp: -5n }])).rejects.toThrow(RangeError);
  });

  it('gives up on a topic that does not exist when its time runs out, naming why', async () => {
    const error = await lookup
      .beginningOffsets([{ topic: `missing-${randomUUID().slice(0, 8)}`, partition: 0 }], { timeoutMs: 1_500 })
      .then(
        () => null,
        (reason: unknown) => reason,
      );
    expect(error).toBeInstanceOf(Error);
    expect(error instanceof RetryTimeoutError || error instanceof KafkaError).toBe(true);
  });
});
