/**
 * KIP-320 truncation detection against real brokers, on a cluster of this file's own: three broker-only nodes and a
 * dedicated KRaft controller. A partition's log is made to diverge by an unclean leader election, and consumers that
 * read the records lost in it find out.
 *
 * The partition has three replicas, L (its leader) and followers F1 and F2, with unclean.leader.election.enable=true
 * and min.insync.replicas=1. Records A are written to all three; F1 and F2 are killed, the controller fences them and
 * shrinks the ISR to L, records B go to L alone and every consumer reads them (one commits after them). Then L is
 * killed and F1 and F2 started again: neither has B, and the first to come back is elected leader uncleanly; records
 * C are written where B was. Then:
 * - with auto.offset.reset=earliest the consumer's position goes back to the first offset B and C share (the end of
 *   A's leader epoch), with a LogTruncationWarning, and it reads C from there, skipping none;
 * - with none, poll throws LogTruncationError naming the partition, the position and the divergent offset, and
 *   the partition is not read until the application seeks; then it reads C;
 * - a consumer starting from an offset committed after B (with B's leader epoch, as Sluice commits it) has it
 *   validated, and reads C from the divergent offset.
 *
 * Why a dedicated controller: with the harness's default layout every node is also a controller, so two brokers
 * down at once would take the KRaft quorum with them, and nobody would fence the followers, shrink the ISR to the
 * leader or elect anyone. The controller-only node (id 100, not a broker) holds the quorum while all the brokers
 * take turns being down. The commit after B is on L alone too (its __consumer_offsets partition has only L in its
 * ISR then, and that topic elects cleanly only), so L is started again after C, as a follower that truncates B away,
 * before the group's consumer asks for its committed offset. The controller runs with auto.leader.rebalance.enable
 * off, so that L's return does not move the leadership back to it.
 */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool, findPartition } from '@sluice/net';
import { defaultFetchRequest, fetchApi, ZERO_UUID } from '@sluice/protocol';
import { createTopic, produce } from '@sluice/tools-admin';
import { KafkaCluster } from '@sluice/tools-kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ConsumerRecord, KafkaConsumer, LogTruncationError, LogTruncationWarning } from '../src/index.ts';

const external = inject('kafka').external;

type StringRecord = ConsumerRecord<string | null, string | null>;

describe.skipIf(external)('log truncation detection (KIP-320) after an unclean leader election', () => {
  let cluster: KafkaCluster;
  let pool: ConnectionPool;
  let metadata: ClusterMetadata;
  const consumers: Array<KafkaConsumer<string | null, string | null>> = [];
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  const topic = `truncation-${randomUUID().slice(0, 8)}`;
  const tp = { topic, partition: 0 };
  const groupId = `truncation-group-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    process.on('warning', onWarning);
    cluster = await KafkaCluster.start({
      brokers: 3,
      dedicatedController: true,
      brokerConfig: { 'auto.leader.rebalance.enable': false },
    });
    pool = new ConnectionPool({ connection: { clientId: 'sluice-truncation-setup' } });
    metadata = new ClusterMetadata({ bootstrapServers: cluster.bootstrap(), pool, topics: [topic] });
    await createTopic(pool, metadata, topic, 1, {
      replicationFactor: 3,
      configs: { 'unclean.leader.election.enable': 'true', 'min.insync.replicas': '1' },
    });
  }, 120_000);

  afterAll(async () => {
    process.off('warning', onWarning);
    await Promise.all(consumers.map((consumer) => consumer.close({ timeoutMs: 2_000 }).catch(() => {})));
    metadata?.close();
    pool?.close();
    await cluster?.stop();
  });

  function reader(config: Record<string, unknown>): KafkaConsumer<string | null, string | null> {
    const consumer = new KafkaConsumer<string | null, string | null>({
      'bootstrap.servers': cluster.bootstrap(),
      'key.deserializer': 'string',
      'value.deserializer': 'string',
      'fetch.max.wait.ms': 100,
      'metadata.max.age.ms': 1_000,
      'retry.backoff.ms': 100,
      'reconnect.backoff.max.ms': 500,
      'enable.auto.commit': false,
      ...config,
    });
    consumers.push(consumer);
    return consumer;
  }

  async function write(label: string, count: number): Promise<void> {
    const records = Array.from({ length: count }, (_, index) => ({
      value: new TextEncoder().encode(`${label}${index}`),
    }));
    await produce(pool, metadata, tp, records);
  }

  /** Polls until `count` records came (or poll threw), within the time given. */
  async function read(consumer: KafkaConsumer<string | null, string | null>, count: number, timeoutMs = 40_000) {
    const records: StringRecord[] = [];
    const deadline = Date.now() + timeoutMs;
    while (records.length < count) {
      if (Date.now() > deadline) throw new Error(`read ${records.length} of ${count} records in ${timeoutMs} ms`);
      records.push(...(await consumer.poll(500)));
    }
    return records;
  }

  /** Polls until poll throws, and returns what it threw. */
  async function failure(consumer: KafkaConsumer<string | null, string | null>, timeoutMs = 40_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const records = await consumer.poll(500);
        expect(records).toEqual([]);
      } catch (error) {
        return error;
      }
    }
    throw new Error(`poll did not throw within ${timeoutMs} ms`);
  }

  async function until<Value>(what: string, probe: () => Promise<Value | undefined>, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const partitionInfo = async () => findPartition(await metadata.refresh(), topic, 0);
  const values = (records: readonly StringRecord[]) => records.map((record) => `${record.offset}:${record.value}`);

  it('repairs the position with a reset strategy, stops it with none, and validates a committed offset', async () => {
    const info = (await partitionInfo())!;
    expect([...info.replicas].sort()).toEqual([1, 2, 3]);
    const leader = info.leaderId;
    const followers = info.replicas.filter((node) => node !== leader);

    // A, on all three replicas (acks=all, the ISR is all three).
    await write('A', 5);
    const earliest = reader({ 'auto.offset.reset': 'earliest', 'group.id': groupId });
    const none = reader({ 'auto.offset.reset': 'none' });
    for (const consumer of [earliest, none]) {
      consumer.assign([tp]);
      consumer.seek(tp, 0n);
    }
    // The group's coordinator (and __consumer_offsets, replicated three times) while all three brokers are up.
    expect(await earliest.committed([tp])).toEqual([null]);
    const a = await read(earliest, 5);
    expect(values(a)).toEqual(['0:A0', '1:A1', '2:A2', '3:A3', '4:A4']);
    const epochOfA = a[4]!.leaderEpoch;
    expect(await read(none, 5)).toHaveLength(5);

    // B, on the leader alone once the controller has fenced both followers and taken them out of the ISR.
    await Promise.all(followers.map((id) => cluster.kill(id)));
    await until('the ISR shrinking to the leader', async () => {
      const now = await partitionInfo();
      return now?.isr.length === 1 && now.isr[0] === leader ? true : undefined;
    });
    await write('B', 5);
    const b = await read(earliest, 5);
    expect(values(b)).toEqual(['5:B0', '6:B1', '7:B2', '8:B3', '9:B4']);
    expect(await read(none, 5)).toHaveLength(5);
    const epochOfB = b[4]!.leaderEpoch;
    // The commit carries the leader epoch of the last record consumed (KIP-320).
    await earliest.commitSync();
    expect(await earliest.committed([tp])).toEqual([{ offset: 10n, leaderEpoch: epochOfB, metadata: '' }]);

    // The leader goes; the stale followers come back, one is elected uncleanly, without B; C goes where B was.
    await cluster.kill(leader);
    await Promise.all(followers.map((id) => cluster.restart(id)));
    const elected = await until('the unclean election of a follower', async () => {
      const now = await partitionInfo();
      return now !== undefined && followers.includes(now.leaderId) ? now : undefined;
    });
    expect(elected.leaderEpoch).toBeGreaterThan(epochOfB);
    const newLeader = elected.leaderId;
    await write('C', 3);
    // L comes back (it holds the group's commit) while the consumers read; it follows newLeader, without B.
    const leaderBack = cluster.restart(leader);
    leaderBack.catch(() => {});

    // What Sluice's Fetches rely on: asked from B's end with B's epoch (lastFetchedEpoch), the new leader names the
    // diverging epoch, A's, ending where B began.
    const connection = await pool.get({ nodeId: newLeader }, { purpose: 'fetch' });
    const answer = await connection.request(fetchApi, {
      ...defaultFetchRequest(),
      replicaId: -1,
      maxBytes: 1024 * 1024,
      topics: [
        {
          topic,
          topicId: (await metadata.refresh()).topics.get(topic)!.topicId,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: elected.leaderEpoch,
              fetchOffset: 10n,
              lastFetchedEpoch: epochOfB,
              logStartOffset: -1n,
              partitionMaxBytes: 1024 * 1024,
              replicaDirectoryId: ZERO_UUID,
              highWatermark: 9223372036854775807n,
            },
          ],
        },
      ],
    });
    expect(answer.responses[0]!.partitions[0]).toMatchObject({
      errorCode: 0,
      divergingEpoch: { epoch: epochOfA, endOffset: 5n },
    });

    // auto.offset.reset=earliest: back to the divergent offset (B's first offset, the end of A's epoch), then C.
    const c = await read(earliest, 3);
    expect(values(c)).toEqual(['5:C0', '6:C1', '7:C2']);
    const warning = warnings.find((entry): entry is LogTruncationWarning => entry instanceof LogTruncationWarning);
    expect(warning?.action).toBe('moved');
    expect(warning?.truncations).toEqual([
      {
        ...tp,
        position: { offset: 10n, leaderEpoch: epochOfB },
        divergentOffset: { offset: 5n, leaderEpoch: epochOfA },
      },
    ]);

    // none: LogTruncationError, from every poll (as NoOffsetForPartitionError) until the application seeks.
    const error = await failure(none);
    expect(error).toBeInstanceOf(LogTruncationError);
    const truncation = error as LogTruncationError;
    expect(truncation.partitions).toEqual([tp]);
    expect(truncation.fetchPositions).toEqual([{ ...tp, offset: 10n, leaderEpoch: epochOfB }]);
    expect(truncation.divergentOffsets).toEqual([{ ...tp, offset: 5n, leaderEpoch: epochOfA }]);
    await expect(none.poll(1_000)).rejects.toBeInstanceOf(LogTruncationError);
    const [divergent] = truncation.divergentOffsets;
    none.seek(tp, { offset: divergent!.offset, leaderEpoch: divergent!.leaderEpoch });
    expect(values(await read(none, 3))).toEqual(['5:C0', '6:C1', '7:C2']);

    // A consumer of the group starts from the committed offset (10, B's epoch): validated, it starts at 5.
    await leaderBack;
    expect((await partitionInfo())?.leaderId).toBe(newLeader);
    const committed = reader({ 'auto.offset.reset': 'earliest', 'group.id': groupId });
    committed.assign([tp]);
    expect(values(await read(committed, 3))).toEqual(['5:C0', '6:C1', '7:C2']);
    expect(await committed.position(tp)).toBe(8n);
  }, 180_000);
});
