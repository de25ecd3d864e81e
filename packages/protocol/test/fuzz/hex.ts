/** The first `limit` bytes as hex in lines of 32 bytes, with the total length when it was cut. */
export function hexDump(bytes: Uint8Array, limit = 256): string {
  const shown = bytes.subarray(0, limit);
  const lines: string[] = [];
  for (let start = 0; start < shown.length; start += 32) {
    lines.push(Buffer.from(shown.subarray(start, start + 32)).toString('hex'));
  }
  const cut = bytes.length > limit ? ` (first ${limit} of ${bytes.length} bytes)` : ` (${bytes.length} bytes)`;
  return `${lines.join('\n')}${cut}`;
}

/** The whole input as one hex string: what a regression test pastes back. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}
