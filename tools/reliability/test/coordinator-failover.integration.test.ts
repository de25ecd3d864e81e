/**
 * The group coordinator's broker fails, on a 3-broker cluster of this file's own (replication factor 3,
 * min.insync.replicas 2): the consumer's poll keeps returning while the coordinator is gone and never throws; the
 * group finds the next coordinator and goes on; close() keeps to its timeout. What a group loses or reads twice
 * meanwhile is the reliability suite's coordinator-kill scenario (`pnpm reliability`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaConsumer } from '@sluice/consumer';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { coordinatorOf, createTopic } from '@sluice/tools-admin';
import { KafkaCluster } from '@sluice/tools-kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LoggingProducer } from '../src/index.ts';
import { keepLogsOnFailure } from './keep-logs.ts';

const external = inject('kafka').external;
const PARTITIONS = 6;

describe.skipIf(external)('the group coordinator fails (3 brokers)', () => {
  let cluster: KafkaCluster;
  let pool: ConnectionPool;
  let metadata: ClusterMetadata;
  const directories: string[] = [];

  beforeAll(async () => {
    cluster = await KafkaCluster.start({ brokers: 3, brokerConfig: { 'min.insync.replicas': 2 } });
    pool = new ConnectionPool({ connection: { clientId: 'sluice-failover-setup' } });
    metadata = new ClusterMetadata({ bootstrapServers: cluster.bootstrap(), pool });
  });

  afterAll(async () => {
    metadata?.close();
    pool?.close();
    await cluster?.stop();
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  async function newTopic(): Promise<string> {
    const topic = `failover-${randomUUID().slice(0, 8)}`;
    metadata.setTopics([topic]);
    await createTopic(pool, metadata, topic, PARTITIONS, { replicationFactor: 3 });
    return topic;
  }

  it('poll keeps returning, and never throws, while the coordinator is down; the group goes on with the next one', async () => {
    const topic = await newTopic();
    const groupId = `failover-${randomUUID().slice(0, 8)}`;
    const directory = mkdtempSync(join(tmpdir(), 'sluice-failover-'));
    directories.push(directory);
    keepLogsOnFailure(directory, directories);
    const producer = new LoggingProducer({
      bootstrap: cluster.bootstrap(),
      topic,
      partitions: PARTITIONS,
      logFile: join(directory, 'producer.jsonl'),
    });
    const consumer = new KafkaConsumer<Uint8Array | null, string | null>({
      'bootstrap.servers': cluster.bootstrap(),
      'group.id': groupId,
      'value.deserializer': 'string',
      'auto.offset.reset': 'earliest',
      'session.timeout.ms': 30_000,
      'heartbeat.interval.ms': 1_000,
      'fetch.max.wait.ms': 200,
      'metadata.max.age.ms': 2_000,
    });
    try {
      producer.start();
      consumer.subscribe([topic]);
      const seen = new Set<string | null>();
      const deadline = Date.now() + 60_000;
      while (consumer.assignment().length < PARTITIONS || seen.size < 100) {
        if (Date.now() > deadline) throw new Error('the consumer never got going');
        for (const record of await consumer.poll(500)) seen.add(record.value);
      }
      await consumer.commitSync();
      const coordinator = await coordinatorOf(pool, metadata, groupId);
      await cluster.kill(coordinator);
      // Longer than the poll timeout, and than the controller takes to fence the dead broker (9 s).
      const downUntil = Date.now() + 15_000;
      let polls = 0;
      let duringOutage = 0;
      while (Date.now() < downUntil) {
        duringOutage += (await consumer.poll(500)).length;
        polls++;
      }
      expect(polls).toBeGreaterThan(10);
      await cluster.restart(coordinator);
      // The group goes on: commits land at the coordinator that took over, and records keep coming.
      const before = seen.size;
      const recovery = Date.now() + 90_000;
      let committed = false;
      while (!committed || seen.size < before + 100) {
        if (Date.now() > recovery)
          throw new Error(`no recovery: committed ${committed}, ${seen.size - before} records`);
        for (const record of await consumer.poll(500)) seen.add(record.value);
        committed = await consumer.commitSync().then(
          () => true,
          () => false,
        );
      }
      expect(consumer.assignment()).toHaveLength(PARTITIONS);
      console.log(`coordinator ${coordinator} down 15 s: ${polls} polls, ${duringOutage} records during the outage`);
    } finally {
      await producer.stop();
      await consumer.close();
    }
  }, 240_000);

  it('close() returns within its timeout when the coordinator cannot be reached', async () => {
    const topic = await newTopic();
    const groupId = `close-${randomUUID().slice(0, 8)}`;
    const consumer = new KafkaConsumer({
      'bootstrap.servers': cluster.bootstrap(),
      'group.id': groupId,
      'auto.offset.reset': 'earliest',
      'fetch.max.wait.ms': 200,
    });
    consumer.subscribe([topic]);
    const deadline = Date.now() + 60_000;
    while (consumer.assignment().length < PARTITIONS) {
      if (Date.now() > deadline) throw new Error('the consumer never joined');
      await consumer.poll(500);
    }
    const coordinator = await coordinatorOf(pool, metadata, groupId);
    await cluster.kill(coordinator);
    const started = Date.now();
    const outcome = await Promise.race([
      consumer.close({ timeoutMs: 3_000 }).then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still closing'), 20_000)),
    ]);
    expect(outcome).toBe('closed');
    console.log(`close() with the coordinator gone took ${Date.now() - started} ms (timeout 3000 ms)`);
    await cluster.restart(coordinator);
  }, 120_000);
});
