import crc32Module from 'crc-32';
import crc32cModule from 'crc-32/crc32c.js';

// crc-32 is CommonJS; Node exposes its functions on the default import only.

/** CRC-32C (Castagnoli) of `data[start, end)`, unsigned: record batch v2 (magic 2). */
export function crc32c(data: Uint8Array, start: number, end: number): number {
  return crc32cModule.buf(data.subarray(start, end)) >>> 0;
}

/** CRC-32 (IEEE) of `data[start, end)`, unsigned: legacy messages (magic 0 and 1). */
export function crc32(data: Uint8Array, start: number, end: number): number {
  return crc32Module.buf(data.subarray(start, end)) >>> 0;
}
