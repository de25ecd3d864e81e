import * as zlib from 'node:zlib';
import type { CompressionType } from '@sluice/protocol';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import type { Fixture } from '../fixtures.ts';
import { batchesInFlight } from './sluice.ts';

// The reference for compressed rows: the batches' records sections decompressed by the very library calls Sluice
// makes (node:zlib gunzip and zstd, snappy, lz4-napi), with nothing else: no response, no batch header, no CRC, no
// records, no output cap, no joining of snappy's blocks. Two ways:
// - `bareDecompression`: the sync calls, one section after another on one thread. This is the codec's bare
//   decompression speed, the figure the "within 10 %" target is measured against.
// - `pipelinedBareDecompression`: the async calls (libuv's thread pool), with `batchesInFlight` sections in flight,
//   as Sluice's pipelined path sends them. On a machine with several cores this can beat one thread.

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** The raw snappy blocks of a xerial-framed section (found before timing: framing is not decompression). */
function snappyBlocks(section: Buffer): Buffer[] {
  if (!section.subarray(0, 8).equals(xerialMagic)) return [section];
  const blocks: Buffer[] = [];
  for (let position = 16; position < section.length; ) {
    const length = section.readInt32BE(position);
    blocks.push(section.subarray(position + 4, position + 4 + length));
    position += 4 + length;
  }
  return blocks;
}

/** Prepared inputs for one fixture; `run()` decompresses all of them and returns the bytes produced. */
export function bareDecompression(fixture: Fixture): () => number {
  const sections = fixture.compressedSections;
  return bareFunction(fixture.compression, sections);
}

function bareFunction(compression: CompressionType, sections: readonly Buffer[]): () => number {
  switch (compression) {
    case 'none':
      return () => 0;
    case 'gzip':
      return () => sum(sections, (section) => zlib.gunzipSync(section).length);
    case 'zstd':
      return () => sum(sections, (section) => zlib.zstdDecompressSync(section).length);
    case 'lz4':
      return () => sum(sections, (section) => lz4.decompressFrameSync(section).length);
    case 'snappy': {
      const blocks = sections.flatMap(snappyBlocks);
      return () => sum(blocks, (block) => (snappy.uncompressSync(block, { asBuffer: true }) as Buffer).length);
    }
  }
}

function sum(inputs: readonly Buffer[], decompress: (input: Buffer) => number): number {
  let total = 0;
  for (let index = 0; index < inputs.length; index++) total += decompress(inputs[index]!);
  return total;
}

type AsyncDecompress = (section: Buffer) => Promise<number>;

function zlibLength(
  inflate: (data: Buffer, callback: (error: Error | null, result: Buffer) => void) => void,
): AsyncDecompress {
  return (section) =>
    new Promise((resolve, reject) => {
      inflate(section, (error, result) => (error ? reject(error) : resolve(result.length)));
    });
}

/** One section in the thread pool, through the async call Sluice's `decompress` makes for this codec. */
function asyncFunction(compression: CompressionType): AsyncDecompress {
  switch (compression) {
    case 'none':
      return async () => 0;
    case 'gzip':
      return zlibLength(zlib.gunzip);
    case 'zstd':
      return zlibLength(zlib.zstdDecompress);
    case 'lz4':
      return async (section) => (await lz4.decompressFrame(section)).length;
    case 'snappy':
      // Sluice sends every xerial block of a batch to the pool at once (Promise.all) and does the same here.
      return async (section) => {
        const parts = await Promise.all(
          snappyBlocks(section).map((block) => snappy.uncompress(block, { asBuffer: true }) as Promise<Buffer>),
        );
        let total = 0;
        for (const part of parts) total += part.length;
        return total;
      };
  }
}

/**
 * Prepared inputs for one fixture; `run()` decompresses all sections in libuv's thread pool, `inFlight` at a time
 * (a new one starts as soon as the oldest is done, in order, as the pipelined Sluice path does), and resolves to
 * the bytes produced.
 */
export function pipelinedBareDecompression(
  fixture: Fixture,
  inFlight: number = batchesInFlight,
): () => Promise<number> {
  const sections = fixture.compressedSections;
  const decompress = asyncFunction(fixture.compression);
  return async () => {
    const pending: Promise<number>[] = [];
    let next = 0;
    while (next < sections.length && pending.length < inFlight) pending.push(decompress(sections[next++]!));
    let total = 0;
    while (pending.length > 0) {
      total += await pending.shift()!;
      if (next < sections.length) pending.push(decompress(sections[next++]!));
    }
    return total;
  };
}
