// The topic of `pnpm bench:consume`: N partitions (one segment each, as net-fetch's topic), filled by Sluice's Produce
// with fixed-size uncompressed records, every partition in each Produce request, a few requests in flight.
import type { Connection } from '@sluice/net';
import {
  defaultProduceRequest,
  encodeRecordBatchSync,
  produceApi,
  type RecordInput,
  type Uuid,
} from '@sluice/protocol';

export interface ConsumeTopicFill {
  readonly topic: string;
  readonly partitions: number;
  /** Records produced, all partitions. */
  readonly records: number;
  /** Bytes of record keys and values produced, all partitions: what each consumer must count. */
  readonly payloadBytes: number;
  /** Bytes of record batches produced. */
  readonly batchBytes: number;
  readonly batches: number;
  readonly seconds: number;
}

/** A small seeded generator (mulberry32): every run produces the same bytes. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Produces about `targetBytes` of key + value bytes (acks=1): each Produce request carries one batch of about
 * `batchBytes` for every partition, `window` requests in flight. Keys are `key-<batch>-<n>` (a few bytes), values
 * `recordBytes` of seeded random bytes (uncompressible). A few distinct batches are encoded once and sent again.
 */
export async function fillPartitions(
  connection: Connection,
  topic: string,
  topicId: Uuid,
  options: { partitions: number; targetBytes: number; recordBytes: number; batchBytes: number; window: number },
): Promise<ConsumeTopicFill> {
  const random = seeded(0xc0ffee);
  const perBatch = Math.max(1, Math.floor(options.batchBytes / (options.recordBytes + 20)));
  const distinct: Array<{ bytes: Uint8Array; records: number; payload: number }> = [];
  for (let batch = 0; batch < 8; batch++) {
    const records: RecordInput[] = [];
    let payload = 0;
    for (let index = 0; index < perBatch; index++) {
      const value = Buffer.allocUnsafe(options.recordBytes + 3);
      for (let at = 0; at < options.recordBytes; at += 4) value.writeUInt32LE((random() * 4294967296) >>> 0, at);
      const key = Buffer.from(`key-${batch}-${index}`);
      records.push({ key, value: value.subarray(0, options.recordBytes) });
      payload += key.length + options.recordBytes;
    }
    distinct.push({
      bytes: encodeRecordBatchSync({ records, baseTimestamp: BigInt(Date.now()), compression: 'none' }),
      records: records.length,
      payload,
    });
  }
  const version = connection.versionFor(produceApi);
  const start = performance.now();
  let payloadBytes = 0;
  let batchBytes = 0;
  let records = 0;
  let batches = 0;
  let requests = 0;
  const inFlight = new Set<Promise<void>>();
  while (payloadBytes < options.targetBytes) {
    const partitionData = [];
    for (let partition = 0; partition < options.partitions; partition++) {
      const batch = distinct[(requests + partition) % distinct.length]!;
      partitionData.push({ index: partition, records: batch.bytes });
      batches++;
      batchBytes += batch.bytes.length;
      records += batch.records;
      payloadBytes += batch.payload;
    }
    requests++;
    const sent = connection
      .send(produceApi, version, {
        ...defaultProduceRequest(),
        acks: 1,
        timeoutMs: 30_000,
        topicData: [{ name: topic, topicId, partitionData }],
      })
      .then((response) => {
        const partitions = response.responses[0]?.partitionResponses ?? [];
        if (partitions.length !== options.partitions) {
          throw new Error(`Produce: ${partitions.length} partition responses, expected ${options.partitions}`);
        }
        for (const partition of partitions) {
          if (partition.errorCode !== 0) {
            throw new Error(
              `Produce to partition ${partition.index} failed: error ${partition.errorCode} ${partition.errorMessage ?? ''}`,
            );
          }
        }
      });
    const tracked = sent.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= options.window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return {
    topic,
    partitions: options.partitions,
    records,
    payloadBytes,
    batchBytes,
    batches,
    seconds: (performance.now() - start) / 1000,
  };
}
