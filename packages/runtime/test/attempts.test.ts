/** The retries of an operation with a deadline, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { Attempts } from '../src/attempts.ts';
import { TimeoutError } from '../src/errors.ts';

const backoff = { retryBackoffMs: 100, retryBackoffMaxMs: 1_000, random: () => 0.5 };

describe('Attempts', () => {
  it('backs off 100, 200, 400 ... up to retry.backoff.max.ms after each failure', () => {
    const attempts = new Attempts(60_000, backoff);
    expect(attempts.due(0)).toBe(true);
    const ends: number[] = [];
    let now = 0;
    for (let failure = 0; failure < 6; failure++) {
      attempts.failed(new Error(`failure ${failure}`), now);
      ends.push(attempts.notBefore - now);
      expect(attempts.due(attempts.notBefore - 1)).toBe(false);
      now = attempts.notBefore;
      expect(attempts.due(now)).toBe(true);
    }
    expect(ends).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('ends at its deadline with a TimeoutError naming the last error, or none', () => {
    const attempts = new Attempts(5_000, backoff);
    expect(attempts.expired(4_999)).toBe(false);
    expect(attempts.expired(5_000)).toBe(true);
    expect(attempts.timeout('the lookup').message).toBe('the lookup did not complete in time');
    expect(attempts.timeout('the lookup').cause).toBeUndefined();
    attempts.note(new Error('no leader is known'));
    expect(attempts.due(0)).toBe(true);
    const error = attempts.timeout('the lookup');
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.retriable).toBe(true);
    expect(error.message).toBe('the lookup did not complete in time: no leader is known');
  });

  it('never expires without a deadline', () => {
    expect(new Attempts(Number.POSITIVE_INFINITY, backoff).expired(Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});
