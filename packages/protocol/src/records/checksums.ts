import { createRequire } from 'node:module';
import crc32Module from 'crc-32';
import crc32cModule from 'crc-32/crc32c.js';

// crc-32 is CommonJS; Node exposes its functions on the default import only.

type Crc32cFunction = (input: Uint8Array, initialState?: number) => number;

/**
 * CRC-32C is the largest single cost of decoding a fetch with `check.crcs` on, so the SSE4.2/ARMv8 hardware
 * instruction is used when @node-rs/crc32 (an optional dependency with prebuilt binaries) loads; `crc-32`, in
 * plain JavaScript, is the fallback everywhere else. Both give the same value (tested).
 */
function loadHardwareCrc32c(): Crc32cFunction | null {
  if (process.env.SLUICE_CRC32C === 'javascript') return null;
  try {
    const native = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: Crc32cFunction };
    return typeof native.crc32c === 'function' ? native.crc32c : null;
  } catch {
    return null;
  }
}

const hardwareCrc32c = loadHardwareCrc32c();

/** Which CRC-32C implementation this process uses. */
export const crc32cImplementation: 'hardware' | 'javascript' = hardwareCrc32c ? 'hardware' : 'javascript';

/** CRC-32C (Castagnoli) of `data[start, end)` in plain JavaScript (the `crc-32` package), unsigned. */
export function crc32cJavaScript(data: Uint8Array, start: number, end: number): number {
  return crc32cModule.buf(data.subarray(start, end)) >>> 0;
}

/** CRC-32C (Castagnoli) of `data[start, end)`, unsigned: record batch v2 (magic 2). */
export function crc32c(data: Uint8Array, start: number, end: number): number {
  if (hardwareCrc32c) return hardwareCrc32c(data.subarray(start, end)) >>> 0;
  return crc32cJavaScript(data, start, end);
}

/** CRC-32 (IEEE) of `data[start, end)`, unsigned: legacy messages (magic 0 and 1). */
export function crc32(data: Uint8Array, start: number, end: number): number {
  return crc32Module.buf(data.subarray(start, end)) >>> 0;
}
