/**
 * Fetch sessions when brokers fail, on a 3-broker cluster of this file's own (each broker in a rack of its own, with
 * Kafka's rack-aware replica selector): a broker restarted while its source was idle has forgotten the session
 * (FETCH_SESSION_ID_NOT_FOUND), and the source starts a new full one; a leader stopped during fetches moves its
 * partition to the new leader's source, and every record is read once, in order; a consumer in a follower's rack
 * fetches from that follower (KIP-392) and goes back to the leader when the follower dies.
 */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool, findPartition } from '@sluice/net';
import { createTopic, produce } from '@sluice/tools-admin';
import { KafkaCluster } from '@sluice/tools-kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FetchHarness } from './fetch-harness.ts';

const external = inject('kafka').external;

describe.skipIf(external)('fetch sessions when brokers fail (3 brokers)', () => {
  let cluster: KafkaCluster;
  let pool: ConnectionPool;
  let metadata: ClusterMetadata;
  const harnesses: FetchHarness[] = [];

  beforeAll(async () => {
    cluster = await KafkaCluster.start({
      brokers: 3,
      brokerConfig: { 'replica.selector.class': 'org.apache.kafka.common.replica.RackAwareReplicaSelector' },
      nodeConfig: (nodeId) => ({ 'broker.rack': `rack-${nodeId}` }),
    });
    pool = new ConnectionPool({ connection: { clientId: 'sluice-fetch-failover-setup' } });
    metadata = new ClusterMetadata({ bootstrapServers: cluster.bootstrap(), pool });
  });

  afterAll(async () => {
    for (const harness of harnesses) harness.close();
    metadata?.close();
    pool?.close();
    await cluster?.stop();
  });

  async function newTopic(partitions: number, replicationFactor: number): Promise<string> {
    const topic = `failover-${randomUUID().slice(0, 8)}`;
    metadata.setTopics([topic]);
    await createTopic(pool, metadata, topic, partitions, { replicationFactor });
    return topic;
  }

  async function write(topic: string, partition: number, from: number, count: number): Promise<void> {
    const records = Array.from({ length: count }, (_, index) => ({
      value: new TextEncoder().encode(`${partition}:${from + index}`),
    }));
    await produce(pool, metadata, { topic, partition }, records);
  }

  async function leaderOf(topic: string, partition: number): Promise<number> {
    return findPartition(await metadata.refresh(), topic, partition)!.leaderId;
  }

  async function harnessFor(topic: string, clientRack?: string): Promise<FetchHarness> {
    const harness = new FetchHarness(cluster.bootstrap(), [topic], {
      fetchMaxWaitMs: 100,
      ...(clientRack ? { clientRack } : {}),
    });
    harnesses.push(harness);
    await harness.ready();
    return harness;
  }

  it('starts a new full session when the broker forgot it (restarted while the source was idle)', async () => {
    const topic = await newTopic(1, 1);
    const tp = { topic, partition: 0 };
    const leader = await leaderOf(topic, 0);
    await write(topic, 0, 0, 10);
    const harness = await harnessFor(topic);
    harness.assign([[tp, 0n]]);
    await harness.collect(10);
    await harness.until(() => (harness.named().at(-1)?.sessionEpoch ?? 0) >= 2, 20_000, 'an incremental Fetch');
    // Paused: the source sends nothing, so the restart goes unnoticed until the next Fetch.
    harness.subscriptions.pause([tp]);
    await harness.until(
      () => harness.exchanges.every((e) => e.response !== null || e.error !== null),
      20_000,
      'no Fetch in flight',
    );
    const sessionId = harness.exchanges.at(-1)!.response!.sessionId;
    await cluster.stopBroker(leader);
    await cluster.restart(leader);
    await write(topic, 0, 10, 10);
    const from = harness.exchanges.length;
    harness.subscriptions.resume([tp]);
    harness.wake();
    const records = await harness.collect(10, 60_000);
    expect(records.map((record) => record.offset)).toEqual(
      Array.from({ length: 10 }, (_, index) => BigInt(10 + index)),
    );
    const after = harness.exchanges.slice(from).filter((e) => e.response !== null);
    const refused = after.findIndex((e) => e.response!.errorCode === 70);
    // The first answered Fetch after the restart carried the old session and got FETCH_SESSION_ID_NOT_FOUND ...
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(after[refused]!.request).toMatchObject({ sessionId });
    expect(after[refused]!.request.sessionEpoch).toBeGreaterThan(0);
    // ... and the next one started a new session from scratch, naming the partition.
    const next = after[refused + 1]!;
    expect(next.request).toMatchObject({ sessionId: 0, sessionEpoch: 0 });
    expect(next.request.topics.flatMap((t) => t.partitions.map((p) => p.fetchOffset))).toEqual([10n]);
    expect(next.response!.sessionId).not.toBe(0);
    expect(harness.errors).toEqual([]);
  });

  it('moves a partition to the new leader when its leader stops, reading every record once and in order', async () => {
    const topic = await newTopic(2, 3);
    const harness = await harnessFor(topic);
    const tps = [0, 1].map((partition) => ({ topic, partition }));
    await write(topic, 0, 0, 50);
    await write(topic, 1, 0, 50);
    harness.assign(tps.map((tp) => [tp, 0n] as const));
    const first = await harness.collect(100);
    const leader = await leaderOf(topic, 0);
    const from = harness.exchanges.length;
    await cluster.stopBroker(leader);
    let moved = leader;
    const deadline = Date.now() + 60_000;
    while (moved === leader || moved < 0) {
      if (Date.now() > deadline) throw new Error('no new leader within 60 s');
      moved = await leaderOf(topic, 0).catch(() => -1);
    }
    await write(topic, 0, 50, 50);
    await write(topic, 1, 50, 50);
    const second = await harness.collect(100, 60_000);
    const all = [...first, ...second];
    for (const { partition } of tps) {
      const offsets = all.filter((record) => record.partition === partition).map((record) => record.offset);
      expect(offsets).toEqual(Array.from({ length: 100 }, (_, index) => BigInt(index)));
    }
    // The partition was fetched from its new leader afterwards, under a session of that broker.
    const fromNew = harness
      .named(from)
      .filter((_, index) => harness.exchanges[from + index]!.nodeId === moved)
      .filter((n) => n.partitions.some((p) => p.startsWith(`${topic}-0@`)));
    expect(fromNew.length).toBeGreaterThan(0);
    await cluster.restart(leader);
    expect(harness.errors).toEqual([]);
  });

  it('fetches from the follower in its own rack that the leader prefers, and from the leader again once that follower dies', async () => {
    const topic = await newTopic(1, 3);
    const tp = { topic, partition: 0 };
    const leader = await leaderOf(topic, 0);
    const follower = cluster.nodeIds.find((nodeId) => nodeId !== leader)!;
    await write(topic, 0, 0, 50);
    const harness = await harnessFor(topic, `rack-${follower}`);
    harness.assign([[tp, 0n]]);
    const first = await harness.collect(50);
    expect(first.map((record) => record.offset)).toEqual(Array.from({ length: 50 }, (_, index) => BigInt(index)));
    // The leader named the follower; the records came from it.
    const answered = harness.exchanges.filter((e) => e.response !== null);
    const pointed = answered.find(
      (e) =>
        e.nodeId === leader &&
        e.response!.responses.some((t) => t.partitions.some((p) => p.preferredReadReplica === follower)),
    );
    expect(pointed).toBeDefined();
    const withRecords = answered.filter((e) =>
      e.response!.responses.some((t) => t.partitions.some((p) => (p.records?.length ?? 0) > 0)),
    );
    expect(withRecords.map((e) => e.nodeId)).toEqual(withRecords.map(() => follower));
    // The follower dies: the partition goes back to the leader and nothing is lost.
    const from = harness.exchanges.length;
    await cluster.kill(follower);
    await write(topic, 0, 50, 50);
    const second = await harness.collect(50, 60_000);
    expect(second.map((record) => record.offset)).toEqual(Array.from({ length: 50 }, (_, index) => BigInt(50 + index)));
    const after = harness.exchanges
      .slice(from)
      .filter((e) => e.response?.responses.some((t) => t.partitions.some((p) => (p.records?.length ?? 0) > 0)));
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((e) => e.nodeId !== follower)).toBe(true);
    await cluster.restart(follower);
    expect(harness.errors).toEqual([]);
  });
});
