/** TopicPartitionMap, TopicPartitionSet, and how partitions are printed and ordered. */
import { describe, expect, it } from 'vitest';
import {
  compareTopicPartitions,
  describePartition,
  describePartitions,
  type TopicPartition,
  TopicPartitionMap,
  TopicPartitionSet,
} from '../src/topic-partition.ts';

const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition });

describe('TopicPartitionMap', () => {
  it('finds a value by topic and partition, whatever object names the partition', () => {
    const map = new TopicPartitionMap<string>();
    map.set(tp('orders', 0), 'zero').set(tp('orders', 1), 'one');
    expect(map.size).toBe(2);
    expect(map.get(tp('orders', 0))).toBe('zero');
    expect(map.get(tp('orders', 1))).toBe('one');
    expect(map.get(tp('orders', 2))).toBeUndefined();
    expect(map.get(tp('payments', 0))).toBeUndefined();
    expect(map.has(tp('orders', 1))).toBe(true);
    expect(map.has(tp('orders', 2))).toBe(false);
    expect(map.has(tp('payments', 0))).toBe(false);
  });

  it('replaces the value of a partition set again, without growing', () => {
    const map = new TopicPartitionMap<number>();
    map.set(tp('orders', 0), 1);
    map.set(tp('orders', 0), 2);
    expect(map.size).toBe(1);
    expect(map.get(tp('orders', 0))).toBe(2);
    expect([...map.entries()]).toEqual([[tp('orders', 0), 2]]);
    expect(map.key(tp('orders', 0))).toEqual(tp('orders', 0));
    expect(map.key(tp('orders', 1))).toBeUndefined();
  });

  it('keeps one key per partition, a plain copy of the first one given (no extra fields kept alive)', () => {
    const first = { ...tp('orders', 0), offset: 5n, value: new Uint8Array(1024) };
    const again = tp('orders', 0);
    const map = new TopicPartitionMap<string>();
    map.set(first, 'a');
    map.set(again, 'b');
    const key = map.key(again)!;
    expect(key).toEqual(tp('orders', 0));
    expect(Object.keys(key)).toEqual(['topic', 'partition']);
    expect([...map.keys()][0]).toBe(key);
    expect([...map.entries()][0]![0]).toBe(key);
    expect(map.get(first)).toBe('b');
    expect(map.size).toBe(1);
  });

  it('iterates keys, values and entries in insertion order (topics in the order first seen)', () => {
    const map = new TopicPartitionMap<string>([
      [tp('orders', 2), 'o2'],
      [tp('payments', 0), 'p0'],
      [tp('orders', 0), 'o0'],
    ]);
    // Partitions group under their topic: orders-0 comes after orders-2, before payments-0.
    expect([...map.keys()]).toEqual([tp('orders', 2), tp('orders', 0), tp('payments', 0)]);
    expect([...map.values()]).toEqual(['o2', 'o0', 'p0']);
    expect([...map]).toEqual([
      [tp('orders', 2), 'o2'],
      [tp('orders', 0), 'o0'],
      [tp('payments', 0), 'p0'],
    ]);
    expect([...map.topics()]).toEqual(['orders', 'payments']);
  });

  it('deletes a partition, and a topic with its last partition', () => {
    const map = TopicPartitionMap.of([tp('orders', 0), tp('orders', 1), tp('payments', 0)], (key) => key.partition);
    expect(map.delete(tp('orders', 0))).toBe(true);
    expect(map.delete(tp('orders', 0))).toBe(false);
    expect(map.delete(tp('unknown', 0))).toBe(false);
    expect(map.size).toBe(2);
    expect([...map.topics()]).toEqual(['orders', 'payments']);
    expect(map.delete(tp('payments', 0))).toBe(true);
    expect([...map.topics()]).toEqual(['orders']);
    expect(map.size).toBe(1);
    expect(map.has(tp('orders', 1))).toBe(true);
  });

  it('builds a map with `of` and empties it with `clear`', () => {
    const map = TopicPartitionMap.of([tp('a', 0), tp('b', 3)], (key) => `${key.topic}:${key.partition}`);
    expect([...map.values()]).toEqual(['a:0', 'b:3']);
    map.clear();
    expect(map.size).toBe(0);
    expect([...map.topics()]).toEqual([]);
    expect(map.get(tp('a', 0))).toBeUndefined();
  });
});

describe('TopicPartitionSet', () => {
  it('holds each partition once, in insertion order', () => {
    const set = new TopicPartitionSet([tp('orders', 1), tp('orders', 0), tp('orders', 1)]);
    expect(set.size).toBe(2);
    set.add(tp('payments', 0)).add(tp('orders', 0));
    expect(set.size).toBe(3);
    expect([...set]).toEqual([tp('orders', 1), tp('orders', 0), tp('payments', 0)]);
    expect(set.has(tp('payments', 0))).toBe(true);
    expect(set.has(tp('payments', 1))).toBe(false);
  });

  it('deletes partitions', () => {
    const set = new TopicPartitionSet([tp('orders', 0)]);
    expect(set.delete(tp('orders', 0))).toBe(true);
    expect(set.delete(tp('orders', 0))).toBe(false);
    expect(set.size).toBe(0);
    expect([...set]).toEqual([]);
  });
});

describe('describePartition(s)', () => {
  it('prints a partition as Kafka does', () => {
    expect(describePartition(tp('orders', 3))).toBe('orders-3');
  });

  it('lists partitions, at most `limit` of them, then how many more', () => {
    expect(describePartitions([])).toBe('(none)');
    expect(describePartitions([tp('a', 0), tp('a', 1)])).toBe('a-0, a-1');
    expect(describePartitions([tp('a', 0), tp('a', 1), tp('b', 0)], 2)).toBe('a-0, a-1 and 1 more');
    expect(describePartitions([tp('a', 0), tp('a', 1)], 2)).toBe('a-0, a-1');
  });

  it('prints ten partitions by default', () => {
    const partitions = Array.from({ length: 13 }, (_, partition) => tp('t', partition));
    expect(describePartitions(partitions)).toBe('t-0, t-1, t-2, t-3, t-4, t-5, t-6, t-7, t-8, t-9 and 3 more');
  });

  it('takes any iterable, a TopicPartitionSet among them', () => {
    expect(describePartitions(new TopicPartitionSet([tp('x', 1), tp('y', 2)]))).toBe('x-1, y-2');
  });
});

describe('compareTopicPartitions', () => {
  it('orders by topic, then by partition number (not as strings)', () => {
    const sorted = [tp('b', 0), tp('a', 10), tp('a', 2), tp('a', 1)].sort(compareTopicPartitions);
    expect(sorted).toEqual([tp('a', 1), tp('a', 2), tp('a', 10), tp('b', 0)]);
    expect(compareTopicPartitions(tp('a', 1), tp('a', 1))).toBe(0);
  });

  it("compares topics as Java's String.compareTo does: by UTF-16 code unit", () => {
    // Upper case sorts before lower case; a prefix before the longer name.
    expect(compareTopicPartitions(tp('Z', 0), tp('a', 0))).toBeLessThan(0);
    expect(compareTopicPartitions(tp('a', 5), tp('aa', 0))).toBeLessThan(0);
    // U+1F600 is the surrogate pair D83D DE00: before U+FFFF in code units, though after it in code points.
    expect(compareTopicPartitions(tp('\u{1F600}', 0), tp('\uFFFF', 0))).toBeLessThan(0);
    expect(compareTopicPartitions(tp('\uFFFF', 0), tp('\u{1F600}', 0))).toBeGreaterThan(0);
  });
});
