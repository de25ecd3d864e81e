import fc from 'fast-check';
import { encodeMessage, type MessageCodec, responseHeader, responseHeaderVersion } from '../../src/index.ts';
import { NO_TAGGED_FIELDS } from '../../src/primitives/tagged-fields.ts';
import { declarations } from '../declarations.generated.ts';
import { messageArbitrary, versionsOf } from '../message-arbitraries.ts';
import { messageCodecs } from '../message-codecs.ts';
import type { Seed } from './corpus-types.ts';
import { messageFieldPositions } from './field-positions.ts';

/** Puts a valid records region into every `records` field, so that Fetch and Produce seeds carry real batches. */
function fillRecords(value: unknown, regions: readonly Uint8Array[], counter: { next: number }): void {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const item of value) fillRecords(item, regions, counter);
    return;
  }
  const object = value as Record<string, unknown>;
  for (const [key, field] of Object.entries(object)) {
    if (key === 'records' && (field === null || field instanceof Uint8Array)) {
      object[key] = regions[counter.next++ % regions.length]!;
    } else {
      fillRecords(field, regions, counter);
    }
  }
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(first.length + second.length);
  bytes.set(first, 0);
  bytes.set(second, first.length);
  return bytes;
}

/**
 * Valid encodings of every request, response and header at every version: two values each from the fast-check
 * arbitraries (arrays of up to two elements, every optional and tagged field), the second with real records in
 * its `records` fields; responses also as whole frames (response header + body) for `decodeResponseFrame`.
 */
export function messageSeeds(recordRegions: readonly Uint8Array[]): Seed[] {
  const codecs = messageCodecs();
  const seeds: Seed[] = [];
  const counter = { next: 0 };
  for (const declaration of declarations) {
    const entry = codecs.get(declaration.name);
    if (entry === undefined) throw new Error(`no codec for ${declaration.name}`);
    const { codec, responseOf: api } = entry;
    for (const version of versionsOf(declaration)) {
      const values = fc.sample(messageArbitrary(declaration, version), { numRuns: 2, seed: 0x51ce + version });
      values.forEach((value, index) => {
        if (index === 1) fillRecords(value, recordRegions, counter);
        const bytes = encodeMessage(codec, version, value);
        const target = { kind: 'message', codec, version, frameApi: null } as const;
        const name = `${codec.name} v${version} #${index}`;
        const positions = messageFieldPositions(codec, version, bytes);
        seeds.push({ name, target, bytes, positions, inner: [], expectation: 'decodes' });
        if (api === null) return;
        const headerVersion = responseHeaderVersion(api.apiKey, version);
        const header = encodeMessage(responseHeader as MessageCodec<unknown>, headerVersion, {
          correlationId: 0x1234 + index,
          unknownTaggedFields: NO_TAGGED_FIELDS,
        });
        const frame = concat(header, bytes);
        seeds.push({
          name: `${name} frame`,
          target: { kind: 'message', codec, version, frameApi: api },
          bytes: frame,
          positions: [
            ...messageFieldPositions(responseHeader as MessageCodec<unknown>, headerVersion, header),
            ...positions.map((position) => ({ ...position, offset: position.offset + header.length })),
          ],
          inner: [],
          expectation: 'decodes',
        });
      });
    }
  }
  return seeds;
}
