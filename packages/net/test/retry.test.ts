import { describe, expect, it } from 'vitest';
import { backoffMs } from '../src/retry.ts';

describe('backoffMs', () => {
  it('doubles from retry.backoff.ms to retry.backoff.max.ms, with jitter within 20 %', () => {
    const exact = { initialMs: 100, maxMs: 1000, random: () => 0.5 };
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, exact))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffMs(0, { ...exact, random: () => 0 })).toBe(80);
    expect(backoffMs(0, { ...exact, random: () => 1 })).toBe(120);
    expect(backoffMs(10, { ...exact, random: () => 1 })).toBe(1200);
  });
});
