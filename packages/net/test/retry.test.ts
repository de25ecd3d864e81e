import { describe, expect, it } from 'vitest';
import { KafkaError } from '../src/kafka-error.ts';
import { backoffMs, RetryTimeoutError, withRetries } from '../src/retry.ts';

/** A fake clock: sleeping advances it. */
function fakeTime() {
  let now = 0;
  const waits: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
    waits,
  };
}

describe('backoffMs', () => {
  it('doubles from retry.backoff.ms to retry.backoff.max.ms, with jitter within 20 %', () => {
    const exact = { initialMs: 100, maxMs: 1000, random: () => 0.5 };
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, exact))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffMs(0, { ...exact, random: () => 0 })).toBe(80);
    expect(backoffMs(0, { ...exact, random: () => 1 })).toBe(120);
    expect(backoffMs(10, { ...exact, random: () => 1 })).toBe(1200);
  });
});

describe('withRetries', () => {
  it('retries retriable errors with backoff until success', async () => {
    const time = fakeTime();
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls++;
        if (calls < 4) throw new KafkaError(15); // COORDINATOR_NOT_AVAILABLE: retriable
        return 'done';
      },
      { initialMs: 100, maxMs: 1000, random: () => 0.5, timeoutMs: 60_000, ...time },
    );
    expect(result).toBe('done');
    expect(time.waits).toEqual([100, 200, 400]);
  });

  it('rethrows a non-retriable error at once', async () => {
    const time = fakeTime();
    const failure = new KafkaError(1); // OFFSET_OUT_OF_RANGE
    await expect(
      withRetries(() => Promise.reject(failure), { initialMs: 100, maxMs: 1000, timeoutMs: 60_000, ...time }),
    ).rejects.toBe(failure);
    expect(time.waits).toEqual([]);
  });

  it('gives up when default.api.timeout.ms would be exceeded, keeping the last error as cause', async () => {
    const time = fakeTime();
    const attempt = withRetries(() => Promise.reject(new KafkaError(15)), {
      initialMs: 100,
      maxMs: 1000,
      random: () => 0.5,
      timeoutMs: 2000,
      ...time,
    });
    await expect(attempt).rejects.toBeInstanceOf(RetryTimeoutError);
    await expect(attempt).rejects.toMatchObject({ attempts: 5, cause: expect.any(KafkaError) });
    expect(time.now()).toBeLessThanOrEqual(2000);
  });
});
