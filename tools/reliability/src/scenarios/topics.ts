/** The topics change under the group: partitions added while it reads, another subscribed topic deleted and recreated. */

import { setTimeout as sleep } from 'node:timers/promises';
import { addPartitions, deleteTopic, produce } from '@sluice/tools-admin';
import type { MemberLog } from '../checker.ts';
import { groupScenario, MEMBER_CONFIG, type Scenario } from '../scenario.ts';

const DOOMED_PARTITIONS = 2;
const DOOMED_RECORDS = 50;

/** Values of the doomed topic: `<incarnation>:<partition>:<index>`. */
const doomedValue = (incarnation: number, partition: number, index: number) => `i${incarnation}:${partition}:${index}`;

/** The doomed topic's values every member read, over all members. */
function doomedReads(members: readonly MemberLog[]): Set<string> {
  const seen = new Set<string>();
  for (const member of members)
    for (const entry of member.entries)
      if (entry.t === 'batch') for (const [, , , value] of entry.others ?? []) seen.add(value);
  return seen;
}

export const topicChanges: Scenario = {
  name: 'topic-changes',
  title: 'Partitions added while consuming; a subscribed topic deleted and recreated',
  guarantee:
    "the new partitions are consumed, 0 lost; the deleted topic's partitions are revoked without errors escaping poll; the recreated topic is read",
  run: async (context) => {
    const doomed = context.name('doomed');
    const readAll = async (members: () => readonly MemberLog[], incarnation: number) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const seen = doomedReads(members());
        let missing = 0;
        for (let partition = 0; partition < DOOMED_PARTITIONS; partition++)
          for (let index = 0; index < DOOMED_RECORDS; index++)
            if (!seen.has(doomedValue(incarnation, partition, index))) missing++;
        if (missing === 0) return 0;
        if (Date.now() > deadline) return missing;
        await sleep(500);
      }
    };
    const produceDoomed = async (incarnation: number) => {
      for (let partition = 0; partition < DOOMED_PARTITIONS; partition++) {
        await produce(
          context.pool,
          context.metadata,
          { topic: doomed, partition },
          Array.from({ length: DOOMED_RECORDS }, (_, index) => ({
            value: new TextEncoder().encode(doomedValue(incarnation, partition, index)),
          })),
        );
      }
    };
    const missing: number[] = [];
    let grownTo = 0;
    return groupScenario(context, {
      // Kafka's default (true) would have the members' metadata requests create the subscribed topic before the
      // scenario does, and again right after it deletes it.
      memberConfig: { ...MEMBER_CONFIG, 'allow.auto.create.topics': false },
      otherTopics: [doomed],
      allowed: { duplicates: 'none' },
      script: async (control) => {
        const logs = () =>
          control.members.map((member) => ({ member: member.name, killed: false, entries: member.log.read() }));
        await control.steady();
        await sleep(3_000);
        grownTo = 9;
        await addPartitions(context.pool, context.metadata, control.topic, grownTo);
        control.producer.grow?.(grownTo);
        control.fault(`${control.topic} grown to ${grownTo} partitions`);
        await sleep(8_000);
        await context.newTopic(DOOMED_PARTITIONS, { name: doomed });
        await produceDoomed(0);
        missing.push(await readAll(logs, 0));
        control.fault(`${doomed} deleted`);
        await deleteTopic(context.pool, context.metadata, doomed);
        await sleep(8_000);
        await context.newTopic(DOOMED_PARTITIONS, { name: doomed });
        control.fault(`${doomed} recreated`);
        await produceDoomed(1);
        missing.push(await readAll(logs, 1));
        await sleep(3_000);
      },
      judge: (result) => {
        const found: string[] = [];
        if (missing[0] !== 0) found.push(`${missing[0]} records of ${doomed} never read before it was deleted`);
        if (missing[1] !== 0) found.push(`${missing[1]} records of the recreated ${doomed} never read`);
        const grown = new Set(
          result.members.flatMap((member) =>
            member.entries.flatMap((entry) =>
              entry.t === 'batch' ? entry.records.map(([partition]) => partition) : [],
            ),
          ),
        );
        for (let partition = 6; partition < grownTo; partition++)
          if (!grown.has(partition)) found.push(`added partition ${partition} was never read`);
        const gaveUp = result.members.some((member) =>
          member.entries.some(
            (entry) =>
              (entry.t === 'revoked' || entry.t === 'lost') &&
              (entry.others ?? []).some((tp) => tp.startsWith(`${doomed}-`)),
          ),
        );
        if (!gaveUp) found.push(`no member was told that it no longer owns ${doomed}'s partitions`);
        return found;
      },
    });
  },
};
