import { type ClusterSnapshot, ErrorCode, type PartitionInfo } from '@sluice/net';
import {
  type CompressionType,
  compressSync,
  defaultFetchResponse,
  encodeControlRecordKey,
  encodeRecordBatchSync,
  type FetchRequest,
  type FetchResponse,
  type FetchResponsePartitionData,
  fetchApi,
  type RecordBatchInput,
  type Uuid,
  ZERO_UUID,
} from '@sluice/protocol';
import { SubscriptionState, type TopicPartition, type UnsentRequest } from '@sluice/runtime';
import { expect, type Mock, vi } from 'vitest';
import { crc32c } from '../../protocol/src/records/checksums.ts';
import { buildLegacyMessage, type LegacyMessageInput } from '../../protocol/test/fuzz/legacy-message-builder.ts';
import { fakeCluster } from '../../runtime/test/fake-cluster.ts';
import { FetchBuffer, type FetchBufferOptions } from '../src/fetch-buffer.ts';
import { FetchManager, type FetchManagerOptions } from '../src/fetch-manager.ts';
import type { ConsumerRecord } from '../src/fetched-record.ts';

export type Fetch = UnsentRequest<FetchRequest, FetchResponse>;

export const orders0: TopicPartition = { topic: 'orders', partition: 0 };
export const orders1: TopicPartition = { topic: 'orders', partition: 1 };
export const payments0: TopicPartition = { topic: 'payments', partition: 0 };

export const TOPIC_IDS: ReadonlyMap<string, Uuid> = new Map([
  ['orders', 'b3JkZXJzLXRvcGljLWlkIQ'],
  ['payments', 'cGF5bWVudHMtdG9waWMtaQ'],
]);

/** Leaders: orders-0 and payments-0 on broker 1, orders-1 on broker 2 (leader epoch 5 everywhere). */
export const LEADERS: ReadonlyArray<readonly [TopicPartition, number]> = [
  [orders0, 1],
  [orders1, 2],
  [payments0, 1],
];

export function cluster(
  options: { leaders?: ReadonlyArray<readonly [TopicPartition, number]>; topicIds?: ReadonlyMap<string, Uuid> } = {},
): ClusterSnapshot {
  return fakeCluster({ leaders: options.leaders ?? LEADERS, topicIds: options.topicIds ?? TOPIC_IDS });
}

/** The snapshot with one partition's leader and leader epoch replaced. */
export function withLeader(snapshot: ClusterSnapshot, tp: TopicPartition, leaderId: number, leaderEpoch: number) {
  const topics = new Map(snapshot.topics);
  const topic = topics.get(tp.topic)!;
  topics.set(tp.topic, {
    ...topic,
    partitions: topic.partitions.map(
      (info): PartitionInfo => (info.partition === tp.partition ? { ...info, leaderId, leaderEpoch } : info),
    ),
  });
  return { ...snapshot, topics };
}

export interface Setup {
  readonly manager: FetchManager;
  readonly subscriptions: SubscriptionState;
  readonly buffer: FetchBuffer;
  readonly metadata: {
    snapshot: ClusterSnapshot | null;
    readonly requestUpdate: Mock<() => void>;
    readonly reportError: Mock<(error: unknown, context?: { nodeId?: number }) => boolean>;
  };
  /** The manager's errors for the application. */
  readonly onError: Mock<(error: Error) => void>;
  /** Errors of fetches that failed while being read (the buffer's `onError`). */
  readonly bufferErrors: Mock<(error: Error) => void>;
}

export function setup(options: Partial<FetchManagerOptions> = {}, bufferOptions: FetchBufferOptions = {}): Setup {
  const subscriptions = new SubscriptionState({ defaultResetStrategy: 'earliest' });
  const bufferErrors = vi.fn<(error: Error) => void>();
  const buffer = new FetchBuffer({ onError: bufferErrors, ...bufferOptions });
  const metadata: Setup['metadata'] = {
    snapshot: cluster(),
    requestUpdate: vi.fn<() => void>(),
    reportError: vi.fn<(error: unknown, context?: { nodeId?: number }) => boolean>(() => false),
  };
  const onError = vi.fn<(error: Error) => void>();
  const manager = new FetchManager({
    subscriptions,
    buffer,
    metadata,
    fetchMinBytes: 1,
    fetchMaxBytes: 50 * 1024 * 1024,
    maxPartitionFetchBytes: 1024 * 1024,
    fetchMaxWaitMs: 500,
    isolationLevel: 'read_uncommitted',
    checkCrcs: true,
    clientRack: null,
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    metadataMaxAgeMs: 300_000,
    onError,
    ...options,
  });
  return { manager, subscriptions, buffer, metadata, onError, bufferErrors };
}

/** Assigns the partitions (manually) at these positions. */
export function assign(
  subscriptions: SubscriptionState,
  positions: ReadonlyArray<readonly [TopicPartition, bigint]>,
): void {
  subscriptions.assignFromUser(positions.map(([tp]) => tp));
  for (const [tp, offset] of positions) subscriptions.seek(tp, offset);
}

export const text = (value: string) => new TextEncoder().encode(value);
export const utf8 = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));
export const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** `count` records from `baseOffset`, keyed `k<offset>` and valued `v<offset>`, in a batch of leader epoch 5. */
export function batch(baseOffset: bigint, count: number, patch: Partial<RecordBatchInput> = {}): Uint8Array {
  return encodeRecordBatchSync({
    baseOffset,
    partitionLeaderEpoch: 5,
    baseTimestamp: 1_000n,
    compression: 'none',
    records: Array.from({ length: count }, (_, index) => ({
      key: text(`k${Number(baseOffset) + index}`),
      value: text(`v${Number(baseOffset) + index}`),
      timestamp: 1_000n + BigInt(index),
    })),
    ...patch,
  });
}

export function marker(
  offset: bigint,
  producerId: bigint,
  type: 'abort' | 'commit',
  patch: Partial<RecordBatchInput> = {},
): Uint8Array {
  return encodeRecordBatchSync({
    baseOffset: offset,
    isTransactional: true,
    isControl: true,
    producerId,
    producerEpoch: 0,
    compression: 'none',
    records: [{ key: encodeControlRecordKey(type), value: new Uint8Array([0, 0, 0, 0, 0, 0]) }],
    ...patch,
  });
}

/** A message of format v0 or v1, written from the documented layout by the protocol package's test builder. */
export function legacyMessage(input: LegacyMessageInput): Uint8Array {
  return buildLegacyMessage(input).bytes;
}

/**
 * A compressed legacy wrapper of `inner` messages (v1: inner offsets 0..n-1, relative to the wrapper's, which is
 * the last one's; v0: absolute).
 */
export function legacyWrapper(
  outer: Omit<LegacyMessageInput, 'value' | 'key'> & { readonly compression: CompressionType },
  inner: readonly Uint8Array[],
): Uint8Array {
  return legacyMessage({ ...outer, key: null, value: compressSync(outer.compression, Buffer.concat(inner)) });
}

/** Where the batch's records start: after the 61-byte v2 batch header. */
const RECORDS_START = 61;

/**
 * An uncompressed batch whose record `index` (0-based, > 0) has a negative length, with a valid CRC: the batch
 * header checks out and the records before it read fine; reading that record throws ProtocolError. The records
 * before it must be shorter than 64 bytes (one-byte length varints).
 */
export function malformedAt(bytes: Uint8Array, index: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  let position = RECORDS_START;
  for (let record = 0; record < index; record++) {
    const zigzag = copy[position]!;
    expect(zigzag).toBeLessThan(0x80);
    position += 1 + (zigzag >> 1);
  }
  copy[position] = 0x01; // zigzag -1
  new DataView(copy.buffer).setUint32(17, crc32c(copy, 21, copy.length));
  return copy;
}

export interface PartitionAnswer extends Partial<Omit<FetchResponsePartitionData, 'partitionIndex'>> {
  readonly tp: TopicPartition;
}

/** Top-level fields of a scripted answer. */
export interface AnswerTop {
  readonly version?: number;
  readonly sessionId?: number;
  readonly errorCode?: number;
}

/** A Fetch answer; v13+ names topics by id. */
export function fetchAnswer(partitions: readonly PartitionAnswer[], top: AnswerTop = {}): FetchResponse {
  const version = top.version ?? VERSION;
  const topics = new Map<string, PartitionAnswer[]>();
  for (const entry of partitions) topics.set(entry.tp.topic, [...(topics.get(entry.tp.topic) ?? []), entry]);
  return {
    ...defaultFetchResponse(),
    errorCode: top.errorCode ?? ErrorCode.NONE,
    sessionId: top.sessionId ?? 0,
    responses: [...topics].map(([name, entries]) => ({
      topic: version >= 13 ? '' : name,
      topicId: version >= 13 ? TOPIC_IDS.get(name)! : ZERO_UUID,
      partitions: entries.map(({ tp, ...patch }) => ({
        partitionIndex: tp.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: 0n,
        lastStableOffset: -1n,
        logStartOffset: -1n,
        divergingEpoch: { epoch: -1, endOffset: -1n },
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        snapshotId: { endOffset: -1n, epoch: -1 },
        abortedTransactions: null,
        preferredReadReplica: -1,
        records: null,
        ...patch,
      })),
    })),
  };
}

export const VERSION = 13;

/** A promise and its resolve (Promise.withResolvers is ES2024; the project targets ES2023). */
export function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Sends the Fetch as the loop does (built at the version, then answered), and returns what was sent. */
export async function answer(
  request: Fetch,
  now: number,
  partitions: readonly PartitionAnswer[],
  top: AnswerTop = {},
): Promise<FetchRequest> {
  const version = top.version ?? VERSION;
  const sent = request.build(version);
  const nodeId = (request.target as { nodeId: number }).nodeId;
  await request.onResponse(fetchAnswer(partitions, top), { version, nodeId, now });
  return sent;
}

export function fetches(manager: FetchManager, now: number): Fetch[] {
  const { requests } = manager.poll(now);
  for (const request of requests) expect(request.api).toBe(fetchApi);
  return requests as unknown as Fetch[];
}

/** The one Fetch at `now`, to `nodeId`. */
export function onlyFetch(manager: FetchManager, now: number, nodeId: number): Fetch {
  const requests = fetches(manager, now);
  expect(requests.map((request) => request.target)).toEqual([{ nodeId }]);
  return requests[0]!;
}

export function toNode(requests: readonly Fetch[], nodeId: number): Fetch {
  const request = requests.find((candidate) => (candidate.target as { nodeId: number }).nodeId === nodeId);
  expect(request).toBeDefined();
  return request!;
}

/** What a built Fetch names, as `topic-partition@fetchOffset` (topics by name, or by id from v13). */
export function named(sent: FetchRequest): string[] {
  return sent.topics.flatMap((topic) =>
    topic.partitions.map(
      (partition) => `${topic.topic || topicName(topic.topicId)}-${partition.partition}@${partition.fetchOffset}`,
    ),
  );
}

/** What a built Fetch forgets, as `topic-partition`. */
export function forgotten(sent: FetchRequest): string[] {
  return sent.forgottenTopicsData.flatMap((topic) =>
    topic.partitions.map((partition) => `${topic.topic || topicName(topic.topicId)}-${partition}`),
  );
}

function topicName(id: Uuid): string {
  for (const [name, topicId] of TOPIC_IDS) if (topicId === id) return name;
  return `?${id}`;
}

/** What a Fetch asks, as `topic-partition@fetchOffset`. */
export function asked(request: Fetch, version = VERSION): string[] {
  return named(request.build(version));
}

export const described = (records: readonly ConsumerRecord<unknown, unknown>[]) =>
  records.map((record) => `${record.topic}-${record.partition}@${record.offset}`);

export function version(subscriptions: SubscriptionState, tp: TopicPartition): number {
  return subscriptions.partition(tp)!.version;
}
