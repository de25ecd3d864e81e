import type { Finding } from './engine.ts';

// Decoder bugs the fuzzer found that are not fixed yet. Each has an `it.fails` regression test in
// regressions.test.ts, which flips when the bug is fixed; then delete the entry here and the `.fails` there.
// The CI budget reports findings that match an entry but does not fail on them, so that it keeps guarding
// against new bugs meanwhile.

export interface KnownIssue {
  readonly title: string;
  readonly matches: (finding: Finding) => boolean;
}

export const knownIssues: readonly KnownIssue[] = [];

export function knownIssueOf(finding: Finding): KnownIssue | undefined {
  return knownIssues.find((issue) => issue.matches(finding));
}
