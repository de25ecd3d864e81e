import { fetchV11, Reader } from '@platformatic/kafka';
import { type Checksum, type DecoderUnderTest, emptyChecksum, hashBytes, type Tally } from './decoder.ts';

// @platformatic/kafka's own Fetch v11 parser (dist/apis/consumer/fetch-v11.js): it reads the response and, through
// protocol/records.js `readRecordsBatches`, every batch and record eagerly, decompressing with its own codecs
// (node:zlib for gzip and zstd, @platformatic/wasm-utils for snappy and lz4). It does not check CRCs.
const fetchApiKey = 1;
const fetchVersion = 11;

function decodeFetch(body: Buffer): fetchV11.FetchResponse {
  return fetchV11.parseResponse(0, fetchApiKey, fetchVersion, Reader.from(body));
}

/** Offsets and timestamps computed as its consumer stream computes them (`firstOffset + BigInt(offsetDelta)`). */
export function platformaticTally(body: Buffer): Tally {
  let records = 0;
  let keyBytes = 0;
  let valueBytes = 0;
  let lastOffset = -1n;
  let lastTimestamp = -1n;
  const response = decodeFetch(body);
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      if (partition.records === null) continue;
      for (const batch of partition.records) {
        const batchRecords = batch.records;
        for (let index = 0; index < batchRecords.length; index++) {
          const record = batchRecords[index]!;
          records++;
          lastOffset = batch.firstOffset + BigInt(record.offsetDelta);
          lastTimestamp = batch.firstTimestamp + record.timestampDelta;
          if (record.key !== null) keyBytes += record.key.length;
          if (record.value !== null) valueBytes += record.value.length;
        }
      }
    }
  }
  return { records, keyBytes, valueBytes, lastOffset: String(lastOffset), lastTimestamp: String(lastTimestamp) };
}

export function platformaticChecksum(body: Buffer): Checksum {
  const checksum = emptyChecksum();
  let offsetSum = 0n;
  let timestampSum = 0n;
  for (const topic of decodeFetch(body).responses) {
    for (const partition of topic.partitions) {
      for (const batch of partition.records ?? []) {
        for (const record of batch.records) {
          checksum.records++;
          checksum.keyHash = hashBytes(checksum.keyHash, record.key);
          checksum.valueHash = hashBytes(checksum.valueHash, record.value);
          offsetSum += batch.firstOffset + BigInt(record.offsetDelta);
          timestampSum += batch.firstTimestamp + record.timestampDelta;
          checksum.headers += record.headers.length;
        }
      }
    }
  }
  checksum.offsetSum = String(offsetSum);
  checksum.timestampSum = String(timestampSum);
  return checksum;
}

export const platformaticDecoder: DecoderUnderTest = {
  id: 'platformatic',
  label: '@platformatic/kafka',
  unsupported: () => undefined,
  tally: (fixture) => platformaticTally(fixture.body),
  checksum: (fixture) => platformaticChecksum(fixture.body),
};
