/**
 * Fetched records waiting for the application (Kafka's FetchBuffer and FetchCollector): one queue of completed
 * fetches per partition, filled by the fetch manager, drained by `collect` on the application's poll.
 *
 * Invariants:
 * - A completed fetch belongs to the partition version it was fetched for (SubscriptionState): after a seek, a
 *   reset or a reassignment it is dropped, never handed out.
 * - `collect` moves the partition's position past what it hands out, and past batches that held nothing to hand
 *   out (control batches, aborted transactions) once everything before them was taken.
 * - Paused partitions keep their buffered records; they are handed out after `resume`.
 */
import type { SubscriptionState, TopicPartition } from '@sluice/runtime';
import { TopicPartitionMap } from '@sluice/runtime';
import type { ConsumerRecord } from './partition-records.ts';

export interface CompletedFetch {
  readonly version: number;
  readonly records: readonly ConsumerRecord[];
  /** Where the next fetch of the partition starts: after the last complete batch of this one. */
  readonly nextOffset: bigint;
}

interface Queued extends CompletedFetch {
  /** The next record to hand out. */
  start: number;
}

export class FetchBuffer {
  readonly #queues = new TopicPartitionMap<Queued[]>();
  /** Bumped by every `add`: a waiting poll wakes only when something new arrived. */
  #arrivals = 0;
  #next = 0;

  get arrivals(): number {
    return this.#arrivals;
  }

  add(tp: TopicPartition, fetch: CompletedFetch): void {
    const queue = this.#queues.get(tp);
    const queued: Queued = { ...fetch, start: 0 };
    if (queue === undefined) this.#queues.set(tp, [queued]);
    else queue.push(queued);
    this.#arrivals++;
  }

  /** Records buffered for the partition at this version. */
  buffered(tp: TopicPartition, version: number): number {
    const queue = this.#queues.get(tp);
    if (queue === undefined) return 0;
    let count = 0;
    for (const fetch of queue) if (fetch.version === version) count += fetch.records.length - fetch.start;
    return count;
  }

  /** Where the next fetch of the partition starts when something is buffered for this version, else null. */
  nextFetchOffset(tp: TopicPartition, version: number): bigint | null {
    const queue = this.#queues.get(tp);
    const last = queue?.[queue.length - 1];
    return last !== undefined && last.version === version ? last.nextOffset : null;
  }

  /** Drops what is buffered for partitions no longer assigned, or for an older version of them. */
  retain(subscriptions: SubscriptionState): void {
    for (const [tp, queue] of [...this.#queues]) {
      const state = subscriptions.partition(tp);
      if (state === undefined) {
        this.#queues.delete(tp);
        continue;
      }
      const current = queue.filter((fetch) => fetch.version === state.version);
      if (current.length === 0) this.#queues.delete(tp);
      else if (current.length !== queue.length) this.#queues.set(tp, current);
    }
  }

  clear(): void {
    this.#queues.clear();
  }

  /**
   * Up to `maxRecords` records (`max.poll.records`) from the fetchable partitions, taking from one partition after
   * another and starting one partition further at each call, so that no partition waits behind the others.
   */
  collect(subscriptions: SubscriptionState, maxRecords: number): ConsumerRecord[] {
    const records: ConsumerRecord[] = [];
    if (this.#queues.size === 0) return records;
    const partitions = [...this.#queues.keys()];
    const start = this.#next % partitions.length;
    this.#next = start + 1;
    for (let turn = 0; turn < partitions.length && records.length < maxRecords; turn++) {
      const tp = partitions[(start + turn) % partitions.length]!;
      const state = subscriptions.partition(tp);
      if (state === undefined || !subscriptions.isFetchable(tp)) continue;
      const queue = this.#queues.get(tp)!;
      while (queue.length > 0 && queue[0]!.version !== state.version) queue.shift();
      let offset: bigint | null = null;
      let leaderEpoch = state.position?.leaderEpoch ?? -1;
      while (queue.length > 0 && records.length < maxRecords) {
        const fetch = queue[0]!;
        const take = Math.min(fetch.records.length - fetch.start, maxRecords - records.length);
        for (let index = 0; index < take; index++) records.push(fetch.records[fetch.start + index]!);
        fetch.start += take;
        if (take > 0) {
          const last = fetch.records[fetch.start - 1]!;
          offset = last.offset + 1n;
          leaderEpoch = last.leaderEpoch;
        }
        if (fetch.start < fetch.records.length) break;
        // The whole fetch is handed out: batches after its last record (markers, aborted data) count as read.
        queue.shift();
        offset = fetch.nextOffset;
      }
      if (queue.length === 0) this.#queues.delete(tp);
      if (offset !== null && offset > (state.position?.offset ?? -1n)) {
        subscriptions.advance(tp, state.version, offset, leaderEpoch);
      }
    }
    return records;
  }
}
