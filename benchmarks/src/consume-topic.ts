// The topics of `pnpm bench:consume`: one per row (value size x codec), N partitions (one segment each, as
// net-fetch's topic), filled by Sluice's Produce with batches of JSON-looking events encoded by Sluice's own encoder
// (compressed for the lz4 / zstd rows), every partition in each Produce request, a few requests in flight.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '@sluice/net';
import {
  type CompressionType,
  defaultListOffsetsRequest,
  defaultProduceRequest,
  encodeRecordBatchSync,
  listOffsetsApi,
  produceApi,
  type RecordInput,
  type Uuid,
} from '@sluice/protocol';
import { jsonValue, seededRandom } from './fixtures.ts';

/** One row of the benchmark: what every record's value looks like on the wire. */
export interface ConsumeRow {
  /** `100:none`, `1000:zstd`: what --rows takes and the tables show. */
  readonly id: string;
  /** Bytes of every value (keys of a few bytes come on top). */
  readonly valueBytes: number;
  readonly compression: CompressionType;
}

export interface ConsumeTopicFill {
  readonly topic: string;
  readonly row: ConsumeRow;
  readonly partitions: number;
  /** Records produced, all partitions. */
  readonly records: number;
  /** Bytes of record keys and values produced, all partitions: what each consumer must count. */
  readonly payloadBytes: number;
  /** Bytes of record batches produced, as stored and fetched (compressed where the row is). */
  readonly batchBytes: number;
  readonly batches: number;
  readonly recordsPerBatch: number;
  readonly seconds: number;
}

/** How many distinct batches are encoded and then sent again and again (the broker assigns the offsets). */
const distinctBatches = 16;

/**
 * Records of one batch: keys `user-<n>` as a keyed event stream has, values JSON-looking events of exactly
 * `valueBytes` (fixtures.ts, as bench:decode uses): field names repeat, ids and numbers do not, so they compress as
 * real events do. No headers.
 */
function batchRecords(random: () => number, count: number, valueBytes: number, firstTimestamp: number): RecordInput[] {
  const records: RecordInput[] = [];
  for (let index = 0; index < count; index++) {
    const timestamp = firstTimestamp + index;
    records.push({
      key: Buffer.from(`user-${Math.floor(random() * 100_000)}`),
      value: jsonValue(random, valueBytes, timestamp),
      timestamp: BigInt(timestamp),
    });
  }
  return records;
}

/** The records a fill of `target` records makes: whole batches, the same number in every partition. */
export function roundedRecords(target: number, partitions: number, recordsPerBatch: number): number {
  const perRequest = partitions * recordsPerBatch;
  return Math.max(1, Math.ceil(target / perRequest)) * perRequest;
}

/**
 * Waits until the broker leads every partition of a topic just created: a Produce sent before that fails with
 * NOT_LEADER_OR_FOLLOWER, and retrying part of a request would make the counts uncertain. ListOffsets (latest)
 * answers without an error once a partition is led, and writes nothing.
 */
export async function waitForLeaders(connection: Connection, topic: string, partitions: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const response = await connection.request(listOffsetsApi, {
      ...defaultListOffsetsRequest(),
      replicaId: -1,
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
            partitionIndex,
            currentLeaderEpoch: -1,
            timestamp: -1n,
          })),
        },
      ],
    });
    const answered = response.topics[0]?.partitions ?? [];
    const waiting = answered.filter((partition) => partition.errorCode !== 0);
    if (answered.length === partitions && waiting.length === 0) return;
    if (performance.now() > deadline) {
      throw new Error(`${topic}: ${waiting.length || partitions} partitions still without a leader after 30 s`);
    }
    await sleep(100);
  }
}

/**
 * Produces `records` records (rounded up to whole batches in every partition; acks=1): each Produce request carries
 * one batch of `recordsPerBatch` records for every partition, `window` requests in flight. A few distinct batches
 * are encoded once (compressed as the row says) and sent again and again.
 */
export async function fillPartitions(
  connection: Connection,
  topic: string,
  topicId: Uuid,
  row: ConsumeRow,
  options: { partitions: number; records: number; recordsPerBatch: number; window: number },
): Promise<ConsumeTopicFill> {
  const random = seededRandom(row.valueBytes * 7919 + 0xc0ffee);
  const baseTimestamp = Date.now();
  const distinct: Array<{ bytes: Uint8Array; records: number; payload: number }> = [];
  for (let batch = 0; batch < distinctBatches; batch++) {
    const records = batchRecords(
      random,
      options.recordsPerBatch,
      row.valueBytes,
      baseTimestamp + batch * options.recordsPerBatch,
    );
    let payload = 0;
    for (const record of records) payload += (record.key?.length ?? 0) + (record.value?.length ?? 0);
    distinct.push({
      bytes: encodeRecordBatchSync({ records, compression: row.compression }),
      records: records.length,
      payload,
    });
  }
  const target = roundedRecords(options.records, options.partitions, options.recordsPerBatch);
  await waitForLeaders(connection, topic, options.partitions);
  const version = connection.versionFor(produceApi);
  const start = performance.now();
  let payloadBytes = 0;
  let batchBytes = 0;
  let records = 0;
  let batches = 0;
  let requests = 0;
  const inFlight = new Set<Promise<void>>();
  while (records < target) {
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
    row,
    partitions: options.partitions,
    records,
    payloadBytes,
    batchBytes,
    batches,
    recordsPerBatch: options.recordsPerBatch,
    seconds: (performance.now() - start) / 1000,
  };
}
