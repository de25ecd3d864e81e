// The long fuzz run: `pnpm fuzz -- --minutes 30`, or from the repo root
//   node --conditions=@sluice/source packages/protocol/fuzz/run.ts [--cases N] [--seed S] [--minutes M]
//   node --conditions=@sluice/source packages/protocol/fuzz/run.ts --replay <case seed>
// Prints progress every 50,000 cases and each new finding as it appears; exits 1 when a finding is not a known
// issue (test/fuzz/known-issues.ts). CI runs a fixed budget of the same engine in test/fuzz/fuzz.test.ts.
import { parseArgs } from 'node:util';
import {
  buildCorpus,
  type Finding,
  formatFinding,
  formatReport,
  generateCase,
  judgeCase,
  runFuzz,
} from '../test/fuzz/engine.ts';
import { hexDump } from '../test/fuzz/hex.ts';
import { knownIssueOf } from '../test/fuzz/known-issues.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string' },
    seed: { type: 'string' },
    minutes: { type: 'string' },
    replay: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log('usage: run.ts [--cases N] [--seed S] [--minutes M] | --replay <case seed>');
  process.exit(0);
}

function integer(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got ${text}`);
    process.exit(2);
  }
  return value;
}

function describeFinding(finding: Finding): string {
  const known = knownIssueOf(finding);
  return `${known === undefined ? 'NEW FINDING' : `known issue (${known.title})`}\n${formatFinding(finding)}`;
}

if (values.replay !== undefined) {
  const caseSeed = integer(values.replay, 'replay', 0);
  const fuzzCase = generateCase(buildCorpus(), caseSeed);
  const verdict = await judgeCase(fuzzCase);
  console.log(`case seed ${caseSeed}: ${fuzzCase.seed.name}, mutations ${fuzzCase.mutations.join(' + ')}`);
  console.log(`checkCrcs ${fuzzCase.checkCrcs}, async ${fuzzCase.asynchronous}, ${verdict.milliseconds.toFixed(1)} ms`);
  console.log(`input ${hexDump(fuzzCase.bytes, 4096)}`);
  console.log(verdict.result === null ? 'no result' : `outcome: ${verdict.result.fingerprint || 'decoded'}`);
  for (const problem of verdict.problems) console.log(`[${problem.kind}] ${problem.message}\n${problem.stack}`);
  process.exit(verdict.problems.length === 0 ? 0 : 1);
}

const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
if (minutes !== undefined && !(minutes > 0)) {
  console.error(`--minutes must be a positive number, got ${values.minutes}`);
  process.exit(2);
}
// With --minutes alone, the run is bounded by time only.
const cases = integer(values.cases, 'cases', minutes === undefined ? 1_000_000 : Number.MAX_SAFE_INTEGER);
const seed = integer(values.seed, 'seed', Date.now() % 0x1_0000_0000);

console.log(
  `fuzz: seed ${seed}, ${cases === Number.MAX_SAFE_INTEGER ? 'no case limit' : `${cases} cases`}` +
    `${minutes === undefined ? '' : `, at most ${minutes} min`} (replay one case with --replay <case seed>)`,
);
const started = Date.now();
buildCorpus();
console.log(`corpus built in ${Date.now() - started} ms`);
const report = await runFuzz({
  cases,
  seed,
  minutes,
  progressEvery: 50_000,
  onProgress: (progress) => console.log(`... ${formatReport(progress).split('\n')[0]}`),
  onFinding: (finding) => console.log(describeFinding(finding)),
});
console.log(formatReport(report));
const unknown = report.findings.filter((finding) => knownIssueOf(finding) === undefined);
for (const finding of report.findings) console.log(`${describeFinding(finding)}\n`);
process.exit(unknown.length === 0 ? 0 : 1);
