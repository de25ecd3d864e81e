// Conformance, Sluice -> Java: every message @sluice/protocol declares (request and response of each of the 33
// APIs, RequestHeader v0-2, ResponseHeader v0-1) at every version its codec speaks.
//
// For each message x version, Sluice builds values from the declarations (the fast-check arbitraries of
// test/message-arbitraries.ts, sampled with a fixed seed: full int ranges, int64 beyond 2^53, grapheme strings,
// nulls, empty and non-empty arrays, random bytes and records, unknown tagged fields with raw payloads) and encodes
// them. Then Kafka 4.4's own classes (tools/oracle):
//   1. decode Sluice's bytes, consuming all of them (`decode`: `new <Message>Data(accessor, version)`), unknown
//      tagged fields included;
//   2. print the same value: Java's JSON equals Sluice's value in Kafka's JSON form (kafka-json.ts);
//   3. encode that JSON (`encode`: `<Message>DataJsonConverter.read`, then `write`) to bytes identical to Sluice's
//      (to Sluice's bytes of the value without its unknown tagged fields, which Kafka's JSON cannot carry);
//   4. and Sluice decodes Java's bytes back to the value.
// Cases: SLUICE_CONFORMANCE_CASES values per message x version (default 4; x4 for Fetch, Produce and Metadata),
// plus the largest of them enlarged (kafka-json.ts `enlarge`: long strings, bytes and root arrays), so that every
// length prefix is also proven in its multi-byte form.
// RequestHeader v0 is not in Kafka 4.4 (see VERSIONS_JAVA_LACKS): it is checked against Java's v1 instead.
import { type Oracle, startOracle } from '@sluice/tools-oracle';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/index.ts';
import { messageArbitrary } from '../message-arbitraries.ts';
import {
  enlarge,
  hasUnknownTaggedFields,
  normalizeJavaJson,
  toKafkaJson,
  withoutUnknownTaggedFields,
} from './kafka-json.ts';
import { casesFor, hex, javaLacks, messagesUnderTest, seedFor } from './message-cases.ts';

/** The value whose encoding is longest: the one with the most fields, elements and nesting to enlarge. */
function largest(values: unknown[], encode: (value: unknown) => Uint8Array): unknown {
  let best = values[0];
  let bestLength = -1;
  for (const value of values) {
    const length = encode(value).length;
    if (length > bestLength) [best, bestLength] = [value, length];
  }
  return best;
}

let oracle: Oracle;
let casesRun = 0;
let casesWithUnknownTaggedFields = 0;

beforeAll(async () => {
  oracle = await startOracle();
}, 120_000);

afterAll(async () => {
  console.log(
    `conformance, Sluice -> Java: ${casesRun} messages encoded by Sluice, decoded and re-encoded by Java ` +
      `(${casesWithUnknownTaggedFields} of them with unknown tagged fields)`,
  );
  await oracle?.close();
});

describe("Sluice -> Java: Kafka 4.4 decodes Sluice's bytes to the same value, and encodes it to the same bytes", () => {
  for (const { declaration, codec, versions } of messagesUnderTest()) {
    describe(declaration.name, () => {
      for (const version of versions) {
        const sample = () =>
          fc.sample(messageArbitrary(declaration, version), {
            numRuns: casesFor(declaration.name),
            seed: seedFor(declaration.name, version),
          });

        if (javaLacks(declaration.name, version)) {
          it(`v${version}: Java has no such version; Sluice's v0 is Java's v1 without the clientId`, async () => {
            for (const value of sample()) {
              const bytes = encodeMessage(codec, version, value);
              const label = `${declaration.name} v${version}, bytes ${hex(bytes)}`;
              const json = { ...toKafkaJson(declaration, version, value), clientId: null };
              const javaV1 = await oracle.encode({ message: declaration.name, version: 1, json });
              expect(hex(javaV1), label).toBe(`${hex(bytes)}ffff`);
              casesRun++;
            }
          });
          continue;
        }

        const check = async (values: unknown[]) => {
          const encoded = values.map((value) => encodeMessage(codec, version, value));
          const jsons = values.map((value) => toKafkaJson(declaration, version, value));
          const [decodedByJava, encodedByJava] = await Promise.all([
            Promise.all(encoded.map((bytes) => oracle.decode({ message: declaration.name, version, bytes }))),
            Promise.all(jsons.map((json) => oracle.encode({ message: declaration.name, version, json }))),
          ]);
          for (const [index, value] of values.entries()) {
            const bytes = encoded[index]!;
            const label = `${declaration.name} v${version}, case ${index} of seed ${seedFor(declaration.name, version)}, Sluice's bytes ${hex(bytes)}`;
            const decoded = decodedByJava[index]!;
            expect(decoded.consumedAll, `${label}: Java consumed ${decoded.consumed} bytes`).toBe(true);
            expect(normalizeJavaJson(declaration, version, decoded.json), label).toEqual(jsons[index]);
            const comparable = hasUnknownTaggedFields(value)
              ? encodeMessage(codec, version, withoutUnknownTaggedFields(value))
              : bytes;
            const javaBytes = encodedByJava[index]!;
            expect(hex(javaBytes), label).toBe(hex(comparable));
            // And Sluice reads Java's bytes back to the value (for the enlarged values: multi-byte lengths from Java).
            expect(toKafkaJson(declaration, version, decodeMessage(codec, version, javaBytes)), label).toEqual(
              jsons[index],
            );
            if (comparable !== bytes) casesWithUnknownTaggedFields++;
            casesRun++;
          }
        };
        it(`v${version}`, () => check(sample()));
        it(`v${version}: long strings, bytes and arrays`, () =>
          check([
            enlarge(
              declaration,
              version,
              largest(sample(), (value) => encodeMessage(codec, version, value)),
            ),
          ]));
      }
    });
  }
});
