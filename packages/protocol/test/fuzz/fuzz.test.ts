import { describe, expect, it } from 'vitest';
import {
  buildCorpus,
  type Finding,
  formatFinding,
  formatReport,
  generateCase,
  judgeCase,
  runFuzz,
  unmutatedCase,
} from './engine.ts';
import { knownIssueOf } from './known-issues.ts';

// The fuzz suite's CI budget: a fixed number of mutated cases from a fixed seed, so that CI is reproducible.
// SLUICE_FUZZ_CASES and SLUICE_FUZZ_SEED override them; `pnpm fuzz` (packages/protocol/fuzz/run.ts) runs longer.

/** Cases per CI run: about 15 s on one idle core, 25-35 s on two busy ones. */
const defaultCases = 80_000;
const defaultSeed = 0x51ce;

function integerFromEnvironment(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${text}`);
  return value;
}

const cases = integerFromEnvironment('SLUICE_FUZZ_CASES', defaultCases);
const seed = integerFromEnvironment('SLUICE_FUZZ_SEED', defaultSeed);

describe('fuzz: mutated frames against every decoder', () => {
  it('starts from valid seeds: each decodes, each bomb is refused for its size, each lie is refused', async () => {
    const corpus = buildCorpus();
    const problems: string[] = [];
    for (const candidate of corpus.seeds) {
      const verdict = await judgeCase(unmutatedCase(candidate));
      for (const problem of verdict.problems) problems.push(`${candidate.name}: [${problem.kind}] ${problem.message}`);
    }
    expect(problems).toEqual([]);
    expect(corpus.byKind.message.length).toBeGreaterThan(1000);
  }, 120_000);

  it('replays a case from its case seed alone', () => {
    const corpus = buildCorpus();
    const first = generateCase(corpus, 0xdecafbad);
    const second = generateCase(corpus, 0xdecafbad);
    expect(second.seed.name).toBe(first.seed.name);
    expect(second.mutations).toEqual(first.mutations);
    expect(Buffer.from(second.bytes).equals(Buffer.from(first.bytes))).toBe(true);
  });

  it(`${cases} cases from seed ${seed}: only ProtocolError, no hang (< 1 s a case), no over-allocation`, async () => {
    const report = await runFuzz({ cases, seed });
    const known: Finding[] = [];
    const unknown: Finding[] = [];
    for (const finding of report.findings) (knownIssueOf(finding) === undefined ? unknown : known).push(finding);
    const knownSummary = known.map(
      (finding) => `known issue (${knownIssueOf(finding)!.title}):\n${formatFinding(finding)}`,
    );
    console.log([`fuzz: ${formatReport(report)}`, ...knownSummary].join('\n'));
    expect(report.casesRun).toBe(cases);
    expect(unknown.map(formatFinding).join('\n\n')).toBe('');
  }, 600_000);
});
