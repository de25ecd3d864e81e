/**
 * KIP-227 fetch sessions against the broker: a full fetch first, then incremental ones under the session id the
 * broker gave, with epochs that rise by one; partitions forgotten on pause and unassignment, re-added alone on
 * resume; a seek resends only the partition sought. Every Fetch is recorded by the harness's sender.
 */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { createTopic, produce } from '@sluice/tools-admin';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FetchHarness } from './fetch-harness.ts';

const bootstrap = inject('kafka').bootstrap.PLAINTEXT!;

describe('fetch sessions (KIP-227)', () => {
  let pool: ConnectionPool;
  let metadata: ClusterMetadata;
  const harnesses: FetchHarness[] = [];

  beforeAll(() => {
    pool = new ConnectionPool({ connection: { clientId: 'sluice-fetch-session-setup' } });
    metadata = new ClusterMetadata({ bootstrapServers: bootstrap, pool });
  });

  afterAll(() => {
    for (const harness of harnesses) harness.close();
    metadata?.close();
    pool?.close();
  });

  async function topicWith(partitions: number, recordsPerPartition: number): Promise<string> {
    const topic = `sessions-${randomUUID().slice(0, 8)}`;
    metadata.setTopics([topic]);
    await createTopic(pool, metadata, topic, partitions);
    for (let partition = 0; partition < partitions; partition++) {
      const records = Array.from({ length: recordsPerPartition }, (_, index) => ({
        value: new TextEncoder().encode(`${partition}:${index}`),
      }));
      await produce(pool, metadata, { topic, partition }, records);
    }
    return topic;
  }

  async function harnessFor(topic: string): Promise<FetchHarness> {
    const harness = new FetchHarness(bootstrap, [topic], { fetchMaxWaitMs: 50 });
    harnesses.push(harness);
    await harness.ready();
    return harness;
  }

  it('fetches in full first, then incrementally under the broker’s session id with rising epochs, naming only what changed', async () => {
    const topic = await topicWith(3, 20);
    const harness = await harnessFor(topic);
    const tps = [0, 1, 2].map((partition) => ({ topic, partition }));
    harness.assign(tps.map((tp) => [tp, 0n] as const));
    const records = await harness.collect(60);
    expect(records.map((record) => new TextDecoder().decode(record.value as Uint8Array)).sort()).toEqual(
      tps.flatMap(({ partition }) => Array.from({ length: 20 }, (_, index) => `${partition}:${index}`)).sort(),
    );
    // Idle for a few fetches: the topic is read to its end.
    await harness.until(() => harness.exchanges.filter((e) => e.response !== null).length >= 4, 20_000, 'four Fetches');
    const named = harness.named();
    expect(named[0]).toMatchObject({ sessionId: 0, sessionEpoch: 0, forgotten: [] });
    expect(named[0]!.partitions.sort()).toEqual(tps.map(({ partition }) => `${topic}-${partition}@0`));
    const sessionId = harness.exchanges[0]!.response!.sessionId;
    expect(sessionId).toBeGreaterThan(0);
    for (let index = 1; index < named.length; index++) {
      expect(named[index]).toMatchObject({ sessionId, sessionEpoch: index, forgotten: [] });
      expect(harness.exchanges[index]!.response?.errorCode ?? 0).toBe(0);
    }
    // Once every partition stands at its end, an incremental Fetch names nothing: the session holds them.
    expect(named[named.length - 1]!.partitions).toEqual([]);
    expect(harness.manager.sessions().get(harness.exchanges[0]!.nodeId)).toMatchObject({ sessionId, size: 3 });
  });

  it('forgets a paused partition and re-adds only it on resume; a seek resends only the partition sought', async () => {
    const topic = await topicWith(3, 10);
    const harness = await harnessFor(topic);
    const tps = [0, 1, 2].map((partition) => ({ topic, partition }));
    harness.assign(tps.map((tp) => [tp, 0n] as const));
    await harness.collect(30);
    await harness.until(() => harness.named().at(-1)?.partitions.length === 0, 20_000, 'an idle incremental Fetch');

    let from = harness.exchanges.length;
    harness.subscriptions.pause([tps[1]!]);
    harness.wake();
    await harness.until(() => harness.named(from).some((n) => n.forgotten.length > 0), 20_000, 'a forgetting Fetch');
    const forgetting = harness.named(from).find((n) => n.forgotten.length > 0)!;
    expect(forgetting).toMatchObject({ partitions: [], forgotten: [`${topic}-1`] });
    expect(forgetting.sessionEpoch).toBeGreaterThan(0);

    from = harness.exchanges.length;
    harness.subscriptions.resume([tps[1]!]);
    harness.wake();
    await harness.until(() => harness.named(from).some((n) => n.partitions.length > 0), 20_000, 'a re-adding Fetch');
    expect(harness.named(from).find((n) => n.partitions.length > 0)).toMatchObject({
      partitions: [`${topic}-1@10`],
      forgotten: [],
    });

    from = harness.exchanges.length;
    harness.subscriptions.seek(tps[2]!, 4n);
    harness.wake();
    const again = await harness.collect(6);
    expect(again.map((record) => record.offset)).toEqual([4n, 5n, 6n, 7n, 8n, 9n]);
    expect(harness.named(from).find((n) => n.partitions.length > 0)).toMatchObject({
      partitions: [`${topic}-2@4`],
      forgotten: [],
    });

    from = harness.exchanges.length;
    harness.subscriptions.assignFromUser([tps[0]!, tps[2]!]);
    harness.wake();
    await harness.until(() => harness.named(from).some((n) => n.forgotten.length > 0), 20_000, 'a forgetting Fetch');
    expect(harness.named(from).find((n) => n.forgotten.length > 0)).toMatchObject({ forgotten: [`${topic}-1`] });
    for (const exchange of harness.exchanges) expect(exchange.response?.errorCode ?? 0).toBe(0);
    expect(harness.errors).toEqual([]);
  });
});
