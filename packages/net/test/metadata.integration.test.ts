/** Cluster metadata against the real broker of the run: a created topic's ids, partitions, leaders and replicas. */
import { describe, expect, inject, it } from 'vitest';
import { ClusterMetadata } from '../src/cluster-metadata.ts';
import { ErrorCode } from '../src/kafka-errors.generated.ts';
import type { ClusterSnapshot } from '../src/metadata-snapshot.ts';
import { ConnectionPool } from '../src/pool.ts';
import { createTopic, uniqueTopic } from './cluster-helpers.ts';

const kafka = inject('kafka');

describe('ClusterMetadata with a real broker', () => {
  it('describes a created topic: id, partitions, leaders, leader epochs, replicas, ISR', async () => {
    const pool = new ConnectionPool({ connection: { clientId: 'sluice-metadata-test' } });
    const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.PLAINTEXT!, pool });
    try {
      const first = await metadata.ready();
      expect(first.brokers.size).toBeGreaterThan(0);
      expect([...first.brokers.keys()]).toContain(first.controllerId);
      if (!kafka.external) {
        expect(first.clusterId).toBe(kafka.clusterId);
        expect([...first.brokers.keys()].sort()).toEqual([...kafka.nodeIds].sort());
      }
      const nodeId = [...first.brokers.keys()][0]!;
      const connection = await pool.get({ nodeId });
      const name = uniqueTopic('metadata');
      const topicId = await createTopic(connection, { name, partitions: 3, replicationFactor: 1 });

      metadata.setTopics([name, 'sluice-no-such-topic']);
      // Leaders appear once the controller has propagated the topic; until then partitions may lack one.
      let snapshot: ClusterSnapshot;
      const deadline = Date.now() + 30_000;
      for (;;) {
        snapshot = await metadata.refresh();
        const topic = snapshot.topics.get(name);
        if (topic?.partitions.length === 3 && topic.partitions.every((partition) => partition.leaderId >= 0)) break;
        expect(Date.now()).toBeLessThan(deadline);
      }
      const topic = snapshot.topics.get(name)!;
      expect(topic).toMatchObject({ name, topicId, isInternal: false, error: null });
      expect(snapshot.topicNamesById.get(topicId)).toBe(name);
      expect(topic.partitions.map((partition) => partition.partition)).toEqual([0, 1, 2]);
      for (const partition of topic.partitions) {
        expect(snapshot.brokers.has(partition.leaderId)).toBe(true);
        expect(partition.leaderEpoch).toBeGreaterThanOrEqual(0);
        expect(partition.replicas).toEqual([partition.leaderId]);
        expect(partition.isr).toEqual([partition.leaderId]);
        expect(partition.offlineReplicas).toEqual([]);
        expect(partition.error).toBeNull();
      }
      // allow.auto.create.topics is off here: an unknown topic is reported, not created.
      expect(snapshot.topics.get('sluice-no-such-topic')?.error?.code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    } finally {
      metadata.close();
      pool.close();
    }
  });
});
