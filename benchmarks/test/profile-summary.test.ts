import { describe, expect, it } from 'vitest';
import { type CpuProfile, formatProfileLines, summariseProfile } from '../src/profile-summary.ts';

// `pnpm bench:consume --profile` points at the hot spot through this summary: self time per function with where it
// is, V8's idle, program and GC nodes apart, and only the samples of the window asked for.
const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });
const profile: CpuProfile = {
  startTime: 1_000,
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('(program)') },
    { id: 4, callFrame: frame('(garbage collector)') },
    { id: 5, callFrame: frame('poll', 'file:///x/kafka-consumer.ts', 181), children: [6] },
    { id: 6, callFrame: frame('next', 'file:///x/record-cursor.ts', 45) },
  ],
  // One sample every 100 µs from 1,100 to 2,000.
  samples: [6, 6, 6, 5, 2, 2, 3, 4, 6, 6],
  timeDeltas: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100],
};

describe('summariseProfile', () => {
  it('ranks self time with file:line and reports idle, program and GC apart', () => {
    const summary = summariseProfile(profile, { top: 2 });
    expect(summary.milliseconds).toBeCloseTo(1);
    expect(summary.top).toEqual([
      { name: 'next record-cursor.ts:46', milliseconds: 0.5, share: 0.5 },
      { name: '(idle)', milliseconds: 0.2, share: 0.2 },
    ]);
    expect(summary.idle).toBeCloseTo(0.2);
    expect(summary.program).toBeCloseTo(0.1);
    expect(summary.garbageCollector).toBeCloseTo(0.1);
    expect(formatProfileLines(summary)).toEqual([' 50.0 %  next record-cursor.ts:46', ' 20.0 %  (idle)']);
  });

  it('counts only the samples inside the window, or under the function asked for', () => {
    const windowed = summariseProfile(profile, { window: [1_050, 1_450] });
    expect(windowed.milliseconds).toBeCloseTo(0.4);
    expect(windowed.top.map((line) => line.name)).toEqual(['next record-cursor.ts:46', 'poll kafka-consumer.ts:182']);
    const under = summariseProfile(profile, { under: 'poll' });
    expect(under.milliseconds).toBeCloseTo(0.6);
    expect(under.idle).toBe(0);
  });
});
