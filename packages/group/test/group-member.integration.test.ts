/**
 * Group members against the real broker: sharing a topic's partitions, rebalancing when members join, close or
 * die, several groups reading one topic, and a cooperative rebalance that only moves what it must.
 */
import { randomUUID } from 'node:crypto';
import {
  CooperativeStickyAssignor,
  type PartitionAssignor,
  RangeAssignor,
  type TopicPartition,
} from '@sluice/assignors';
import { ClusterMetadata, Connection, ConnectionPool, throwIfKafkaError } from '@sluice/net';
import {
  createTopicsApi,
  defaultCreateTopicsRequest,
  defaultDescribeGroupsRequest,
  describeGroupsApi,
} from '@sluice/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GroupMember, type RebalanceListener } from '../src/group-member.ts';

const kafka = inject('kafka');
const bootstrap = kafka.bootstrap.PLAINTEXT!;
const PARTITIONS = 4;
let topic = '';
const started: Array<{ member: GroupMember; pool: ConnectionPool; metadata: ClusterMetadata }> = [];

beforeAll(async () => {
  topic = `group-test-${randomUUID().slice(0, 8)}`;
  const [host, port] = bootstrap.split(',')[0]!.split(':');
  const connection = await Connection.open({ host: host!, port: Number(port) });
  try {
    const response = await connection.request(createTopicsApi, {
      ...defaultCreateTopicsRequest(),
      timeoutMs: 30_000,
      topics: [{ name: topic, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
    });
    throwIfKafkaError(response.topics[0]!.errorCode, { context: `CreateTopics ${topic}` });
  } finally {
    connection.close();
  }
});

afterAll(async () => {
  for (const { member, pool, metadata } of started.splice(0)) {
    member.abandon();
    metadata.close();
    pool.close();
  }
});

function startMember(
  groupId: string,
  options: { assignors?: PartitionAssignor[]; listener?: RebalanceListener; groupInstanceId?: string } = {},
): GroupMember {
  const pool = new ConnectionPool({ connection: { clientId: 'sluice-group-test' } });
  const metadata = new ClusterMetadata({ bootstrapServers: bootstrap, pool, topics: [topic] });
  const member = new GroupMember({
    groupId,
    pool,
    metadata,
    assignors: options.assignors ?? [new RangeAssignor()],
    topics: [topic],
    // The broker's group.min.session.timeout.ms is 6000.
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    rebalanceTimeoutMs: 30_000,
    ...(options.listener ? { listener: options.listener } : {}),
    ...(options.groupInstanceId ? { groupInstanceId: options.groupInstanceId } : {}),
    onFatal: (error) => {
      throw error;
    },
  });
  started.push({ member, pool, metadata });
  member.start();
  return member;
}

/** Waits (bounded, generously: a correctness test, not a timing one) until `condition` holds. */
async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const partitionsOf = (member: GroupMember) => member.assignment.map((entry) => entry.partition).sort((a, b) => a - b);

/** True when the members' assignments are disjoint, cover the topic, and have the given sizes. */
function shared(members: readonly GroupMember[], sizes: readonly number[]): boolean {
  const all = members.flatMap(partitionsOf);
  const actual = members.map((member) => member.assignment.length).sort();
  return new Set(all).size === all.length && all.length === PARTITIONS && actual.join() === [...sizes].sort().join();
}

async function groupMembers(member: GroupMember, groupId: string): Promise<string[]> {
  const coordinator = member.membership.coordinator;
  if (coordinator === null) throw new Error('no coordinator known');
  const { pool } = started.find((entry) => entry.member === member)!;
  const connection = await pool.get({ nodeId: coordinator });
  const response = await connection.request(describeGroupsApi, {
    ...defaultDescribeGroupsRequest(),
    groups: [groupId],
  });
  return response.groups[0]!.members.map((entry) => entry.memberId);
}

describe('GroupMember against a real broker', () => {
  it('shares partitions, rebalances when a member joins, closes (leaving at once) or dies (after its session)', async () => {
    const groupId = `group-${randomUUID().slice(0, 8)}`;
    const a = startMember(groupId);
    await until(() => a.assignment.length === PARTITIONS, 'the first member owns every partition');

    const b = startMember(groupId);
    await until(() => shared([a, b], [2, 2]), 'two members share the partitions 2 + 2');
    // Range: the member ids decide who gets partitions 0-1 and 2-3.
    expect([partitionsOf(a), partitionsOf(b)].sort()).toEqual([
      [0, 1],
      [2, 3],
    ]);

    const bId = b.membership.memberId;
    await b.close();
    expect(b.membership.state).toBe('closed');
    // LeaveGroup took it out of the group at once, not after its session timeout.
    expect(await groupMembers(a, groupId)).not.toContain(bId);
    await until(() => a.assignment.length === PARTITIONS, 'the remaining member owns every partition again');

    const c = startMember(groupId);
    await until(() => shared([a, c], [2, 2]), 'a new member takes half');
    const cId = c.membership.memberId;
    c.abandon();
    // Still a member until the coordinator expires its session.
    expect(await groupMembers(a, groupId)).toContain(cId);
    await until(() => a.assignment.length === PARTITIONS, 'the survivor owns everything after the session timeout');
    expect(await groupMembers(a, groupId)).not.toContain(cId);
    await a.close();
  });

  it('lets several groups read the same topic independently', async () => {
    const first = startMember(`group-${randomUUID().slice(0, 8)}`);
    const second = startMember(`group-${randomUUID().slice(0, 8)}`);
    await until(
      () => first.assignment.length === PARTITIONS && second.assignment.length === PARTITIONS,
      'each group has every partition',
    );
    await Promise.all([first.close(), second.close()]);
  });

  it('in a cooperative rebalance, a member keeps consuming what it keeps and revokes only what moves', async () => {
    const groupId = `group-${randomUUID().slice(0, 8)}`;
    const revoked: TopicPartition[][] = [];
    const lost: TopicPartition[][] = [];
    const a = startMember(groupId, {
      assignors: [new CooperativeStickyAssignor()],
      listener: {
        onPartitionsRevoked: (partitions) => void revoked.push([...partitions]),
        onPartitionsLost: (partitions) => void lost.push([...partitions]),
      },
    });
    expect(a.protocol).toBe('COOPERATIVE');
    await until(() => a.assignment.length === PARTITIONS, 'the first member owns every partition');
    const b = startMember(groupId, { assignors: [new CooperativeStickyAssignor()] });
    await until(() => shared([a, b], [2, 2]), 'two cooperative members share 2 + 2');
    // Exactly the two partitions that moved were revoked, once; nothing was lost.
    expect(revoked.map((partitions) => partitions.length)).toEqual([2]);
    expect(lost).toEqual([]);
    const kept = new Set(partitionsOf(a));
    expect(revoked[0]!.some((partition) => kept.has(partition.partition))).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it('gives a static member that restarts within its session its partitions back, without a rebalance', async () => {
    const groupId = `group-${randomUUID().slice(0, 8)}`;
    const revokedFromB: TopicPartition[][] = [];
    const a = startMember(groupId, { groupInstanceId: 'instance-a' });
    await until(() => a.assignment.length === PARTITIONS, 'the first static member owns every partition');
    const b = startMember(groupId, {
      groupInstanceId: 'instance-b',
      listener: { onPartitionsRevoked: (partitions) => void revokedFromB.push([...partitions]) },
    });
    await until(() => shared([a, b], [2, 2]), 'two static members share the partitions');
    const before = partitionsOf(a);
    const generation = b.membership.generation!.generationId;

    // "a" crashes and comes back with the same group.instance.id before its session times out.
    a.abandon();
    const restarted = startMember(groupId, { groupInstanceId: 'instance-a' });
    await until(() => restarted.assignment.length === 2, 'the restarted member has its partitions');
    expect(partitionsOf(restarted)).toEqual(before);
    // The other member saw no rebalance: same generation, nothing revoked.
    expect(b.membership.generation!.generationId).toBe(generation);
    expect(revokedFromB).toEqual([]);
    expect(partitionsOf(b).length).toBe(2);

    // A static member's close sends no LeaveGroup: it stays in the group until its session expires.
    const restartedId = restarted.membership.memberId;
    await restarted.close();
    expect(await groupMembers(b, groupId)).toContain(restartedId);
    await b.close();
  });

  it('waits for an asynchronous onPartitionsRevoked before rejoining (where a consumer commits)', async () => {
    const groupId = `group-${randomUUID().slice(0, 8)}`;
    const log: string[] = [];
    const a = startMember(groupId, {
      listener: {
        onPartitionsRevoked: async () => {
          log.push('a revokes');
          await new Promise((resolve) => setTimeout(resolve, 500));
          log.push('a revoked');
        },
      },
    });
    await until(() => a.assignment.length === PARTITIONS, 'the first member owns every partition');
    const b = startMember(groupId, { listener: { onPartitionsAssigned: () => void log.push('b assigned') } });
    await until(() => shared([a, b], [2, 2]), 'two members share the partitions');
    // The group could not complete the rebalance before "a" had finished revoking and rejoined.
    expect(log).toEqual(['a revokes', 'a revoked', 'b assigned']);
    await Promise.all([a.close(), b.close()]);
  });
});
