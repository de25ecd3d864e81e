/**
 * Broker failures on a 3-broker cluster of this file's own: a killed broker fails its pending requests at once and
 * the pool reconnects after its restart; metadata follows partition leadership to a surviving broker.
 */
import { defaultMetadataRequest, type MetadataResponse, metadataApi } from '@sluice/protocol';
import { KafkaCluster } from '@sluice/tools-kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClusterMetadata } from '../src/cluster-metadata.ts';
import type { Connection } from '../src/connection.ts';
import { NetworkError } from '../src/errors.ts';
import { findPartition } from '../src/metadata-snapshot.ts';
import { ConnectionPool } from '../src/pool.ts';
import { createTopic, longFetch, uniqueTopic } from './cluster-helpers.ts';

const external = inject('kafka').external;

describe.skipIf(external)('broker failover (3 brokers)', () => {
  let cluster: KafkaCluster;
  let pool: ConnectionPool;
  let metadata: ClusterMetadata;
  const topic = uniqueTopic('failover');
  let topicId = '';

  beforeAll(async () => {
    cluster = await KafkaCluster.start({ brokers: 3 });
    pool = new ConnectionPool({ connection: { clientId: 'sluice-failover-test' } });
    metadata = new ClusterMetadata({ bootstrapServers: cluster.bootstrap(), pool, topics: [topic] });
    const snapshot = await metadata.ready();
    expect(snapshot.brokers.size).toBe(3);
    topicId = await createTopic(await pool.get({ nodeId: snapshot.controllerId }), {
      name: topic,
      partitions: 6,
      replicationFactor: 3,
    });
    // Wait until every partition has a leader and a full ISR, so a kill leaves an in-sync replica to take over.
    for (;;) {
      const partitions = (await metadata.refresh()).topics.get(topic)?.partitions ?? [];
      if (
        partitions.length === 6 &&
        partitions.every((partition) => partition.leaderId >= 0 && partition.isr.length === 3)
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  afterAll(async () => {
    metadata?.close();
    pool?.close();
    await cluster?.stop();
  });

  it('fails requests pending on a killed broker promptly, and reconnects once it is restarted', async () => {
    // A fetch the leader holds for 20 s: pending when the broker dies. On a loaded machine leadership can move
    // between the metadata refresh and the fetch (the fetch then returns at once with an error): try again.
    let victim = -1;
    let connection: Connection | null = null;
    let outcome: Promise<{ error: unknown; at: number }> | null = null;
    for (let attempt = 0; attempt < 5 && outcome === null; attempt++) {
      const partition = (await metadata.refresh()).topics.get(topic)!.partitions[0]!;
      victim = partition.leaderId;
      connection = await pool.get({ nodeId: victim }, { purpose: 'fetch' });
      const pending = longFetch(connection, { topic, topicId, partition: partition.partition, maxWaitMs: 20_000 });
      const settled = pending.then(
        () => ({ error: null as unknown, at: Date.now() }),
        (error: unknown) => ({ error, at: Date.now() }),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (connection.inFlight === 1) outcome = settled;
      else await settled;
    }
    expect(outcome, 'a fetch held by the leader').not.toBeNull();
    connection = connection!;

    const killedAt = Date.now();
    await cluster.kill(victim);
    const { error, at } = await outcome!;
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).retriable).toBe(true);
    // A bound on how soon the failure is seen (the kill closes the socket), not a benchmark.
    expect(at - killedAt).toBeLessThan(2000);
    expect(connection.closed).toBe(true);
    // The pool forgot the lost connection and will not dial straight back (reconnect backoff).
    expect(['backoff', 'disconnected']).toContain(pool.status({ nodeId: victim }, 'fetch').state);
    await expect(pool.get({ nodeId: victim }, { purpose: 'fetch' })).rejects.toBeInstanceOf(NetworkError);

    await cluster.restart(victim);
    const request = { ...defaultMetadataRequest(), topics: [] };
    // The restarted broker accepts connections again once it is up; until then every attempt fails.
    const retryUntil = Date.now() + 30_000;
    let response: MetadataResponse | null = null;
    while (response === null) {
      response = await pool.request({ nodeId: victim }, metadataApi, request, { purpose: 'fetch' }).catch((error) => {
        if (Date.now() > retryUntil) throw error;
        return null;
      });
      if (response === null) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(response.brokers.length).toBeGreaterThan(0);
    const reconnected = await pool.get({ nodeId: victim }, { purpose: 'fetch' });
    expect(reconnected).not.toBe(connection);
    expect(reconnected.closed).toBe(false);
  });

  it('follows a partition to its new leader, with a higher leader epoch, when its leader is killed', async () => {
    // Wait for the restarted broker to be back in every ISR, so it can lead again.
    let snapshot = await metadata.refresh();
    for (;;) {
      const partitions = snapshot.topics.get(topic)!.partitions;
      if (partitions.every((partition) => partition.isr.length === 3)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
      snapshot = await metadata.refresh();
    }
    // Prefer a victim that is not the active controller, so the election is not delayed by a controller failover.
    const partitions = snapshot.topics.get(topic)!.partitions;
    const led = partitions.filter((partition) => partition.leaderId !== snapshot.controllerId);
    const before = (led.length > 0 ? led : partitions)[0]!;
    const victim = before.leaderId;

    await cluster.kill(victim);
    // What a fetcher would do on losing the leader's connection: tell metadata.
    expect(
      metadata.reportError(new NetworkError('connection lost', { broker: `node ${victim}` }), { nodeId: victim }),
    ).toBe(true);
    const deadline = Date.now() + 60_000;
    let after = findPartition(metadata.snapshot!, topic, before.partition)!;
    while (after.leaderId === victim || after.leaderId < 0) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = findPartition(await metadata.refresh(), topic, before.partition)!;
    }
    expect(after.leaderId).not.toBe(victim);
    expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    expect(after.isr).not.toContain(victim);
    // Metadata was asked of the surviving brokers, never again of the dead one.
    expect(metadata.snapshot!.brokers.has(after.leaderId)).toBe(true);
  });
});
