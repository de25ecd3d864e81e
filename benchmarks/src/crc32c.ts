// node --conditions=@sluice/source benchmarks/src/crc32c.ts
// CRC-32C throughput over the 100 B fixture's batches (the `check.crcs` work of one Fetch response): crc-32, the
// table-driven JavaScript implementation Sluice's decodeRecords uses today, beside @node-rs/crc32 (native, SSE4.2 /
// ARMv8 CRC instructions). Evidence for BENCHMARKS.md: how much of the CRC-on cost a native CRC would remove.
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { decodeRecords, decodeResponse, fetchApi } from '@sluice/protocol';
import crc32cModule from 'crc-32/crc32c.js';
import { buildFixture, fetchVersion, fixtureShape } from './fixtures.ts';

const fixture = buildFixture(fixtureShape(100), 'none');
const spans: Uint8Array[] = [];
for (const topic of decodeResponse(fetchApi, fetchVersion, fixture.body).responses) {
  for (const partition of topic.partitions) {
    if (partition.records === null) continue;
    for (const batch of decodeRecords(partition.records, { checkCrcs: false }).batches) {
      // Kafka's CRC covers attributes (byte 21 of the batch) through the end.
      const start = partition.records.byteOffset + batch.byteOffset + 21;
      spans.push(new Uint8Array(partition.records.buffer, start, batch.byteLength - 21));
    }
  }
}
const bytes = spans.reduce((total, span) => total + span.length, 0);

const implementations: Record<string, (data: Uint8Array) => number> = {
  'crc-32 (JavaScript, used by Sluice)': (data) => crc32cModule.buf(data) >>> 0,
  '@node-rs/crc32 (native)': (data) => nativeCrc32c(data) >>> 0,
};
const reference = spans.map(implementations['crc-32 (JavaScript, used by Sluice)']!);
process.stdout.write(`${spans.length} batches, ${(bytes / 1e6).toFixed(2)} MB covered by CRCs per response\n`);
for (const [name, crc] of Object.entries(implementations)) {
  if (spans.some((span, index) => crc(span) !== reference[index])) throw new Error(`${name} disagrees`);
  const times: number[] = [];
  for (let round = 0; round < 40; round++) {
    const start = process.hrtime.bigint();
    for (const span of spans) crc(span);
    times.push(Number(process.hrtime.bigint() - start));
  }
  const median = times.sort((left, right) => left - right)[times.length >> 1]!;
  process.stdout.write(`${name}: ${(bytes / median).toFixed(2)} GB/s, ${(median / 1e6).toFixed(2)} ms per response\n`);
}
