import { ProtocolError, Reader, Writer } from '@sluice/protocol';
import { javaHashMapOrder } from './internal/sticky-java-order.ts';
import type { TopicPartition } from './types.ts';

/**
 * The user data the sticky assignors put in a member's subscription, in Kafka's formats, so that Sluice and Java
 * members of one group read each other's.
 *
 * `sticky` (KIP-54, generation added by KIP-341) sends its previous assignment, in Kafka's classic (non-flexible)
 * encoding:
 *
 *     StickyAssignorUserData v1 =>
 *       previous_assignment: ARRAY of (topic: STRING, partitions: ARRAY of INT32)
 *       generation: INT32
 *
 * v0 is the same without `generation`. There is no version field: a reader tries v1 and, if the bytes end early,
 * v0; bytes that are neither count as "no previous assignment, generation -1".
 *
 * `cooperative-sticky` (KIP-429) sends only the generation of its current assignment as a big-endian INT32,
 * -1 before its first assignment; its owned partitions travel in the subscription itself.
 */

/** Kafka's generation for "none yet" (`AbstractStickyAssignor.DEFAULT_GENERATION`). */
export const DEFAULT_GENERATION = -1;

/** A decoded `StickyAssignorUserData`. */
export interface StickyUserData {
  /** The member's previous assignment. */
  readonly partitions: readonly TopicPartition[];
  /** The generation of that assignment: null for v0 data, which has none. */
  readonly generation: number | null;
}

/**
 * Encodes `StickyAssignorUserData` v1 byte for byte as Java's `StickyAssignor.subscriptionUserData` does:
 * partitions grouped by topic, topics in the iteration order of the HashMap Kafka groups them in (see
 * `javaHashMapOrder`), each topic's partitions in the order given.
 */
export function encodeStickyUserData(partitions: readonly TopicPartition[], generation: number): Uint8Array {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [partition]);
    else list.push(partition);
  }
  const topics = javaHashMapOrder(
    partitions.map(({ topic }) => topic),
    'computeIfAbsent',
  );
  const writer = new Writer({ initialCapacity: 16 + 8 * topics.length + 4 * partitions.length });
  writer.int32(topics.length, 'StickyAssignorUserData.previous_assignment');
  for (const topic of topics) {
    const list = byTopic.get(topic)!;
    writer.string(topic, 'StickyAssignorUserData.previous_assignment[].topic');
    writer.int32(list.length, 'StickyAssignorUserData.previous_assignment[].partitions');
    for (const partition of list) writer.int32(partition, 'StickyAssignorUserData.previous_assignment[].partitions[]');
  }
  writer.int32(generation, 'StickyAssignorUserData.generation');
  return writer.finish().slice();
}

function readPreviousAssignment(reader: Reader): TopicPartition[] {
  const partitions: TopicPartition[] = [];
  // Each topic entry takes at least 6 bytes (an empty name and an empty array), each partition 4.
  const topicCount = reader.arrayCount('StickyAssignorUserData.previous_assignment', 6);
  for (let topicIndex = 0; topicIndex < topicCount; topicIndex++) {
    const topic = reader.string('StickyAssignorUserData.previous_assignment[].topic');
    const count = reader.arrayCount('StickyAssignorUserData.previous_assignment[].partitions', 4);
    for (let index = 0; index < count; index++) {
      partitions.push({ topic, partition: reader.int32('StickyAssignorUserData.previous_assignment[].partitions[]') });
    }
  }
  return partitions;
}

/**
 * Decodes `StickyAssignorUserData` v1 or v0. Like Java, bytes after the last field are ignored, and data that is
 * neither version yields no partitions and generation -1 rather than an error: a member whose user data cannot be
 * read simply has no previous assignment to stick to.
 */
export function decodeStickyUserData(bytes: Uint8Array): StickyUserData {
  let partitions: TopicPartition[];
  try {
    const reader = new Reader(bytes);
    partitions = readPreviousAssignment(reader);
    if (reader.remaining >= 4) return { partitions, generation: reader.int32('StickyAssignorUserData.generation') };
  } catch (error) {
    if (error instanceof ProtocolError) return { partitions: [], generation: DEFAULT_GENERATION };
    throw error;
  }
  return { partitions, generation: null };
}

/** Encodes `cooperative-sticky`'s user data: the generation as a big-endian INT32. */
export function encodeCooperativeStickyUserData(generation: number): Uint8Array {
  const writer = new Writer({ initialCapacity: 16 });
  writer.int32(generation, 'CooperativeStickyUserData.generation');
  return writer.finish().slice();
}

/** Decodes `cooperative-sticky`'s user data: its leading INT32, or null when there are fewer than 4 bytes. */
export function decodeCooperativeStickyUserData(bytes: Uint8Array | null): number | null {
  if (bytes === null || bytes.byteLength < 4) return null;
  return new Reader(bytes).int32('CooperativeStickyUserData.generation');
}
