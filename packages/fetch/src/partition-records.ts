/**
 * One partition's records from one Fetch response, as the consumer hands them out: complete batches only (the
 * broker cuts the response at its size limit), records before the fetch position skipped (a compressed batch
 * starts at its first record), control batches (transaction markers) skipped, and, under read_committed, the
 * batches of aborted transactions dropped. Keys and values stay views into the response (or into a decompressed
 * batch): nothing is copied.
 */
import {
  type DecodedBatch,
  decodeControlRecordKey,
  decodeRecords,
  type KafkaRecord,
  RecordBatch,
  type RecordHeader,
  type TopicPartition,
} from '@sluice/protocol';

/** A record as the consumer returns it. */
export interface ConsumerRecord<Key = Uint8Array | null, Value = Uint8Array | null> extends TopicPartition {
  readonly offset: bigint;
  /** Milliseconds since the epoch; -1n when the record has none (message format v0). */
  readonly timestamp: bigint;
  readonly timestampType: 'create-time' | 'log-append-time' | 'none';
  readonly key: Key;
  readonly value: Value;
  readonly headers: readonly RecordHeader[];
  /** The leader epoch of the batch the record came from; -1 when unknown (legacy formats). */
  readonly leaderEpoch: number;
}

export interface AbortedTransactionRange {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

export interface PartitionRecordsOptions {
  /** Records at offsets below this are skipped. */
  readonly fetchOffset: bigint;
  readonly isolationLevel: 'read_uncommitted' | 'read_committed';
  /** The response's aborted transactions for this partition (read_committed), or null. */
  readonly abortedTransactions: readonly AbortedTransactionRange[] | null;
  readonly checkCrcs: boolean;
  /** Cap on one batch's decompressed size. */
  readonly maxDecompressedBytes: number;
}

export interface PartitionRecords {
  readonly records: ConsumerRecord[];
  /**
   * Where the next fetch of this partition starts: after the last complete batch (skipped ones included), or
   * `fetchOffset` when the response held no complete batch.
   */
  readonly nextOffset: bigint;
}

/** Decodes a partition's `records` bytes from a Fetch response. Throws ProtocolError on corrupt data. */
export async function partitionRecords(
  partition: TopicPartition,
  bytes: Uint8Array | null,
  options: PartitionRecordsOptions,
): Promise<PartitionRecords> {
  const records: ConsumerRecord[] = [];
  if (bytes === null || bytes.length === 0) return { records, nextOffset: options.fetchOffset };
  const { batches } = decodeRecords(bytes, { checkCrcs: options.checkCrcs });
  let nextOffset = options.fetchOffset;
  const aborted =
    options.isolationLevel === 'read_committed' ? new AbortedTransactions(options.abortedTransactions) : null;
  for (const decoded of batches) {
    if (decoded.nextOffset <= options.fetchOffset) continue;
    nextOffset = decoded.nextOffset;
    if (decoded instanceof RecordBatch) {
      if (aborted?.skip(decoded)) continue;
      if (decoded.isControl) continue;
    }
    const batch: DecodedBatch = decoded.needsDecompression
      ? await decoded.decompress({ maxDecompressedBytes: options.maxDecompressedBytes })
      : decoded;
    appendRecords(partition, batch, options.fetchOffset, records);
  }
  return { records, nextOffset };
}

function appendRecords(
  partition: TopicPartition,
  batch: DecodedBatch,
  fetchOffset: bigint,
  into: ConsumerRecord[],
): void {
  if (batch instanceof RecordBatch) {
    const leaderEpoch = batch.partitionLeaderEpoch;
    const timestampType = batch.timestampType;
    const cursor = batch.cursor();
    while (cursor.next()) {
      const offset = cursor.offset;
      if (offset < fetchOffset) continue;
      into.push({
        topic: partition.topic,
        partition: partition.partition,
        offset,
        timestamp: cursor.timestamp,
        timestampType,
        key: cursor.key,
        value: cursor.value,
        headers: cursor.headers(),
        leaderEpoch,
      });
    }
    return;
  }
  for (const record of batch as Iterable<KafkaRecord>) {
    if (record.offset < fetchOffset) continue;
    into.push({
      topic: partition.topic,
      partition: partition.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      timestampType: batch.magic === 0 ? 'none' : batch.timestampType,
      key: record.key,
      value: record.value,
      headers: [],
      leaderEpoch: -1,
    });
  }
}

/**
 * Kafka's read_committed filter. The response lists the aborted transactions whose data it may contain, as
 * (producer id, first offset). Walking the batches in order: a transaction becomes "aborted" once a batch reaches
 * its first offset; a transactional batch of an aborted producer is dropped; the producer's ABORT marker (a control
 * batch) ends it.
 */
class AbortedTransactions {
  readonly #pending: AbortedTransactionRange[];
  readonly #aborted = new Set<bigint>();

  constructor(ranges: readonly AbortedTransactionRange[] | null) {
    this.#pending = [...(ranges ?? [])].sort((a, b) =>
      a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
    );
  }

  /** Whether to drop the batch (its records are not delivered). */
  skip(batch: RecordBatch): boolean {
    while (this.#pending.length > 0 && this.#pending[0]!.firstOffset <= batch.lastOffset) {
      this.#aborted.add(this.#pending.shift()!.producerId);
    }
    if (batch.isControl) {
      if (batch.isTransactional && this.#aborted.has(batch.producerId) && this.#isAbortMarker(batch)) {
        this.#aborted.delete(batch.producerId);
      }
      return true;
    }
    return batch.isTransactional && this.#aborted.has(batch.producerId);
  }

  #isAbortMarker(batch: RecordBatch): boolean {
    const cursor = batch.cursor();
    return cursor.next() && decodeControlRecordKey(cursor.key).type === 'abort';
  }
}
