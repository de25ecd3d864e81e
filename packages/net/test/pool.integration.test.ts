/** The pool against the real broker of the run: lazy connects, and a fetch that waits does not delay coordination. */

import { readFileSync } from 'node:fs';
import { defaultMetadataRequest, metadataApi } from '@sluice/protocol';
import { describe, expect, inject, it } from 'vitest';
import { ClusterMetadata } from '../src/cluster-metadata.ts';
import { ConnectionPool } from '../src/pool.ts';
import { Secret } from '../src/sasl/secret.ts';
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
      // Right after creation the partition may not be ready on the broker, and a fetch then returns at once with an
      // error: fetch again until the broker holds one (waiting for data, up to maxWaitMs).
      let fetchStarted = 0;
      let fetch: ReturnType<typeof longFetch> | null = null;
      for (let attempt = 0; attempt < 20 && fetch === null; attempt++) {
        fetchStarted = Date.now();
        const candidate = longFetch(fetchConnection, { topic: name, topicId, partition: 0, maxWaitMs: 3000 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (pool.status({ nodeId: leader }, 'fetch').inFlight === 1) fetch = candidate;
        else await candidate;
      }
      expect(fetch, 'a fetch held by the broker').not.toBeNull();

      const started = Date.now();
      const request = { ...defaultMetadataRequest(), topics: [] };
      for (let index = 0; index < 5; index++) await pool.request({ nodeId: leader }, metadataApi, request);
      // Answered while the fetch is still held (a bound, not a benchmark).
      expect(Date.now() - started).toBeLessThan(1500);
      expect(pool.status({ nodeId: leader }, 'fetch').inFlight).toBe(1);

      const response = await fetch!;
      expect(response.errorCode).toBe(0);
      expect(Date.now() - fetchStarted).toBeGreaterThanOrEqual(2500);
    } finally {
      metadata.close();
      pool.close();
    }
  });
});

describe.skipIf(!kafka.listeners.includes('SASL_SSL'))('ConnectionPool over SASL_SSL', () => {
  it('bootstraps, follows metadata to the brokers and serves requests, every connection TLS + SCRAM', async () => {
    const pool = new ConnectionPool({
      connection: {
        clientId: 'sluice-pool-secure-test',
        tls: { ca: readFileSync(kafka.tls!.caFile) },
        sasl: {
          mechanism: 'SCRAM-SHA-512',
          username: kafka.sasl!.username,
          password: new Secret(kafka.sasl!.password),
        },
      },
    });
    const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.SASL_SSL!, pool });
    try {
      const snapshot = await metadata.ready();
      // Metadata asked on the SASL_SSL listener names the brokers' SASL_SSL addresses.
      const saslSslPorts = kafka.bootstrap.SASL_SSL!.split(',').map((address) => Number(address.split(':')[1]));
      for (const broker of snapshot.brokers.values()) expect(saslSslPorts).toContain(broker.port);
      const nodeId = [...snapshot.brokers.keys()][0]!;
      for (const purpose of ['coordination', 'fetch'] as const) {
        const response = await pool.request(
          { nodeId },
          metadataApi,
          { ...defaultMetadataRequest(), topics: [] },
          { purpose },
        );
        expect(response.clusterId).toBe(kafka.clusterId);
        const connection = await pool.get({ nodeId }, { purpose });
        expect(connection.sessionLifetimeMs).not.toBeNull();
      }
    } finally {
      metadata.close();
      pool.close();
    }
  });
});
