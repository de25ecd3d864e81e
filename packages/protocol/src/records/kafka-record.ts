import type { RecordHeader } from './record-headers.ts';

/** What every decoded record offers, whichever format (v2 batch or legacy message) it came from. */
export interface KafkaRecord {
  /** Exact offset. */
  readonly offset: bigint;
  /** Exact timestamp in milliseconds; -1n when the record has none (message format v0). */
  readonly timestamp: bigint;
  /** The timestamp as a number: exact for every safe integer, which covers every real date. */
  readonly timestampMillis: number;
  /** A view into the fetched (or decompressed) bytes, made on each access; null for a null key. */
  readonly key: Uint8Array | null;
  /** A view into the fetched (or decompressed) bytes, made on each access; null for a null value (a tombstone). */
  readonly value: Uint8Array | null;
  /** Decoded on each call; legacy messages have none. */
  headers(): RecordHeader[];
}

const maximumSafe = BigInt(Number.MAX_SAFE_INTEGER);

/** `base + delta` as an exact bigint. */
export function addDelta(base: bigint, delta: number | bigint): bigint {
  return base + (typeof delta === 'number' ? BigInt(delta) : delta);
}

/** `base + delta` as a number, computed without bigints when both parts are safe (the usual case). */
export function addDeltaAsNumber(base: bigint, baseNumber: number, delta: number | bigint): number {
  if (typeof delta === 'number' && base <= maximumSafe && base >= -maximumSafe) {
    const sum = baseNumber + delta;
    if (Number.isSafeInteger(sum)) return sum;
  }
  return Number(addDelta(base, delta));
}
