/** The checker on logs written by hand: each anomaly it must find, and the duplicates it may explain. */
import { describe, expect, it } from 'vitest';
import { checkLogs, type MemberLog, violations } from '../src/checker.ts';
import type { AckEntry, MemberEntry } from '../src/log.ts';

const acks = (partition: number, count: number): AckEntry[] =>
  Array.from({ length: count }, (_, offset) => ({
    t: 'ack',
    p: partition,
    o: String(offset),
    v: `${partition}:${offset}`,
  }));

const batch = (partition: number, from: number, to: number, ts = 0): MemberEntry => ({
  t: 'batch',
  ts,
  records: Array.from(
    { length: to - from },
    (_, index) => [partition, String(from + index), `${partition}:${from + index}`] as const,
  ),
});
const assigned = (...partitions: number[]): MemberEntry => ({ t: 'assigned', ts: 0, partitions });
const revoked = (...partitions: number[]): MemberEntry => ({ t: 'revoked', ts: 0, partitions });
const lost = (...partitions: number[]): MemberEntry => ({ t: 'lost', ts: 0, partitions });
const committed = (partition: number, offset: number): MemberEntry => ({
  t: 'committed',
  ts: 0,
  offsets: { [String(partition)]: String(offset) },
});
const member = (name: string, entries: MemberEntry[], killed = false): MemberLog => ({ member: name, killed, entries });

describe('checkLogs', () => {
  it('finds nothing wrong in a clean hand-over', () => {
    const report = checkLogs({
      acks: acks(0, 10),
      members: [
        member('a', [assigned(0), batch(0, 0, 5), committed(0, 5), revoked(0)]),
        member('b', [assigned(0), batch(0, 5, 10), committed(0, 10)]),
      ],
    });
    expect(report).toMatchObject({ acknowledged: 10, consumed: 10, reads: 10, lost: 0, duplicates: 0, skips: 0 });
    expect(violations(report, 'none')).toEqual([]);
  });

  it('counts a record nobody read as lost, and a gap within an assignment as a skip', () => {
    const report = checkLogs({
      acks: acks(0, 10),
      members: [member('a', [assigned(0), batch(0, 0, 4), batch(0, 5, 10)])],
    });
    expect(report.lost).toBe(1);
    expect(report.skips).toBe(1);
    expect(violations(report, 'none')).toEqual(expect.arrayContaining(['1 lost', '1 skipped', 'lost: 0@4']));
  });

  it('judges duplicates in time order, whatever the order of the members’ logs', () => {
    // "a" re-read what the killed "b" had read earlier without committing: b's reads are the explained duplicates,
    // although a's log comes first.
    const report = checkLogs({
      acks: acks(0, 10),
      members: [
        member('a', [assigned(0), batch(0, 5, 10, 2_000), committed(0, 10)]),
        member('b', [assigned(0), batch(0, 0, 5, 500), committed(0, 5), batch(0, 5, 8, 1_000)], true),
      ],
    });
    expect(report).toMatchObject({ duplicates: 3, duplicatesExplainedByKill: 3, unexplainedDuplicates: 0 });
    expect(violations(report, 'killed')).toEqual([]);
  });

  it('explains a duplicate read by a killed member after its last commit, and not one it had committed', () => {
    const explained = checkLogs({
      acks: acks(0, 10),
      members: [
        member('a', [assigned(0), batch(0, 0, 5), committed(0, 5), batch(0, 5, 8)], true),
        member('b', [assigned(0), batch(0, 5, 10), committed(0, 10)]),
      ],
    });
    expect(explained).toMatchObject({ duplicates: 3, duplicatesExplainedByKill: 3, unexplainedDuplicates: 0 });
    expect(violations(explained, 'killed')).toEqual([]);
    expect(violations(explained, 'none')).toEqual(['3 duplicates']);

    const committedPast = checkLogs({
      acks: acks(0, 10),
      members: [
        member('a', [assigned(0), batch(0, 0, 5), committed(0, 5)], true),
        member('b', [assigned(0), batch(0, 3, 10), committed(0, 10)]),
      ],
    });
    expect(committedPast).toMatchObject({ duplicates: 2, duplicatesExplainedByKill: 0, unexplainedDuplicates: 2 });
  });

  it('explains a duplicate of a member that lost the partition after reading it, only where that is allowed', () => {
    const report = checkLogs({
      acks: acks(0, 6),
      members: [
        member('a', [assigned(0), batch(0, 0, 3), committed(0, 2), lost(0)]),
        member('b', [assigned(0), batch(0, 2, 6)]),
      ],
    });
    expect(report).toMatchObject({ duplicates: 1, duplicatesExplainedByLoss: 1, unexplainedDuplicates: 0 });
    expect(violations(report, 'explained')).toEqual([]);
    expect(violations(report, 'killed')).toEqual(['1 duplicates by members that lost partitions']);
  });

  it('finds reads backwards, reads without an assignment, and values the producer did not write there', () => {
    const wrong: MemberEntry = { t: 'batch', ts: 0, records: [[0, '3', 'not-it']] };
    const report = checkLogs({
      acks: acks(0, 5),
      members: [
        member('a', [batch(0, 0, 1), assigned(0), batch(0, 1, 4), batch(0, 2, 3), revoked(0), assigned(0), wrong]),
      ],
    });
    expect(report.unassignedReads).toBe(1);
    expect(report.backwards).toBe(1);
    expect(report.wrongValues).toBe(1);
  });
});
