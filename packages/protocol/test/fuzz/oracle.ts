import { type CompressionType, decompress, decompressSync } from '../../src/compression/index.ts';
import { decodeLz4FramesCapped, planLz4Frames, withRepairedHeaderChecksum } from '../../src/compression/lz4-frame.ts';
import { decodeMessage, decodeResponseFrame } from '../../src/encoding.ts';
import { ProtocolError } from '../../src/errors.ts';
import {
  type DecodedBatch,
  decodeControlRecordKey,
  decodeRecords,
  type LegacyRecordBatch,
  RecordBatch,
} from '../../src/records/index.ts';
import type { FuzzTarget } from './corpus-types.ts';

// The oracle: feed a case's bytes to its decoder and use everything the decoder gives back (every batch
// decompressed, every record's offset, timestamp, key, value and headers). Success and ProtocolError are both
// fine; any other exception escapes to the engine, which reports it with the case's seed and bytes.

export interface OracleOptions {
  /** `maxDecompressedBytes` for every decompression. */
  readonly cap: number;
  readonly checkCrcs: boolean;
  /** Use the async `decompress` paths (forced into the thread pool) instead of the sync ones. */
  readonly asynchronous: boolean;
}

/** What a case produced, for the output-size bound and for comparing the sync and async paths. */
export interface OracleResult {
  /** The top-level decode succeeded (a message, a records region, a decompression). */
  readonly decoded: boolean;
  /** The ProtocolError reasons met, in order (a records region may refuse some batches and not others). */
  readonly refusals: readonly string[];
  /** Array elements, string code units and copied bytes in the decoded values: what decoding allocated per byte. */
  readonly outputUnits: number;
  /** Bytes given to decompressors, and bytes they produced. */
  readonly compressedBytes: number;
  readonly decompressedBytes: number;
  readonly decompressions: number;
  /** Where two implementations of the same decoding disagreed (lz4: lz4-napi against the capped JS decoder). */
  readonly disagreements: readonly string[];
  /** A summary of the outcome, equal for the sync and async paths of the same input. */
  readonly fingerprint: string;
}

class Tally {
  decoded = false;
  readonly refusals: string[] = [];
  outputUnits = 0;
  compressedBytes = 0;
  decompressedBytes = 0;
  decompressions = 0;
  readonly fingerprint: string[] = [];
  readonly disagreements: string[] = [];

  refuse(error: unknown): void {
    if (!(error instanceof ProtocolError)) throw error;
    this.refusals.push(error.reason);
    // Corrupt data past the cap may be noticed as corrupt by one path and as too large by the other (the async
    // zlib path inflates chunk by chunk): both refuse it, which is all the comparison asks.
    const decompression = error.reason === 'decompression-failed' || error.reason === 'decompression-limit';
    this.fingerprint.push(`refused ${decompression ? 'decompression' : error.reason}`);
  }

  result(): OracleResult {
    return { ...this, fingerprint: this.fingerprint.join('; ') };
  }
}

/** Counts what a decoded message holds, and collects its `records` fields to decode them too. */
function measureMessage(value: unknown, input: Uint8Array, records: Uint8Array[]): number {
  let units = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') units += item.length;
    else if (item instanceof Uint8Array) {
      if (item.buffer !== input.buffer) units += item.byteLength;
    } else if (Array.isArray(item)) {
      units += item.length;
      for (const element of item) stack.push(element);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, field] of Object.entries(item)) {
        if (key === 'records' && field instanceof Uint8Array) records.push(field);
        stack.push(field);
      }
    }
  }
  return units;
}

/** Reads every record of a batch that needs no decompression (any more): every field, headers included. */
function readRecords(batch: DecodedBatch, tally: Tally, viaIterator: boolean): void {
  if (batch instanceof RecordBatch) {
    if (viaIterator) {
      for (const record of batch) {
        tally.outputUnits += 1;
        void record.offset;
        void record.timestamp;
        void record.timestampMillis;
        void record.key;
        void record.value;
        for (const header of record.headers()) tally.outputUnits += 1 + header.key.length;
      }
      return;
    }
    const cursor = batch.cursor();
    while (cursor.next()) {
      tally.outputUnits += 1;
      void cursor.offset;
      void cursor.timestamp;
      void cursor.timestampMillis;
      const key = cursor.key;
      void cursor.value;
      for (const header of cursor.headers()) tally.outputUnits += 1 + header.key.length;
      if (batch.isControl) decodeControlRecordKey(key);
    }
    void batch.lastOffset;
    void batch.nextOffset;
    void batch.deleteHorizonMs;
    return;
  }
  let bytes = 0;
  for (const record of batch as LegacyRecordBatch) {
    tally.outputUnits += 1;
    void record.offset;
    void record.timestamp;
    void record.timestampMillis;
    bytes += record.key?.length ?? 0;
    bytes += record.value?.length ?? 0;
    record.headers();
  }
  tally.fingerprint.push(`legacy ${bytes}`);
}

async function decompressBatch(batch: DecodedBatch, options: OracleOptions, tally: Tally): Promise<DecodedBatch> {
  const decompressOptions = { maxDecompressedBytes: options.cap, syncThresholdBytes: 0 };
  const compressedLength = batch instanceof RecordBatch ? batch.recordsBytes.length : batch.byteLength;
  tally.compressedBytes += compressedLength;
  tally.decompressions += 1;
  const readable = options.asynchronous
    ? await batch.decompress(decompressOptions)
    : batch.decompressSync(decompressOptions);
  if (readable instanceof RecordBatch) {
    const length = readable.recordsBytes.length;
    if (length > options.cap) throw new Error(`decompressed ${length} bytes past the cap of ${options.cap}`);
    tally.decompressedBytes += length;
    tally.fingerprint.push(`decompressed ${length}`);
  }
  return readable;
}

/** decodeRecords, then every batch decompressed (with the cap) and every record read. */
async function exerciseRecords(data: Uint8Array, options: OracleOptions, tally: Tally, viaIterator: boolean) {
  const decoded = decodeRecords(data, { checkCrcs: options.checkCrcs });
  if (decoded.bytesConsumed > data.length || decoded.truncated !== decoded.bytesConsumed < data.length) {
    throw new Error(
      `decodeRecords consumed ${decoded.bytesConsumed} of ${data.length} bytes, truncated ${decoded.truncated}`,
    );
  }
  tally.fingerprint.push(`${decoded.batches.length} batches`);
  for (const batch of decoded.batches) {
    try {
      const readable = batch.needsDecompression ? await decompressBatch(batch, options, tally) : batch;
      readRecords(readable, tally, viaIterator);
    } catch (error) {
      tally.refuse(error);
    }
  }
}

async function exerciseCompressed(
  compression: CompressionType,
  legacyLz4HeaderChecksum: boolean,
  data: Uint8Array,
  options: OracleOptions,
  tally: Tally,
): Promise<void> {
  const decompressOptions = { maxDecompressedBytes: options.cap, legacyLz4HeaderChecksum, syncThresholdBytes: 0 };
  tally.compressedBytes += data.length;
  tally.decompressions += 1;
  let output: Uint8Array;
  try {
    output = options.asynchronous
      ? await decompress(compression, data, decompressOptions)
      : decompressSync(compression, data, decompressOptions);
  } catch (error) {
    if (compression === 'lz4' && !options.asynchronous)
      compareWithJavaScriptLz4(data, legacyLz4HeaderChecksum, options, error, tally);
    throw error;
  }
  if (compression === 'lz4' && !options.asynchronous)
    compareWithJavaScriptLz4(data, legacyLz4HeaderChecksum, options, output, tally);
  if (output.length > options.cap)
    throw new Error(`decompressed ${output.length} bytes past the cap of ${options.cap}`);
  tally.decompressedBytes += output.length;
  tally.fingerprint.push(`decompressed ${output.length}`);
}

/**
 * Decodes lz4 input with the JavaScript decoder as well (the one the codec keeps for input whose bound exceeds the
 * cap) and records any difference from what `decompressSync` gave: the two must agree on what is valid lz4.
 */
function compareWithJavaScriptLz4(
  data: Uint8Array,
  legacyHeaderChecksum: boolean,
  options: OracleOptions,
  outcome: Uint8Array | unknown,
  tally: Tally,
): void {
  const location = { field: 'records', offset: -1 };
  let reference: Uint8Array | ProtocolError;
  try {
    const input = legacyHeaderChecksum ? withRepairedHeaderChecksum(data, location) : data;
    planLz4Frames(input, location);
    reference = decodeLz4FramesCapped(input, options.cap, location);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    reference = error;
  }
  const describe = (value: unknown): string =>
    value instanceof Uint8Array
      ? `${value.length} bytes`
      : value instanceof ProtocolError
        ? `refused (${value.message})`
        : String(value);
  const bothRefused = !(outcome instanceof Uint8Array) && reference instanceof ProtocolError;
  const sameBytes =
    outcome instanceof Uint8Array &&
    reference instanceof Uint8Array &&
    Buffer.from(outcome).equals(Buffer.from(reference));
  if (!bothRefused && !sameBytes) {
    tally.disagreements.push(`decompressSync: ${describe(outcome)}; JavaScript decoder: ${describe(reference)}`);
  }
}

/**
 * Runs one input through its target's decoder. Returns (a promise only on the async paths) when the decoder
 * succeeded or refused the input with a ProtocolError; throws whatever else came out.
 */
export async function runOracle(target: FuzzTarget, data: Uint8Array, options: OracleOptions): Promise<OracleResult> {
  const tally = new Tally();
  try {
    switch (target.kind) {
      case 'message': {
        const decoded =
          target.frameApi === null
            ? decodeMessage(target.codec, target.version, data)
            : decodeResponseFrame(target.frameApi, target.version, data);
        tally.decoded = true;
        const records: Uint8Array[] = [];
        tally.outputUnits += measureMessage(decoded, data, records);
        for (const region of records) {
          try {
            await exerciseRecords(region, options, tally, false);
          } catch (error) {
            tally.refuse(error);
          }
        }
        break;
      }
      case 'records':
        await exerciseRecords(data, options, tally, data.length % 2 === 0);
        tally.decoded = tally.refusals.length === 0;
        break;
      case 'compressed':
        await exerciseCompressed(target.compression, target.legacyLz4HeaderChecksum, data, options, tally);
        tally.decoded = true;
        break;
    }
  } catch (error) {
    tally.refuse(error);
  }
  return tally.result();
}
