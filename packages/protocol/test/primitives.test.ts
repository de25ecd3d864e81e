import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.ts';
import { Reader } from '../src/primitives/reader.ts';
import { uuidFromBytes, ZERO_UUID } from '../src/primitives/uuid.ts';
import { unsignedVarintSize, Writer } from '../src/primitives/writer.ts';

const FIELD = 'Test.field';

function written(write: (writer: Writer) => void): Uint8Array {
  const writer = new Writer({ initialCapacity: 16 });
  write(writer);
  return writer.finish();
}

function reasonOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof ProtocolError) return error.reason;
    throw error;
  }
  return 'no error';
}

/** Every primitive: how to write it, read it, and values to try. */
const primitives = [
  { name: 'int8', arbitrary: fc.integer({ min: -128, max: 127 }) },
  { name: 'int16', arbitrary: fc.integer({ min: -32768, max: 32767 }) },
  { name: 'uint16', arbitrary: fc.integer({ min: 0, max: 65535 }) },
  { name: 'int32', arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
  { name: 'uint32', arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }) },
  { name: 'int64', arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
  { name: 'varint', arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
  { name: 'varlong', arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
  { name: 'unsignedVarint', arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }) },
  { name: 'float64', arbitrary: fc.double() },
  { name: 'boolean', arbitrary: fc.boolean() },
  { name: 'uuid', arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(uuidFromBytes) },
  { name: 'string', arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { name: 'nullableString', arbitrary: fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }), { nil: null }) },
  { name: 'compactString', arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
  {
    name: 'compactNullableString',
    arbitrary: fc.option(fc.string({ unit: 'grapheme', maxLength: 60 }), { nil: null }),
  },
  { name: 'bytes', arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { name: 'nullableBytes', arbitrary: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null }) },
  { name: 'compactBytes', arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { name: 'compactNullableBytes', arbitrary: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null }) },
] as const;

type Method = (value: unknown, field: string) => void;
type ReadMethod = (field: string) => unknown;

function writeOne(name: string, value: unknown): Uint8Array {
  return written((writer) => (writer[name as keyof Writer] as Method).call(writer, value, FIELD));
}

function readOne(name: string, bytes: Uint8Array): { value: unknown; reader: Reader } {
  const reader = new Reader(bytes);
  const value = (reader[name as keyof Reader] as ReadMethod).call(reader, FIELD);
  return { value, reader };
}

describe('Reader and Writer round trips', () => {
  for (const primitive of primitives) {
    it(`${primitive.name} round-trips and refuses every truncation with a ProtocolError`, () => {
      fc.assert(
        fc.property(primitive.arbitrary as fc.Arbitrary<unknown>, (value) => {
          const bytes = writeOne(primitive.name, value);
          const { value: decoded, reader } = readOne(primitive.name, bytes);
          expect(decoded).toEqual(value);
          expect(reader.remaining).toBe(0);
          for (let length = 0; length < bytes.length; length++) {
            expect(reasonOf(() => readOne(primitive.name, bytes.subarray(0, length)))).toMatch(
              /^(truncated|length-too-large)$/,
            );
          }
        }),
        { numRuns: 200 },
      );
    });
  }

  it('int64 and varlong hold the extremes', () => {
    for (const value of [0n, -1n, 1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 49n, -(2n ** 49n) - 1n]) {
      expect(readOne('int64', writeOne('int64', value)).value).toBe(value);
      expect(readOne('varlong', writeOne('varlong', value)).value).toBe(value);
    }
    expect(writeOne('varlong', -(2n ** 63n)).length).toBe(10);
  });

  it('varints take the sizes Kafka gives them at every boundary', () => {
    const boundaries: [number, number][] = [
      [0, 1],
      [63, 1],
      [-64, 1],
      [64, 2],
      [-65, 2],
      [8191, 2],
      [8192, 3],
      [2 ** 31 - 1, 5],
      [-(2 ** 31), 5],
    ];
    for (const [value, size] of boundaries) {
      const bytes = writeOne('varint', value);
      expect(bytes.length).toBe(size);
      expect(readOne('varint', bytes).value).toBe(value);
    }
    for (const value of [0, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1]) {
      const bytes = writeOne('unsignedVarint', value);
      expect(bytes.length).toBe(unsignedVarintSize(value));
      expect(readOne('unsignedVarint', bytes).value).toBe(value);
    }
  });

  it('refuses varints of 6 to 10 bytes and varlongs of 11', () => {
    for (let length = 6; length <= 10; length++) {
      const bytes = new Uint8Array(length).fill(0x80);
      bytes[length - 1] = 0x01;
      expect(reasonOf(() => readOne('varint', bytes))).toBe('varint-too-long');
      expect(reasonOf(() => readOne('unsignedVarint', bytes))).toBe('varint-too-long');
    }
    // A fifth byte carrying bits above 32.
    expect(reasonOf(() => readOne('unsignedVarint', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x10)))).toBe(
      'varint-too-long',
    );
    const eleven = new Uint8Array(11).fill(0x80);
    eleven[10] = 0x01;
    expect(reasonOf(() => readOne('varlong', eleven))).toBe('varint-too-long');
    // A tenth byte carrying bits above 64.
    const tenth = new Uint8Array(10).fill(0xff);
    tenth[9] = 0x02;
    expect(reasonOf(() => readOne('varlong', tenth))).toBe('varint-too-long');
  });

  it('checks counts and lengths against the bytes that remain before allocating', () => {
    const huge = Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    expect(reasonOf(() => new Reader(huge).arrayCount(FIELD))).toBe('length-too-large');
    expect(reasonOf(() => new Reader(huge).bytes(FIELD))).toBe('length-too-large');
    expect(reasonOf(() => new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x07)).compactArrayCount(FIELD))).toBe(
      'length-too-large',
    );
    // Four int32s need 16 bytes: 10 are not enough even though the count is below 10.
    const four = Uint8Array.of(0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    expect(reasonOf(() => new Reader(four).arrayCount(FIELD, 4))).toBe('length-too-large');
    expect(new Reader(four).arrayCount(FIELD, 1)).toBe(4);
    expect(reasonOf(() => new Reader(Uint8Array.of(0xff, 0xfe)).nullableString(FIELD))).toBe('negative-length');
    expect(reasonOf(() => new Reader(Uint8Array.of(0xff, 0xff)).string(FIELD))).toBe('negative-length');
    expect(reasonOf(() => new Reader(Uint8Array.of(0)).compactString(FIELD))).toBe('negative-length');
    expect(reasonOf(() => new Reader(Uint8Array.of(0x80, 0x80, 0x02, 0)).compactString(FIELD))).toBe(
      'length-too-large',
    );
  });

  it('names the field and the byte offset in its errors', () => {
    const reader = new Reader(Uint8Array.of(1, 2, 3));
    reader.int8(FIELD);
    try {
      reader.int32('MetadataResponse.brokers[].port');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      const protocolError = error as ProtocolError;
      expect(protocolError.field).toBe('MetadataResponse.brokers[].port');
      expect(protocolError.offset).toBe(1);
      expect(protocolError.message).toContain('MetadataResponse.brokers[].port at byte 1');
    }
  });

  it('returns bytes as views into the input, never copies', () => {
    const frame = Uint8Array.of(0, 0, 0, 3, 7, 8, 9, 4, 1, 2, 3);
    const reader = new Reader(frame);
    const bytes = reader.bytes(FIELD);
    const compact = reader.compactBytes(FIELD);
    expect(bytes.buffer).toBe(frame.buffer);
    expect(compact.buffer).toBe(frame.buffer);
    expect(bytes.byteOffset).toBe(4);
    frame[4] = 42;
    expect(bytes[0]).toBe(42);
    expect([...compact]).toEqual([1, 2, 3]);
  });

  it('reads within an offset..end region only', () => {
    const bytes = Uint8Array.of(9, 0, 0, 0, 5, 9);
    const reader = new Reader(bytes, { offset: 1, end: 5 });
    expect(reader.int32(FIELD)).toBe(5);
    expect(reasonOf(() => reader.int8(FIELD))).toBe('truncated');
    expect(() => new Reader(bytes, { offset: 4, end: 7 })).toThrow(RangeError);
  });

  it('reads booleans as Kafka does: any nonzero byte is true', () => {
    expect(new Reader(Uint8Array.of(2)).boolean(FIELD)).toBe(true);
    expect(new Reader(Uint8Array.of(0)).boolean(FIELD)).toBe(false);
  });

  it("spells UUIDs as Kafka's Uuid.toString does", () => {
    expect(readOne('uuid', new Uint8Array(16)).value).toBe(ZERO_UUID);
    const bytes = Uint8Array.from({ length: 16 }, (_, index) => index * 16 + index);
    expect(readOne('uuid', bytes).value).toBe(Buffer.from(bytes).toString('base64url'));
    expect(reasonOf(() => writeOne('uuid', 'not-a-uuid'))).toBe('invalid-value');
    // 22 characters whose last one carries bits beyond the 128.
    expect(reasonOf(() => writeOne('uuid', 'AAAAAAAAAAAAAAAAAAAAAB'))).toBe('invalid-value');
  });

  it('decodes malformed UTF-8 leniently, like Kafka', () => {
    expect(new Reader(Uint8Array.of(0, 2, 0xc3, 0x28)).string(FIELD)).toBe('\ufffd(');
  });

  it('refuses strings over 32767 bytes and values the wire cannot carry', () => {
    expect(reasonOf(() => writeOne('string', 'x'.repeat(32768)))).toBe('length-too-large');
    expect(reasonOf(() => writeOne('compactString', 'é'.repeat(20000)))).toBe('length-too-large');
    expect(writeOne('compactString', 'x'.repeat(32767)).length).toBe(32767 + 3);
    expect(reasonOf(() => writeOne('int32', 2 ** 31))).toBe('invalid-value');
    expect(reasonOf(() => writeOne('int32', 1.5))).toBe('invalid-value');
    expect(reasonOf(() => writeOne('int16', 40000))).toBe('invalid-value');
    expect(reasonOf(() => writeOne('int64', 1))).toBe('invalid-value');
    expect(reasonOf(() => writeOne('int64', 2n ** 63n))).toBe('invalid-value');
    expect(reasonOf(() => writeOne('string', null))).toBe('invalid-value');
    expect(reasonOf(() => writeOne('bytes', undefined))).toBe('invalid-value');
  });

  it('writes compact strings of any length with the right prefix', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 30, maxLength: 300 }), (value) => {
        const bytes = writeOne('compactString', value);
        const length = Buffer.byteLength(value);
        expect(bytes.length).toBe(unsignedVarintSize(length + 1) + length);
        expect(readOne('compactString', bytes).value).toBe(value);
      }),
    );
  });

  it('sizes a region after writing it (tagged field values)', () => {
    for (const size of [0, 1, 127, 128, 20000]) {
      const bytes = written((writer) => {
        writer.int8(5, FIELD);
        const start = writer.beginSized();
        writer.rawBytes(new Uint8Array(size).fill(7), FIELD);
        writer.endSized(start);
        writer.int8(6, FIELD);
      });
      const reader = new Reader(bytes);
      expect(reader.int8(FIELD)).toBe(5);
      const outerEnd = reader.enterTaggedField(FIELD);
      expect(reader.remaining).toBe(size);
      reader.rawBytes(size, FIELD);
      reader.leaveTaggedField(outerEnd, FIELD);
      expect(reader.int8(FIELD)).toBe(6);
    }
  });

  it('refuses a tagged field whose value does not fill its declared size', () => {
    const reader = new Reader(Uint8Array.of(3, 0, 0, 0, 1));
    const outerEnd = reader.enterTaggedField(FIELD);
    reader.int8(FIELD);
    expect(reasonOf(() => reader.leaveTaggedField(outerEnd, FIELD))).toBe('invalid-value');
    // And a value cannot read past its size into what follows.
    const bounded = new Reader(Uint8Array.of(1, 0, 0, 0, 1));
    bounded.enterTaggedField(FIELD);
    expect(reasonOf(() => bounded.int32(FIELD))).toBe('truncated');
  });

  it('refuses tagged-field counts the bytes cannot hold', () => {
    expect(reasonOf(() => new Reader(Uint8Array.of(3, 0, 0, 0, 0)).taggedFieldCount(FIELD))).toBe('length-too-large');
    expect(new Reader(Uint8Array.of(2, 0, 0, 0, 0)).taggedFieldCount(FIELD)).toBe(2);
  });

  it('grows its buffer and keeps what was written', () => {
    const writer = new Writer({ initialCapacity: 16 });
    for (let index = 0; index < 1000; index++) writer.int32(index, FIELD);
    const reader = new Reader(writer.finish());
    for (let index = 0; index < 1000; index++) expect(reader.int32(FIELD)).toBe(index);
  });
});
