/**
 * A topic partition, and the one map keyed by it. Every package that keeps per-partition state uses
 * `TopicPartitionMap`: lookups go topic name -> partition number through two Maps, so no key string is built per
 * call. The map keeps, per partition, a plain copy of the first key it was given (a record used as a key does not
 * keep its response buffer alive) and hands that copy back; iteration is in insertion order, grouped by topic.
 */
import type { TopicPartition } from '@sluice/protocol';

export type { TopicPartition };

/** `topic-3`, as Kafka prints a TopicPartition. */
export function describePartition({ topic, partition }: TopicPartition): string {
  return `${topic}-${partition}`;
}

/** `topic-0, topic-1`; at most `limit` names, then how many more. */
export function describePartitions(partitions: Iterable<TopicPartition>, limit = 10): string {
  const names: string[] = [];
  let more = 0;
  for (const tp of partitions) {
    if (names.length < limit) names.push(describePartition(tp));
    else more++;
  }
  if (names.length === 0) return '(none)';
  return more === 0 ? names.join(', ') : `${names.join(', ')} and ${more} more`;
}

/** Orders by topic (Java's String order: UTF-16 code units), then partition: Kafka's TopicPartition comparator. */
export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

interface Entry<Value> {
  readonly tp: TopicPartition;
  value: Value;
}

export class TopicPartitionMap<Value> {
  readonly #topics = new Map<string, Map<number, Entry<Value>>>();
  #size = 0;

  constructor(entries?: Iterable<readonly [TopicPartition, Value]>) {
    if (entries) for (const [tp, value] of entries) this.set(tp, value);
  }

  /** A map of the partitions, each with `value(tp)`. */
  static of<Value>(
    partitions: Iterable<TopicPartition>,
    value: (tp: TopicPartition) => Value,
  ): TopicPartitionMap<Value> {
    const map = new TopicPartitionMap<Value>();
    for (const tp of partitions) map.set(tp, value(tp));
    return map;
  }

  get size(): number {
    return this.#size;
  }

  get(tp: TopicPartition): Value | undefined {
    return this.#topics.get(tp.topic)?.get(tp.partition)?.value;
  }

  has(tp: TopicPartition): boolean {
    return this.#topics.get(tp.topic)?.has(tp.partition) ?? false;
  }

  /** The TopicPartition this map holds for `tp` (a copy of the one first set), if any. */
  key(tp: TopicPartition): TopicPartition | undefined {
    return this.#topics.get(tp.topic)?.get(tp.partition)?.tp;
  }

  set(tp: TopicPartition, value: Value): this {
    let partitions = this.#topics.get(tp.topic);
    if (partitions === undefined) {
      partitions = new Map();
      this.#topics.set(tp.topic, partitions);
    }
    const entry = partitions.get(tp.partition);
    if (entry === undefined) {
      partitions.set(tp.partition, { tp: { topic: tp.topic, partition: tp.partition }, value });
      this.#size++;
    } else {
      entry.value = value;
    }
    return this;
  }

  delete(tp: TopicPartition): boolean {
    const partitions = this.#topics.get(tp.topic);
    if (partitions === undefined || !partitions.delete(tp.partition)) return false;
    if (partitions.size === 0) this.#topics.delete(tp.topic);
    this.#size--;
    return true;
  }

  clear(): void {
    this.#topics.clear();
    this.#size = 0;
  }

  /** The topics with at least one partition in the map. */
  topics(): IterableIterator<string> {
    return this.#topics.keys();
  }

  *keys(): IterableIterator<TopicPartition> {
    for (const partitions of this.#topics.values()) for (const entry of partitions.values()) yield entry.tp;
  }

  *values(): IterableIterator<Value> {
    for (const partitions of this.#topics.values()) for (const entry of partitions.values()) yield entry.value;
  }

  *entries(): IterableIterator<[TopicPartition, Value]> {
    for (const partitions of this.#topics.values()) {
      for (const entry of partitions.values()) yield [entry.tp, entry.value];
    }
  }

  [Symbol.iterator](): IterableIterator<[TopicPartition, Value]> {
    return this.entries();
  }
}

/** A set of topic partitions (a TopicPartitionMap without values). */
export class TopicPartitionSet implements Iterable<TopicPartition> {
  readonly #map = new TopicPartitionMap<true>();

  constructor(partitions?: Iterable<TopicPartition>) {
    if (partitions) for (const tp of partitions) this.#map.set(tp, true);
  }

  get size(): number {
    return this.#map.size;
  }

  has(tp: TopicPartition): boolean {
    return this.#map.has(tp);
  }

  add(tp: TopicPartition): this {
    this.#map.set(tp, true);
    return this;
  }

  delete(tp: TopicPartition): boolean {
    return this.#map.delete(tp);
  }

  [Symbol.iterator](): IterableIterator<TopicPartition> {
    return this.#map.keys();
  }
}
