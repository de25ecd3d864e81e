/**
 * read_committed against transactions written by Kafka's own transactional producer (through the oracle): aborted
 * transactions and markers are dropped, committed ones delivered, and read_uncommitted sees everything.
 */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { type Oracle, startOracle } from '@sluice/tools-oracle';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Fetcher } from '../src/fetcher.ts';
import { OffsetLookup } from '../src/offset-lookup.ts';
import type { ConsumerRecord } from '../src/partition-records.ts';
import { createTopic } from './topic-helpers.ts';

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

async function readAll(isolationLevel: 'read_committed' | 'read_uncommitted'): Promise<ConsumerRecord[]> {
  const fetcher = new Fetcher({ pool, metadata, isolationLevel, fetchMaxWaitMs: 100 });
  const lookup = new OffsetLookup({ pool, metadata, isolationLevel });
  const tp = { topic, partition: 0 };
  const [end] = await lookup.endOffsets([tp]);
  fetcher.assign([tp]);
  fetcher.seek(tp, 0n);
  const records: ConsumerRecord[] = [];
  const deadline = Date.now() + 60_000;
  // Read until the position reaches the end (markers and aborted batches move it without records).
  while ((fetcher.position(tp) ?? 0n) < end!) {
    if (Date.now() > deadline) throw new Error(`stuck at ${fetcher.position(tp)} before ${end}`);
    records.push(...(await fetcher.poll(100, 200)));
  }
  fetcher.close();
  return records;
}

const values = (records: readonly ConsumerRecord[]) => records.map((record) => new TextDecoder().decode(record.value!));

describe('transactions', () => {
  it('read_committed delivers only committed transactions and moves past markers and aborted data', async () => {
    expect(values(await readAll('read_committed'))).toEqual(['a1', 'a2', 'c1']);
  });

  it('read_uncommitted delivers every data record, aborted ones included, but never a marker', async () => {
    expect(values(await readAll('read_uncommitted'))).toEqual(['a1', 'a2', 'b1', 'b2', 'b3', 'c1', 'd1']);
  });
});
