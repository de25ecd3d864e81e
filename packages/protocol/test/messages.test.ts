import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, ProtocolError } from '../src/index.ts';
import { declarations } from './declarations.generated.ts';
import { messageArbitrary, versionsOf } from './message-arbitraries.ts';
import { messageCodecs } from './message-codecs.ts';

const codecs = new Map([...messageCodecs()].map(([name, entry]) => [name, entry.codec]));

function expectProtocolError(action: () => unknown): void {
  try {
    action();
  } catch (error) {
    if (error instanceof ProtocolError) return;
    throw error;
  }
}

describe('every generated message at every version', () => {
  it('has a codec for every declaration and the other way round', () => {
    expect(new Set(declarations.map((declaration) => declaration.name))).toEqual(new Set(codecs.keys()));
    expect(declarations.length).toBe(70);
  });

  for (const declaration of declarations) {
    const codec = codecs.get(declaration.name)!;
    describe(declaration.name, () => {
      for (const version of versionsOf(declaration)) {
        it(`v${version}: encode -> decode -> encode gives the value and the bytes back`, () => {
          fc.assert(
            fc.property(messageArbitrary(declaration, version), (value) => {
              const bytes = encodeMessage(codec, version, value);
              const decoded = decodeMessage(codec, version, bytes);
              expect(decoded).toEqual(value);
              expect(encodeMessage(codec, version, decoded)).toEqual(bytes);
            }),
            { numRuns: 25 },
          );
        });

        it(`v${version}: every truncation and random garbage fail with a ProtocolError only`, () => {
          const [value] = fc.sample(messageArbitrary(declaration, version), { numRuns: 1, seed: version });
          const bytes = encodeMessage(codec, version, value);
          for (let length = 0; length < bytes.length; length++) {
            expect(() => decodeMessage(codec, version, bytes.subarray(0, length))).toThrow(ProtocolError);
          }
          fc.assert(
            fc.property(fc.uint8Array({ maxLength: 64 }), (garbage) => {
              expectProtocolError(() => decodeMessage(codec, version, garbage));
            }),
            { numRuns: 30 },
          );
        });
      }

      it('refuses versions outside its range', () => {
        expect(() => encodeMessage(codec, codec.maxVersion + 1, codec.createDefault())).toThrow(ProtocolError);
        expect(() => decodeMessage(codec, codec.minVersion - 1, new Uint8Array(0))).toThrow(ProtocolError);
      });
    });
  }
});
