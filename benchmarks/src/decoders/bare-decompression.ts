import * as zlib from 'node:zlib';
import type { CompressionType } from '@sluice/protocol';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import type { Fixture } from '../fixtures.ts';

// The floor for compressed rows: the batches' records sections decompressed by the very library calls Sluice
// makes (node:zlib gunzip and zstd, snappy, lz4-napi), synchronously, with nothing else: no response, no batch
// header, no CRC, no records, no output cap, no joining of snappy's blocks.

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
