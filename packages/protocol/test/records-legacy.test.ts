import * as zlib from 'node:zlib';
import * as lz4 from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { type CompressionType, compressionTypeId, compressSync } from '../src/compression/index.ts';
import { xxhash32 } from '../src/compression/xxhash32.ts';
import { ProtocolError } from '../src/errors.ts';
import {
  type DecodedBatch,
  decodeRecords,
  encodeRecordBatchSync,
  LegacyRecordBatch,
  RecordBatch,
} from '../src/records/index.ts';

const text = (value: string) => new TextEncoder().encode(value);
const limit = { maxDecompressedBytes: 1 << 20 };

interface LegacyMessageInput {
  readonly offset: bigint;
  readonly magic: 0 | 1;
  readonly compression?: CompressionType;
  readonly logAppendTime?: boolean;
  readonly timestamp?: bigint;
  readonly key?: Uint8Array | null;
  readonly value?: Uint8Array | null;
}

/** Writes a v0/v1 message from the documented layout; the CRC comes from node:zlib, not the code under test. */
function legacyMessage(input: LegacyMessageInput): Buffer {
  const attributes = compressionTypeId(input.compression ?? 'none') | (input.logAppendTime ? 0x08 : 0);
  const parts: Buffer[] = [Buffer.from([input.magic, attributes])];
  if (input.magic === 1) {
    const timestamp = Buffer.alloc(8);
    timestamp.writeBigInt64BE(input.timestamp ?? -1n);
    parts.push(timestamp);
  }
  for (const field of [input.key ?? null, input.value ?? null]) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(field === null ? -1 : field.length);
    parts.push(length);
    if (field !== null) parts.push(Buffer.from(field));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(16);
  head.writeBigInt64BE(input.offset, 0);
  head.writeInt32BE(body.length + 4, 8);
  head.writeUInt32BE(zlib.crc32(body), 12);
  return Buffer.concat([head, body]);
}

function wrapper(outer: Omit<LegacyMessageInput, 'value' | 'key'>, inner: Buffer[], compressed?: Uint8Array): Buffer {
  const value = compressed ?? compressSync(outer.compression!, Buffer.concat(inner));
  return legacyMessage({ ...outer, key: null, value });
}

function only(bytes: Uint8Array, options = {}): LegacyRecordBatch {
  const { batches, truncated } = decodeRecords(bytes, options);
  expect(truncated).toBe(false);
  expect(batches).toHaveLength(1);
  expect(batches[0]).toBeInstanceOf(LegacyRecordBatch);
  return batches[0] as LegacyRecordBatch;
}

function describeRecords(batch: DecodedBatch) {
  return [...batch.decompressSync(limit)].map((record) => ({
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : Buffer.from(record.key).toString(),
    value: record.value === null ? null : Buffer.from(record.value).toString(),
  }));
}

function expectReason(run: () => unknown, reason: string): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).reason).toBe(reason);
    return;
  }
  throw new Error(`expected ProtocolError ${reason}`);
}

describe('legacy byte layout', () => {
  it('decodes a hand-written v0 message', () => {
    // offset 5, size 16, crc, magic 0, attributes 0, key null, value "hi".
    const bytes = Buffer.from(
      '0000000000000005' + '00000010' + '00000000' + '00' + '00' + 'ffffffff' + '00000002' + '6869',
      'hex',
    );
    bytes.writeUInt32BE(zlib.crc32(bytes.subarray(16)), 12);
    expect(bytes.equals(legacyMessage({ offset: 5n, magic: 0, value: text('hi') }))).toBe(true);
    const batch = only(bytes);
    expect(batch).toMatchObject({ magic: 0, offset: 5n, compression: 'none', timestampType: 'none', timestamp: -1n });
    expect(describeRecords(batch)).toEqual([{ offset: 5n, timestamp: -1n, key: null, value: 'hi' }]);
  });
});

describe('legacy messages', () => {
  it('reads v1 timestamps of both types', () => {
    const set = Buffer.concat([
      legacyMessage({ offset: 0n, magic: 1, timestamp: 1234n, key: text('k'), value: text('v') }),
      legacyMessage({ offset: 1n, magic: 1, timestamp: 5678n, logAppendTime: true, value: null }),
    ]);
    const { batches } = decodeRecords(set);
    expect(batches.map((batch) => (batch as LegacyRecordBatch).timestampType)).toEqual([
      'create-time',
      'log-append-time',
    ]);
    expect(batches.flatMap(describeRecords)).toEqual([
      { offset: 0n, timestamp: 1234n, key: 'k', value: 'v' },
      { offset: 1n, timestamp: 5678n, key: null, value: null },
    ]);
    const record = [...batches[0]!][0]!;
    expect(record.headers()).toEqual([]);
    expect(record.key!.buffer).toBe(set.buffer);
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)(
    'v1 %s wrapper: relative inner offsets become absolute',
    (compression) => {
      const inner = [0, 1, 2].map((index) =>
        legacyMessage({ offset: BigInt(index), magic: 1, timestamp: 1000n + BigInt(index), value: text(`m${index}`) }),
      );
      const batch = only(wrapper({ offset: 102n, magic: 1, compression, timestamp: 1002n }, inner));
      expect(batch.needsDecompression).toBe(true);
      expect(batch.lastOffset).toBe(102n);
      expect(describeRecords(batch)).toEqual([
        { offset: 100n, timestamp: 1000n, key: null, value: 'm0' },
        { offset: 101n, timestamp: 1001n, key: null, value: 'm1' },
        { offset: 102n, timestamp: 1002n, key: null, value: 'm2' },
      ]);
    },
  );

  it('v1 wrapper with log-append time gives every inner record the wrapper timestamp', async () => {
    const inner = [0, 1].map((index) =>
      legacyMessage({ offset: BigInt(index), magic: 1, timestamp: 1n, value: text('x') }),
    );
    const batch = only(
      wrapper({ offset: 11n, magic: 1, compression: 'gzip', timestamp: 999n, logAppendTime: true }, inner),
    );
    const plain = await batch.decompress({ ...limit, syncThresholdBytes: 0 });
    expect([...plain].map((record) => [record.offset, record.timestamp, record.timestampType])).toEqual([
      [10n, 999n, 'log-append-time'],
      [11n, 999n, 'log-append-time'],
    ]);
  });

  it('v0 wrapper: inner offsets are absolute', () => {
    const inner = [50n, 51n].map((offset) => legacyMessage({ offset, magic: 0, value: text(`o${offset}`) }));
    const batch = only(wrapper({ offset: 51n, magic: 0, compression: 'snappy' }, inner));
    expect(describeRecords(batch).map((record) => [record.offset, record.value])).toEqual([
      [50n, 'o50'],
      [51n, 'o51'],
    ]);
  });

  it('v0 lz4 wrapper with the pre-KIP-57 header checksum', () => {
    const inner = [legacyMessage({ offset: 7n, magic: 0, value: text('old') })];
    const frame = Buffer.from(lz4.compressFrameSync(Buffer.concat(inner)));
    frame[6] = (xxhash32(frame, 0, 6) >>> 8) & 0xff; // checksum over magic + descriptor, as Kafka 0.8 wrote it
    const batch = only(wrapper({ offset: 7n, magic: 0, compression: 'lz4' }, inner, frame));
    expect(describeRecords(batch)).toEqual([{ offset: 7n, timestamp: -1n, key: null, value: 'old' }]);
  });

  it('a region may mix legacy messages and v2 batches', () => {
    const region = Buffer.concat([
      legacyMessage({ offset: 0n, magic: 1, timestamp: 1n, value: text('old') }),
      encodeRecordBatchSync({ baseOffset: 1n, records: [{ value: text('new') }] }),
    ]);
    const { batches } = decodeRecords(region);
    expect(batches[0]).toBeInstanceOf(LegacyRecordBatch);
    expect(batches[1]).toBeInstanceOf(RecordBatch);
    expect(batches.flatMap(describeRecords).map((record) => record.value)).toEqual(['old', 'new']);
  });
});

describe('legacy errors', () => {
  const plain = legacyMessage({ offset: 0n, magic: 1, timestamp: 5n, key: text('key'), value: text('value') });

  it('detects a CRC mismatch when checking and ignores it when not', () => {
    const bad = Buffer.from(plain);
    bad[bad.length - 1]! ^= 1;
    expectReason(() => decodeRecords(bad), 'crc-mismatch');
    expect(describeRecords(only(bad, { checkCrcs: false }))[0]!.value).toBe('valud');
  });

  it('checks inner CRCs too', () => {
    const inner = legacyMessage({ offset: 0n, magic: 1, timestamp: 1n, value: text('x') });
    inner[inner.length - 1]! ^= 1;
    const batch = only(wrapper({ offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n }, [inner]));
    expectReason(() => batch.decompressSync(limit), 'crc-mismatch');
    const unchecked = only(wrapper({ offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n }, [inner]), {
      checkCrcs: false,
    });
    expect(describeRecords(unchecked)).toHaveLength(1);
  });

  it('refuses bad key lengths', () => {
    const negative = Buffer.from(plain);
    negative.writeInt32BE(-2, 26);
    expectReason(() => decodeRecords(negative, { checkCrcs: false }), 'negative-length');
    const huge = Buffer.from(plain);
    huge.writeInt32BE(0x7fffffff, 26);
    expectReason(() => decodeRecords(huge, { checkCrcs: false }), 'length-too-large');
  });

  it('refuses a message size that disagrees with its fields', () => {
    const padded = Buffer.concat([plain, Buffer.from([0])]);
    padded.writeInt32BE(plain.length - 12 + 1, 8);
    expectReason(() => decodeRecords(padded, { checkCrcs: false }), 'invalid-value');
  });

  it('refuses nested compression and mismatched inner magic', () => {
    const nested = wrapper({ offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n }, [
      wrapper({ offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n }, [plain]),
    ]);
    expectReason(() => only(nested).decompressSync(limit), 'invalid-value');
    const mixed = wrapper({ offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n }, [
      legacyMessage({ offset: 0n, magic: 0, value: text('x') }),
    ]);
    expectReason(() => only(mixed).decompressSync(limit), 'invalid-value');
  });

  it('refuses a truncated inner message set and relative offsets below zero', () => {
    const inner = legacyMessage({ offset: 0n, magic: 1, timestamp: 1n, value: text('x') });
    const cut = wrapper(
      { offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n },
      [],
      compressSync('gzip', inner.subarray(0, 20)),
    );
    expectReason(() => only(cut).decompressSync(limit), 'truncated');
    const twoInner = [0n, 5n].map((offset) => legacyMessage({ offset, magic: 1, timestamp: 1n, value: text('x') }));
    expectReason(
      () => only(wrapper({ offset: 2n, magic: 1, compression: 'gzip', timestamp: 1n }, twoInner)).decompressSync(limit),
      'invalid-value',
    );
  });

  it('requires decompression before iterating a wrapper, and applies the limit', () => {
    const batch = only(wrapper({ offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n }, [plain]));
    expectReason(() => [...batch], 'invalid-value');
    expectReason(() => batch.decompressSync({ maxDecompressedBytes: 10 }), 'decompression-limit');
  });

  it('refuses a wrapper with a null value', () => {
    const batch = only(legacyMessage({ offset: 0n, magic: 1, compression: 'gzip', timestamp: 1n, value: null }));
    expectReason(() => batch.decompressSync(limit), 'invalid-value');
  });
});
