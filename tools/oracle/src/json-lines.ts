/**
 * JSON for the oracle's pipe. Going out, bigints become raw JSON number literals and byte arrays become base64
 * strings. Coming in, integer literals that a double cannot hold exactly become bigints.
 */

interface RawJson {
  rawJSON(text: string): unknown;
}

// Node 22+ has JSON.rawJSON; TypeScript's ES2023 lib does not declare it yet.
const rawJson = (JSON as unknown as RawJson).rawJSON;

const INTEGER = /^-?\d+$/;

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

export function stringifyLine(value: unknown): string {
  return JSON.stringify(value, function replace(this: Record<string, unknown>, key: string, converted: unknown) {
    // Buffer's toJSON has already run on `converted`; the holder still has the original.
    const original = this[key];
    if (original instanceof Uint8Array) return toBase64(original);
    if (typeof converted === 'bigint') return rawJson(converted.toString());
    return converted;
  });
}

export function parseLine(line: string): unknown {
  return JSON.parse(line, (_key: string, value: unknown, context?: { source?: string }) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && INTEGER.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
}
