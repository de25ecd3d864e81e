/**
 * KIP-848 consumer groups (`group.protocol=consumer`) against the real broker: members sharing a topic's partitions
 * as they join, leave and are killed; static members that come back to their partitions; a commit inside
 * onPartitionsRevoked; records neither lost nor duplicated by graceful changes; the broker's assignors; mixed
 * groups with Kafka's own Java consumer and with classic members. The harness's brokers give consumer groups a
 * 10 s session and 1 s heartbeats (group.consumer.* in tools/kafka/src/config.ts).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import {
  GroupProtocolUnsupportedError,
  type KafkaConsumer,
  KafkaError,
  SubscriptionPattern,
  type TopicPartition,
} from '../src/index.ts';
import { brokerFixture, pollUntil } from './broker-fixture.ts';
import { javaMember, sluiceMember } from './member-processes.ts';

const { bootstrap, newTopic, fill, consumer } = brokerFixture('kip848');
/** What this broker lacks (3.9: KIP-848 only as early access, and never regular expressions), with the reason. */
const { lacks } = inject('kafka');

const groupId = () => `kip848-${randomUUID().slice(0, 8)}`;
const PROTOCOL = { 'group.protocol': 'consumer' } as const;
const sorted = (partitions: readonly TopicPartition[]) => partitions.map((tp) => tp.partition).sort((a, b) => a - b);

type Member = KafkaConsumer<string | null, string | null>;

/** Whether the members' assignments cover partitions 0..count-1 with each owned exactly once. */
function ownedOnce(assignments: ReadonlyArray<readonly number[]>, count: number): boolean {
  const all = assignments.flat().sort((a, b) => a - b);
  return all.length === count && all.every((partition, index) => partition === index);
}

describe('group.protocol=consumer on any broker', () => {
  it('joins where the broker serves KIP-848; elsewhere fails at once with an error naming the setting', async () => {
    const topic = await newTopic(1);
    const member = consumer({ 'group.id': groupId(), ...PROTOCOL });
    member.subscribe([topic]);
    let failure: unknown = null;
    for (let attempt = 0; attempt < 100 && failure === null && member.assignment().length === 0; attempt++) {
      await member.poll(100).catch((error: unknown) => {
        failure = error;
      });
    }
    if (lacks.consumerGroupProtocol === undefined) {
      expect(failure).toBeNull();
      expect(member.assignment()).toEqual([{ topic, partition: 0 }]);
    } else {
      expect(failure).toBeInstanceOf(GroupProtocolUnsupportedError);
      expect((failure as Error).message).toContain('group.protocol=classic');
    }
  });
});

describe.skipIf(lacks.consumerGroupProtocol !== undefined)('KIP-848 consumer groups', () => {
  it('two, then three members share the partitions, each owned once; graceful changes lose and duplicate nothing', async () => {
    const topic = await newTopic(6);
    const perPartition = 300;
    await fill(topic, [0, 1, 2, 3, 4, 5], perPartition);
    const group = groupId();
    const config = { 'group.id': group, ...PROTOCOL, 'max.poll.records': 10 };
    const seen = new Map<string, number>();
    const count = (_: number, values: Array<string | null>) => {
      for (const value of values) seen.set(value!, (seen.get(value!) ?? 0) + 1);
    };
    const a = consumer(config);
    const b = consumer(config);
    const c = consumer(config);
    a.subscribe([topic]);
    await pollUntil([a], () => a.assignment().length === 6, count);
    expect(a.groupMetadata().generationId).toBeGreaterThan(0);
    b.subscribe([topic]);
    await pollUntil(
      [a, b],
      () => ownedOnce([sorted(a.assignment()), sorted(b.assignment())], 6) && b.assignment().length === 3,
      count,
    );
    c.subscribe([topic]);
    await pollUntil([a, b, c], () => [a, b, c].every((member) => member.assignment().length === 2), count);
    expect(
      ownedOnce(
        [a, b, c].map((member) => sorted(member.assignment())),
        6,
      ),
    ).toBe(true);
    // b leaves at once (epoch -1), not after the session timeout; the others take its partitions.
    await b.close();
    await pollUntil([a, c], () => ownedOnce([sorted(a.assignment()), sorted(c.assignment())], 6), count);
    await pollUntil([a, c], () => seen.size === 6 * perPartition, count);
    const duplicated = [...seen].filter(([, times]) => times > 1);
    expect(duplicated).toEqual([]);
    expect(seen.size).toBe(6 * perPartition);
  });

  it('a SIGKILLed member: its partitions move to the others after the session timeout', async () => {
    const topic = await newTopic(4);
    const group = groupId();
    const a = consumer({ 'group.id': group, ...PROTOCOL });
    a.subscribe([topic]);
    const killed = sluiceMember(bootstrap, topic, { 'group.id': group, ...PROTOCOL });
    await killed.waitFor((assigned) => assigned.length > 0);
    await pollUntil([a], () => ownedOnce([sorted(a.assignment()), killed.assigned()], 4));
    await killed.kill();
    await pollUntil([a], () => a.assignment().length === 4, undefined, { timeoutMs: 40_000 });
  });

  it('a static member that restarts within the session timeout gets its partitions back with no reassignment', async () => {
    const topic = await newTopic(4);
    const group = groupId();
    const events: string[] = [];
    const a = consumer({ 'group.id': group, 'group.instance.id': 'static-a', ...PROTOCOL });
    a.subscribe([topic], {
      onPartitionsAssigned: (partitions) => void events.push(`assigned ${sorted(partitions)}`),
      onPartitionsRevoked: (partitions) => void events.push(`revoked ${sorted(partitions)}`),
      onPartitionsLost: (partitions) => void events.push(`lost ${sorted(partitions)}`),
    });
    const bConfig = { 'group.id': group, 'group.instance.id': 'static-b', ...PROTOCOL };
    const b = consumer(bConfig);
    b.subscribe([topic]);
    await pollUntil([a, b], () => a.assignment().length === 2 && b.assignment().length === 2);
    const before = sorted(b.assignment());
    const settled = events.length;
    // Leaving with epoch -2: the broker keeps b's assignment for the session timeout.
    await b.close();
    const again = consumer(bConfig);
    again.subscribe([topic]);
    await pollUntil([a, again], () => again.assignment().length === 2);
    expect(sorted(again.assignment())).toEqual(before);
    // a kept its partitions throughout: no revocation, no assignment.
    await pollUntil([a, again], () => true);
    expect(events.slice(settled)).toEqual([]);
    expect(a.assignment().length).toBe(2);
  });

  it('a second member with the same group.instance.id fails with UNRELEASED_INSTANCE_ID; the first goes on', async () => {
    const topic = await newTopic(2);
    const group = groupId();
    const first = consumer({ 'group.id': group, 'group.instance.id': 'twin', ...PROTOCOL });
    first.subscribe([topic]);
    await pollUntil([first], () => first.assignment().length === 2);
    const second = consumer({ 'group.id': group, 'group.instance.id': 'twin', ...PROTOCOL });
    second.subscribe([topic]);
    let failure: unknown = null;
    for (let attempt = 0; attempt < 50 && failure === null; attempt++) {
      await Promise.all([
        first.poll(100),
        second.poll(100).catch((error: unknown) => {
          failure = error;
        }),
      ]);
    }
    expect(failure).toBeInstanceOf(KafkaError);
    expect(failure).toMatchObject({ errorName: 'UNRELEASED_INSTANCE_ID' });
    await first.poll(100);
    expect(first.assignment().length).toBe(2);
  });

  it('a commit inside onPartitionsRevoked, during the reconciliation, succeeds with the member epoch', async () => {
    const topic = await newTopic(2);
    await fill(topic, [0, 1], 20);
    const group = groupId();
    const commits: Array<{ partitions: number[]; error: string | null }> = [];
    const a: Member = consumer({ 'group.id': group, ...PROTOCOL, 'enable.auto.commit': false });
    a.subscribe([topic], {
      onPartitionsRevoked: async (partitions) => {
        try {
          await a.commitSync();
          commits.push({ partitions: sorted(partitions), error: null });
        } catch (error) {
          commits.push({ partitions: sorted(partitions), error: String(error) });
        }
      },
    });
    let read = 0;
    await pollUntil(
      [a],
      () => read === 40,
      (_, values) => {
        read += values.length;
      },
    );
    const b = consumer({ 'group.id': group, ...PROTOCOL, 'enable.auto.commit': false });
    b.subscribe([topic]);
    await pollUntil([a, b], () => a.assignment().length === 1 && b.assignment().length === 1);
    expect(commits).toHaveLength(1);
    expect(commits[0]!.error).toBeNull();
    const moved = commits[0]!.partitions[0]!;
    const [committed] = await b.committed([{ topic, partition: moved }]);
    expect(committed?.offset).toBe(20n);
  });

  it('group.remote.assignor picks the broker assignor; an unknown one is a typed, fatal error', async () => {
    const topic = await newTopic(4);
    const group = groupId();
    const a = consumer({ 'group.id': group, ...PROTOCOL, 'group.remote.assignor': 'range' });
    const b = consumer({ 'group.id': group, ...PROTOCOL, 'group.remote.assignor': 'range' });
    a.subscribe([topic]);
    b.subscribe([topic]);
    await pollUntil([a, b], () => a.assignment().length === 2 && b.assignment().length === 2);
    // The range assignor gives each member a run of consecutive partitions.
    for (const member of [a, b]) {
      const [first, second] = sorted(member.assignment());
      expect(second! - first!).toBe(1);
    }
    const wrong = consumer({ 'group.id': groupId(), ...PROTOCOL, 'group.remote.assignor': 'no-such-assignor' });
    wrong.subscribe([topic]);
    let failure: unknown = null;
    for (let attempt = 0; attempt < 50 && failure === null; attempt++) {
      await wrong.poll(200).catch((error: unknown) => {
        failure = error;
      });
    }
    expect(failure).toBeInstanceOf(KafkaError);
    expect(failure).toMatchObject({ errorName: 'UNSUPPORTED_ASSIGNOR' });
  });

  it.skipIf(lacks.consumerGroupRegex !== undefined)(
    'subscribe(SubscriptionPattern): the coordinator resolves the regular expression; an invalid one is fatal',
    async () => {
      const prefix = `kip848re${randomUUID().slice(0, 6)}`;
      const first = await newTopic(2, `${prefix}-orders`);
      const second = await newTopic(1, `${prefix}-payments`);
      await newTopic(1, `other${prefix}`);
      const member = consumer({ 'group.id': groupId(), ...PROTOCOL });
      member.subscribe(new SubscriptionPattern(`${prefix}-.*`));
      await pollUntil([member], () => member.assignment().length === 3);
      expect(member.subscription()).toEqual([first, second].sort());
      const invalid = consumer({ 'group.id': groupId(), ...PROTOCOL });
      invalid.subscribe(new SubscriptionPattern('(unclosed'));
      let failure: unknown = null;
      for (let attempt = 0; attempt < 50 && failure === null; attempt++) {
        await invalid.poll(200).catch((error: unknown) => {
          failure = error;
        });
      }
      expect(failure).toMatchObject({ name: 'KafkaError', errorName: 'INVALID_REGULAR_EXPRESSION' });
    },
  );

  it("a mixed group: Kafka's own Java consumer (group.protocol=consumer) and Sluice members, each partition owned once", async () => {
    const topic = await newTopic(6);
    const group = groupId();
    const java = await javaMember(bootstrap, topic, group, 'consumer');
    const a = consumer({ 'group.id': group, ...PROTOCOL });
    const b = consumer({ 'group.id': group, ...PROTOCOL });
    a.subscribe([topic]);
    b.subscribe([topic]);
    await pollUntil(
      [a, b],
      () =>
        java.assigned().length === 2 && ownedOnce([sorted(a.assignment()), sorted(b.assignment()), java.assigned()], 6),
      undefined,
      { timeoutMs: 90_000 },
    );
    // The Java member leaves: the Sluice members take its partitions.
    await java.stop();
    await pollUntil(
      [a, b],
      () => ownedOnce([sorted(a.assignment()), sorted(b.assignment())], 6) && a.assignment().length === 3,
    );
  });

  it("a classic member joins a consumer-protocol group through the broker's upgrade path", async () => {
    const topic = await newTopic(4);
    const group = groupId();
    const modern = consumer({ 'group.id': group, ...PROTOCOL });
    modern.subscribe([topic]);
    await pollUntil([modern], () => modern.assignment().length === 4);
    const classic = consumer({ 'group.id': group, 'partition.assignment.strategy': 'cooperative-sticky' });
    classic.subscribe([topic]);
    await pollUntil(
      [modern, classic],
      () =>
        classic.assignment().length === 2 && ownedOnce([sorted(modern.assignment()), sorted(classic.assignment())], 4),
    );
    await classic.close();
    await pollUntil([modern], () => modern.assignment().length === 4);
  });
});
