#!/usr/bin/env node
// Regenerates the code made from Kafka's own definitions: @sluice/protocol's message codecs (from the message
// schemas) and @sluice/net's error table (from the Errors enum, through the Java oracle).
//   node tools/codegen/src/main.ts           write the generated files
//   node tools/codegen/src/main.ts --check   write nothing; exit 1 and name the files if the committed ones differ
import { GENERATE_COMMAND, runGenerator } from './generate.ts';

const check = process.argv.includes('--check');
const unknown = process.argv.slice(2).filter((argument) => argument !== '--check');
if (unknown.length > 0) {
  console.error(`usage: ${GENERATE_COMMAND} [--check]   (unknown: ${unknown.join(' ')})`);
  process.exit(2);
}

const result = await runGenerator({ check, log: (line) => console.error(line) });
if (check) {
  if (result.differing.length > 0) {
    console.error(`generated code is stale; run \`${GENERATE_COMMAND}\`. Differing files:`);
    for (const path of result.differing) console.error(`  ${path}`);
    process.exit(1);
  }
  console.error('generated code is up to date');
} else if (result.written.length === 0) {
  console.error('generated code was already up to date');
} else {
  for (const path of result.written) console.error(`wrote ${path}`);
}
