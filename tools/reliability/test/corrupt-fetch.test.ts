/** The Fetch corrupters on records encoded by @sluice/protocol, checked by its own decoder. */
import {
  decodeRecords,
  defaultFetchResponse,
  defaultMetadataResponse,
  encodeRecordBatchSync,
  type FetchResponse,
  type FetchResponsePartitionData,
  fetchApi,
  metadataApi,
  ProtocolError,
  Reader,
  type RecordBatch,
  responseHeader,
  responseHeaderVersion,
  uuidFromBytes,
  Writer,
} from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { buildBomb, corruptRecords, FetchCorrupter, rewriteFetchResponse, zigzagVarint } from '../src/corrupt-fetch.ts';
import type { ResponseContext } from '../src/fault-proxy.ts';

const TOPIC_ID = uuidFromBytes(Uint8Array.from({ length: 16 }, (_, index) => index + 1));
const OTHER_ID = uuidFromBytes(new Uint8Array(16).fill(0xee));
const utf8 = new TextEncoder();

/** Three batches of four records each, from `baseOffset`. */
function threeBatches(baseOffset = 0n): Uint8Array {
  const batches = [0, 1, 2].map((index) =>
    encodeRecordBatchSync({
      baseOffset: baseOffset + BigInt(index * 4),
      records: [0, 1, 2, 3].map((record) => ({ value: utf8.encode(`value ${index * 4 + record}`) })),
    }),
  );
  return Buffer.concat(batches);
}

function offsetsOf(records: Uint8Array): bigint[] {
  const offsets: bigint[] = [];
  for (const batch of decodeRecords(records).batches) {
    for (const record of batch as RecordBatch) offsets.push(record.offset);
  }
  return offsets;
}

function partitionData(partitionIndex: number, records: Uint8Array | null): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode: 0,
    highWatermark: 12n,
    lastStableOffset: 12n,
    logStartOffset: 0n,
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions: [],
    preferredReadReplica: -1,
    records,
  };
}

function frameOf(apiKey: number, version: number, write: (writer: Writer) => void): Buffer {
  const writer = new Writer();
  const size = writer.reserveInt32();
  responseHeader.write(writer, responseHeaderVersion(apiKey, version), { correlationId: 42 });
  write(writer);
  writer.fillInt32(size, writer.offset - 4, 'size');
  return Buffer.from(writer.finish());
}

function fetchFrame(version: number, records: Uint8Array): Buffer {
  const response: FetchResponse = {
    ...defaultFetchResponse(),
    responses: [
      { topic: 'other', topicId: OTHER_ID, partitions: [partitionData(0, records)] },
      { topic: 'target', topicId: TOPIC_ID, partitions: [partitionData(0, records), partitionData(1, records)] },
    ],
  };
  return frameOf(1, version, (writer) => fetchApi.response.write(writer, version, response));
}

function readFetchFrame(frame: Buffer, version: number): FetchResponse {
  const reader = new Reader(frame, { offset: 4 });
  expect(responseHeader.read(reader, responseHeaderVersion(1, version)).correlationId).toBe(42);
  const response = fetchApi.response.read(reader, version);
  expect(reader.remaining).toBe(0);
  return response;
}

const context = (apiKey: number, apiVersion: number): ResponseContext => ({
  nodeId: 1,
  apiKey,
  apiVersion,
  correlationId: 42,
});

describe('corruptRecords', () => {
  const records = threeBatches(100n);

  it('badCrc: the batch fails its CRC check, and only that', () => {
    const corrupted = corruptRecords(records, { kind: 'badCrc' })!;
    expect(corrupted.baseOffset).toBe(100n);
    expect(corrupted.records).toHaveLength(records.length);
    expect(() => decodeRecords(corrupted.records)).toThrow(expect.objectContaining({ reason: 'crc-mismatch' }));
    expect(decodeRecords(corrupted.records, { checkCrcs: false }).batches).toHaveLength(3);
    expect(decodeRecords(records).batches).toHaveLength(3);
  });

  it('truncated: the section ends in the middle of the batch', () => {
    const first = corruptRecords(records, { kind: 'truncated' })!;
    expect(decodeRecords(first.records)).toMatchObject({ batches: [], truncated: true });
    const second = corruptRecords(records, { kind: 'truncated', atOffset: 105n })!;
    expect(second.baseOffset).toBe(104n);
    const decoded = decodeRecords(second.records);
    expect(decoded.truncated).toBe(true);
    expect(offsetsOf(second.records)).toEqual([100n, 101n, 102n, 103n]);
  });

  it('absurdLength: batchLength 0x7fffff00, read as a batch cut short', () => {
    const corrupted = corruptRecords(records, { kind: 'absurdLength' })!;
    expect(Buffer.from(corrupted.records).readInt32BE(8)).toBe(0x7fffff00);
    expect(decodeRecords(corrupted.records)).toMatchObject({ batches: [], truncated: true });
  });

  for (const recordLength of [0x7ffffff0, -1000, 2 ** 31]) {
    it(`absurdRecordLength ${recordLength}: the CRC holds, reading the first record fails`, () => {
      const corrupted = corruptRecords(records, { kind: 'absurdRecordLength', recordLength })!;
      const { batches } = decodeRecords(corrupted.records);
      expect(batches).toHaveLength(3);
      const cursor = (batches[0] as RecordBatch).cursor();
      expect(() => cursor.next()).toThrow(ProtocolError);
      expect(offsetsOf(corrupted.records.subarray((batches[1] as RecordBatch).byteOffset))).toEqual(
        [4, 5, 6, 7, 8, 9, 10, 11].map((offset) => 100n + BigInt(offset)),
      );
    });
  }

  for (const codec of ['gzip', 'zstd'] as const) {
    it(`bomb (${codec}): a valid batch at the same offsets that decompresses past the cap`, async () => {
      const bomb = await buildBomb({ codec, decompressedBytes: 8 * 1024 * 1024 });
      expect(bomb.compressed.length).toBeLessThan(64 * 1024);
      const corrupted = corruptRecords(records, { kind: 'bomb', bomb, atOffset: 104n })!;
      const { batches } = decodeRecords(corrupted.records);
      expect((batches as RecordBatch[]).map((batch) => [batch.baseOffset, batch.lastOffset])).toEqual([
        [100n, 103n],
        [104n, 107n],
        [108n, 111n],
      ]);
      const batch = batches[1] as RecordBatch;
      expect(batch.compression).toBe(codec);
      expect(() => batch.decompressSync({ maxDecompressedBytes: 1024 * 1024 })).toThrow(
        expect.objectContaining({ reason: 'decompression-limit' }),
      );
      const [record, ...rest] = [...batch.decompressSync({ maxDecompressedBytes: 16 * 1024 * 1024 })];
      expect(rest).toHaveLength(0);
      expect(record!.offset).toBe(104n);
      expect(record!.key).toBeNull();
      expect(record!.value!.length).toBe(8 * 1024 * 1024);
      expect(record!.value!.every((byte) => byte === 0)).toBe(true);
    });
  }

  it('leaves what holds no complete v2 batch alone', () => {
    expect(corruptRecords(new Uint8Array(0), { kind: 'badCrc' })).toBeNull();
    expect(corruptRecords(records.subarray(0, 40), { kind: 'badCrc' })).toBeNull();
    expect(corruptRecords(records, { kind: 'badCrc', atOffset: 500n })).toBeNull();
  });
});

describe('FetchCorrupter', () => {
  for (const version of [4, 11, 12, 13, 16]) {
    it(`corrupts one partition of a Fetch v${version} response and nothing else, at most \`times\``, async () => {
      const corrupter = await FetchCorrupter.create({
        kind: 'badCrc',
        topic: 'target',
        partition: 1,
        topicId: TOPIC_ID,
        times: 2,
      });
      const records = threeBatches();
      const frame = fetchFrame(version, records);
      const rewritten = corrupter.rewrite(context(1, version), frame)!;
      expect(rewritten.readInt32BE(0)).toBe(rewritten.length - 4);
      const response = readFetchFrame(rewritten, version);
      const original = readFetchFrame(frame, version);
      expect(response.responses[1]!.partitions[1]!.records).not.toEqual(records);
      expect(() => decodeRecords(response.responses[1]!.partitions[1]!.records!)).toThrow(ProtocolError);
      response.responses[1]!.partitions[1]!.records = original.responses[1]!.partitions[1]!.records;
      expect(response).toEqual(original);
      expect(corrupter.rewrite(context(3, 12), frame)).toBeUndefined();
      expect(corrupter.rewrite(context(1, version), frame)).toBeDefined();
      expect(corrupter.rewrite(context(1, version), frame)).toBeUndefined();
      expect(corrupter).toMatchObject({ corrupted: 2, active: false, offsets: [0n, 0n] });
    });
  }

  it('learns the topic id from Metadata responses, and stops when told', async () => {
    const corrupter = await FetchCorrupter.create({ kind: 'truncated', topic: 'target', partition: 0 });
    const frame = fetchFrame(16, threeBatches());
    expect(corrupter.rewrite(context(1, 16), frame)).toBeUndefined();
    const metadata = frameOf(3, 12, (writer) =>
      metadataApi.response.write(writer, 12, {
        ...defaultMetadataResponse(),
        topics: [
          {
            errorCode: 0,
            name: 'target',
            topicId: TOPIC_ID,
            isInternal: false,
            partitions: [],
            topicAuthorizedOperations: -2147483648,
          },
        ],
      }),
    );
    expect(corrupter.rewrite(context(3, 12), metadata)).toBeUndefined();
    const rewritten = corrupter.rewrite(context(1, 16), frame)!;
    expect(decodeRecords(readFetchFrame(rewritten, 16).responses[1]!.partitions[0]!.records!).truncated).toBe(true);
    corrupter.stop();
    expect(corrupter.rewrite(context(1, 16), frame)).toBeUndefined();
    expect(corrupter).toMatchObject({ corrupted: 1, active: false });
  });

  it('leaves frames that do not decode alone', () => {
    expect(rewriteFetchResponse(Buffer.from([0, 0, 0, 5, 0, 0, 0, 42, 1]), 12, () => true)).toBeUndefined();
  });
});

describe('helpers', () => {
  it('zigzagVarint encodes as Kafka does', () => {
    expect([...zigzagVarint(0)]).toEqual([0]);
    expect([...zigzagVarint(-1)]).toEqual([1]);
    expect([...zigzagVarint(300)]).toEqual([0xd8, 0x04]);
    expect(zigzagVarint(2 ** 31)).toHaveLength(5);
  });
});
