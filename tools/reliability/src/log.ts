/**
 * The harness's logs: JSON lines, one file per process, written synchronously (a process killed with SIGKILL
 * loses nothing it wrote: the kernel has every line that `appendFileSync` returned from). Offsets travel as
 * strings, so that a reader never depends on how a writer held them.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/**
 * What a producer logs, one line per record: `ack` when the record was acknowledged (or its transaction committed),
 * with when; a transactional producer also logs `aborted` records (written, then their transaction aborted) and
 * `unknown` ones (written, and the transaction's outcome never learnt).
 */
export interface AckEntry {
  readonly t: 'ack';
  readonly p: number;
  readonly o: string;
  readonly v: string;
  /** When the acknowledgement arrived. */
  readonly ts?: number;
}
export interface AbortedEntry {
  readonly t: 'aborted' | 'unknown';
  readonly p: number;
  readonly o: string;
  readonly v: string;
}

/** What a consumer member logs. */
export type MemberEntry =
  | { readonly t: 'start'; readonly ts: number; readonly pid: number }
  /**
   * A rebalance callback: the scenario topic's partitions, the other topics' as `topic-partition`, and the group
   * generation the member was in when it was called.
   */
  | {
      readonly t: 'assigned' | 'revoked' | 'lost';
      readonly ts: number;
      readonly partitions: readonly number[];
      readonly others?: readonly string[];
      readonly generation?: number;
    }
  /**
   * One poll's records of the scenario topic, as [partition, offset, value], and of other topics as
   * [topic, partition, offset, value].
   */
  | {
      readonly t: 'batch';
      readonly ts: number;
      readonly records: ReadonlyArray<readonly [number, string, string]>;
      readonly others?: ReadonlyArray<readonly [string, number, string, string]>;
    }
  /** The process's resident set size, every second. */
  | { readonly t: 'rss'; readonly ts: number; readonly rss: number }
  /** A successful commit: partition -> the offset committed (the next record to read). */
  | { readonly t: 'committed'; readonly ts: number; readonly offsets: Readonly<Record<string, string>> }
  | { readonly t: 'commit-failed'; readonly ts: number; readonly error: string; readonly name: string }
  | { readonly t: 'poll-failed'; readonly ts: number; readonly error: string; readonly name: string }
  | { readonly t: 'closed'; readonly ts: number };

/** What the driver logs about the members it runs. */
export type DriverEntry =
  | { readonly t: 'member-started'; readonly ts: number; readonly member: string; readonly log: string }
  | { readonly t: 'member-killed' | 'member-stopped'; readonly ts: number; readonly member: string }
  | { readonly t: 'broker-restarted'; readonly ts: number; readonly nodeId: number }
  /** A fault the driver injected (what, and where), from which the checker times the recovery. */
  | { readonly t: 'fault'; readonly ts: number; readonly what: string }
  /** Every member is in the group: from here on a new generation is a rebalance. */
  | { readonly t: 'steady'; readonly ts: number };

export class JsonLinesLog<Entry> {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  write(...entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    appendFileSync(this.path, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
  }

  /** Every complete line (a line cut short by a kill is dropped). */
  read(): Entry[] {
    if (!existsSync(this.path)) return [];
    const entries: Entry[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as Entry);
      } catch {
        // Only the last line of a killed writer can be partial.
      }
    }
    return entries;
  }
}
