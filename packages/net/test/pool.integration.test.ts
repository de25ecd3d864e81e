/** The pool against the real broker of the run: lazy connects, and a fetch that waits does not delay coordination. */
import { defaultMetadataRequest, metadataApi } from '@sluice/protocol';
import { describe, expect, inject, it } from 'vitest';
import { ClusterMetadata } from '../src/cluster-metadata.ts';
import { ConnectionPool } from '../src/pool.ts';
import { createTopic, longFetch, uniqueTopic } from './cluster-helpers.ts';

const kafka = inject('kafka');

describe('ConnectionPool with a real broker', () => {
  it('connects lazily, keeps fetch and coordination apart, and a long fetch never delays coordination', async () => {
    const pool = new ConnectionPool({ connection: { clientId: 'sluice-pool-test' } });
    const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.PLAINTEXT!, pool });
    try {
      const snapshot = await metadata.ready();
      const nodeId = [...snapshot.brokers.keys()][0]!;
      // Metadata went to a bootstrap address; nothing is open to the node id yet.
      expect(pool.status({ nodeId }, 'coordination').state).toBe('disconnected');
      expect(pool.status({ nodeId }, 'fetch').state).toBe('disconnected');

      const coordination = await pool.get({ nodeId });
      const name = uniqueTopic('pool');
      const topicId = await createTopic(coordination, { name, partitions: 1, replicationFactor: 1 });
      metadata.setTopics([name]);
      let leader = -1;
      while (leader < 0) leader = (await metadata.refresh()).topics.get(name)?.partitions[0]?.leaderId ?? -1;

      const fetchConnection = await pool.get({ nodeId: leader }, { purpose: 'fetch' });
      expect(fetchConnection).not.toBe(await pool.get({ nodeId: leader }));
      const fetchStarted = Date.now();
      const fetch = longFetch(fetchConnection, { topic: name, topicId, partition: 0, maxWaitMs: 3000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(pool.status({ nodeId: leader }, 'fetch').inFlight).toBe(1);

      const started = Date.now();
      const request = { ...defaultMetadataRequest(), topics: [] };
      for (let index = 0; index < 5; index++) await pool.request({ nodeId: leader }, metadataApi, request);
      // Answered while the fetch is still held (a bound, not a benchmark).
      expect(Date.now() - started).toBeLessThan(1500);
      expect(pool.status({ nodeId: leader }, 'fetch').inFlight).toBe(1);

      const response = await fetch;
      expect(response.errorCode).toBe(0);
      expect(Date.now() - fetchStarted).toBeGreaterThanOrEqual(2500);
    } finally {
      metadata.close();
      pool.close();
    }
  });
});
