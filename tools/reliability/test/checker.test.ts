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
    expect(violations(report, { duplicates: 'none' })).toEqual([]);
  });

  it('counts a record nobody read as lost, and a gap within an assignment as a skip', () => {
    const report = checkLogs({
      acks: acks(0, 10),
      members: [member('a', [assigned(0), batch(0, 0, 4), batch(0, 5, 10)])],
    });
    expect(report.lost).toBe(1);
    expect(report.skips).toBe(1);
    expect(violations(report, { duplicates: 'none' })).toEqual(
      expect.arrayContaining(['1 lost', '1 skipped', 'lost: 0@4']),
    );
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
    expect(violations(report, { duplicates: 'killed' })).toEqual([]);
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
    expect(violations(explained, { duplicates: 'killed' })).toEqual([]);
    expect(violations(explained, { duplicates: 'none' })).toEqual(['3 duplicates']);

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
    expect(violations(report, { duplicates: 'explained' })).toEqual([]);
    expect(violations(report, { duplicates: 'killed' })).toEqual(['1 duplicates by members that lost partitions']);
  });

  it('follows each read to its fate: lost before any commit past it is explained, even if the member commits past it later', () => {
    // "a" was stuck, lost partition 0 with 3..5 read and uncommitted, then got it back and committed past them.
    const report = checkLogs({
      acks: acks(0, 10),
      members: [
        member('a', [
          assigned(0),
          batch(0, 0, 3, 100),
          committed(0, 3),
          batch(0, 3, 6, 200),
          lost(0),
          assigned(0),
          batch(0, 8, 10, 900),
          committed(0, 10),
        ]),
        member('b', [assigned(0), batch(0, 3, 8, 500), committed(0, 8), revoked(0)]),
      ],
    });
    expect(report).toMatchObject({ duplicates: 3, duplicatesExplainedByLoss: 3, unexplainedDuplicates: 0 });
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

  it('lets a read pass offsets nobody acknowledged (transaction markers, aborted records), not acknowledged ones', () => {
    // Acknowledged: 0, 1, 4, 5 (2 and 3 were aborted, 6 is a marker).
    const acknowledged = acks(0, 6).filter((ack) => ack.o !== '2' && ack.o !== '3');
    const read = (...offsets: number[]): MemberEntry => ({
      t: 'batch',
      ts: 0,
      records: offsets.map((offset) => [0, String(offset), `0:${offset}`] as const),
    });
    const passing = checkLogs({ acks: acknowledged, members: [member('a', [assigned(0), read(0, 1, 4, 5)])] });
    expect(passing).toMatchObject({ skips: 0, lost: 0 });
    const skipping = checkLogs({ acks: acknowledged, members: [member('a', [assigned(0), read(0, 4, 5)])] });
    expect(skipping).toMatchObject({ skips: 1, lost: 1 });
  });

  it('counts reads of aborted records, and does not count records of an unknown outcome as unacknowledged', () => {
    const report = checkLogs({
      acks: acks(0, 2),
      aborted: [
        { t: 'aborted', p: 0, o: '2', v: '0:2' },
        { t: 'unknown', p: 0, o: '3', v: '0:3' },
      ],
      members: [member('a', [assigned(0), batch(0, 0, 4)])],
    });
    expect(report).toMatchObject({ abortedReads: 1, unacknowledgedReads: 0 });
    expect(violations(report, { duplicates: 'none' })).toContain('1 read from aborted transactions');
  });

  it('counts the generations first seen after the group was steady as rebalances, only where they are ruled out', () => {
    const inGeneration = (generation: number, ts: number): MemberEntry => ({
      t: 'assigned',
      ts,
      partitions: [0],
      generation,
    });
    const report = checkLogs({
      acks: acks(0, 2),
      members: [
        member('a', [inGeneration(1, 100), inGeneration(2, 200), batch(0, 0, 2), inGeneration(3, 2_000)]),
        member('b', [inGeneration(2, 210), inGeneration(3, 2_010)]),
      ],
      driver: [{ t: 'steady', ts: 1_000 }],
    });
    expect(report.rebalances).toBe(1);
    expect(violations(report, { duplicates: 'none', rebalances: 'none' })).toContain('1 unexpected rebalances');
    expect(violations(report, { duplicates: 'none' })).toEqual([]);
  });

  it('times the recovery from each fault to every partition delivering a record written after it', () => {
    const ack = (p: number, o: number, ts: number): AckEntry => ({ t: 'ack', p, o: String(o), v: `${p}:${o}`, ts });
    const at = (p: number, o: number, ts: number): MemberEntry => ({
      t: 'batch',
      ts,
      records: [[p, String(o), `${p}:${o}`]],
    });
    const report = checkLogs({
      acks: [ack(0, 0, 100), ack(1, 0, 100), ack(0, 1, 1_100), ack(1, 1, 1_200)],
      members: [
        member('a', [assigned(0), at(0, 0, 150), at(0, 1, 1_500)]),
        member('b', [{ t: 'assigned', ts: 0, partitions: [1] }, at(1, 0, 150), at(1, 1, 4_000)]),
      ],
      driver: [{ t: 'fault', ts: 1_000, what: 'broker 1 killed' }],
    });
    // Partition 0 recovered at 1500, partition 1 at 4000: 3 s after the fault.
    expect(report.recoveryMs).toBe(3_000);
    expect(checkLogs({ acks: acks(0, 1), members: [] }).recoveryMs).toBeNull();
  });

  it('compares the final committed offsets with the highest offsets read, and takes the peak RSS', () => {
    const rss = (bytes: number): MemberEntry => ({ t: 'rss', ts: 0, rss: bytes });
    const report = checkLogs({
      acks: [...acks(0, 4), ...acks(1, 4)],
      members: [
        member('a', [
          rss(10),
          assigned(0),
          { t: 'assigned', ts: 0, partitions: [1] },
          batch(0, 0, 4),
          batch(1, 0, 4),
          rss(30),
          rss(20),
        ]),
      ],
      committed: new Map([
        [0, 4n],
        [1, 3n],
      ]),
    });
    expect(report).toMatchObject({ committedMismatches: 1, peakRssBytes: 30 });
    expect(violations(report, { duplicates: 'none' })).toContain(
      '1 partitions whose committed offset is not the position after the last read',
    );
  });
});
