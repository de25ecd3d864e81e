import { describe, expect, it } from 'vitest';
import { bareDecompression, pipelinedBareDecompression } from '../src/decoders/bare-decompression.ts';
import { checkTally } from '../src/decoders/decoder.ts';
import { kafkajsDecoder, registerKafkajsCodecs } from '../src/decoders/kafkajs.ts';
import { platformaticDecoder } from '../src/decoders/platformatic.ts';
import { pipelinedBatches, sluiceDecoder, sluicePipelinedDecoder } from '../src/decoders/sluice.ts';
import { buildFixture, compressionTypes } from '../src/fixtures.ts';
import { verifyFixture } from '../src/verify.ts';

// Keeps `pnpm bench:decode` honest: on a small fixture, every decoder it times must read every record, and all must
// read the same ones. A peer upgrade that changes an internal path, or a decoder that stops touching records, fails
// here instead of producing a flattering table.
const decoders = [
  sluiceDecoder(true),
  sluiceDecoder(false),
  sluicePipelinedDecoder,
  kafkajsDecoder,
  platformaticDecoder,
];
registerKafkajsCodecs();

describe('bench:decode fixtures', () => {
  for (const compression of compressionTypes) {
    it(`every decoder reads the same records (${compression})`, async () => {
      const fixture = buildFixture(
        { valueSize: 100, partitions: 2, batchesPerPartition: 2, recordsPerBatch: 25 },
        compression,
      );
      expect(fixture.records).toBe(100);
      const checksums = await verifyFixture(fixture, decoders);
      const expected = ['kafkajs', 'platformatic', 'sluice', 'sluiceNoCrc'];
      if (compression !== 'none') expected.push('sluicePipelined');
      expect(Object.keys(checksums).sort()).toEqual(expected.sort());
      expect(checksums.sluice?.headers).toBe(200);
      for (const decoder of decoders) {
        if (decoder.unsupported(compression) === undefined) {
          checkTally(decoder.id, fixture, await decoder.tally(fixture));
        }
      }
      if (compression !== 'none') {
        expect(bareDecompression(fixture)()).toBe(fixture.recordsSectionBytes);
        expect(await pipelinedBareDecompression(fixture)()).toBe(fixture.recordsSectionBytes);
      }
    });
  }

  it('builds 1 KB and 10 KB records of the exact size', async () => {
    for (const valueSize of [1000, 10_000]) {
      const fixture = buildFixture({ valueSize, partitions: 1, batchesPerPartition: 1, recordsPerBatch: 3 }, 'zstd');
      await verifyFixture(fixture, decoders);
      for (const decoder of decoders) checkTally(decoder.id, fixture, await decoder.tally(fixture));
    }
  });

  it('pipelines batches in wire order, whatever order the pool finishes them in', async () => {
    const fixture = buildFixture(
      { valueSize: 100, partitions: 3, batchesPerPartition: 3, recordsPerBatch: 7 },
      'snappy',
    );
    for (const inFlight of [1, 2, 4, 16]) {
      const baseOffsets: bigint[] = [];
      for await (const batch of pipelinedBatches(fixture.body, true, inFlight)) {
        expect(batch.needsDecompression).toBe(false);
        baseOffsets.push(batch.baseOffset);
      }
      expect(baseOffsets).toEqual(
        [1n, 2n, 3n].flatMap((partition) => [0n, 7n, 14n].map((delta) => 1_000_000n * partition + delta)),
      );
    }
  });

  it('passes a failed decompression on in its turn, with no unhandled rejection', async () => {
    const fixture = buildFixture({ valueSize: 100, partitions: 1, batchesPerPartition: 4, recordsPerBatch: 5 }, 'zstd');
    const body = Buffer.from(fixture.body);
    // Corrupt the last byte of the last batch's records section: CRC off, so only the codec can notice.
    body[body.length - 1]! ^= 0xff;
    const seen: bigint[] = [];
    await expect(async () => {
      for await (const batch of pipelinedBatches(body, false, 4)) seen.push(batch.baseOffset);
    }).rejects.toThrow(/zstd/);
    expect(seen.length).toBe(3);
  });

  it('refuses a tally that skipped records', () => {
    const fixture = buildFixture({ valueSize: 100, partitions: 1, batchesPerPartition: 1, recordsPerBatch: 5 }, 'none');
    const tally = { records: 4, keyBytes: 0, valueBytes: 400, lastOffset: '0', lastTimestamp: '0' };
    expect(() => checkTally('skipper', fixture, tally)).toThrow(/skipper read 4 records/);
  });
});
