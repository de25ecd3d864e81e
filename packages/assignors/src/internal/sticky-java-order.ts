/**
 * The iteration order of a `java.util.HashMap` with string keys.
 *
 * Two places make Java's sticky assignors depend on it, and we follow them so that a Sluice member and a Java
 * member compute the same thing:
 * - the sticky assignor's user data lists its topics in the order of a HashMap keyed by topic name, so matching
 *   Java's bytes means matching that order;
 * - the constrained assignment walks members in the order of a HashMap keyed by member id, and the first members
 *   walked are the ones allowed to keep one partition above the minimum quota.
 *
 * Facts about HashMap this relies on: a key's bucket is `(h ^ (h >>> 16)) & (capacity - 1)` where `h` is
 * `String.hashCode()`; iteration goes bucket by bucket; `put` appends a new key to its bucket but
 * `computeIfAbsent` (which Kafka's `groupPartitionsByTopic` uses) puts it at the front; the table starts at 16 and
 * doubles when the size exceeds three quarters of it, or when a bucket gets long while the table is smaller than
 * 64; doubling keeps the relative order of the keys that share a bucket. A long bucket in a table of 64 or more
 * becomes a tree whose order we do not model: that takes 8 or 9 colliding names and is left out.
 */

const TREEIFY_THRESHOLD = 8;
const MIN_TREEIFY_CAPACITY = 64;

/** Java's `String.hashCode()`: `31 * h + c` over the UTF-16 code units, in 32-bit arithmetic. */
export function javaStringHash(value: string): number {
  let hash = 0;
  for (let index = 0; index < value.length; index++) {
    hash = (Math.imul(hash, 31) + value.charCodeAt(index)) | 0;
  }
  return hash;
}

/** How keys enter the map: `put` appends a new key to its bucket, `computeIfAbsent` puts it first. */
export type JavaHashMapInsertion = 'put' | 'computeIfAbsent';

/**
 * The distinct keys in the order a default HashMap (capacity 16) iterates them after the given calls, in order.
 * A call with a key already present changes nothing, except that `computeIfAbsent` first grows a table that is
 * over its threshold, on every call (`put` grows it right after the insertion that crossed it).
 */
export function javaHashMapOrder(calls: Iterable<string>, insertion: JavaHashMapInsertion = 'put'): string[] {
  let capacity = 16;
  let bins: string[][] = [];
  const hashes = new Map<string, number>();
  let size = 0;

  const binAt = (index: number): string[] => {
    let bin = bins[index];
    if (bin === undefined) {
      bin = [];
      bins[index] = bin;
    }
    return bin;
  };
  // Doubling splits each bucket in two, keeping the relative order of its keys.
  const resize = (): void => {
    const old = bins;
    capacity *= 2;
    bins = [];
    for (const bin of old) {
      if (bin === undefined) continue;
      for (const key of bin) binAt(hashes.get(key)! & (capacity - 1)).push(key);
    }
  };
  const threshold = (): number => capacity * 0.75;

  for (const key of calls) {
    if (insertion === 'computeIfAbsent' && size > threshold()) resize();
    if (hashes.has(key)) continue;
    const raw = javaStringHash(key);
    const spread = raw ^ (raw >>> 16);
    hashes.set(key, spread);
    const bin = binAt(spread & (capacity - 1));
    const before = bin.length;
    if (insertion === 'put') bin.push(key);
    else bin.unshift(key);
    // A long bucket is "treeified", which in a table under 64 means doubling it instead. The two methods count
    // the bucket differently: put from 9 keys on, computeIfAbsent from 8.
    const long = insertion === 'put' ? before >= TREEIFY_THRESHOLD : before >= TREEIFY_THRESHOLD - 1;
    if (long && capacity < MIN_TREEIFY_CAPACITY) resize();
    size++;
    if (insertion === 'put' && size > threshold()) resize();
  }

  const ordered: string[] = [];
  for (const bin of bins) {
    if (bin !== undefined) ordered.push(...bin);
  }
  return ordered;
}
