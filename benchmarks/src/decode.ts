// pnpm bench:decode [--json] [--quick] [--sizes 100,1000,10000] [--codecs none,gzip,snappy,lz4,zstd]
//                   [--only sluice,sluiceNoCrc,sluicePipelined,kafkajs,platformatic,bare,barePipelined] [--samples N]
//
// Decodes the same Fetch v11 responses with Sluice, KafkaJS and @platformatic/kafka in one process, interleaved,
// and prints records/s and MB/s (of record keys and values) for each, the bare decompression speed of the same
// batches (sync on one thread, and pipelined through libuv's pool), and the ratios: one table from each decoder's
// median sample, one from its fastest, and the CPU time per response of the compressed rows. --json prints the same
// data as one JSON object.
import { parseArgs } from 'node:util';
import type { CompressionType } from '@sluice/protocol';
import { bareDecompression, pipelinedBareDecompression } from './decoders/bare-decompression.ts';
import { checkTally, type DecoderUnderTest, type Tally } from './decoders/decoder.ts';
import { kafkajsDecoder, registerKafkajsCodecs } from './decoders/kafkajs.ts';
import { platformaticDecoder } from './decoders/platformatic.ts';
import { batchesInFlight, sluiceDecoder, sluicePipelinedDecoder } from './decoders/sluice.ts';
import { buildFixture, compressionTypes, type Fixture, fetchVersion, fixtureShape, recordSizes } from './fixtures.ts';
import { type Candidate, type HarnessOptions, type Measurement, measure } from './harness.ts';
import {
  type Cell,
  type Column,
  cellOf,
  type Figures,
  formatRatio,
  machineInfo,
  type RowResult,
  ratiosOf,
  renderCpuTable,
  renderTable,
  type Statistic,
} from './report.ts';
import { verifyFixture } from './verify.ts';

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    codecs: { type: 'string' },
    only: { type: 'string' },
    samples: { type: 'string' },
  },
});

function listFlag<Item>(text: string | undefined, all: readonly Item[], parse: (part: string) => Item): Item[] {
  if (text === undefined) return [...all];
  return text.split(',').map((part) => {
    const item = parse(part.trim());
    if (!all.includes(item)) throw new Error(`unknown value ${part}; expected one of ${all.join(', ')}`);
    return item;
  });
}

const sizes = listFlag(flags.sizes, recordSizes, Number);
const codecs = listFlag(flags.codecs, compressionTypes, (part) => part as CompressionType);
const decoders: DecoderUnderTest[] = [
  sluiceDecoder(true),
  sluiceDecoder(false),
  sluicePipelinedDecoder,
  kafkajsDecoder,
  platformaticDecoder,
];
const columnIds = [...decoders.map((decoder) => decoder.id), 'bare', 'barePipelined'];
const selected = new Set(listFlag(flags.only, columnIds, String));
const harness: HarnessOptions = flags.quick
  ? { warmupMs: 150, samples: 5, sampleMs: 40 }
  : { warmupMs: 300, samples: Number(flags.samples ?? 9), sampleMs: 80 };

const columns: Column[] = [
  ...decoders.filter((decoder) => selected.has(decoder.id)).map(({ id, label }) => ({ id, label })),
  ...(selected.has('bare') ? [{ id: 'bare', label: 'bare (sync, 1 thread)' }] : []),
  ...(selected.has('barePipelined') ? [{ id: 'barePipelined', label: `bare (pipelined, ${batchesInFlight})` }] : []),
];

function candidatesFor(fixture: Fixture): { candidates: Candidate[]; unavailable: Record<string, string> } {
  const candidates: Candidate[] = [];
  const unavailable: Record<string, string> = {};
  for (const decoder of decoders) {
    if (!selected.has(decoder.id)) continue;
    if (decoder.compressedOnly === true && fixture.compression === 'none') continue;
    const reason = decoder.unsupported(fixture.compression);
    if (reason !== undefined) {
      unavailable[decoder.id] = reason;
      continue;
    }
    candidates.push({
      id: decoder.id,
      run: () => decoder.tally(fixture),
      check: (result) => checkTally(decoder.id, fixture, result as Tally),
    });
  }
  if (selected.has('bare') && fixture.compression !== 'none') {
    candidates.push({
      id: 'bare',
      run: bareDecompression(fixture),
      check: (produced) => {
        if (produced !== fixture.recordsSectionBytes) throw new Error(`bare decompression produced ${produced} bytes`);
      },
    });
  }
  if (selected.has('barePipelined') && fixture.compression !== 'none') {
    candidates.push({
      id: 'barePipelined',
      run: pipelinedBareDecompression(fixture),
      check: (produced) => {
        if (produced !== fixture.recordsSectionBytes) {
          throw new Error(`pipelined bare decompression produced ${produced} bytes`);
        }
      },
    });
  }
  return { candidates, unavailable };
}

function figuresOf(
  fixture: Fixture,
  measurements: Map<string, Measurement>,
  unavailable: Record<string, string>,
  statistic: Statistic,
): Figures {
  const cells: Record<string, Cell> = {};
  for (const [id, reason] of Object.entries(unavailable)) cells[id] = { unavailable: reason };
  for (const [id, measurement] of measurements) {
    const nanoseconds = statistic === 'median' ? measurement.medianNs : measurement.bestNs;
    cells[id] = cellOf(nanoseconds, measurement.medianCpuNs, fixture.records, fixture.payloadBytes);
  }
  return { cells, ratios: ratiosOf(cells) };
}

const machine = machineInfo();
const log = (line: string) => {
  if (!flags.json) process.stdout.write(`${line}\n`);
};
registerKafkajsCodecs();
log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.platform}`);
log(`Node ${machine.node} (V8 ${machine.v8}); load average ${machine.loadAverage.join(' ')} at start`);
log(
  `Fetch v${fetchVersion} responses, 1 topic x 4 partitions; ${harness.samples} interleaved samples of ` +
    `~${harness.sampleMs} ms per cell after ${harness.warmupMs} ms warm-up, elapsed time. ` +
    'MB = 10^6 bytes of record keys + values.',
);
log(
  `Sluice (pipelined): CRC on, up to ${batchesInFlight} batches decompressing in libuv's pool ` +
    `(UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4, the default'}) while the event loop walks ` +
    'the batches already decompressed, in wire order. Target ratio: pipelined / bare (sync, 1 thread).',
);
if ((globalThis as { gc?: unknown }).gc === undefined) log('(run with --expose-gc to collect garbage between samples)');
log('');

const rows: RowResult[] = [];
for (const size of sizes) {
  for (const compression of codecs) {
    const fixture = buildFixture(fixtureShape(size), compression);
    await verifyFixture(fixture, decoders);
    const { candidates, unavailable } = candidatesFor(fixture);
    const measurements = await measure(candidates, harness);
    const spread: Record<string, number> = {};
    for (const [id, measurement] of measurements) spread[id] = measurement.spread;
    rows.push({
      recordSize: size,
      compression,
      records: fixture.records,
      batches: fixture.batches,
      responseBytes: fixture.body.length,
      payloadBytes: fixture.payloadBytes,
      recordsSectionBytes: fixture.recordsSectionBytes,
      spread,
      median: figuresOf(fixture, measurements, unavailable, 'median'),
      best: figuresOf(fixture, measurements, unavailable, 'best'),
    });
    log(
      `${size} B ${compression}: ${fixture.records} records in ${fixture.batches} batches of ` +
        `${fixture.shape.recordsPerBatch}, response ${(fixture.body.length / 1e6).toFixed(2)} MB ` +
        `(records ${(fixture.recordsSectionBytes / 1e6).toFixed(2)} MB uncompressed); all decoders agree; ` +
        `widest sample spread (IQR/median) ${(Math.max(...Object.values(spread)) * 100).toFixed(0)} %`,
    );
  }
}

function targetsOf(statistic: Statistic) {
  const hundredByteRow = rows.find((row) => row.recordSize === 100 && row.compression === 'none');
  const compressedRows = rows.filter(
    (row) => row.compression !== 'none' && row[statistic].ratios.pipelinedOverBare !== null,
  );
  const hundred = hundredByteRow?.[statistic].ratios;
  return {
    hundredByteUncompressed: {
      goal: 'Sluice (CRC on) >= 3x the faster peer, 100 B records, uncompressed',
      sluiceOverBestPeer: hundred?.sluiceOverBestPeer ?? null,
      sluiceNoCrcOverBestPeer: hundred?.sluiceNoCrcOverBestPeer ?? null,
      met: hundred?.sluiceOverBestPeer == null ? null : hundred.sluiceOverBestPeer >= 3,
    },
    compressedWithinTenPercentOfBare: compressedRows.map((row) => ({
      goal: 'Sluice (pipelined, CRC on) >= 0.9x bare decompression (sync, one thread) of the same batches',
      recordSize: row.recordSize,
      compression: row.compression,
      pipelinedOverBare: row[statistic].ratios.pipelinedOverBare,
      pipelinedOverPipelinedBare: row[statistic].ratios.pipelinedOverPipelinedBare,
      sluiceOverBare: row[statistic].ratios.sluiceOverBare,
      sluiceNoCrcOverBare: row[statistic].ratios.sluiceNoCrcOverBare,
      met: (row[statistic].ratios.pipelinedOverBare ?? 0) >= 0.9,
    })),
  };
}

const settings = {
  fetchVersion,
  topology: '1 topic x 4 partitions; 100 B: 20 batches x 500 per partition; 1 KB: 2 x 500; 10 KB: 2 x 50',
  values: 'JSON-like text (seeded), key "user-N", headers trace-id (32 B) and content-type',
  megabytes: 'MB = 10^6 bytes of record keys + values',
  clock: 'elapsed time, process.hrtime.bigint',
  sluice: 'decodeResponse + decodeRecords + decompressSync + cursor (offset, timestampMillis, key, value)',
  kafkajs: 'fetch/v11/response.js decode + parse; gzip built in (async zlib.unzip), others via CompressionCodecs',
  platformatic: 'fetchV11.parseResponse (records read eagerly; no CRC check)',
  sluicePipelined:
    `CRC on; decodeResponse + decodeRecords, then up to ${batchesInFlight} batch.decompress({ syncThresholdBytes: 0 }) ` +
    'in flight in libuv pool while the event loop walks decompressed batches in wire order',
  bare: 'the library calls Sluice makes, synchronously, on the records sections only',
  barePipelined: `the async library calls Sluice makes, ${batchesInFlight} sections in flight, nothing else`,
  batchesInFlight,
  threadPoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
  harness,
  exposeGc: (globalThis as { gc?: unknown }).gc !== undefined,
};

if (flags.json) {
  const report = {
    machine,
    settings,
    rows,
    targets: { median: targetsOf('median'), best: targetsOf('best') },
    loadAverageAtEnd: machineInfo().loadAverage,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  for (const statistic of ['median', 'best'] as const) {
    log('');
    log(statistic === 'median' ? "Each decoder's median sample:" : "Each decoder's fastest sample:");
    log('');
    log(renderTable(rows, columns, statistic));
    const targets = targetsOf(statistic);
    const hundred = targets.hundredByteUncompressed;
    log('');
    if (hundred.met !== null) {
      log(
        `Target: 100 B uncompressed >= 3x the faster peer: ${hundred.met ? 'met' : 'NOT met'} ` +
          `(CRC on ${formatRatio(hundred.sluiceOverBestPeer)}, CRC off ${formatRatio(hundred.sluiceNoCrcOverBestPeer)})`,
      );
    }
    const compressed = targets.compressedWithinTenPercentOfBare;
    if (compressed.length > 0) {
      const missed = compressed.filter((row) => !row.met).map((row) => `${row.recordSize} B ${row.compression}`);
      log(
        `Target: compressed, Sluice (pipelined) >= 0.90x bare (sync, 1 thread): met in ${compressed.length - missed.length} of ` +
          `${compressed.length} rows${missed.length > 0 ? `; missed: ${missed.join(', ')}` : ''}`,
      );
    }
  }
  log('');
  log('CPU time (all threads) / elapsed time per response, milliseconds, median samples:');
  log('');
  log(renderCpuTable(rows, columns));
  log('');
  log(`Load average at end: ${machineInfo().loadAverage.join(' ')}`);
}
