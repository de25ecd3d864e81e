/**
 * Reads a scenario's logs (the producer's acknowledgements, every member's reads, commits and rebalance callbacks,
 * the driver's kills) and computes what happened to the records, as Kafka's OffsetValidationTest and Jepsen's
 * anomaly classes count it:
 * - lost: acknowledged, never read by anyone;
 * - duplicates: reads of a record that was read again later; each is explained when the member that read it was
 *   killed without having committed past it (its last successful commit of the partition was at or before the
 *   record), or lost the partition (onPartitionsLost) after reading it without such a commit; the rest are
 *   unexplained;
 * - skips and backward reads: within one member's assignment of a partition (from onPartitionsAssigned to
 *   onPartitionsRevoked / onPartitionsLost), each read must be the offset after the previous one;
 * - wrong values: a record whose value is not what the producer wrote at that offset.
 */
import type { AckEntry, DriverEntry, MemberEntry } from './log.ts';

export interface MemberLog {
  readonly member: string;
  /** Whether the driver killed it (SIGKILL) rather than stopping it. */
  readonly killed: boolean;
  readonly entries: readonly MemberEntry[];
}

export interface CheckReport {
  readonly acknowledged: number;
  /** Distinct records read. */
  readonly consumed: number;
  /** Reads in all. */
  readonly reads: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly duplicatesExplainedByKill: number;
  readonly duplicatesExplainedByLoss: number;
  readonly unexplainedDuplicates: number;
  readonly skips: number;
  readonly backwards: number;
  /** Reads of a partition the member's listener was not told it was assigned. */
  readonly unassignedReads: number;
  readonly wrongValues: number;
  /** Records read that the producer never saw acknowledged (a request whose answer was lost). */
  readonly unacknowledgedReads: number;
  readonly kills: number;
  readonly members: number;
  readonly commitFailures: number;
  readonly pollFailures: number;
  /** The first few anomalies, described, for the failure message. */
  readonly examples: readonly string[];
}

interface Read {
  readonly member: string;
  readonly index: number;
  /** When the batch holding the read was logged. */
  readonly ts: number;
}

export function checkLogs(input: {
  readonly acks: readonly AckEntry[];
  readonly members: readonly MemberLog[];
  readonly driver?: readonly DriverEntry[];
}): CheckReport {
  const examples: string[] = [];
  const note = (text: string) => {
    if (examples.length < 12) examples.push(text);
  };
  const acked = new Map<string, string>();
  for (const ack of input.acks) acked.set(`${ack.p}@${ack.o}`, ack.v);

  // Every read, in each member's order, with what it committed and lost afterwards.
  const readsOf = new Map<string, Read[]>();
  let reads = 0;
  let skips = 0;
  let backwards = 0;
  let unassignedReads = 0;
  let wrongValues = 0;
  let unacknowledgedReads = 0;
  let commitFailures = 0;
  let pollFailures = 0;
  /** Per member: the offset of each read, the highest successful commit per partition, losses after a read. */
  const memberFacts = new Map<
    string,
    {
      killed: boolean;
      /** partition -> highest committed offset (the next record), over the member's whole life. */
      committed: Map<number, bigint>;
      /** For each read index: the partition's highest commit at the time of the member's death or loss. */
      lostAfter: Array<{ partition: number; at: number }>;
      readAt: Map<number, { partition: number; offset: bigint }>;
    }
  >();
  for (const member of input.members) {
    const facts = {
      killed: member.killed,
      committed: new Map<number, bigint>(),
      lostAfter: [] as Array<{ partition: number; at: number }>,
      readAt: new Map<number, { partition: number; offset: bigint }>(),
    };
    memberFacts.set(member.member, facts);
    /** The offset expected next per assigned partition, null right after an assignment. */
    const expected = new Map<number, bigint | null>();
    let index = 0;
    for (const entry of member.entries) {
      switch (entry.t) {
        case 'assigned':
          for (const partition of entry.partitions) expected.set(partition, null);
          break;
        case 'revoked':
          for (const partition of entry.partitions) expected.delete(partition);
          break;
        case 'lost':
          for (const partition of entry.partitions) {
            expected.delete(partition);
            facts.lostAfter.push({ partition, at: index });
          }
          break;
        case 'committed':
          for (const [partition, offset] of Object.entries(entry.offsets)) {
            const value = BigInt(offset);
            const before = facts.committed.get(Number(partition));
            if (before === undefined || value > before) facts.committed.set(Number(partition), value);
          }
          break;
        case 'commit-failed':
          commitFailures++;
          break;
        case 'poll-failed':
          pollFailures++;
          note(`${member.member}: poll threw ${entry.name}: ${entry.error}`);
          break;
        case 'batch':
          for (const [partition, offsetText, value] of entry.records) {
            const offset = BigInt(offsetText);
            const key = `${partition}@${offsetText}`;
            reads++;
            const ackedValue = acked.get(key);
            if (ackedValue === undefined) unacknowledgedReads++;
            else if (ackedValue !== value) {
              wrongValues++;
              note(`${member.member} read ${key} = ${value}, the producer wrote ${ackedValue}`);
            }
            const previous = expected.get(partition);
            if (previous === undefined) {
              unassignedReads++;
              note(`${member.member} read ${key} without an assignment of partition ${partition}`);
            } else if (previous !== null && offset !== previous) {
              if (offset > previous) {
                skips++;
                note(`${member.member} skipped from ${partition}@${previous} to ${key}`);
              } else {
                backwards++;
                note(`${member.member} went back from ${partition}@${previous} to ${key}`);
              }
            }
            expected.set(partition, offset + 1n);
            const list = readsOf.get(key);
            const read = { member: member.member, index, ts: entry.ts };
            if (list === undefined) readsOf.set(key, [read]);
            else list.push(read);
            facts.readAt.set(index, { partition, offset });
            index++;
          }
          break;
        default:
          break;
      }
    }
  }

  let lost = 0;
  for (const key of acked.keys()) {
    if (!readsOf.has(key)) {
      lost++;
      note(`lost: ${key}`);
    }
  }

  let duplicates = 0;
  let byKill = 0;
  let byLoss = 0;
  for (const [key, list] of readsOf) {
    // Every read but the last in time was read again: a duplicate, which its reader must explain. The lists are
    // filled member after member, so they are put in time order first (the batch's log time; a stable sort keeps
    // one member's own reads in their order).
    list.sort((a, b) => a.ts - b.ts);
    for (const read of list.slice(0, -1)) {
      duplicates++;
      const facts = memberFacts.get(read.member)!;
      const { partition, offset } = facts.readAt.get(read.index)!;
      const committedPast = (facts.committed.get(partition) ?? -1n) > offset;
      if (!committedPast && facts.killed) {
        byKill++;
      } else if (
        !committedPast &&
        facts.lostAfter.some((loss) => loss.partition === partition && loss.at > read.index)
      ) {
        byLoss++;
      } else {
        note(
          `unexplained duplicate: ${key} read by ${read.member} (${committedPast ? 'which committed past it' : 'not killed, no loss'}) and again later`,
        );
      }
    }
  }

  return {
    acknowledged: acked.size,
    consumed: readsOf.size,
    reads,
    lost,
    duplicates,
    duplicatesExplainedByKill: byKill,
    duplicatesExplainedByLoss: byLoss,
    unexplainedDuplicates: duplicates - byKill - byLoss,
    skips,
    backwards,
    unassignedReads,
    wrongValues,
    unacknowledgedReads,
    kills:
      input.driver?.filter((entry) => entry.t === 'member-killed').length ??
      input.members.filter((m) => m.killed).length,
    members: input.members.length,
    commitFailures,
    pollFailures,
    examples,
  };
}

/**
 * What a scenario must hold, checked on its report: nothing lost, skipped, read backwards, read without an
 * assignment or with a wrong value, no poll that threw, every acknowledged record read, and duplicates only as the
 * scenario allows (`none`; `killed`: only reads of killed members after their last commit; `explained`: those and
 * reads of members that lost the partition afterwards). Empty when everything holds; otherwise one line per
 * violation, then the examples.
 */
export function violations(report: CheckReport, duplicates: 'none' | 'killed' | 'explained'): string[] {
  const found: string[] = [];
  const zero = (count: number, what: string) => {
    if (count !== 0) found.push(`${count} ${what}`);
  };
  zero(report.lost, 'lost');
  zero(report.skips, 'skipped');
  zero(report.backwards, 'read backwards');
  zero(report.unassignedReads, 'read without an assignment');
  zero(report.wrongValues, 'with a wrong value');
  zero(report.pollFailures, 'polls that threw');
  zero(report.unexplainedDuplicates, 'unexplained duplicates');
  if (report.consumed < report.acknowledged)
    found.push(`${report.acknowledged - report.consumed} acknowledged not read`);
  if (duplicates === 'none') zero(report.duplicates, 'duplicates');
  if (duplicates === 'killed') zero(report.duplicatesExplainedByLoss, 'duplicates by members that lost partitions');
  return found.length === 0 ? [] : [...found, ...report.examples];
}
