/**
 * Reads a scenario's logs (the producer's acknowledgements, every member's reads, commits and rebalance callbacks,
 * the driver's kills) and computes what happened to the records, as Kafka's OffsetValidationTest and Jepsen's
 * anomaly classes count it:
 * - lost: acknowledged, never read by anyone;
 * - duplicates: reads of a record that was read again later. Each read's fate is followed in its member's log: a
 *   successful commit past it, the member losing the partition (onPartitionsLost), or neither (to the member's end).
 *   A duplicate is explained when its reader lost the partition before committing past it, or was killed before
 *   either; the rest (committed past and read again, or neither in a member that ended cleanly) are unexplained;
 * - skips (Jepsen's poll-skip) and backward reads (non-monotonic): within one member's assignment of a partition (from
 *   onPartitionsAssigned to onPartitionsRevoked / onPartitionsLost), no read may jump over an acknowledged record
 *   (offsets between two reads that the producer never had acknowledged, such as transaction markers and aborted
 *   records, may be passed), nor go back;
 * - wrong values: a record whose value is not what the producer wrote at that offset; aborted reads: records of an
 *   aborted transaction delivered;
 * - rebalances: group generations first seen after the driver said the group was steady;
 * - time to recover: after each fault the driver logged, how long until every partition delivered a record
 *   acknowledged after the fault (the longest over the partitions, then over the faults);
 * - peak RSS: the largest resident set size a member process logged.
 */
import type { AbortedEntry, AckEntry, DriverEntry, MemberEntry } from './log.ts';

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
  /** Records of aborted transactions that were delivered. */
  readonly abortedReads: number;
  /** Group generations first seen after the group was steady (the driver's `steady`); 0 without one. */
  readonly rebalances: number;
  /** The longest time from a fault to every partition delivering records written after it; null without faults. */
  readonly recoveryMs: number | null;
  /** The largest RSS any member logged, in bytes; 0 when none did. */
  readonly peakRssBytes: number;
  /** Partitions whose final committed offset is not the one after the highest offset read (when given). */
  readonly committedMismatches: number;
  readonly kills: number;
  readonly members: number;
  readonly commitFailures: number;
  readonly pollFailures: number;
  /** The first few anomalies, described, for the failure message. */
  readonly examples: readonly string[];
}

/** What became of a read in its member's log: committed past, the partition lost first, or neither. */
type Fate = 'committed' | 'lost' | 'open';

interface Read {
  readonly member: string;
  readonly killed: boolean;
  readonly partition: number;
  readonly offset: bigint;
  /** When the batch holding the read was logged. */
  readonly ts: number;
  fate: Fate;
}

export function checkLogs(input: {
  readonly acks: readonly AckEntry[];
  /** A transactional producer's aborted records, and those whose outcome it never learnt. */
  readonly aborted?: readonly AbortedEntry[];
  readonly members: readonly MemberLog[];
  readonly driver?: readonly DriverEntry[];
  /** The group's committed offsets at the end, once every member stopped: partition -> offset. */
  readonly committed?: ReadonlyMap<number, bigint>;
}): CheckReport {
  const examples: string[] = [];
  const note = (text: string) => {
    if (examples.length < 12) examples.push(text);
  };
  const acked = new Map<string, string>();
  /** Per partition, the acknowledged offsets in order (what a read may not jump over). */
  const ackedOffsets = new Map<number, number[]>();
  for (const ack of input.acks) {
    acked.set(`${ack.p}@${ack.o}`, ack.v);
    const list = ackedOffsets.get(ack.p);
    if (list === undefined) ackedOffsets.set(ack.p, [Number(ack.o)]);
    else list.push(Number(ack.o));
  }
  for (const list of ackedOffsets.values()) list.sort((a, b) => a - b);
  /** Whether an acknowledged offset lies in [from, to) of the partition. */
  const ackedBetween = (partition: number, from: bigint, to: bigint): boolean => {
    const list = ackedOffsets.get(partition);
    if (list === undefined) return false;
    const first = lowerBound(list, Number(from));
    return first < list.length && list[first]! < Number(to);
  };
  const aborted = new Set<string>();
  const unknown = new Set<string>();
  for (const entry of input.aborted ?? []) (entry.t === 'aborted' ? aborted : unknown).add(`${entry.p}@${entry.o}`);
  let abortedReads = 0;
  let peakRssBytes = 0;
  const steadyAt = input.driver?.find((entry) => entry.t === 'steady')?.ts;
  /** Generation -> when a member first logged it. */
  const generations = new Map<number, number>();

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
  for (const member of input.members) {
    /** The offset expected next per assigned partition, null right after an assignment. */
    const expected = new Map<number, bigint | null>();
    /** Per partition, the member's reads whose fate is still open. */
    const open = new Map<number, Read[]>();
    for (const entry of member.entries) {
      switch (entry.t) {
        case 'assigned':
          for (const partition of entry.partitions) expected.set(partition, null);
          if (entry.generation !== undefined) {
            const seen = generations.get(entry.generation);
            if (seen === undefined || entry.ts < seen) generations.set(entry.generation, entry.ts);
          }
          break;
        case 'rss':
          peakRssBytes = Math.max(peakRssBytes, entry.rss);
          break;
        case 'revoked':
          for (const partition of entry.partitions) expected.delete(partition);
          break;
        case 'lost':
          for (const partition of entry.partitions) {
            expected.delete(partition);
            for (const read of open.get(partition) ?? []) read.fate = 'lost';
            open.delete(partition);
          }
          break;
        case 'committed':
          for (const [partitionText, offsetText] of Object.entries(entry.offsets)) {
            const partition = Number(partitionText);
            const committed = BigInt(offsetText);
            const reads = open.get(partition);
            if (reads === undefined) continue;
            const still = reads.filter((read) => {
              if (read.offset >= committed) return true;
              read.fate = 'committed';
              return false;
            });
            if (still.length === 0) open.delete(partition);
            else open.set(partition, still);
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
            if (aborted.has(key)) {
              abortedReads++;
              note(`${member.member} read ${key} = ${value} of an aborted transaction`);
            } else if (ackedValue === undefined) {
              if (!unknown.has(key)) unacknowledgedReads++;
            } else if (ackedValue !== value) {
              wrongValues++;
              note(`${member.member} read ${key} = ${value}, the producer wrote ${ackedValue}`);
            }
            const previous = expected.get(partition);
            if (previous === undefined) {
              unassignedReads++;
              note(`${member.member} read ${key} without an assignment of partition ${partition}`);
            } else if (previous !== null && offset !== previous) {
              if (offset > previous) {
                if (ackedBetween(partition, previous, offset)) {
                  skips++;
                  note(`${member.member} skipped from ${partition}@${previous} to ${key}`);
                }
              } else {
                backwards++;
                note(`${member.member} went back from ${partition}@${previous} to ${key}`);
              }
            }
            expected.set(partition, offset + 1n);
            const read: Read = {
              member: member.member,
              killed: member.killed,
              partition,
              offset,
              ts: entry.ts,
              fate: 'open',
            };
            const list = readsOf.get(key);
            if (list === undefined) readsOf.set(key, [read]);
            else list.push(read);
            const pending = open.get(partition);
            if (pending === undefined) open.set(partition, [read]);
            else pending.push(read);
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
      if (read.fate === 'lost') byLoss++;
      else if (read.fate === 'open' && read.killed) byKill++;
      else {
        note(
          `unexplained duplicate: ${key} read by ${read.member} (${read.fate === 'committed' ? 'which committed past it' : 'which neither committed it nor lost the partition, and was not killed'}) and again later`,
        );
      }
    }
  }

  let committedMismatches = 0;
  if (input.committed !== undefined) {
    const highest = new Map<number, bigint>();
    for (const key of readsOf.keys()) {
      const [partition, offset] = key.split('@').map((part) => BigInt(part)) as [bigint, bigint];
      if (offset > (highest.get(Number(partition)) ?? -1n)) highest.set(Number(partition), offset);
    }
    for (const [partition, offset] of highest) {
      const committed = input.committed.get(partition);
      if (committed !== offset + 1n) {
        committedMismatches++;
        note(`partition ${partition}: committed ${committed ?? 'nothing'}, read up to ${offset}`);
      }
    }
  }
  const rebalances =
    steadyAt === undefined ? 0 : [...generations.values()].filter((firstSeen) => firstSeen > steadyAt).length;

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
    abortedReads,
    rebalances,
    recoveryMs: recovery(input.acks, readsOf, input.driver ?? []),
    peakRssBytes,
    committedMismatches,
    kills:
      input.driver?.filter((entry) => entry.t === 'member-killed').length ??
      input.members.filter((m) => m.killed).length,
    members: input.members.length,
    commitFailures,
    pollFailures,
    examples,
  };
}

/** The first index of `list` (ascending) whose value is at least `value`. */
function lowerBound(list: readonly number[], value: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (list[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * For each fault the driver logged (a `fault`, or a member killed): the time until every partition
 * delivered its first record acknowledged after the fault; the longest of those. Partitions that got no record
 * after a fault do not count for it.
 */
function recovery(
  acks: readonly AckEntry[],
  readsOf: ReadonlyMap<string, readonly Read[]>,
  driver: readonly DriverEntry[],
): number | null {
  const faults = driver.filter((entry) => entry.t === 'fault' || entry.t === 'member-killed').map((entry) => entry.ts);
  if (faults.length === 0) return null;
  /** Per partition: [acknowledged at, first read at], in acknowledgement order. */
  const timeline = new Map<number, Array<readonly [number, number]>>();
  for (const ack of acks) {
    if (ack.ts === undefined) continue;
    const reads = readsOf.get(`${ack.p}@${ack.o}`);
    if (reads === undefined) continue;
    const firstRead = Math.min(...reads.map((read) => read.ts));
    const list = timeline.get(ack.p);
    if (list === undefined) timeline.set(ack.p, [[ack.ts, firstRead]]);
    else list.push([ack.ts, firstRead]);
  }
  let longest = 0;
  for (const fault of faults) {
    for (const list of timeline.values()) {
      let first = Number.POSITIVE_INFINITY;
      for (const [ackedAt, readAt] of list) if (ackedAt > fault && readAt < first) first = readAt;
      if (first !== Number.POSITIVE_INFINITY) longest = Math.max(longest, first - fault);
    }
  }
  return longest;
}

/** What a scenario allows: which duplicates, and whether the group may rebalance after it was steady. */
export interface Allowed {
  /** `none`; `killed`: only reads of killed members after their last commit; `explained`: those and reads of members that lost the partition afterwards. */
  readonly duplicates: 'none' | 'killed' | 'explained';
  /** Whether a rebalance after the group was steady is a violation (the default: allowed). */
  readonly rebalances?: 'none' | 'any';
}

/**
 * What a scenario must hold, checked on its report: nothing lost, skipped, read backwards, read without an
 * assignment, with a wrong value or from an aborted transaction, no poll that threw, every acknowledged record read,
 * duplicates and rebalances only as the scenario allows. Empty when everything holds; otherwise one line per
 * violation, then the examples.
 */
export function violations(report: CheckReport, allowed: Allowed): string[] {
  const { duplicates } = allowed;
  const found: string[] = [];
  const zero = (count: number, what: string) => {
    if (count !== 0) found.push(`${count} ${what}`);
  };
  zero(report.lost, 'lost');
  zero(report.skips, 'skipped');
  zero(report.backwards, 'read backwards');
  zero(report.unassignedReads, 'read without an assignment');
  zero(report.wrongValues, 'with a wrong value');
  zero(report.abortedReads, 'read from aborted transactions');
  zero(report.committedMismatches, 'partitions whose committed offset is not the position after the last read');
  if (allowed.rebalances === 'none') zero(report.rebalances, 'unexpected rebalances');
  zero(report.pollFailures, 'polls that threw');
  zero(report.unexplainedDuplicates, 'unexplained duplicates');
  if (report.consumed < report.acknowledged)
    found.push(`${report.acknowledged - report.consumed} acknowledged not read`);
  if (duplicates === 'none') zero(report.duplicates, 'duplicates');
  if (duplicates === 'killed') zero(report.duplicatesExplainedByLoss, 'duplicates by members that lost partitions');
  return found.length === 0 ? [] : [...found, ...report.examples];
}
