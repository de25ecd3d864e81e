import { bareDecompression } from './decoders/bare-decompression.ts';
import type { Checksum, DecoderUnderTest } from './decoders/decoder.ts';
import type { Fixture } from './fixtures.ts';

/**
 * Decodes the fixture once with every decoder and fails unless all of them saw the same records: same count, same
 * key and value bytes (hashed), same offsets, timestamps and header counts. Also checks that bare decompression
 * produces exactly the fixture's records sections. Returns each decoder's checksum, by id.
 */
export async function verifyFixture(
  fixture: Fixture,
  decoders: readonly DecoderUnderTest[],
): Promise<Record<string, Checksum>> {
  const checksums: Record<string, Checksum> = {};
  let reference: { id: string; text: string } | undefined;
  for (const decoder of decoders) {
    if (decoder.unsupported(fixture.compression) !== undefined) continue;
    const checksum = await decoder.checksum(fixture);
    checksums[decoder.id] = checksum;
    const text = JSON.stringify(checksum);
    if (checksum.records !== fixture.records) {
      throw new Error(`${decoder.id} decoded ${checksum.records} records of ${fixture.records}`);
    }
    if (reference === undefined) reference = { id: decoder.id, text };
    else if (text !== reference.text) {
      throw new Error(`${decoder.id} disagrees with ${reference.id}: ${text} versus ${reference.text}`);
    }
  }
  if (fixture.compression !== 'none') {
    const produced = bareDecompression(fixture)();
    if (produced !== fixture.recordsSectionBytes) {
      throw new Error(`bare decompression produced ${produced} bytes, not ${fixture.recordsSectionBytes}`);
    }
  }
  return checksums;
}
