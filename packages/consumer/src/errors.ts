/** The errors the consumer's calls end with, as Kafka's consumer names them. */
import type { ConsumerRecord } from '@sluice/fetch';
import { describePartitions, type TopicPartition } from '@sluice/runtime';

/** `wakeup()` was called: the blocking call it interrupted (or the next one) throws this. */
export class WakeupError extends Error {
  override name = 'WakeupError';
}

/** A call that needs a `group.id` (subscribe, commits, committed offsets, groupMetadata) on a consumer without one. */
export class InvalidGroupIdError extends Error {
  override name = 'InvalidGroupIdError';
}

/** The consumer was used after `close()`, or closed during the call. */
export class ConsumerClosedError extends Error {
  override name = 'ConsumerClosedError';
}

/** A partition has no committed offset and `auto.offset.reset` is `none`: seek it to go on. */
export class NoOffsetForPartitionError extends Error {
  override name = 'NoOffsetForPartitionError';
  readonly partitions: readonly TopicPartition[];

  constructor(partitions: readonly TopicPartition[]) {
    super(`no committed offset for ${describePartitions(partitions)} and auto.offset.reset is none: seek to go on`);
    this.partitions = partitions;
  }
}

/** A partition's position is out of range and `auto.offset.reset` is `none`: seek it to go on. */
export class OffsetOutOfRangeError extends Error {
  override name = 'OffsetOutOfRangeError';
  /** Each partition with the position the broker called out of range. */
  readonly offsets: ReadonlyArray<TopicPartition & { readonly offset: bigint }>;

  constructor(offsets: ReadonlyArray<TopicPartition & { readonly offset: bigint }>) {
    super(
      `the position of ${offsets.map((entry) => `${entry.topic}-${entry.partition} (${entry.offset})`).join(', ')} is out of range and auto.offset.reset is none: seek to go on`,
    );
    this.offsets = offsets;
  }
}

/** A record's key or value could not be deserialized. The position stays at the record: seek past it to go on. */
export class RecordDeserializationError extends Error {
  override name = 'RecordDeserializationError';
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly part: 'key' | 'value';

  constructor(record: ConsumerRecord, part: 'key' | 'value', cause: unknown) {
    super(
      `cannot deserialize the ${part} of ${record.topic}-${record.partition} at offset ${record.offset}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = record.offset;
    this.part = part;
  }
}

/** A rebalance listener callback threw (or rejected): the rebalance went on; poll (or close) rethrows it. */
export class RebalanceListenerError extends Error {
  override name = 'RebalanceListenerError';
  readonly callback: 'onPartitionsRevoked' | 'onPartitionsAssigned' | 'onPartitionsLost';

  constructor(callback: RebalanceListenerError['callback'], cause: unknown) {
    super(`the rebalance listener's ${callback} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.callback = callback;
  }
}
