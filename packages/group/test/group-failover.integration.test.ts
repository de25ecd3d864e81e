/**
 * The group coordinator fails: on a 3-broker cluster of this file's own, the broker that coordinates a group is
 * killed; the members find the new coordinator (the next leader of the group's __consumer_offsets partition) and
 * the group goes on with every partition owned.
 */
import { RangeAssignor } from '@sluice/assignors';
import { ClusterMetadata, ConnectionPool, throwIfKafkaError } from '@sluice/net';
import { createTopicsApi, defaultCreateTopicsRequest } from '@sluice/protocol';
import { KafkaCluster } from '@sluice/tools-kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GroupMember } from '../src/group-member.ts';

const external = inject('kafka').external;
const PARTITIONS = 4;

describe.skipIf(external)('group coordinator failover (3 brokers)', () => {
  let cluster: KafkaCluster;
  const topic = 'failover-group-topic';
  const closers: Array<() => void> = [];

  beforeAll(async () => {
    cluster = await KafkaCluster.start({ brokers: 3 });
    const pool = new ConnectionPool({ connection: { clientId: 'sluice-group-failover-setup' } });
    const metadata = new ClusterMetadata({ bootstrapServers: cluster.bootstrap(), pool, topics: [topic] });
    closers.push(
      () => metadata.close(),
      () => pool.close(),
    );
    const snapshot = await metadata.ready();
    const response = await (await pool.get({ nodeId: snapshot.controllerId })).request(createTopicsApi, {
      ...defaultCreateTopicsRequest(),
      timeoutMs: 30_000,
      topics: [{ name: topic, numPartitions: PARTITIONS, replicationFactor: 3, assignments: [], configs: [] }],
    });
    throwIfKafkaError(response.topics[0]!.errorCode, { context: `CreateTopics ${topic}` });
  });

  afterAll(async () => {
    for (const close of closers.splice(0)) close();
    await cluster?.stop();
  });

  function startMember(groupId: string): GroupMember {
    const pool = new ConnectionPool({ connection: { clientId: 'sluice-group-failover' } });
    const metadata = new ClusterMetadata({ bootstrapServers: cluster.bootstrap(), pool, topics: [topic] });
    const member = new GroupMember({
      groupId,
      pool,
      metadata,
      assignors: [new RangeAssignor()],
      topics: [topic],
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
      rebalanceTimeoutMs: 30_000,
    });
    closers.unshift(
      () => member.abandon(),
      () => metadata.close(),
      () => pool.close(),
    );
    member.start();
    return member;
  }

  async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const covered = (members: readonly GroupMember[]) => {
    const all = members.flatMap((member) => member.assignment.map((entry) => entry.partition));
    return new Set(all).size === PARTITIONS && all.length === PARTITIONS;
  };

  it('finds the new coordinator when the old one is killed, and keeps every partition owned', async () => {
    const a = startMember('failover-group');
    const b = startMember('failover-group');
    await until(
      () => covered([a, b]) && a.assignment.length === 2 && b.assignment.length === 2,
      'two members share the partitions',
    );
    const coordinator = a.membership.coordinator!;
    expect(b.membership.coordinator).toBe(coordinator);

    await cluster.kill(coordinator);
    await until(
      () =>
        [a, b].every(
          (member) =>
            member.membership.state === 'stable' &&
            member.membership.coordinator !== null &&
            member.membership.coordinator !== coordinator,
        ) && covered([a, b]),
      'both members are stable with a new coordinator and every partition owned',
    );
    expect(a.assignment.length + b.assignment.length).toBe(PARTITIONS);
  });
});
