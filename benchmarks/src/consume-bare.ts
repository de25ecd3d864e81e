// The ceiling of `pnpm bench:consume`: what the broker and loopback deliver to a client that does nothing with the
// records. One Sluice `Connection` per partition leader sends the same Fetch requests the consumers send (same sizes,
// full fetches without a session, every assigned partition in each request, one Fetch in flight per broker, the
// next sent when the previous response is decoded), and reads only the record batches' headers: enough to count the
// records and find the offset to fetch next. Nothing is decompressed, no CRC is checked, no record is decoded, so
// this client's key + value bytes are the fill's (it never sees them); its records are counted from the headers.
import { Connection } from '@sluice/net';
import {
  defaultFetchRequest,
  defaultMetadataRequest,
  type FetchRequest,
  fetchApi,
  metadataApi,
  type Uuid,
  ZERO_UUID,
} from '@sluice/protocol';
import type { ReadResult, ReadTask } from './consume-clients.ts';
import { parseAddress } from './net-raw-socket.ts';

/** What the batch headers of one partition's records field say. */
export interface BatchWalk {
  /** The offset after the last whole batch, or null when there is none (Kafka may cut the last batch short). */
  readonly nextOffset: bigint | null;
  /** Records in the whole batches (the recordsCount header field). */
  readonly records: number;
  /** Bytes of the whole batches. */
  readonly bytes: number;
}

/**
 * Walks the v2 batch headers of a records field: baseOffset (int64 at 0), batchLength (int32 at 8), lastOffsetDelta
 * (int32 at 23), recordsCount (int32 at 57). A batch that does not fit whole is left for the next Fetch.
 */
export function walkBatches(records: Uint8Array): BatchWalk {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  let position = 0;
  let nextOffset: bigint | null = null;
  let count = 0;
  while (position + 61 <= records.length) {
    const batchEnd = position + 12 + view.getInt32(position + 8);
    if (batchEnd > records.length) break;
    nextOffset = view.getBigInt64(position) + BigInt(view.getInt32(position + 23)) + 1n;
    count += view.getInt32(position + 57);
    position = batchEnd;
  }
  return { nextOffset, records: count, bytes: position };
}

interface Leader {
  readonly host: string;
  readonly port: number;
  readonly partitions: number[];
}

/** The topic's id and its partitions grouped by leader, from one Metadata request to the bootstrap broker. */
async function leaders(task: ReadTask): Promise<{ topicId: Uuid; leaders: Leader[] }> {
  const bootstrap = await Connection.open({ ...parseAddress(task.bootstrap), clientId: 'sluice-bench-bare' });
  try {
    const response = await bootstrap.request(metadataApi, {
      ...defaultMetadataRequest(),
      topics: [{ topicId: ZERO_UUID, name: task.topic }],
      allowAutoTopicCreation: false,
    });
    const topic = response.topics[0];
    if (topic === undefined || topic.errorCode !== 0)
      throw new Error(`Metadata ${task.topic}: error ${topic?.errorCode}`);
    const byLeader = new Map<number, number[]>();
    for (const partition of topic.partitions) {
      if (partition.errorCode !== 0 || partition.leaderId < 0) {
        throw new Error(
          `Metadata ${task.topic}[${partition.partitionIndex}]: no leader (error ${partition.errorCode})`,
        );
      }
      const list = byLeader.get(partition.leaderId) ?? [];
      list.push(partition.partitionIndex);
      byLeader.set(partition.leaderId, list);
    }
    const result: Leader[] = [];
    for (const [nodeId, partitions] of byLeader) {
      const broker = response.brokers.find((candidate) => candidate.nodeId === nodeId);
      if (broker === undefined) throw new Error(`Metadata: leader ${nodeId} is not among the brokers`);
      result.push({ host: broker.host, port: broker.port, partitions: partitions.sort((left, right) => left - right) });
    }
    return { topicId: topic.topicId, leaders: result };
  } finally {
    bootstrap.close();
  }
}

function fetchRequest(task: ReadTask, topicId: Uuid, offsets: ReadonlyMap<number, bigint>): FetchRequest {
  return {
    ...defaultFetchRequest(),
    maxWaitMs: task.fetch.maxWaitMs,
    minBytes: task.fetch.minBytes,
    maxBytes: task.fetch.maxBytes,
    isolationLevel: 0,
    topics: [
      {
        topic: task.topic,
        topicId,
        partitions: [...offsets].map(([partition, fetchOffset]) => ({
          partition,
          currentLeaderEpoch: -1,
          fetchOffset,
          lastFetchedEpoch: -1,
          logStartOffset: -1n,
          partitionMaxBytes: task.fetch.partitionMaxBytes,
          replicaDirectoryId: ZERO_UUID,
          highWatermark: 9223372036854775807n,
        })),
      },
    ],
  };
}

/** Progress shared by the per-broker loops. */
interface Progress {
  records: number;
  firstAt: number;
  readonly deadline: number;
}

/** One broker's loop: Fetch, walk the batch headers, advance, until each of its partitions is at its high watermark. */
async function fetchFromLeader(task: ReadTask, topicId: Uuid, leader: Leader, progress: Progress): Promise<void> {
  const connection = await Connection.open({
    host: leader.host,
    port: leader.port,
    clientId: 'sluice-bench-bare',
    requestTimeoutMs: task.fetch.maxWaitMs + 30_000,
  });
  try {
    const version = connection.versionFor(fetchApi);
    // Every partition starts at 0: the topic is fresh, nothing was deleted, as "earliest" finds it.
    const offsets = new Map<number, bigint>(leader.partitions.map((partition) => [partition, 0n]));
    while (offsets.size > 0) {
      if (performance.now() > progress.deadline) throw new Error(`bare: read ${progress.records} records, timed out`);
      const response = await connection.send(fetchApi, version, fetchRequest(task, topicId, offsets));
      if (response.errorCode !== 0) throw new Error(`Fetch failed: error ${response.errorCode}`);
      for (const topic of response.responses) {
        for (const partition of topic.partitions) {
          if (partition.errorCode !== 0) {
            throw new Error(`Fetch ${task.topic}[${partition.partitionIndex}]: error ${partition.errorCode}`);
          }
          const walk = walkBatches(partition.records ?? new Uint8Array(0));
          if (walk.records > 0 && progress.firstAt < 0) progress.firstAt = performance.now();
          progress.records += walk.records;
          const offset = walk.nextOffset ?? offsets.get(partition.partitionIndex)!;
          if (offset >= partition.highWatermark) offsets.delete(partition.partitionIndex);
          else offsets.set(partition.partitionIndex, offset);
        }
      }
    }
  } finally {
    connection.close();
  }
}

/** One read of the whole topic: Metadata, then every leader's loop at once; timed from the first connect. */
export async function bareRead(task: ReadTask): Promise<ReadResult> {
  const start = performance.now();
  const progress: Progress = { records: 0, firstAt: -1, deadline: start + task.timeoutMs };
  const { topicId, leaders: found } = await leaders(task);
  await Promise.all(found.map((leader) => fetchFromLeader(task, topicId, leader, progress)));
  const end = performance.now();
  if (progress.records !== task.expectedRecords) {
    throw new Error(`bare: read ${progress.records} records, expected exactly ${task.expectedRecords}`);
  }
  return {
    records: progress.records,
    // Not counted: the bare client reads no record. The fill's count, once every record has been seen.
    bytes: task.expectedBytes,
    seconds: (end - start) / 1000,
    secondsToFirstRecord: (progress.firstAt - start) / 1000,
    steadySeconds: (end - progress.firstAt) / 1000,
  };
}
