import { type Oracle, type OracleAssignInput, OracleError, startOracle } from '@sluice/tools-oracle';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CooperativeStickyAssignor } from '../src/cooperative-sticky.ts';
import { StickyAssignor } from '../src/sticky.ts';
import { decodeStickyUserData, encodeStickyUserData } from '../src/sticky-user-data.ts';
import type { AssignorMetadata, MemberAssignment, MemberSubscription, TopicPartition } from '../src/types.ts';
import { balanceProblems, countSpread, movedPartitions, validityProblems } from './sticky-check.ts';

/**
 * Differential tests against Kafka's own StickyAssignor and CooperativeStickyAssignor (kafka-clients, behind the
 * oracle JVM): the user data must match byte for byte both ways; on random groups our assignment must be valid, at
 * least as balanced as Java's and move no more partitions than Java's; on the constrained path (everyone on the
 * same topics, no racks) it must be Java's exactly.
 */

let oracle: Oracle;

beforeAll(async () => {
  oracle = await startOracle();
}, 60_000);

afterAll(async () => {
  await oracle?.close();
});

// Names that collide in Java's String.hashCode ("Aa" and "BB" both hash to 2112), names that sort differently by
// UTF-16 unit than by code point, and enough others to grow a HashMap past 16 buckets.
const TOPIC_NAMES = [
  'Aa',
  'BB',
  'AaAa',
  'BBBB',
  'AaBB',
  'BBAa',
  'orders',
  'ｔ',
  '😀t',
  ...Array.from({ length: 24 }, (_, index) => `topic-${index}`),
];

const partitionListArbitrary: fc.Arbitrary<TopicPartition[]> = fc.array(
  fc.record({ topic: fc.constantFrom(...TOPIC_NAMES), partition: fc.nat({ max: 200 }) }),
  { maxLength: 80 },
);

const hex = (bytes: Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString('hex'));

describe('user data matches Java byte for byte', { timeout: 60_000 }, () => {
  it('sticky: StickyAssignorUserData v1 after onAssignment', async () => {
    await fc.assert(
      fc.asyncProperty(
        partitionListArbitrary,
        fc.integer({ min: -1, max: 1_000_000 }),
        async (partitions, generation) => {
          const java = await oracle.assignorUserData({
            assignor: 'sticky',
            partitions,
            generationId: generation,
            topics: [],
          });
          const ours = new StickyAssignor();
          ours.onAssignment(
            { partitions, userData: null },
            { groupId: 'group', memberId: 'member', generationId: generation },
          );
          expect(hex(ours.subscriptionUserData(new Set()))).toBe(hex(java));
          // And we read Java's bytes back as what was assigned.
          const decoded = decodeStickyUserData(java!);
          expect(decoded.generation).toBe(generation);
          expect(decoded.partitions).toHaveLength(partitions.length);
          expect(new Set(decoded.partitions.map(keyOf))).toEqual(new Set(partitions.map(keyOf)));
        },
      ),
      { seed: 20_251_129, numRuns: 150 },
    );
  });

  it('sticky: nothing before the first assignment, like Java', () => {
    expect(new StickyAssignor().subscriptionUserData(new Set(['t']))).toBeNull();
  });

  it('cooperative-sticky: the generation as an INT32', async () => {
    for (const generation of [-1, 0, 1, 7, 65_536, 2_147_483_647]) {
      const java = await oracle.assignorUserData({
        assignor: 'cooperative-sticky',
        partitions: [{ topic: 't', partition: 0 }],
        generationId: generation,
        topics: ['t'],
      });
      const ours = new CooperativeStickyAssignor();
      ours.onAssignment(
        { partitions: [{ topic: 't', partition: 0 }], userData: null },
        { groupId: 'group', memberId: 'member', generationId: generation },
      );
      expect(hex(ours.subscriptionUserData(new Set(['t'])))).toBe(hex(java));
    }
    expect(hex(new CooperativeStickyAssignor().subscriptionUserData(new Set()))).toBe('ffffffff');
  });
});

// --- random groups ---------------------------------------------------------------------------------------------

interface Scenario {
  readonly topics: readonly { name: string; partitions: number; partitionRacks: string[][] | null }[];
  readonly members: readonly {
    memberId: string;
    topics: readonly string[];
    owned: TopicPartition[];
    generation: number;
    rackId: string | null;
  }[];
}

const RACKS = ['r0', 'r1', 'r2'];
const MEMBER_IDS = ['consumer-1-0e8a', 'consumer-2-f3b2', 'Aa', 'BB', 'm', 'ｍ', '😀m', '10', '9', 'c-3', 'c-4', 'c-5'];

/**
 * Random groups. `conflicts` adds second claimants to some partitions; Java's eager sticky assignor compares a
 * claimant's user-data generation with the other claimant's subscription generation (always none for it), so on
 * conflicts it keeps the later claimant rather than the newer one, and we only compare it exactly without them.
 */
function scenarioArbitrary(options: {
  sameTopics: boolean;
  racks: boolean;
  conflicts?: boolean;
}): fc.Arbitrary<Scenario> {
  return fc
    .record({
      topics: fc.uniqueArray(
        fc.record({
          name: fc.constantFrom(...TOPIC_NAMES.slice(0, 14)),
          // Kafka 4.4's rack-aware path fails on a topic with no partitions, so those come only without racks.
          partitions: fc.integer({ min: options.racks ? 1 : 0, max: 24 }),
          racks: fc.array(fc.subarray(RACKS, { minLength: 1, maxLength: 2 }), { minLength: 24, maxLength: 24 }),
        }),
        { selector: (topic) => topic.name, minLength: 1, maxLength: 6 },
      ),
      shared: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
      members: fc.uniqueArray(
        fc.record({
          memberId: fc.constantFrom(...MEMBER_IDS),
          picks: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
          rackId: fc.option(fc.constantFrom(...RACKS), { freq: 3 }),
          // Most members share the group's generation; some are a generation behind or have none.
          generation: fc.oneof({ weight: 6, arbitrary: fc.constant(5) }, fc.constantFrom(4, -1, 6)),
        }),
        { selector: (member) => member.memberId, minLength: 1, maxLength: 10 },
      ),
      // Per partition: who owned it (an index past the members means nobody), and now and then a second claimant.
      owners: fc.array(fc.nat({ max: 14 }), { minLength: 200, maxLength: 200 }),
      second: fc.array(fc.option(fc.nat({ max: 11 }), { freq: 12 }), { minLength: 200, maxLength: 200 }),
    })
    .map(({ topics, shared, members, owners, second }) => {
      const names = [...topics.map((topic) => topic.name), 'missing'];
      const pick = (picks: readonly number[]): string[] => [
        ...new Set(picks.map((index) => names[index % names.length]!)),
      ];
      const sharedTopics = pick(shared);
      const built = members.map((member) => ({
        memberId: member.memberId,
        topics: options.sameTopics ? sharedTopics : pick(member.picks),
        owned: [] as TopicPartition[],
        generation: member.generation,
        rackId: options.racks ? member.rackId : null,
      }));
      let index = 0;
      // Owned partitions include a topic that no longer exists ('gone').
      for (const topic of [...topics, { name: 'gone', partitions: 3 }]) {
        for (let partition = 0; partition < topic.partitions; partition++, index++) {
          const owner = built[owners[index % owners.length]!];
          owner?.owned.push({ topic: topic.name, partition });
          const extra = second[index % second.length];
          const other = extra === null || extra === undefined ? undefined : built[extra];
          if (options.conflicts !== false && other !== undefined && other !== owner)
            other.owned.push({ topic: topic.name, partition });
        }
      }
      return {
        topics: topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions,
          partitionRacks: options.racks ? topic.racks.slice(0, topic.partitions) : null,
        })),
        members: built,
      };
    });
}

function metadataOf(scenario: Scenario): AssignorMetadata {
  return {
    topics: new Map(
      scenario.topics.map((topic) => [
        topic.name,
        topic.partitionRacks === null
          ? { name: topic.name, partitions: topic.partitions }
          : { name: topic.name, partitions: topic.partitions, partitionRacks: topic.partitionRacks },
      ]),
    ),
  };
}

/** Subscriptions as each assignor's members send them: sticky in user data, cooperative in the subscription. */
function subscriptionsOf(
  scenario: Scenario,
  assignor: 'sticky' | 'cooperative-sticky',
): Map<string, MemberSubscription> {
  return new Map(
    scenario.members.map((member) => [
      member.memberId,
      assignor === 'sticky'
        ? {
            topics: member.topics,
            userData: encodeStickyUserData(member.owned, member.generation),
            ownedPartitions: [],
            generationId: -1,
            rackId: member.rackId,
          }
        : {
            topics: member.topics,
            userData: null,
            ownedPartitions: member.owned,
            generationId: member.generation,
            rackId: member.rackId,
          },
    ]),
  );
}

function oracleInput(
  scenario: Scenario,
  assignor: 'sticky' | 'cooperative-sticky',
  subscriptions: ReadonlyMap<string, MemberSubscription>,
): OracleAssignInput {
  return {
    assignor,
    topics: scenario.topics.map((topic) =>
      topic.partitionRacks === null
        ? { name: topic.name, partitions: topic.partitions }
        : { name: topic.name, partitions: topic.partitions, partitionRacks: topic.partitionRacks },
    ),
    members: [...subscriptions].map(([memberId, subscription]) => ({
      memberId,
      topics: subscription.topics,
      ownedPartitions: subscription.ownedPartitions,
      generationId: subscription.generationId,
      rackId: subscription.rackId,
      userData: subscription.userData,
    })),
  };
}

function keyOf({ topic, partition }: TopicPartition): string {
  return `${topic}\u0000${partition}`;
}

function sortedKeys(partitions: readonly TopicPartition[]): string[] {
  return partitions.map(keyOf).sort();
}

function fromOracle(
  answer: Record<string, { partitions: TopicPartition[]; userData: Uint8Array | null }>,
): Map<string, MemberAssignment> {
  return new Map(
    Object.entries(answer).map(([memberId, { partitions }]) => [memberId, { partitions, userData: null }]),
  );
}

/**
 * Java's assignment, or null where Kafka 4.4 itself fails: its general path throws a NullPointerException when a
 * member subscribes to no existing topic yet still lists owned partitions.
 */
async function javaAssign(input: OracleAssignInput): Promise<Map<string, MemberAssignment> | null> {
  try {
    return fromOracle(await oracle.assign(input));
  } catch (error) {
    if (error instanceof OracleError && error.message.includes('NullPointerException')) return null;
    throw error;
  }
}

const ownedOf = (scenario: Scenario): Map<string, TopicPartition[]> =>
  new Map(scenario.members.map((member) => [member.memberId, member.owned]));

describe('sticky against Kafka', { timeout: 120_000 }, () => {
  it('constrained path (same topics, no racks): exactly Java', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary({ sameTopics: true, racks: false, conflicts: false }), async (scenario) => {
        const subscriptions = subscriptionsOf(scenario, 'sticky');
        const ours = new StickyAssignor().assign(metadataOf(scenario), subscriptions);
        const java = (await javaAssign(oracleInput(scenario, 'sticky', subscriptions)))!;
        expect(validityProblems(metadataOf(scenario), subscriptions, ours, true)).toEqual([]);
        expect(countSpread(ours)).toBeLessThanOrEqual(1);
        for (const [memberId, assignment] of java) {
          expect(sortedKeys(ours.get(memberId)!.partitions), memberId).toEqual(sortedKeys(assignment.partitions));
        }
      }),
      { seed: 4_401, numRuns: 150 },
    );
  });

  it('constrained path at scale (Java-style member ids, HashMap past 16 buckets): exactly Java', async () => {
    const runs = fc.sample(
      fc.record({
        members: fc.integer({ min: 13, max: 70 }),
        partitions: fc.array(fc.integer({ min: 20, max: 120 }), { minLength: 1, maxLength: 6 }),
        owners: fc.array(fc.nat({ max: 90 }), { minLength: 720, maxLength: 720 }),
        ids: fc.array(fc.uuid(), { minLength: 70, maxLength: 70 }),
      }),
      { seed: 4_406, numRuns: 12 },
    );
    for (const run of runs) {
      const topics = run.partitions.map((partitions, index) => ({
        name: `events-${index}`,
        partitions,
        partitionRacks: null,
      }));
      const members = Array.from({ length: run.members }, (_, index) => ({
        memberId: `consumer-orders-${index + 1}-${run.ids[index]!}`,
        topics: topics.map((topic) => topic.name),
        owned: [] as TopicPartition[],
        generation: 12,
        rackId: null,
      }));
      let index = 0;
      for (const topic of topics) {
        for (let partition = 0; partition < topic.partitions; partition++) {
          // Four members are new: the others own more than their share, so who keeps an extra one matters.
          members[run.owners[index++]! % (run.members - 4)]!.owned.push({ topic: topic.name, partition });
        }
      }
      const scenario: Scenario = { topics, members };
      for (const assignor of ['sticky', 'cooperative-sticky'] as const) {
        const subscriptions = subscriptionsOf(scenario, assignor);
        const ours = (assignor === 'sticky' ? new StickyAssignor() : new CooperativeStickyAssignor()).assign(
          metadataOf(scenario),
          subscriptions,
        );
        const java = (await javaAssign(oracleInput(scenario, assignor, subscriptions)))!;
        for (const [memberId, assignment] of java) {
          expect(sortedKeys(ours.get(memberId)!.partitions), memberId).toEqual(sortedKeys(assignment.partitions));
        }
      }
    }
  });

  it('general path: valid, at least as balanced as Java, moves no more than Java', async () => {
    let oursMoved = 0;
    let javaMoved = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary({ sameTopics: false, racks: false, conflicts: false }), async (scenario) => {
        const subscriptions = subscriptionsOf(scenario, 'sticky');
        const metadata = metadataOf(scenario);
        const ours = new StickyAssignor().assign(metadata, subscriptions);
        const java = await javaAssign(oracleInput(scenario, 'sticky', subscriptions));
        expect(validityProblems(metadata, subscriptions, ours, true)).toEqual([]);
        expect(balanceProblems(subscriptions, ours)).toEqual([]);
        if (java === null) return;
        // Kafka 4.4's general path can leave a partition with a previous owner that no longer subscribes to its
        // topic; such answers are not a yardstick.
        if (validityProblems(metadata, subscriptions, java, true).length > 0) return;
        expect(countSpread(ours)).toBeLessThanOrEqual(countSpread(java));
        oursMoved += movedPartitions(ownedOf(scenario), ours);
        javaMoved += movedPartitions(ownedOf(scenario), java);
      }),
      { seed: 4_402, numRuns: 150 },
    );
    expect(oursMoved).toBeLessThanOrEqual(javaMoved);
  });

  it('with racks (KIP-881): valid, as balanced as Java, and exactly Java on the constrained path', async () => {
    for (const sameTopics of [true, false]) {
      await fc.assert(
        fc.asyncProperty(scenarioArbitrary({ sameTopics, racks: true, conflicts: !sameTopics }), async (scenario) => {
          const subscriptions = subscriptionsOf(scenario, 'sticky');
          const metadata = metadataOf(scenario);
          const ours = new StickyAssignor().assign(metadata, subscriptions);
          const java = await javaAssign(oracleInput(scenario, 'sticky', subscriptions));
          expect(validityProblems(metadata, subscriptions, ours, true)).toEqual([]);
          expect(balanceProblems(subscriptions, ours)).toEqual([]);
          if (java === null) return;
          if (validityProblems(metadata, subscriptions, java, true).length > 0) return;
          expect(countSpread(ours)).toBeLessThanOrEqual(countSpread(java));
          if (sameTopics) {
            for (const [memberId, assignment] of java) {
              expect(sortedKeys(ours.get(memberId)!.partitions), memberId).toEqual(sortedKeys(assignment.partitions));
            }
          }
        }),
        { seed: 4_403, numRuns: 100 },
      );
    }
  });

  it('reads the user data Java members send', async () => {
    // Java's assignor assigns; each member's next user data comes from Java; our assignor must stick to it.
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary({ sameTopics: true, racks: false }), async (scenario) => {
        const metadata = metadataOf(scenario);
        const first = new Map(
          scenario.members.map((member) => [
            member.memberId,
            { topics: member.topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null },
          ]),
        );
        const java = await oracle.assign(oracleInput(scenario, 'sticky', first));
        const next = new Map<string, MemberSubscription>();
        for (const member of scenario.members) {
          const userData = await oracle.assignorUserData({
            assignor: 'sticky',
            partitions: java[member.memberId]!.partitions,
            generationId: 9,
            topics: [...member.topics],
          });
          next.set(member.memberId, {
            topics: member.topics,
            userData,
            ownedPartitions: [],
            generationId: -1,
            rackId: null,
          });
        }
        // Nothing changed, so everyone keeps exactly what Java gave them.
        const ours = new StickyAssignor().assign(metadata, next);
        for (const member of scenario.members) {
          expect(sortedKeys(ours.get(member.memberId)!.partitions)).toEqual(
            sortedKeys(java[member.memberId]!.partitions),
          );
        }
      }),
      { seed: 4_404, numRuns: 40 },
    );
  });
});

describe('cooperative-sticky against Kafka', { timeout: 120_000 }, () => {
  /** Problems with one cooperative round: invalid, or a partition handed over while another member claims it. */
  function roundProblems(
    metadata: AssignorMetadata,
    subscriptions: ReadonlyMap<string, MemberSubscription>,
    result: ReadonlyMap<string, MemberAssignment>,
  ): string[] {
    const problems = validityProblems(metadata, subscriptions, result, false);
    const claimedBy = new Map<string, string[]>();
    for (const [memberId, subscription] of subscriptions) {
      for (const owned of subscription.ownedPartitions) {
        claimedBy.set(keyOf(owned), [...(claimedBy.get(keyOf(owned)) ?? []), memberId]);
      }
    }
    const generation = (memberId: string): number => subscriptions.get(memberId)!.generationId;
    for (const [memberId, assignment] of result) {
      for (const partition of assignment.partitions) {
        // Only a claimant whose generation no other claimant reaches may get it now.
        const others = (claimedBy.get(keyOf(partition)) ?? []).filter((other) => other !== memberId);
        const mine = claimedBy.get(keyOf(partition))?.includes(memberId) ?? false;
        if (others.length > 0 && (!mine || others.some((other) => generation(other) >= generation(memberId)))) {
          problems.push(`${partition.topic}-${partition.partition} went to ${memberId} while ${others} own it`);
        }
      }
    }
    return problems;
  }

  /**
   * Runs rounds (each member then owns what it was given) until one assigns every partition, at least two.
   * Returns null if `run` does (Java failed) or, for Java, if a round is invalid.
   */
  async function converge(
    scenario: Scenario,
    run: (subscriptions: Map<string, MemberSubscription>) => Promise<Map<string, MemberAssignment> | null>,
    trusted: boolean,
  ): Promise<{ final: Map<string, MemberAssignment>; rounds: number } | null> {
    const metadata = metadataOf(scenario);
    let subscriptions = subscriptionsOf(scenario, 'cooperative-sticky');
    for (let round = 1; round <= 4; round++) {
      const result = await run(subscriptions);
      if (result === null) return null;
      const problems = roundProblems(metadata, subscriptions, result);
      if (trusted) expect(problems).toEqual([]);
      else if (problems.length > 0) return null;
      if (round > 1 && validityProblems(metadata, subscriptions, result, true).length === 0) {
        return { final: result, rounds: round };
      }
      subscriptions = new Map(
        [...subscriptions].map(([memberId, subscription]) => [
          memberId,
          { ...subscription, ownedPartitions: result.get(memberId)!.partitions, generationId: 10 + round },
        ]),
      );
    }
    throw new Error('no convergence in 4 rounds');
  }

  it('both converge in two rounds; ours as balanced and moving no more, exactly Java when constrained', async () => {
    let oursMoved = 0;
    let javaMoved = 0;
    // Moves are compared without same-generation conflicts: Kafka's general path then lets one claimant keep
    // the partition while we hold it back from both, so the comparison would measure the policy, not stickiness.
    const variants = [
      { sameTopics: true, conflicts: true },
      { sameTopics: false, conflicts: true },
      { sameTopics: false, conflicts: false },
    ];
    for (const { sameTopics, conflicts } of variants) {
      await fc.assert(
        fc.asyncProperty(scenarioArbitrary({ sameTopics, racks: false, conflicts }), async (scenario) => {
          const metadata = metadataOf(scenario);
          const ours = await converge(
            scenario,
            async (subscriptions) => new CooperativeStickyAssignor().assign(metadata, subscriptions),
            true,
          );
          const java = await converge(
            scenario,
            (subscriptions) => javaAssign(oracleInput(scenario, 'cooperative-sticky', subscriptions)),
            false,
          );
          expect(ours!.rounds).toBe(2);
          expect(balanceProblems(subscriptionsOf(scenario, 'cooperative-sticky'), ours!.final)).toEqual([]);
          if (java === null) return;
          expect(countSpread(ours!.final)).toBeLessThanOrEqual(countSpread(java.final));
          if (!conflicts) {
            oursMoved += movedPartitions(ownedOf(scenario), ours!.final);
            javaMoved += movedPartitions(ownedOf(scenario), java.final);
          }
          if (sameTopics) {
            for (const [memberId, assignment] of java.final) {
              expect(sortedKeys(ours!.final.get(memberId)!.partitions), memberId).toEqual(
                sortedKeys(assignment.partitions),
              );
            }
          }
        }),
        { seed: 4_405, numRuns: 80 },
      );
    }
    expect(oursMoved).toBeLessThanOrEqual(javaMoved);
  });
});
