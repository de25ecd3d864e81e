import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cImplementation, crc32cJavaScript } from '../src/records/checksums.ts';

describe('CRC-32C', () => {
  it('uses the hardware instruction where @node-rs/crc32 loads (it does on this platform)', () => {
    expect(crc32cImplementation).toBe('hardware');
  });

  it('gives the same value from the hardware and the JavaScript implementations, at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(), fc.nat(), (bytes, from, to) => {
        const start = bytes.length === 0 ? 0 : from % bytes.length;
        const end = start + (bytes.length === 0 ? 0 : to % (bytes.length - start + 1));
        expect(crc32c(bytes, start, end)).toBe(crc32cJavaScript(bytes, start, end));
      }),
    );
  });

  it('matches the standard check value', () => {
    // CRC-32C("123456789") = 0xE3069283 (RFC 3720, appendix B.4).
    const bytes = new TextEncoder().encode('123456789');
    expect(crc32c(bytes, 0, bytes.length)).toBe(0xe3069283);
    expect(crc32cJavaScript(bytes, 0, bytes.length)).toBe(0xe3069283);
  });
});
