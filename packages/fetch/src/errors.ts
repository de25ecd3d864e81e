/** The fetch pipeline's errors that reach the application. */
import type { TopicPartition } from '@sluice/protocol';

/**
 * Fetched data of a partition could not be read: a batch failed its CRC (`check.crcs`), a length or header is
 * impossible, a record is malformed, a batch would decompress past the limit, or a non-empty answer held no
 * complete batch (a broker never sends that). Every record before it was delivered; the partition's position is
 * `offset`, the first record not delivered, and it stays there: every poll throws this again until the application
 * seeks (past the record, to skip it), as Kafka's consumer does. `cause` is the decoder's ProtocolError.
 */
export class CorruptRecordError extends Error {
  override name = 'CorruptRecordError';
  readonly topic: string;
  readonly partition: number;
  /** The partition's position: the offset of the first record that was not delivered. */
  readonly offset: bigint;

  constructor(tp: TopicPartition, offset: bigint, problem: string, cause?: Error) {
    super(
      `record data of ${tp.topic}-${tp.partition} at offset ${offset} cannot be read: ${problem}; every record before it was delivered, and the partition stays at offset ${offset} until it is sought past`,
      cause === undefined ? {} : { cause },
    );
    this.topic = tp.topic;
    this.partition = tp.partition;
    this.offset = offset;
  }
}
