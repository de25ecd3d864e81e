/**
 * Hostile Fetch responses for the fault proxy: a `ResponseRewrite` that decodes Fetch responses (apiKey 1), corrupts
 * the records of one topic-partition, and encodes the frame again.
 *
 * The corruptions, each of one record batch (the first of the partition's records, or the one holding `atOffset`):
 * - `badCrc`: one byte in the batch's records is flipped; the CRC no longer matches.
 * - `truncated`: the records section ends in the middle of the batch (its header promises more than there is).
 * - `absurdLength`: the batch's batchLength says 0x7fffff00.
 * - `absurdRecordLength`: the first record's length varint says `recordLength`; the batch's length and CRC are
 *   correct, so only reading the records finds it (the batch must be uncompressed).
 * - `bomb`: the batch is replaced by a valid one (same offsets, correct CRC-32C) holding one record whose value is
 *   `decompressedBytes` of zeros, gzip or zstd compressed: far past the consumer's cap on one batch's decompressed
 *   size (64 MiB), for a few hundred KB on the wire.
 *
 * Record batch v2 layout (offsets in the batch): baseOffset int64 (0), batchLength int32 (8), partitionLeaderEpoch
 * int32 (12), magic int8 (16), crc uint32 (17, CRC-32C of everything from attributes on), attributes int16 (21),
 * lastOffsetDelta int32 (23), baseTimestamp int64 (27), maxTimestamp int64 (35), producerId int64 (43), producerEpoch
 * int16 (51), baseSequence int32 (53), recordsCount int32 (57), records (61).
 */
import { once } from 'node:events';
import { createGzip, createZstdCompress } from 'node:zlib';
import {
  crc32c,
  type FetchResponse,
  fetchApi,
  metadataApi,
  Reader,
  responseHeader,
  responseHeaderVersion,
  type Uuid,
  Writer,
} from '@sluice/protocol';
import type { ResponseContext, ResponseRewrite } from './fault-proxy.ts';

export type FetchCorruptionKind = 'badCrc' | 'truncated' | 'absurdLength' | 'absurdRecordLength' | 'bomb';

/** A compressed records section for `bomb`, built once (`buildBomb`) and put in as many batches as needed. */
export interface Bomb {
  readonly codec: 'gzip' | 'zstd';
  /** What the records decompress to: one record, its value this many zero bytes (plus a few bytes of framing). */
  readonly decompressedBytes: number;
  readonly compressed: Uint8Array;
}

/** How to corrupt one records section. */
export type RecordsCorruption =
  | { readonly kind: 'badCrc' | 'truncated' | 'absurdLength'; readonly atOffset?: bigint }
  | { readonly kind: 'absurdRecordLength'; readonly recordLength: number; readonly atOffset?: bigint }
  | { readonly kind: 'bomb'; readonly bomb: Bomb; readonly atOffset?: bigint };

export interface FetchCorrupterOptions {
  readonly kind: FetchCorruptionKind;
  readonly topic: string;
  readonly partition: number;
  /**
   * The topic's id, which Fetch v13+ names topics by. Learnt from the Metadata responses that go through the proxy
   * when not given; a Fetch of the topic before then is not corrupted.
   */
  readonly topicId?: Uuid;
  /** Corrupt the batch holding this offset (when the response has it); default the partition's first batch. */
  readonly atOffset?: bigint;
  /** Responses to corrupt, at most; default: until `stop()`. */
  readonly times?: number;
  /** `absurdRecordLength`: the length written (any safe integer; default 0x7ffffff0). */
  readonly recordLength?: number;
  /** `bomb`: the codec (default gzip) and the decompressed size (default 320 MiB). */
  readonly bomb?: { readonly codec?: 'gzip' | 'zstd'; readonly decompressedBytes?: number };
  /** One line per response corrupted. */
  readonly log?: (line: string) => void;
}

const FETCH_API_KEY = 1;
const METADATA_API_KEY = 3;
/** Bytes of a v2 batch before its records. */
const BATCH_HEADER_BYTES = 61;
/** baseOffset and batchLength: what batchLength does not count. */
const LOG_OVERHEAD = 12;
const ABSURD_BATCH_LENGTH = 0x7fffff00;

/** Corrupts one partition's Fetch data, `times` responses at most; `rewrite` goes to `FaultProxy.rewriteResponses`. */
export class FetchCorrupter {
  readonly rewrite: ResponseRewrite;
  readonly #options: FetchCorrupterOptions;
  readonly #corruption: RecordsCorruption;
  readonly #log: (line: string) => void;
  #topicId: Uuid | null;
  #corrupted = 0;
  readonly #offsets: bigint[] = [];
  #stopped = false;

  private constructor(options: FetchCorrupterOptions, corruption: RecordsCorruption) {
    this.#options = options;
    this.#corruption = corruption;
    this.#log = options.log ?? (() => {});
    this.#topicId = options.topicId ?? null;
    this.rewrite = (context, frame) => this.#rewrite(context, frame);
  }

  /** Builds the corrupter (for `bomb`, its compressed records first: streaming, a second or so). */
  static async create(options: FetchCorrupterOptions): Promise<FetchCorrupter> {
    const atOffset = options.atOffset === undefined ? {} : { atOffset: options.atOffset };
    let corruption: RecordsCorruption;
    switch (options.kind) {
      case 'bomb':
        corruption = { kind: 'bomb', bomb: await buildBomb(options.bomb), ...atOffset };
        break;
      case 'absurdRecordLength':
        corruption = { kind: 'absurdRecordLength', recordLength: options.recordLength ?? 0x7ffffff0, ...atOffset };
        break;
      default:
        corruption = { kind: options.kind, ...atOffset };
    }
    return new FetchCorrupter(options, corruption);
  }

  /** Responses corrupted so far. */
  get corrupted(): number {
    return this.#corrupted;
  }

  /** The base offset of each batch corrupted, in order. */
  get offsets(): readonly bigint[] {
    return this.#offsets;
  }

  /** Whether responses are still being corrupted (not stopped, `times` not reached). */
  get active(): boolean {
    return !this.#stopped && this.#corrupted < (this.#options.times ?? Number.POSITIVE_INFINITY);
  }

  stop(): void {
    this.#stopped = true;
  }

  #rewrite(context: ResponseContext, frame: Buffer): Buffer | undefined {
    if (context.apiKey === METADATA_API_KEY && this.#topicId === null) {
      this.#learnTopicId(context, frame);
      return undefined;
    }
    if (context.apiKey !== FETCH_API_KEY || !this.active) return undefined;
    const { topic, partition } = this.#options;
    const topicId = this.#topicId;
    const version = context.apiVersion;
    if (version >= 13 && topicId === null) return undefined;
    return rewriteFetchResponse(frame, version, (response) => {
      for (const topicData of response.responses) {
        if (version >= 13 ? topicData.topicId !== topicId : topicData.topic !== topic) continue;
        for (const data of topicData.partitions) {
          if (data.partitionIndex !== partition || data.records === null) continue;
          const corrupted = corruptRecords(data.records, this.#corruption);
          if (corrupted === null) continue;
          this.#offsets.push(corrupted.baseOffset);
          data.records = corrupted.records;
          this.#corrupted++;
          this.#log(
            `corrupt-fetch: ${this.#options.kind} in ${topic}-${partition} at offset ${corrupted.baseOffset} (Fetch v${version}, response ${this.#corrupted})`,
          );
          return true;
        }
      }
      return false;
    });
  }

  #learnTopicId(context: ResponseContext, frame: Buffer): void {
    try {
      const reader = new Reader(frame, { offset: 4 });
      responseHeader.read(reader, responseHeaderVersion(METADATA_API_KEY, context.apiVersion));
      const response = metadataApi.response.read(reader, context.apiVersion);
      const found = response.topics.find((entry) => entry.name === this.#options.topic && entry.errorCode === 0);
      if (found !== undefined) this.#topicId = found.topicId;
    } catch {
      // Not decodable: a later Metadata response will do.
    }
  }
}

/**
 * Decodes a Fetch response frame (size prefix included), lets `edit` change it, and encodes it again; undefined
 * when `edit` changed nothing or the frame does not decode.
 */
export function rewriteFetchResponse(
  frame: Uint8Array,
  version: number,
  edit: (response: FetchResponse) => boolean,
): Buffer | undefined {
  const headerVersion = responseHeaderVersion(FETCH_API_KEY, version);
  let header: ReturnType<typeof responseHeader.read>;
  let response: FetchResponse;
  try {
    const reader = new Reader(frame, { offset: 4 });
    header = responseHeader.read(reader, headerVersion);
    response = fetchApi.response.read(reader, version);
    if (reader.remaining !== 0) return undefined;
  } catch {
    return undefined;
  }
  if (!edit(response)) return undefined;
  const writer = new Writer({ initialCapacity: frame.length + 1024 });
  const size = writer.reserveInt32();
  responseHeader.write(writer, headerVersion, header);
  fetchApi.response.write(writer, version, response);
  writer.fillInt32(size, writer.offset - 4, 'FetchResponse frame size');
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The records section with one batch corrupted, and that batch's base offset; null when the section holds no
 * complete v2 batch to corrupt (at `atOffset`, when given).
 */
export function corruptRecords(
  records: Uint8Array,
  corruption: RecordsCorruption,
): { readonly records: Uint8Array; readonly baseOffset: bigint } | null {
  const batch = findBatch(records, corruption.atOffset);
  if (batch === null) return null;
  const { start, end } = batch;
  const view = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  const baseOffset = view.readBigInt64BE(start);
  switch (corruption.kind) {
    case 'badCrc': {
      const copy = Buffer.from(view);
      const recordsStart = start + BATCH_HEADER_BYTES;
      copy[recordsStart + Math.floor((end - recordsStart) / 2)]! ^= 0xff;
      return { records: copy, baseOffset };
    }
    case 'truncated':
      return { records: view.subarray(0, start + Math.floor((end - start) / 2)), baseOffset };
    case 'absurdLength': {
      const copy = Buffer.from(view);
      copy.writeInt32BE(ABSURD_BATCH_LENGTH, start + 8);
      return { records: copy, baseOffset };
    }
    case 'absurdRecordLength': {
      if ((view.readInt16BE(start + 21) & 0x07) !== 0) return null;
      const recordsStart = start + BATCH_HEADER_BYTES;
      const oldLength = varintSize(view, recordsStart);
      const newLength = zigzagVarint(corruption.recordLength);
      const rebuilt = Buffer.concat([
        view.subarray(start, recordsStart),
        newLength,
        view.subarray(recordsStart + oldLength, end),
      ]);
      sealBatch(rebuilt);
      return { records: Buffer.concat([view.subarray(0, start), rebuilt, view.subarray(end)]), baseOffset };
    }
    case 'bomb': {
      const replacement = bombBatch(view.subarray(start, end), corruption.bomb);
      return { records: Buffer.concat([view.subarray(0, start), replacement, view.subarray(end)]), baseOffset };
    }
  }
}

/** The complete v2 batch to corrupt: the first, or the first that ends at or past `atOffset`. */
function findBatch(records: Uint8Array, atOffset: bigint | undefined): { start: number; end: number } | null {
  const view = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  let start = 0;
  while (start + BATCH_HEADER_BYTES <= view.length) {
    const end = start + LOG_OVERHEAD + view.readInt32BE(start + 8);
    if (end > view.length || end < start + BATCH_HEADER_BYTES) return null;
    const lastOffset = view.readBigInt64BE(start) + BigInt(view.readInt32BE(start + 23));
    if (view[start + 16] === 2 && (atOffset === undefined || lastOffset >= atOffset)) return { start, end };
    if (atOffset === undefined) return null;
    start = end;
  }
  return null;
}

/**
 * The compressed records for `bomb`: one record (no key, no headers) whose value is `decompressedBytes` zeros,
 * streamed through the compressor from one reused buffer of zeros, so it never takes more memory than its output.
 */
export async function buildBomb(
  options: { readonly codec?: 'gzip' | 'zstd'; readonly decompressedBytes?: number } = {},
): Promise<Bomb> {
  const codec = options.codec ?? 'gzip';
  const decompressedBytes = options.decompressedBytes ?? 320 * 1024 * 1024;
  // attributes, timestampDelta 0, offsetDelta 0, key length -1 (null), value length.
  const fields = Buffer.concat([Buffer.from([0, 0, 0]), zigzagVarint(-1), zigzagVarint(decompressedBytes)]);
  const headersCount = zigzagVarint(0);
  const recordLength = fields.length + decompressedBytes + headersCount.length;
  const compressor = codec === 'gzip' ? createGzip({ level: 9 }) : createZstdCompress();
  const output: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of compressor) output.push(chunk as Buffer);
  })();
  compressor.write(Buffer.concat([zigzagVarint(recordLength), fields]));
  const zeros = Buffer.alloc(Math.min(1024 * 1024, decompressedBytes));
  for (let left = decompressedBytes; left > 0; left -= zeros.length) {
    if (!compressor.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) await once(compressor, 'drain');
  }
  compressor.end(headersCount);
  await collected;
  return { codec, decompressedBytes, compressed: Buffer.concat(output) };
}

/** A valid batch in place of `original`: its offsets, epoch and timestamps, the bomb's one compressed record. */
function bombBatch(original: Buffer, bomb: Bomb): Buffer {
  const batch = Buffer.alloc(BATCH_HEADER_BYTES + bomb.compressed.length);
  original.copy(batch, 0, 0, BATCH_HEADER_BYTES);
  batch.writeInt16BE(bomb.codec === 'gzip' ? 1 : 4, 21);
  batch.writeBigInt64BE(-1n, 43);
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(1, 57);
  batch.set(bomb.compressed, BATCH_HEADER_BYTES);
  sealBatch(batch);
  return batch;
}

/** Writes the batchLength and CRC of a batch that fills `batch`. */
function sealBatch(batch: Buffer): void {
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8);
  batch.writeUInt32BE(crc32c(batch, 21, batch.length), 17);
}

/** Bytes of the varint at `position`. */
function varintSize(bytes: Uint8Array, position: number): number {
  let size = 1;
  while ((bytes[position + size - 1]! & 0x80) !== 0) size++;
  return size;
}

/** A zigzag varint of any safe integer (lengths past int32 give a varint no int32 reader accepts). */
export function zigzagVarint(value: number): Buffer {
  let unsigned = BigInt.asUintN(64, (BigInt(value) << 1n) ^ (BigInt(value) >> 63n));
  const bytes: number[] = [];
  while (unsigned >= 0x80n) {
    bytes.push(Number(unsigned & 0x7fn) | 0x80);
    unsigned >>= 7n;
  }
  bytes.push(Number(unsigned));
  return Buffer.from(bytes);
}
