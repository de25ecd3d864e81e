import { describe, expect, it } from 'vitest';
import { decompressSync } from '../../src/compression/index.ts';
import { ProtocolError } from '../../src/errors.ts';
import { Reader } from '../../src/primitives/reader.ts';
import { decodeRecords, type LegacyRecordBatch } from '../../src/records/index.ts';
import { fromHex } from './hex.ts';

// Inputs the fuzzer found, kept as regression tests. A bug found and not fixed yet is marked `it.fails` (and listed
// in known-issues.ts); every one found so far is fixed.

/** What decompressSync makes of lz4 input: the text, or the ProtocolError reason. */
function lz4Outcome(hex: string, maxDecompressedBytes: number): string {
  try {
    return Buffer.from(decompressSync('lz4', fromHex(hex), { maxDecompressedBytes })).toString('latin1');
  } catch (error) {
    if (error instanceof ProtocolError) return `refused: ${error.reason}`;
    throw error;
  }
}

// With a generous cap the frames' bound (64 KiB a block) fits and lz4-napi decodes them; with a cap of 64 bytes
// the bound does not, and the codec's JavaScript decoder does. The same bytes must give the same answer.
const generousCap = 1 << 20;
const smallCap = 64;

describe('fuzz regressions', () => {
  it('lz4 native path: a block that decodes to nothing ends the frame, dropping the blocks after it', () => {
    // One frame (FLG 0x60, BD 0x40): a compressed block holding one empty token, then a block "hello", end mark.
    const frame = '04224d18604082' + '0100000000' + '060000005068656c6c6f' + '00000000';
    expect(lz4Outcome(frame, smallCap)).toBe('hello');
    expect(lz4Outcome(frame, generousCap)).toBe(lz4Outcome(frame, smallCap)); // lz4-napi gives '' today
  });

  it('lz4 native path: only the first of several concatenated frames is decoded', () => {
    const frame = '04224d18604082' + '060000005068656c6c6f' + '00000000';
    expect(lz4Outcome(frame + frame, smallCap)).toBe('hellohello');
    expect(lz4Outcome(frame + frame, generousCap)).toBe(lz4Outcome(frame + frame, smallCap)); // 'hello' today
  });

  it('lz4 native path: a legacy v1 wrapper of two lz4 frames loses its second message and shifts the first', () => {
    // Wrapper at offset 1 whose value is two frames of one stored block each: the inner messages "first" (relative
    // offset 0) and "second" (1). Today the decode yields only "first", at offset 1: a record lost, silently.
    const wrapper =
      '000000000000000100000083e4ad936901030000000000000001ffffffff0000006d' +
      '04224d186040822700008000000000000000000000001b80c91e6201000000000000000001ffffffff0000000566697273740000000' +
      '004224d186040822800008000000000000000010000001cd156772701000000000000000001ffffffff000000067365636f6e640000' +
      '0000';
    const batch = decodeRecords(fromHex(wrapper)).batches[0] as LegacyRecordBatch;
    let outcome: string[];
    try {
      outcome = [...batch.decompressSync({ maxDecompressedBytes: generousCap })].map(
        (record) => `${record.offset}:${Buffer.from(record.value!).toString()}`,
      );
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      outcome = ['refused'];
    }
    // Either both messages at their offsets, or a refusal; never one message at the other's offset.
    expect([['0:first', '1:second'], ['refused']]).toContainEqual(outcome);
  });

  it('Reader.rawBytes with a negative length throws RangeError (after moving the offset back), not ProtocolError', () => {
    // No generated decoder calls rawBytes with a wire length today, but Reader is public API and every other
    // length-taking method refuses a negative length with ProtocolError 'negative-length'.
    const reader = new Reader(new Uint8Array(4), { offset: 2 });
    expect(() => reader.rawBytes(-1, 'Example.raw')).toThrow(ProtocolError);
    expect(reader.offset).toBe(2);
  });
});
