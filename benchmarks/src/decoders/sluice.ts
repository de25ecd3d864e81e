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

/**
 * How many batches the pipelined path keeps decompressing at once: libuv's default thread pool size
 * (UV_THREADPOOL_SIZE = 4), which is what a consumer gets unless it enlarges the pool. On a machine with fewer cores
 * than this, the pool threads share them with the event loop.
 */
export const batchesInFlight = 4;

// The pipelined path sends every compressed batch to the thread pool, however small.
const pipelinedDecompressOptions = { maxDecompressedBytes, syncThresholdBytes: 0 };

const ignoreRejection = (): void => {};

/** The v2 batches of a Fetch response body in wire order, each partition's decoded (and CRC-checked) on demand. */
function* wireBatches(body: Uint8Array, checkCrcs: boolean): Generator<RecordBatch> {
  const response = decodeResponse(fetchApi, fetchVersion, body);
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      if (partition.records === null) continue;
      for (const batch of decodeRecords(partition.records, { checkCrcs }).batches) {
        if (!(batch instanceof RecordBatch)) throw new Error('the fixtures hold only v2 record batches');
        yield batch;
      }
    }
  }
}

/**
 * The batches of a Fetch response, decompressed in libuv's thread pool with up to `inFlight` batches at once, and
 * handed out in wire order as each becomes ready. The next batch is sent to the pool before the current one is
 * handed out, so the pool keeps working while the caller walks records: what a consumer does when it decompresses
 * off the event loop while the application processes the previous batch.
 */
export async function* pipelinedBatches(
  body: Uint8Array,
  checkCrcs: boolean,
  inFlight: number = batchesInFlight,
): AsyncGenerator<RecordBatch> {
  const source = wireBatches(body, checkCrcs);
  const pending: Promise<RecordBatch>[] = [];
  let exhausted = false;
  const launch = (): void => {
    const next = source.next();
    if (next.done === true) {
      exhausted = true;
      return;
    }
    const decompressed = next.value.decompress(pipelinedDecompressOptions);
    // A batch that fails while an earlier one is awaited must not count as an unhandled rejection; the error still
    // reaches the caller when its turn comes.
    decompressed.catch(ignoreRejection);
    pending.push(decompressed);
  };
  while (!exhausted && pending.length < inFlight) launch();
  while (pending.length > 0) {
    const batch = await pending.shift()!;
    if (!exhausted) launch();
    yield batch;
  }
}

/** `sluiceTally` over `pipelinedBatches`: the walk of each batch overlaps the decompression of the next ones. */
export async function sluicePipelinedTally(body: Uint8Array, checkCrcs: boolean): Promise<Tally> {
  let records = 0;
  let keyBytes = 0;
  let valueBytes = 0;
  let lastOffset = -1n;
  let lastTimestamp = -1;
  for await (const batch of pipelinedBatches(body, checkCrcs)) {
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
  return { records, keyBytes, valueBytes, lastOffset: String(lastOffset), lastTimestamp: String(lastTimestamp) };
}

/** The checksum through the pipelined path, so verification covers the async decompression too. */
export async function sluicePipelinedChecksum(body: Uint8Array): Promise<Checksum> {
  const checksum = emptyChecksum();
  let offsetSum = 0n;
  let timestampSum = 0n;
  for await (const batch of pipelinedBatches(body, true)) {
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

/**
 * Sluice with decompression off the event loop (CRC on, Kafka's default): `batchesInFlight` async
 * `decompress({ syncThresholdBytes: 0 })` calls in flight while the event loop walks the batches already
 * decompressed, in wire order. Only for compressed rows: with nothing to decompress it is the synchronous path.
 */
export const sluicePipelinedDecoder: DecoderUnderTest = {
  id: 'sluicePipelined',
  label: 'Sluice (pipelined)',
  compressedOnly: true,
  unsupported: (compression) =>
    compression === 'none' ? 'uncompressed batches: nothing to decompress off the event loop' : undefined,
  tally: (fixture) => sluicePipelinedTally(fixture.body, true),
  checksum: (fixture) => sluicePipelinedChecksum(fixture.body),
};
