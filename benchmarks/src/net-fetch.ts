// Large Fetch responses from the local broker: a topic filled with Sluice's Produce, then read from offset 0 to the
// end by Sluice's Connection (frame assembly + response decode, records not walked) and by plain sockets that send the
// same pre-encoded Fetch requests and only read the bytes.
import type { Socket } from 'node:net';
import type { Connection, ReusableFrameBuffers } from '@sluice/net';
import {
  createTopicsApi,
  defaultCreateTopicsRequest,
  defaultDeleteTopicsRequest,
  defaultFetchRequest,
  defaultProduceRequest,
  deleteTopicsApi,
  encodeRecordBatchSync,
  encodeRequestFrame,
  type FetchRequest,
  type FetchResponse,
  fetchApi,
  produceApi,
  type RecordInput,
  type Uuid,
  ZERO_UUID,
} from '@sluice/protocol';
import {
  type Address,
  CopyingFrameCounter,
  DirectFrameReader,
  FrameCounter,
  type OnReadOptions,
  openSocket,
} from './net-raw-socket.ts';

export interface TopicFill {
  readonly topic: string;
  readonly topicId: Uuid;
  readonly records: number;
  readonly batches: number;
  /** Bytes of record batches produced. */
  readonly bytes: number;
  readonly seconds: number;
}

/** A small seeded generator (mulberry32), so every run produces the same records. */
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

/** A topic whose partitions each hold all their data in one segment; one partition unless told. */
export async function createTopic(connection: Connection, topic: string, partitions = 1): Promise<Uuid> {
  const response = await connection.request(createTopicsApi, {
    ...defaultCreateTopicsRequest(),
    topics: [
      {
        name: topic,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        // One segment holds everything: a Fetch never returns data from more than one segment per partition.
        configs: [{ name: 'segment.bytes', value: String(1024 * 1024 * 1024) }],
      },
    ],
    timeoutMs: 30_000,
  });
  const result = response.topics[0];
  if (result === undefined || result.errorCode !== 0) {
    throw new Error(`CreateTopics ${topic} failed: error ${result?.errorCode} ${result?.errorMessage ?? ''}`);
  }
  return result.topicId;
}

export async function deleteTopic(connection: Connection, topic: string): Promise<void> {
  const version = connection.versionFor(deleteTopicsApi);
  await connection.send(deleteTopicsApi, version, {
    ...defaultDeleteTopicsRequest(),
    topics: [{ name: topic, topicId: ZERO_UUID }],
    topicNames: [topic],
    timeoutMs: 30_000,
  });
}

/**
 * Produces `targetBytes` of uncompressed records of 1-10 KB (acks=1) into partition 0, one batch of about
 * `batchBytes` per request (Kafka takes one batch per partition per request), `window` requests in flight. A few
 * dozen distinct batches are encoded once and sent again and again; the broker assigns the offsets.
 */
export async function fillTopic(
  connection: Connection,
  topic: string,
  topicId: Uuid,
  options: { targetBytes: number; batchBytes: number; window: number; recordSize: { min: number; max: number } },
): Promise<TopicFill> {
  const random = seeded(0x5eed);
  const distinct: Array<{ bytes: Uint8Array; records: number }> = [];
  for (let batch = 0; batch < 24; batch++) {
    const records: RecordInput[] = [];
    let size = 0;
    for (;;) {
      const valueBytes =
        options.recordSize.min + Math.floor(random() * (options.recordSize.max - options.recordSize.min));
      if (size + valueBytes > options.batchBytes && records.length > 0) break;
      const value = Buffer.allocUnsafe(valueBytes + 3);
      for (let index = 0; index < valueBytes; index += 4) value.writeUInt32LE((random() * 4294967296) >>> 0, index);
      records.push({ key: Buffer.from(`key-${batch}-${records.length}`), value: value.subarray(0, valueBytes) });
      size += valueBytes + 40;
    }
    distinct.push({
      bytes: encodeRecordBatchSync({ records, baseTimestamp: BigInt(Date.now()), compression: 'none' }),
      records: records.length,
    });
  }
  const version = connection.versionFor(produceApi);
  const start = performance.now();
  let bytes = 0;
  let records = 0;
  let batches = 0;
  const inFlight = new Set<Promise<void>>();
  while (bytes < options.targetBytes) {
    const batch = distinct[batches % distinct.length]!;
    batches++;
    bytes += batch.bytes.length;
    records += batch.records;
    const sent = connection
      .send(produceApi, version, {
        ...defaultProduceRequest(),
        acks: 1,
        timeoutMs: 30_000,
        topicData: [{ name: topic, topicId, partitionData: [{ index: 0, records: batch.bytes }] }],
      })
      .then((response) => {
        const partition = response.responses[0]?.partitionResponses[0];
        if (partition === undefined || partition.errorCode !== 0) {
          throw new Error(`Produce failed: error ${partition?.errorCode} ${partition?.errorMessage ?? ''}`);
        }
      });
    const tracked = sent.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= options.window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { topic, topicId, records, batches, bytes, seconds: (performance.now() - start) / 1000 };
}

/** One Fetch of the pass: where it starts, and what the broker answers. */
export interface PlannedFetch {
  readonly fetchOffset: bigint;
  /** Response bytes on the wire, size prefix included (filled in by the first plain-socket pass). */
  responseBytes: number;
  /** Bytes of the partition's records field. */
  readonly recordsBytes: number;
}

export interface FetchPlan {
  readonly version: number;
  readonly requests: readonly FetchRequest[];
  /** The same requests encoded once, for the plain sockets. */
  readonly frames: readonly Uint8Array[];
  readonly fetches: PlannedFetch[];
  readonly highWatermark: bigint;
  /** Response bytes of one whole pass. */
  totalBytes: number;
}

export interface FetchSettings {
  readonly maxBytes: number;
  readonly partitionMaxBytes: number;
  readonly maxWaitMs: number;
}

function fetchRequest(fill: TopicFill, offset: bigint, settings: FetchSettings): FetchRequest {
  return {
    ...defaultFetchRequest(),
    maxWaitMs: settings.maxWaitMs,
    minBytes: 1,
    maxBytes: settings.maxBytes,
    topics: [
      {
        topic: fill.topic,
        topicId: fill.topicId,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: settings.partitionMaxBytes,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: 9223372036854775807n,
          },
        ],
      },
    ],
  };
}

function onlyPartition(response: FetchResponse) {
  if (response.errorCode !== 0) throw new Error(`Fetch failed: error ${response.errorCode}`);
  const partition = response.responses[0]?.partitions[0];
  if (partition === undefined) throw new Error('Fetch response without partition 0');
  if (partition.errorCode !== 0) throw new Error(`Fetch failed for partition 0: error ${partition.errorCode}`);
  return partition;
}

/**
 * The offset after the last whole batch in a records field (Kafka may cut the last batch short at the size limit).
 * Reads batch headers only: baseOffset (int64 at 0), batchLength (int32 at 8), lastOffsetDelta (int32 at 23).
 */
function nextOffset(records: Uint8Array): bigint | null {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  let position = 0;
  let next: bigint | null = null;
  while (position + 27 <= records.length) {
    const batchEnd = position + 12 + view.getInt32(position + 8);
    if (batchEnd > records.length) break;
    next = view.getBigInt64(position) + BigInt(view.getInt32(position + 23)) + 1n;
    position = batchEnd;
  }
  return next;
}

/** Walks the topic once with Sluice to learn the Fetch offsets of a pass from 0 to the high watermark. */
export async function planFetches(connection: Connection, fill: TopicFill, settings: FetchSettings) {
  const version = connection.versionFor(fetchApi);
  const fetches: PlannedFetch[] = [];
  const requests: FetchRequest[] = [];
  let offset = 0n;
  let highWatermark = -1n;
  for (;;) {
    const request = fetchRequest(fill, offset, settings);
    const partition = onlyPartition(await connection.send(fetchApi, version, request));
    highWatermark = partition.highWatermark;
    const records = partition.records ?? new Uint8Array(0);
    const next = nextOffset(records);
    if (next === null) throw new Error(`Fetch at offset ${offset} returned no whole batch (${records.length} bytes)`);
    fetches.push({ fetchOffset: offset, responseBytes: 0, recordsBytes: records.length });
    requests.push(request);
    offset = next;
    if (offset >= highWatermark) break;
  }
  const frames = requests.map((request, index) =>
    encodeRequestFrame({ api: fetchApi, version, correlationId: index, clientId: 'sluice-bench', request }),
  );
  const plan: FetchPlan = { version, requests, frames, fetches, highWatermark, totalBytes: 0 };
  return plan;
}

/**
 * One pass with Sluice: each Fetch sent when the previous response is decoded (as a consumer's fetch loop does).
 * With `frameBuffers` (the pool the connection was opened with), each response's frame is released once its records
 * have been checked: nothing reads the response afterwards.
 */
export async function sluicePass(
  connection: Connection,
  plan: FetchPlan,
  frameBuffers: ReusableFrameBuffers | null = null,
): Promise<number> {
  const start = performance.now();
  for (let index = 0; index < plan.requests.length; index++) {
    const partition = onlyPartition(await connection.send(fetchApi, plan.version, plan.requests[index]!));
    const expected = plan.fetches[index]!.recordsBytes;
    if (partition.records?.length !== expected) {
      throw new Error(`Sluice fetch ${index}: ${partition.records?.length} record bytes, expected ${expected}`);
    }
    if (frameBuffers !== null && partition.records) frameBuffers.release(partition.records);
  }
  return (performance.now() - start) / 1000;
}

export type RawMode = 'count' | 'copy' | 'reuse' | 'onread' | 'onreadReuse';

/** A plain socket kept open over the passes; how it reads depends on the mode. */
export class RawFetcher {
  readonly mode: RawMode;
  readonly #socket: Socket;
  #onFrame: ((frameBytes: number) => void) | null = null;
  #failure: Error | null = null;

  private constructor(mode: RawMode, socket: Socket) {
    this.mode = mode;
    this.#socket = socket;
    socket.once('error', (error) => this.#fail(error));
    socket.once('close', () => this.#fail(new Error('the broker closed the plain socket')));
  }

  static async open(address: Address, mode: RawMode): Promise<RawFetcher> {
    let deliver: (frameBytes: number) => void = () => {};
    let onread: OnReadOptions | undefined;
    if (mode === 'onread' || mode === 'onreadReuse') {
      const reader = new DirectFrameReader((frame) => deliver(frame.length), { reuse: mode === 'onreadReuse' });
      onread = reader.onread;
    }
    const socket = await openSocket(address, onread ? { onread } : {});
    const fetcher = new RawFetcher(mode, socket);
    deliver = (frameBytes) => fetcher.#onFrame?.(frameBytes);
    if (mode === 'count') {
      const counter = new FrameCounter(deliver);
      socket.on('data', (chunk: Buffer) => counter.push(chunk));
    } else if (mode === 'copy' || mode === 'reuse') {
      const counter = new CopyingFrameCounter((frame) => deliver(frame.length), { reuse: mode === 'reuse' });
      socket.on('data', (chunk: Buffer) => counter.push(chunk));
    }
    return fetcher;
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#onFrame?.(-1);
  }

  /** Sends one pre-encoded request and resolves with the response's frame size once all of it has been read. */
  #exchange(frame: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#failure) {
        reject(this.#failure);
        return;
      }
      this.#onFrame = (frameBytes) => {
        this.#onFrame = null;
        if (frameBytes < 0) reject(this.#failure);
        else resolve(frameBytes);
      };
      this.#socket.write(frame);
    });
  }

  /** One pass; the first one records each response's size in the plan, later ones check it. */
  async pass(plan: FetchPlan): Promise<number> {
    const start = performance.now();
    for (let index = 0; index < plan.frames.length; index++) {
      const responseBytes = (await this.#exchange(plan.frames[index]!)) + 4;
      const fetch = plan.fetches[index]!;
      if (fetch.responseBytes === 0) fetch.responseBytes = responseBytes;
      else if (fetch.responseBytes !== responseBytes) {
        throw new Error(
          `${this.mode} fetch ${index}: ${responseBytes} response bytes, expected ${fetch.responseBytes}`,
        );
      }
    }
    const seconds = (performance.now() - start) / 1000;
    plan.totalBytes = plan.fetches.reduce((sum, fetch) => sum + fetch.responseBytes, 0);
    return seconds;
  }

  close(): void {
    this.#onFrame = null;
    this.#socket.destroy();
  }
}
