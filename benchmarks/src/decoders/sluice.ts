import { decodeRecords, decodeResponse, fetchApi, RecordBatch } from '@sluice/protocol';
import { fetchVersion } from '../fixtures.ts';
import { type Checksum, type DecoderUnderTest, emptyChecksum, hashBytes, type Tally } from './decoder.ts';

// Far above any batch here; Sluice requires a cap on every decompression.
const maxDecompressedBytes = 64 * 1024 * 1024;

/** The batches of a Fetch response body, decompressed on the calling thread, in wire order. */
function* readableBatches(body: Uint8Array, checkCrcs: boolean): Generator<RecordBatch> {
  const response = decodeResponse(fetchApi, fetchVersion, body);
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      if (partition.records === null) continue;
      for (const batch of decodeRecords(partition.records, { checkCrcs }).batches) {
        if (!(batch instanceof RecordBatch)) throw new Error('the fixtures hold only v2 record batches');
        yield batch.needsDecompression ? batch.decompressSync({ maxDecompressedBytes }) : batch;
      }
    }
  }
}

/**
 * Sluice's whole consumer path: the Fetch response codec, batch headers (and CRC-32C when `checkCrcs`),
 * decompression, then a cursor over every record reading offset, timestamp, key and value.
 */
export function sluiceTally(body: Uint8Array, checkCrcs: boolean): Tally {
  let records = 0;
  let keyBytes = 0;
  let valueBytes = 0;
  let lastOffset = -1n;
  let lastTimestamp = -1;
  const response = decodeResponse(fetchApi, fetchVersion, body);
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      if (partition.records === null) continue;
      const batches = decodeRecords(partition.records, { checkCrcs }).batches;
      for (let index = 0; index < batches.length; index++) {
        const decoded = batches[index]!;
        if (!(decoded instanceof RecordBatch)) throw new Error('the fixtures hold only v2 record batches');
        const batch = decoded.needsDecompression ? decoded.decompressSync({ maxDecompressedBytes }) : decoded;
        const cursor = batch.cursor();
        while (cursor.next()) {
          records++;
          lastOffset = cursor.offset;
          lastTimestamp = cursor.timestampMillis;
          const key = cursor.key;
          const value = cursor.value;
          if (key !== null) keyBytes += key.length;
          if (value !== null) valueBytes += value.length;
        }
      }
    }
  }
  return { records, keyBytes, valueBytes, lastOffset: String(lastOffset), lastTimestamp: String(lastTimestamp) };
}

export function sluiceChecksum(body: Uint8Array): Checksum {
  const checksum = emptyChecksum();
  let offsetSum = 0n;
  let timestampSum = 0n;
  for (const batch of readableBatches(body, true)) {
    const cursor = batch.cursor();
    while (cursor.next()) {
      checksum.records++;
      checksum.keyHash = hashBytes(checksum.keyHash, cursor.key);
      checksum.valueHash = hashBytes(checksum.valueHash, cursor.value);
      offsetSum += cursor.offset;
      timestampSum += cursor.timestamp;
      checksum.headers += cursor.headers().length;
    }
  }
  checksum.offsetSum = String(offsetSum);
  checksum.timestampSum = String(timestampSum);
  return checksum;
}

export function sluiceDecoder(checkCrcs: boolean): DecoderUnderTest {
  return {
    id: checkCrcs ? 'sluice' : 'sluiceNoCrc',
    label: checkCrcs ? 'Sluice (CRC on)' : 'Sluice (CRC off)',
    unsupported: () => undefined,
    tally: (fixture) => sluiceTally(fixture.body, checkCrcs),
    checksum: (fixture) => sluiceChecksum(fixture.body),
  };
}
