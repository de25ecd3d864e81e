/** Committing and reading offsets against the real broker, inside and outside group membership. */
import { randomUUID } from 'node:crypto';
import { RangeAssignor } from '@sluice/assignors';
import { GroupMember } from '@sluice/group';
import { ClusterMetadata, ConnectionPool, throwIfKafkaError } from '@sluice/net';
import { createTopicsApi, defaultCreateTopicsRequest } from '@sluice/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CommitFailedError, type GroupGeneration, OffsetCommitter } from '../src/committer.ts';

const kafka = inject('kafka');
const topic = `offsets-test-${randomUUID().slice(0, 8)}`;
const pool = new ConnectionPool({ connection: { clientId: 'sluice-offsets-test' } });
const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.PLAINTEXT!, pool, topics: [topic] });
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  const snapshot = await metadata.ready();
  const response = await (await pool.get({ nodeId: [...snapshot.brokers.keys()][0]! })).request(createTopicsApi, {
    ...defaultCreateTopicsRequest(),
    timeoutMs: 30_000,
    topics: [{ name: topic, numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
  });
  throwIfKafkaError(response.topics[0]!.errorCode, { context: `CreateTopics ${topic}` });
});

afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  metadata.close();
  pool.close();
});

const partitions = [0, 1, 2].map((partition) => ({ topic, partition }));

describe('OffsetCommitter', () => {
  it('commits offsets with leader epoch and metadata, and reads them back (null where nothing was committed)', async () => {
    const committer = new OffsetCommitter({ pool, metadata, groupId: `offsets-${randomUUID().slice(0, 8)}` });
    expect(await committer.committed(partitions)).toEqual([null, null, null]);
    await committer.commit([
      { topic, partition: 0, offset: 42n, leaderEpoch: 0, metadata: 'checkpoint-a' },
      { topic, partition: 2, offset: 7n },
    ]);
    expect(committer.coordinator).not.toBeNull();
    expect(await committer.committed(partitions)).toEqual([
      { offset: 42n, leaderEpoch: 0, metadata: 'checkpoint-a' },
      null,
      { offset: 7n, leaderEpoch: -1, metadata: '' },
    ]);
    // A later commit replaces the earlier one.
    await committer.commit([{ topic, partition: 0, offset: 43n }]);
    expect((await committer.committed([{ topic, partition: 0 }]))[0]?.offset).toBe(43n);
  });

  it("commits with a member's generation, and refuses a commit from a generation the group has left", async () => {
    const groupId = `offsets-${randomUUID().slice(0, 8)}`;
    const memberPool = new ConnectionPool({ connection: { clientId: 'sluice-offsets-member' } });
    const memberMetadata = new ClusterMetadata({
      bootstrapServers: kafka.bootstrap.PLAINTEXT!,
      pool: memberPool,
      topics: [topic],
    });
    const member = new GroupMember({
      groupId,
      pool: memberPool,
      metadata: memberMetadata,
      assignors: [new RangeAssignor()],
      topics: [topic],
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
    });
    cleanups.push(
      () => member.abandon(),
      () => memberMetadata.close(),
      () => memberPool.close(),
    );
    member.start();
    const deadline = Date.now() + 60_000;
    while (member.assignment.length !== 3) {
      if (Date.now() > deadline) throw new Error('the member never got its partitions');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const generation = (): GroupGeneration => ({
      generationId: member.membership.generation!.generationId,
      memberId: member.membership.memberId,
      groupInstanceId: null,
    });
    const committer = new OffsetCommitter({ pool, metadata, groupId, generation });
    await committer.commit([{ topic, partition: 1, offset: 5n }]);
    expect((await committer.committed([{ topic, partition: 1 }]))[0]?.offset).toBe(5n);

    const stale = new OffsetCommitter({
      pool,
      metadata,
      groupId,
      generation: () => ({ ...generation(), generationId: generation().generationId + 5 }),
    });
    await expect(stale.commit([{ topic, partition: 1, offset: 6n }])).rejects.toBeInstanceOf(CommitFailedError);
    const stranger = new OffsetCommitter({
      pool,
      metadata,
      groupId,
      generation: () => ({ generationId: generation().generationId, memberId: 'not-a-member', groupInstanceId: null }),
    });
    await expect(stranger.commit([{ topic, partition: 1, offset: 6n }])).rejects.toBeInstanceOf(CommitFailedError);
    // Neither refused commit changed anything.
    expect((await committer.committed([{ topic, partition: 1 }]))[0]?.offset).toBe(5n);
    await member.close();
  });

  it('refuses a negative offset before sending anything', async () => {
    const committer = new OffsetCommitter({ pool, metadata, groupId: 'never-used' });
    await expect(committer.commit([{ topic, partition: 0, offset: -1n }])).rejects.toThrow(RangeError);
    expect(committer.coordinator).toBeNull();
  });
});
