/**
 * read_committed against transactions written by Kafka's own transactional producer (through the oracle): aborted
 * transactions and markers are dropped, committed ones delivered, and read_uncommitted sees everything; the
 * position ends at the end of the partition either way (markers and aborted batches move it without records).
 */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { createTopic } from '@sluice/tools-admin';
import { type Oracle, startOracle } from '@sluice/tools-oracle';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KafkaConsumer } from '../src/index.ts';

const kafka = inject('kafka');
const bootstrap = kafka.bootstrap.PLAINTEXT!;
const topic = `transactions-${randomUUID().slice(0, 8)}`;
const pool = new ConnectionPool({ connection: { clientId: 'sluice-transactions-test' } });
const metadata = new ClusterMetadata({ bootstrapServers: bootstrap, pool, topics: [topic] });
let oracle: Oracle;

beforeAll(async () => {
  oracle = await startOracle();
  await createTopic(pool, metadata, topic, 1);
  await oracle.produceTransactions({
    bootstrap,
    topic,
    partition: 0,
    transactions: [
      { values: ['a1', 'a2'], commit: true },
      { values: ['b1', 'b2', 'b3'], commit: false },
      { values: ['c1'], commit: true },
      { values: ['d1'], commit: false },
    ],
  });
}, 120_000);

afterAll(async () => {
  await oracle?.close();
  metadata.close();
  pool.close();
});

async function readAll(isolationLevel: 'read_committed' | 'read_uncommitted'): Promise<Array<string | null>> {
  const consumer = new KafkaConsumer<Uint8Array | null, string | null>({
    'bootstrap.servers': bootstrap,
    'isolation.level': isolationLevel,
    'value.deserializer': 'string',
    'fetch.max.wait.ms': 100,
  });
  try {
    const tp = { topic, partition: 0 };
    consumer.assign([tp]);
    const [end] = await consumer.endOffsets([tp]);
    consumer.seek(tp, 0n);
    const values: Array<string | null> = [];
    const deadline = Date.now() + 60_000;
    while ((await consumer.position(tp)) < end!) {
      if (Date.now() > deadline) throw new Error(`stuck at ${await consumer.position(tp)} before ${end}`);
      values.push(...(await consumer.poll(200)).map((record) => record.value));
    }
    return values;
  } finally {
    await consumer.close();
  }
}

describe('transactions', () => {
  it('read_committed delivers only committed transactions and moves past markers and aborted data', async () => {
    expect(await readAll('read_committed')).toEqual(['a1', 'a2', 'c1']);
  });

  it('read_uncommitted delivers every data record, aborted ones included, but never a marker', async () => {
    expect(await readAll('read_uncommitted')).toEqual(['a1', 'a2', 'b1', 'b2', 'b3', 'c1', 'd1']);
  });
});
