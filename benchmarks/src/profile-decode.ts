// node --cpu-prof --conditions=@sluice/source benchmarks/src/profile-decode.ts [--size 100] [--codec none]
//      [--decoder sluice|sluiceNoCrc|kafkajs|platformatic|bare] [--seconds 5]
// Runs one decoder over one fixture in a loop, with nothing else in the process worth sampling, for `--cpu-prof`.
// Summarize the profile with benchmarks/src/profile-summary.ts.
import { parseArgs } from 'node:util';
import type { CompressionType } from '@sluice/protocol';
import { bareDecompression } from './decoders/bare-decompression.ts';
import { checkTally, type DecoderUnderTest, type Tally } from './decoders/decoder.ts';
import { kafkajsDecoder, registerKafkajsCodecs } from './decoders/kafkajs.ts';
import { platformaticDecoder } from './decoders/platformatic.ts';
import { sluiceDecoder } from './decoders/sluice.ts';
import { buildFixture, fixtureShape } from './fixtures.ts';

const { values: flags } = parseArgs({
  options: {
    size: { type: 'string', default: '100' },
    codec: { type: 'string', default: 'none' },
    decoder: { type: 'string', default: 'sluice' },
    seconds: { type: 'string', default: '5' },
  },
});

registerKafkajsCodecs();
const fixture = buildFixture(fixtureShape(Number(flags.size)), flags.codec as CompressionType);
const decoders: DecoderUnderTest[] = [sluiceDecoder(true), sluiceDecoder(false), kafkajsDecoder, platformaticDecoder];
const decoder = decoders.find((candidate) => candidate.id === flags.decoder);
const run: () => unknown = decoder === undefined ? bareDecompression(fixture) : () => decoder.tally(fixture);
const deadline = performance.now() + Number(flags.seconds) * 1000;
let operations = 0;
const faultsAtStart = process.resourceUsage().minorPageFault;
const start = performance.now();
while (performance.now() < deadline) {
  const result = await run();
  if (decoder !== undefined) checkTally(decoder.id, fixture, result as Tally);
  operations++;
}
const seconds = (performance.now() - start) / 1000;
const faults = process.resourceUsage().minorPageFault - faultsAtStart;
process.stdout.write(
  `${flags.decoder} ${flags.size} B ${flags.codec}: ${operations} responses, ` +
    `${((operations * fixture.records) / seconds / 1e6).toFixed(2)} M records/s, ` +
    `${Math.round(faults / operations)} minor page faults per response\n`,
);
