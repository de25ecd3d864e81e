/**
 * The harness's logs: JSON lines, one file per process, written synchronously (a process killed with SIGKILL
 * loses nothing it wrote: the kernel has every line that `appendFileSync` returned from). Offsets travel as
 * strings, so that a reader never depends on how a writer held them.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/** What the producer logs: one line per acknowledged record. */
export interface AckEntry {
  readonly t: 'ack';
  readonly p: number;
  readonly o: string;
  readonly v: string;
}

/** What a consumer member logs. */
export type MemberEntry =
  | { readonly t: 'start'; readonly ts: number; readonly pid: number }
  | { readonly t: 'assigned' | 'revoked' | 'lost'; readonly ts: number; readonly partitions: readonly number[] }
  /** One poll's records, as [partition, offset, value]. */
  | { readonly t: 'batch'; readonly ts: number; readonly records: ReadonlyArray<readonly [number, string, string]> }
  /** A successful commit: partition -> the offset committed (the next record to read). */
  | { readonly t: 'committed'; readonly ts: number; readonly offsets: Readonly<Record<string, string>> }
  | { readonly t: 'commit-failed'; readonly ts: number; readonly error: string; readonly name: string }
  | { readonly t: 'poll-failed'; readonly ts: number; readonly error: string; readonly name: string }
  | { readonly t: 'closed'; readonly ts: number };

/** What the driver logs about the members it runs. */
export type DriverEntry =
  | { readonly t: 'member-started'; readonly ts: number; readonly member: string; readonly log: string }
  | { readonly t: 'member-killed' | 'member-stopped'; readonly ts: number; readonly member: string }
  | { readonly t: 'broker-killed' | 'broker-restarted'; readonly ts: number; readonly nodeId: number };

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
