/**
 * Group behaviour of the consumer against the real broker, as Kafka's consumer behaves: rebalances when members
 * join and close, cooperative rebalances that move only what must move, static membership, commits on close and
 * on revocation, a commit during a rebalance, partitions added and topics created later, re-subscription with the
 * same member, and a member that stopped polling.
 */
import { randomUUID } from 'node:crypto';
import { addPartitions } from '@sluice/tools-admin';
import { describe, expect, it } from 'vitest';
import {
  CommitFailedError,
  ConsumerClosedError,
  type ConsumerRebalanceListener,
  type KafkaConsumer,
  RebalanceInProgressError,
  type TopicPartition,
} from '../src/index.ts';
import { brokerFixture, pollUntil } from './broker-fixture.ts';

const { pool, metadata, newTopic, fill, consumer } = brokerFixture('group-test');

const groupId = () => `group-${randomUUID().slice(0, 8)}`;
const names = (partitions: readonly TopicPartition[]) => partitions.map((tp) => tp.partition).sort((a, b) => a - b);

/** A listener that records what it was told. */
function recorder(): ConsumerRebalanceListener & { events: Array<[string, number[]]> } {
  const events: Array<[string, number[]]> = [];
  return {
    events,
    onPartitionsAssigned: (partitions) => void events.push(['assigned', names(partitions)]),
    onPartitionsRevoked: (partitions) => void events.push(['revoked', names(partitions)]),
    onPartitionsLost: (partitions) => void events.push(['lost', names(partitions)]),
  };
}

describe('a group of consumers', () => {
  it('rebalances when a member joins, and at once when one closes (LeaveGroup, not the session timeout)', async () => {
    const topic = await newTopic(4);
    const group = groupId();
    const a = consumer({ 'group.id': group, 'session.timeout.ms': 45_000 });
    const b = consumer({ 'group.id': group, 'session.timeout.ms': 45_000 });
    a.subscribe([topic]);
    await pollUntil([a], () => a.assignment().length === 4);
    b.subscribe([topic]);
    await pollUntil([a, b], () => a.assignment().length === 2 && b.assignment().length === 2);
    expect([...names(a.assignment()), ...names(b.assignment())].sort()).toEqual([0, 1, 2, 3]);
    const closed = Date.now();
    await b.close();
    await pollUntil([a], () => a.assignment().length === 4);
    // Well before the 45 s session timeout would have let the group notice: the member left.
    expect(Date.now() - closed).toBeLessThan(30_000);
  });

  it('in a cooperative rebalance, a member keeps what it keeps and revokes only what moves', async () => {
    const topic = await newTopic(4);
    const group = groupId();
    const strategy = { 'partition.assignment.strategy': 'cooperative-sticky' };
    const first = recorder();
    const a = consumer({ 'group.id': group, ...strategy });
    const b = consumer({ 'group.id': group, ...strategy });
    a.subscribe([topic], first);
    await pollUntil([a], () => a.assignment().length === 4);
    expect(first.events).toEqual([['assigned', [0, 1, 2, 3]]]);
    const second = recorder();
    b.subscribe([topic], second);
    await pollUntil([a, b], () => b.assignment().length === 2 && a.assignment().length === 2);
    const revoked = first.events.filter(([kind]) => kind === 'revoked');
    // Exactly the two partitions that moved were revoked, once; nothing was lost.
    expect(revoked).toHaveLength(1);
    expect(revoked[0]![1]).toEqual(names(b.assignment()));
    expect(first.events.some(([kind]) => kind === 'lost')).toBe(false);
    expect(second.events.filter(([kind]) => kind === 'revoked')).toEqual([]);
  });

  it('gives a static member that restarts within its session its partitions back, without a rebalance', async () => {
    const topic = await newTopic(4);
    const group = groupId();
    const config = { 'group.id': group, 'session.timeout.ms': 20_000 };
    const stayer = recorder();
    const a = consumer({ ...config, 'group.instance.id': 'instance-a' });
    const b = consumer({ ...config, 'group.instance.id': 'instance-b' });
    a.subscribe([topic], stayer);
    b.subscribe([topic]);
    await pollUntil([a, b], () => a.assignment().length === 2 && b.assignment().length === 2);
    const generation = a.groupMetadata().generationId;
    const owned = names(b.assignment());
    await b.close();
    const events = stayer.events.length;
    const again = consumer({ ...config, 'group.instance.id': 'instance-b' });
    again.subscribe([topic]);
    await pollUntil([a, again], () => again.assignment().length === 2);
    expect(names(again.assignment())).toEqual(owned);
    // The stayer was never asked to rebalance.
    await a.poll(500);
    expect(stayer.events.slice(events)).toEqual([]);
    expect(a.groupMetadata().generationId).toBe(generation);
  });

  it('waits for an asynchronous onPartitionsRevoked before rejoining, and its commit goes through', async () => {
    const topic = await newTopic(2);
    await fill(topic, [0, 1], 5);
    const group = groupId();
    let revokedAt = 0;
    const a = consumer({ 'group.id': group, 'enable.auto.commit': false });
    const b = consumer({ 'group.id': group });
    a.subscribe([topic], {
      onPartitionsRevoked: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await a.commitSync();
        revokedAt = Date.now();
      },
    });
    let read = 0;
    await pollUntil(
      [a],
      () => read === 10,
      (_, values) => (read += values.length),
    );
    b.subscribe([topic]);
    let assignedAt = 0;
    await pollUntil([a, b], () => {
      if (b.assignment().length > 0 && assignedAt === 0) assignedAt = Date.now();
      return assignedAt > 0;
    });
    expect(revokedAt).toBeGreaterThan(0);
    expect(revokedAt).toBeLessThanOrEqual(assignedAt);
    const committed = await b.committed([
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    expect(committed.map((entry) => entry?.offset)).toEqual([5n, 5n]);
  });
});

describe('liveness', () => {
  it('heartbeats go on while the application works longer than session.timeout.ms between polls', async () => {
    const topic = await newTopic(2);
    await fill(topic, [0, 1], 3);
    const group = groupId();
    const config = { 'group.id': group, 'session.timeout.ms': 6_000, 'max.poll.interval.ms': 30_000 };
    const worker = consumer({ ...config, 'enable.auto.commit': false });
    const other = recorder();
    const peer = consumer(config);
    worker.subscribe([topic]);
    peer.subscribe([topic], other);
    await pollUntil([worker, peer], () => worker.assignment().length === 1 && peer.assignment().length === 1);
    const generation = worker.groupMetadata().generationId;
    const events = other.events.length;
    await worker.poll(500);
    // Eight seconds of "processing" without a poll: the client loop keeps the member in the group.
    const workUntil = Date.now() + 8_000;
    while (Date.now() < workUntil) await peer.poll(200);
    await expect(worker.commitSync()).resolves.toBeUndefined();
    await worker.poll(200);
    expect(worker.groupMetadata().generationId).toBe(generation);
    expect(other.events.slice(events)).toEqual([]);
  });
});

describe('a poll that waits', () => {
  it('counts as polling: a poll longer than max.poll.interval.ms with nothing to read keeps the member in the group', async () => {
    const topic = await newTopic(1);
    const events = recorder();
    const member = consumer({ 'group.id': groupId(), 'max.poll.interval.ms': 2_000 });
    member.subscribe([topic], events);
    await pollUntil([member], () => member.assignment().length === 1);
    const generation = member.groupMetadata().generationId;
    expect(await member.poll(5_000)).toEqual([]);
    expect(events.events.filter(([kind]) => kind !== 'assigned')).toEqual([]);
    expect(member.groupMetadata().generationId).toBe(generation);
    await expect(member.commitSync()).resolves.toBeUndefined();
  });
});

describe('commits of a group member', () => {
  async function readSome(
    reader: KafkaConsumer<string | null, string | null>,
    count: number,
  ): Promise<Map<number, bigint>> {
    const positions = new Map<number, bigint>();
    let read = 0;
    const deadline = Date.now() + 60_000;
    while (read < count) {
      if (Date.now() > deadline) throw new Error(`read ${read} of ${count}`);
      for (const record of await reader.poll(200)) {
        positions.set(record.partition, record.offset + 1n);
        read++;
      }
    }
    return positions;
  }

  async function firstOffsets(group: string, topic: string, count: number): Promise<Map<number, bigint>> {
    const next = consumer({ 'group.id': group });
    next.subscribe([topic]);
    const firsts = new Map<number, bigint>();
    const deadline = Date.now() + 60_000;
    while (firsts.size < count) {
      if (Date.now() > deadline) throw new Error('the next member read nothing');
      for (const record of await next.poll(200))
        if (!firsts.has(record.partition)) firsts.set(record.partition, record.offset);
    }
    await next.close();
    return firsts;
  }

  it('close() with auto commit commits the positions of the records returned; the next member starts there', async () => {
    const topic = await newTopic(2);
    await fill(topic, [0, 1], 50);
    const group = groupId();
    const reader = consumer({ 'group.id': group, 'max.poll.records': 7, 'auto.commit.interval.ms': 60_000 });
    reader.subscribe([topic]);
    const positions = await readSome(reader, 20);
    await reader.close();
    const observer = consumer({ 'group.id': group });
    const committed = await observer.committed([
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    for (const [partition, position] of positions) expect(committed[partition]?.offset).toBe(position);
    const firsts = await firstOffsets(group, topic, 2);
    for (const [partition, first] of firsts) expect(first).toBe(positions.get(partition) ?? 0n);
  });

  it('close() without auto commit runs onPartitionsRevoked, which may use the consumer, and whose commit is what the next member starts from', async () => {
    const topic = await newTopic(2);
    await fill(topic, [0, 1], 50);
    const group = groupId();
    let revoked: number[] = [];
    let seen: { generation: number; assigned: number; positions: bigint[] } | null = null;
    const reader = consumer({ 'group.id': group, 'max.poll.records': 9, 'enable.auto.commit': false });
    reader.subscribe([topic], {
      onPartitionsRevoked: async (partitions) => {
        revoked = names(partitions);
        // As in Kafka's consumer, the listener that close() runs can still ask the consumer things.
        seen = {
          generation: reader.groupMetadata().generationId,
          assigned: reader.assignment().length,
          positions: await Promise.all(partitions.map((tp) => reader.position(tp))),
        };
        await reader.commitSync();
      },
    });
    const positions = await readSome(reader, 25);
    const generation = reader.groupMetadata().generationId;
    await reader.close();
    expect(revoked).toEqual([0, 1]);
    expect(seen).toEqual({
      generation,
      assigned: 2,
      positions: [positions.get(0) ?? 0n, positions.get(1) ?? 0n],
    });
    expect(() => reader.groupMetadata()).toThrow(ConsumerClosedError);
    const firsts = await firstOffsets(group, topic, 2);
    for (const [partition, first] of firsts) expect(first).toBe(positions.get(partition) ?? 0n);
  });

  it('a commit while a cooperative rebalance is under way fails at once with RebalanceInProgressError; after poll it succeeds', async () => {
    const topic = await newTopic(4);
    await fill(topic, [0, 1, 2, 3], 10);
    const group = groupId();
    const config = {
      'group.id': group,
      'partition.assignment.strategy': 'cooperative-sticky',
      'enable.auto.commit': false,
      'max.poll.interval.ms': 60_000,
    };
    const a = consumer(config);
    const idle = consumer(config);
    a.subscribe([topic]);
    idle.subscribe([topic]);
    await pollUntil([a, idle], () => a.assignment().length === 2 && idle.assignment().length === 2);
    await a.poll(200);
    // A third member joins; `idle` stops polling, so the rebalance waits for it (up to max.poll.interval.ms).
    const joiner = consumer(config);
    joiner.subscribe([topic]);
    let failure: unknown = null;
    const deadline = Date.now() + 60_000;
    while (failure === null) {
      if (Date.now() > deadline) throw new Error('a never saw the rebalance');
      await Promise.all([a.poll(200), joiner.poll(200)]);
      failure = await a.commitSync().then(
        () => null,
        (error: unknown) => error,
      );
    }
    expect(failure).toBeInstanceOf(RebalanceInProgressError);
    expect((failure as RebalanceInProgressError).retriable).toBe(true);
    // The rebalance completes once the idle member polls again; then a's commit goes through.
    await pollUntil(
      [a, idle, joiner],
      () =>
        joiner.assignment().length > 0 &&
        a.assignment().length + idle.assignment().length + joiner.assignment().length === 4,
    );
    await a.poll(200);
    await expect(a.commitSync()).resolves.toBeUndefined();
  });

  it('a member that stopped polling for max.poll.interval.ms has left the group: its commit fails with CommitFailedError', async () => {
    const topic = await newTopic(1);
    await fill(topic, [0], 5);
    const group = groupId();
    const slow = consumer({ 'group.id': group, 'max.poll.interval.ms': 2_000, 'enable.auto.commit': false });
    slow.subscribe([topic]);
    let read = 0;
    await pollUntil(
      [slow],
      () => read === 5,
      (_, values) => (read += values.length),
    );
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await expect(slow.commitSync()).rejects.toBeInstanceOf(CommitFailedError);
    // Its next poll rejoins; the partitions it lost were not committed by it.
    const lost: number[] = [];
    slow.subscribe([topic], { onPartitionsLost: (partitions) => void lost.push(...names(partitions)) });
    await pollUntil([slow], () => lost.length > 0 && slow.assignment().length === 1);
    expect(lost).toEqual([0]);
  });

  it('commits offsets with leader epoch and metadata, and reads them back (null where nothing was committed)', async () => {
    const topic = await newTopic(2);
    const group = groupId();
    const committer = consumer({ 'group.id': group });
    committer.assign([{ topic, partition: 0 }]);
    await committer.commitSync([{ topic, partition: 0, offset: 42n, leaderEpoch: 0, metadata: 'checkpoint' }]);
    const [first, second] = await committer.committed([
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    expect(first).toEqual({ offset: 42n, leaderEpoch: 0, metadata: 'checkpoint' });
    expect(second).toBeNull();
    await expect(committer.commitSync([{ topic, partition: 0, offset: -1n }])).rejects.toThrow(RangeError);
  });
});

describe('what drives a rebalance besides members', () => {
  it('consumes partitions added to a subscribed topic, with no member joining or leaving', async () => {
    const topic = await newTopic(2);
    const group = groupId();
    const config = { 'group.id': group, 'metadata.max.age.ms': 1_000 };
    const a = consumer(config);
    const b = consumer(config);
    a.subscribe([topic]);
    b.subscribe([topic]);
    await pollUntil([a, b], () => a.assignment().length === 1 && b.assignment().length === 1);
    const members = [a.groupMetadata().memberId, b.groupMetadata().memberId];
    const generation = a.groupMetadata().generationId;
    await addPartitions(pool, metadata, topic, 4);
    await fill(topic, [2, 3], 3);
    const values = new Set<string | null>();
    await pollUntil(
      [a, b],
      () => values.size === 6,
      (_, batch) => {
        for (const value of batch) values.add(value);
      },
    );
    expect([...values].sort()).toEqual(['2/0', '2/1', '2/2', '3/0', '3/1', '3/2']);
    expect([a.groupMetadata().memberId, b.groupMetadata().memberId]).toEqual(members);
    expect(a.groupMetadata().generationId).toBeGreaterThan(generation);
  });

  it('consumes a topic created after subscribing to a pattern it matches', async () => {
    const prefix = `pattern-${randomUUID().slice(0, 8)}`;
    const before = await newTopic(1, prefix);
    await fill(before, [0], 2);
    const reader = consumer({ 'group.id': groupId(), 'metadata.max.age.ms': 1_000 });
    reader.subscribe(new RegExp(`${prefix}-.*`));
    const values = new Set<string | null>();
    await pollUntil(
      [reader],
      () => values.size === 2,
      (_, batch) => {
        for (const value of batch) values.add(value);
      },
    );
    expect(reader.subscription()).toEqual([before]);
    const later = await newTopic(2, prefix);
    await fill(later, [0, 1], 2);
    values.clear();
    await pollUntil(
      [reader],
      () => values.size === 4,
      (_, batch) => {
        for (const value of batch) values.add(value);
      },
    );
    expect([...values].sort()).toEqual(['0/0', '0/1', '1/0', '1/1']);
    expect(reader.subscription()).toEqual([before, later].sort());
    expect(names(reader.assignment().filter((tp) => tp.topic === later))).toEqual([0, 1]);
  });

  it('a changed subscription rejoins with the same member id, committing what it consumed first', async () => {
    const first = await newTopic(1);
    const second = await newTopic(1);
    await fill(first, [0], 4);
    await fill(second, [0], 4);
    const group = groupId();
    const reader = consumer({ 'group.id': group, 'auto.commit.interval.ms': 60_000 });
    reader.subscribe([first]);
    let read = 0;
    await pollUntil(
      [reader],
      () => read === 4,
      (_, values) => (read += values.length),
    );
    const member = reader.groupMetadata().memberId;
    reader.subscribe([first, second]);
    await pollUntil([reader], () => reader.assignment().length === 2);
    expect(reader.groupMetadata().memberId).toBe(member);
    expect((await reader.committed([{ topic: first, partition: 0 }]))[0]?.offset).toBe(4n);
  });

  it('enforceRebalance rejoins at the next poll (a new generation); unsubscribe commits, revokes and leaves', async () => {
    const topic = await newTopic(1);
    await fill(topic, [0], 3);
    const group = groupId();
    const events = recorder();
    const reader = consumer({ 'group.id': group, 'auto.commit.interval.ms': 60_000 });
    reader.subscribe([topic], events);
    let read = 0;
    await pollUntil(
      [reader],
      () => read === 3,
      (_, values) => (read += values.length),
    );
    const generation = reader.groupMetadata().generationId;
    reader.enforceRebalance();
    await pollUntil([reader], () => reader.groupMetadata().generationId > generation);
    await reader.unsubscribe();
    expect(reader.assignment()).toEqual([]);
    expect(events.events.at(-1)).toEqual(['revoked', [0]]);
    expect((await reader.committed([{ topic, partition: 0 }]))[0]?.offset).toBe(3n);
  });
});
