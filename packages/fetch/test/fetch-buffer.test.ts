/**
 * The fetch buffer's lease rule: a response's frame goes back to the frame buffers at the first collect after every
 * partition of it was drained or dropped, so records stay valid until the next collect, and `detach()` copies for
 * longer. Also the byte count that bounds the read-ahead.
 */
import { randomBytes } from 'node:crypto';
import { ReusableFrameBuffers } from '@sluice/net';
import { encodeRecordBatchSync } from '@sluice/protocol';
import { describe, expect, it, vi } from 'vitest';
import type { ConsumerRecord } from '../src/fetched-record.ts';
import {
  answer,
  assign,
  batch,
  described,
  legacyMessage,
  marker,
  onlyFetch,
  orders0,
  payments0,
  setup,
  signal,
  text,
  utf8,
} from './fixtures.ts';

function leased(options: Parameters<typeof setup>[0] = {}) {
  const frames = { release: vi.fn((_view: ArrayBufferView) => true) };
  return { frames, ...setup(options, { frames }) };
}

const hex = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString('hex'));

describe('FetchBuffer: the lease rule', () => {
  it('releases a response at the first collect after all of its partitions were drained, not before', async () => {
    const { manager, subscriptions, buffer, frames } = leased();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    const orders = batch(10n, 4);
    const payments = batch(0n, 2);
    await answer(onlyFetch(manager, 0, 1), 10, [
      { tp: orders0, records: orders },
      { tp: payments0, records: payments },
    ]);
    expect(buffer.bufferedBytes).toBe(orders.length + payments.length);
    expect(described(buffer.collect(subscriptions, 3))).toEqual(['orders-0@10', 'orders-0@11', 'orders-0@12']);
    expect(frames.release).not.toHaveBeenCalled();
    // Drains both partitions: the records just handed out still view the frame.
    expect(described(buffer.collect(subscriptions, 3))).toEqual(['payments-0@0', 'payments-0@1', 'orders-0@13']);
    expect(frames.release).not.toHaveBeenCalled();
    expect(buffer.bufferedBytes).toBe(orders.length + payments.length);
    expect(buffer.collect(subscriptions, 3)).toEqual([]);
    expect(frames.release).toHaveBeenCalledTimes(1);
    expect(frames.release).toHaveBeenCalledWith(orders);
    expect(buffer.bufferedBytes).toBe(0);
    buffer.collect(subscriptions, 3);
    expect(frames.release).toHaveBeenCalledTimes(1);
  });

  it('releases each response on its own', async () => {
    const { manager, subscriptions, buffer, frames } = leased();
    assign(subscriptions, [[orders0, 0n]]);
    const first = batch(0n, 2);
    const second = batch(2n, 2);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: first }]);
    await answer(onlyFetch(manager, 10, 1), 20, [{ tp: orders0, records: second }]);
    expect(buffer.bufferedBytes).toBe(first.length + second.length);
    expect(described(buffer.collect(subscriptions, 3))).toEqual(['orders-0@0', 'orders-0@1', 'orders-0@2']);
    expect(frames.release).not.toHaveBeenCalled();
    expect(described(buffer.collect(subscriptions, 3))).toEqual(['orders-0@3']);
    expect(frames.release.mock.calls).toEqual([[first]]);
    expect(buffer.bufferedBytes).toBe(second.length);
    buffer.collect(subscriptions, 3);
    expect(frames.release.mock.calls).toEqual([[first], [second]]);
    expect(buffer.bufferedBytes).toBe(0);
  });

  it('releases a fetch dropped by a seek at the next collect when records were handed out with it', async () => {
    const { manager, subscriptions, buffer, frames } = leased();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    const orders = batch(10n, 4);
    const first = onlyFetch(manager, 0, 1);
    await answer(first, 10, [{ tp: orders0, records: orders }]);
    const payments = batch(0n, 2);
    await answer(onlyFetch(manager, 10, 1), 20, [{ tp: payments0, records: payments }]);
    subscriptions.seek(orders0, 50n);
    expect(described(buffer.collect(subscriptions, 10))).toEqual(['payments-0@0', 'payments-0@1']);
    expect(frames.release).not.toHaveBeenCalled();
    buffer.collect(subscriptions, 10);
    expect(frames.release.mock.calls).toEqual([[orders], [payments]]);
    expect(buffer.bufferedBytes).toBe(0);
  });

  it('releases what a collect drained or dropped at its end when it handed out nothing', async () => {
    const { manager, subscriptions, buffer, frames } = leased();
    assign(subscriptions, [[orders0, 10n]]);
    const bytes = batch(10n, 4);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: bytes }]);
    subscriptions.seek(orders0, 50n);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(frames.release.mock.calls).toEqual([[bytes]]);
    expect(buffer.bufferedBytes).toBe(0);
    // Only a transaction marker: drained by a collect that hands out nothing.
    const commit = marker(50n, 7n, 'commit');
    await answer(onlyFetch(manager, 10, 1), 20, [{ tp: orders0, records: commit }]);
    expect(buffer.bufferedBytes).toBe(commit.length);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(subscriptions.position(orders0)?.offset).toBe(51n);
    expect(frames.release.mock.calls).toEqual([[bytes], [commit]]);
    expect(buffer.bufferedBytes).toBe(0);
  });

  it('releases a fetch dropped by retain (on the manager’s poll) at the next collect', async () => {
    const { manager, subscriptions, buffer, frames } = leased();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    const bytes = batch(10n, 4);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: bytes }]);
    subscriptions.assignFromUser([payments0]);
    manager.poll(10);
    expect(buffer.bufferedBytesOf(orders0)).toBe(0);
    expect(frames.release).not.toHaveBeenCalled();
    expect(buffer.bufferedBytes).toBe(bytes.length);
    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(frames.release.mock.calls).toEqual([[bytes]]);
    expect(buffer.bufferedBytes).toBe(0);
  });

  it('releases a response that gave the buffer nothing as soon as it is handled', async () => {
    const { manager, subscriptions, buffer, frames } = leased();
    assign(subscriptions, [
      [orders0, 10n],
      [payments0, 0n],
    ]);
    // Only a batch before the fetch offset, and an answer about a position sought since.
    const cut = batch(5n, 3);
    const request = onlyFetch(manager, 0, 1);
    subscriptions.seek(payments0, 7n);
    await answer(request, 10, [
      { tp: orders0, records: cut },
      { tp: payments0, records: batch(0n, 2) },
    ]);
    expect(frames.release.mock.calls).toEqual([[cut]]);
    expect(buffer.bufferedBytes).toBe(0);
    // A session error answer is not used at all.
    const records = batch(10n, 1);
    await answer(onlyFetch(manager, 10, 1), 20, [{ tp: orders0, records }], { errorCode: 71 });
    expect(frames.release.mock.calls).toEqual([[cut], [records]]);
    // No records: nothing to release.
    await answer(onlyFetch(manager, 20, 1), 30, [{ tp: orders0 }, { tp: payments0 }]);
    expect(frames.release).toHaveBeenCalledTimes(2);
  });
});

describe('FetchBuffer: buffered bytes', () => {
  it('counts what a small compressed batch decompresses to when collect reaches it, until the release', async () => {
    const { manager, subscriptions, buffer } = leased();
    assign(subscriptions, [[orders0, 0n]]);
    const bytes = batch(0n, 20, { compression: 'gzip' });
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: bytes }]);
    expect(buffer.bufferedBytes).toBe(bytes.length);
    expect(buffer.collect(subscriptions, 5)).toHaveLength(5);
    const grown = buffer.bufferedBytes;
    expect(grown).toBeGreaterThan(bytes.length);
    expect(buffer.bufferedBytesOf(orders0)).toBe(grown);
    expect(buffer.collect(subscriptions, 100)).toHaveLength(15);
    expect(buffer.bufferedBytes).toBe(grown);
    buffer.collect(subscriptions, 100);
    expect(buffer.bufferedBytes).toBe(0);
  });

  it('counts the output of a large batch decompressed in the pool once it settled', async () => {
    const arrived = signal();
    const { manager, subscriptions, buffer } = leased({ onArrival: () => arrived.resolve() });
    assign(subscriptions, [[orders0, 0n]]);
    // Random values do not compress: the batch stays above the pool's 64 KiB threshold for lz4.
    const bytes = encodeRecordBatchSync({
      baseOffset: 0n,
      compression: 'lz4',
      records: Array.from({ length: 4 }, () => ({ value: randomBytes(20 * 1024) })),
    });
    expect(bytes.length).toBeGreaterThan(64 * 1024);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: bytes }]);
    expect(buffer.bufferedBytes).toBe(bytes.length);
    const arrivals = buffer.arrivals;
    await arrived.promise;
    expect(buffer.arrivals).toBe(arrivals + 1);
    expect(buffer.bufferedBytes).toBeGreaterThan(bytes.length + 80 * 1024);
    expect(buffer.collect(subscriptions, 100)).toHaveLength(4);
    buffer.collect(subscriptions, 100);
    expect(buffer.bufferedBytes).toBe(0);
  });
});

/** A batch of two records with 600-byte values filled with `fill`, keys and header values too. */
function filled(fill: string): Uint8Array {
  return encodeRecordBatchSync({
    baseOffset: 0n,
    partitionLeaderEpoch: 5,
    compression: 'none',
    records: [0, 1].map((index) => ({
      key: text(`${fill}-key-${index}`),
      value: text(fill.repeat(600)),
      headers: [
        { key: 'h', value: text(`${fill}-header-${index}`) },
        { key: 'empty', value: null },
      ],
    })),
  });
}

describe('FetchBuffer with reused frame buffers', () => {
  it('keeps a record valid until the next collect; then only a detached copy still reads the original bytes', async () => {
    const frames = new ReusableFrameBuffers({ smallestClassBytes: 1024 });
    const { manager, subscriptions, buffer } = setup({}, { frames });
    assign(subscriptions, [[orders0, 0n]]);
    const original = filled('a');
    const overwrite = filled('b');
    expect(overwrite.length).toBe(original.length);
    expect(original.length).toBeGreaterThan(1024);
    // The connection reads the response into an acquired frame; the records section is a view into it.
    const frame = frames.acquire(original.length + 100);
    frame.set(original, 100);
    const records = frame.subarray(100, 100 + original.length);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records }]);
    const handedOut = buffer.collect(subscriptions, 10) as ConsumerRecord[];
    expect(handedOut).toHaveLength(2);
    const record = handedOut[0]!;
    const valueView = record.value!;
    expect(valueView.buffer).toBe(frame.buffer);
    const detached = record.detach();
    // Until the next collect the frame is not handed out again.
    expect(frames.retainedBuffers).toBe(0);
    expect(frames.acquire(original.length + 100).buffer).not.toBe(frame.buffer);
    expect(utf8(record.value)).toBe('a'.repeat(600));

    expect(buffer.collect(subscriptions, 10)).toEqual([]);
    expect(frames.retainedBuffers).toBe(1);
    const next = frames.acquire(original.length + 100);
    expect(next.buffer).toBe(frame.buffer);
    next.set(overwrite, 100);

    // Not detached: the record (and any view taken from it) reads the later response's bytes.
    expect(utf8(valueView)).toBe('b'.repeat(600));
    expect(utf8(record.value)).toBe('b'.repeat(600));
    expect(utf8(record.key)).toBe('b-key-0');
    expect(record.headers.map((header) => [header.key, utf8(header.value)])).toEqual([
      ['h', 'b-header-0'],
      ['empty', null],
    ]);
    // Detached: its own bytes.
    expect(detached).toMatchObject({ topic: 'orders', partition: 0, offset: 0n, leaderEpoch: 5 });
    expect(utf8(detached.value)).toBe('a'.repeat(600));
    expect(utf8(detached.key)).toBe('a-key-0');
    expect(detached.headers.map((header) => [header.key, utf8(header.value)])).toEqual([
      ['h', 'a-header-0'],
      ['empty', null],
    ]);
    expect(detached.value!.buffer).not.toBe(frame.buffer);
  });

  it('detach copies the header values a record already decoded, and of a detached copy again', async () => {
    const frames = new ReusableFrameBuffers({ smallestClassBytes: 1024 });
    const { manager, subscriptions, buffer } = setup({}, { frames });
    assign(subscriptions, [[orders0, 0n]]);
    const original = filled('a');
    const frame = frames.acquire(original.length);
    frame.set(original);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: frame.subarray(0, original.length) }]);
    const record = (buffer.collect(subscriptions, 10) as ConsumerRecord[])[1]!;
    const headers = record.headers;
    const detached = record.detach();
    const again = detached.detach();
    buffer.collect(subscriptions, 10);
    frames.acquire(original.length).set(filled('b'));
    expect(utf8(headers[0]!.value)).toBe('b-header-1');
    for (const copy of [detached, again]) {
      expect(hex(copy.headers[0]!.value)).toBe(hex(text('a-header-1')));
      expect(utf8(copy.value)).toBe('a'.repeat(600));
    }
    expect(again.value).not.toBe(detached.value);
  });

  it('detach copies the key and value of a legacy record', async () => {
    const frames = new ReusableFrameBuffers({ smallestClassBytes: 1024 });
    const { manager, subscriptions, buffer } = setup({}, { frames });
    assign(subscriptions, [[orders0, 0n]]);
    const message = (fill: string) =>
      legacyMessage({ offset: 0n, magic: 1, timestamp: 5n, key: text(`${fill}-key`), value: text(fill.repeat(2000)) });
    const original = message('a');
    const frame = frames.acquire(original.length);
    frame.set(original);
    await answer(onlyFetch(manager, 0, 1), 10, [{ tp: orders0, records: frame.subarray(0, original.length) }]);
    const record = (buffer.collect(subscriptions, 10) as ConsumerRecord[])[0]!;
    const detached = record.detach();
    buffer.collect(subscriptions, 10);
    frames.acquire(original.length).set(message('b'));
    expect(utf8(record.key)).toBe('b-key');
    expect(detached).toMatchObject({ offset: 0n, timestamp: 5n, timestampType: 'create-time', leaderEpoch: -1 });
    expect(utf8(detached.key)).toBe('a-key');
    expect(utf8(detached.value)).toBe('a'.repeat(2000));
  });
});
