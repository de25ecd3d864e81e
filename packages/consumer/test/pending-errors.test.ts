/** Background errors wait once each until the application hears of them. */
import { describe, expect, it } from 'vitest';
import { PendingErrors } from '../src/pending-errors.ts';

describe('PendingErrors', () => {
  it('keeps one of each error until taken, in the order met, and counts every one', () => {
    const pending = new PendingErrors();
    const corrupt = new Error('record data of orders-0 at offset 30 cannot be read');
    for (let attempt = 0; attempt < 50; attempt++) {
      pending.add(corrupt);
      // A new error object with the same name and message (a broker error code, every retry.backoff.ms).
      pending.add(new RangeError('Fetch of orders-1 from node 2 failed with TOPIC_AUTHORIZATION_FAILED'));
    }
    const other = new Error('another');
    pending.add(other);
    expect(pending.met).toBe(101);
    const taken = pending.take();
    expect(taken).toHaveLength(3);
    expect(taken[0]).toBe(corrupt);
    expect(taken[1]).toBeInstanceOf(RangeError);
    expect(taken[2]).toBe(other);
    expect(pending.take()).toEqual([]);
    // Once heard of, the same error waits again when it comes back.
    pending.add(corrupt);
    expect(pending.take()).toEqual([corrupt]);
  });
});
