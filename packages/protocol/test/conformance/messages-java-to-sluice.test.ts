// Conformance, Java -> Sluice: every message @sluice/protocol declares (request and response of each of the 33
// APIs, RequestHeader v0-2, ResponseHeader v0-1) at every version its codec speaks.
//
// For each message x version, Kafka 4.4's own classes (tools/oracle, `random`) fill the message from a seed by
// walking Kafka's schema of it: every field of the version gets a value (integer edges, non-ASCII strings, nulls,
// tagged fields present or absent, real record batches in `records` fields), and Java serializes it. Then:
//   1. Sluice decodes Java's bytes, consuming all of them;
//   2. the decoded value, in Kafka's JSON form (kafka-json.ts), equals the JSON Java printed for its message;
//   3. Sluice re-encodes the decoded value to bytes identical to Java's.
// Cases: SLUICE_CONFORMANCE_CASES seeds per message x version (default 4; x4 for Fetch, Produce and Metadata).
// RequestHeader v0 is not in Kafka 4.4 (see VERSIONS_JAVA_LACKS): it is checked against Java's v1 instead.
import { type Oracle, startOracle } from '@sluice/tools-oracle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allApis, decodeMessage, encodeMessage } from '../../src/index.ts';
import { normalizeJavaJson, toKafkaJson } from './kafka-json.ts';
import { casesFor, hex, javaLacks, messagesUnderTest, seedFor } from './message-cases.ts';

let oracle: Oracle;
let casesRun = 0;

beforeAll(async () => {
  oracle = await startOracle();
}, 120_000);

afterAll(async () => {
  console.log(`conformance, Java -> Sluice: ${casesRun} random messages of Java decoded and re-encoded by Sluice`);
  await oracle?.close();
});

describe('Java -> Sluice: Sluice decodes the bytes of Kafka 4.4 to its JSON, and re-encodes them exactly', () => {
  it('covers the request and response of all 33 APIs, both headers and the consumer protocol data', () => {
    expect(allApis).toHaveLength(33);
    expect(messagesUnderTest()).toHaveLength(2 * 33 + 2 + 2);
  });

  for (const { declaration, codec, versions } of messagesUnderTest()) {
    describe(declaration.name, () => {
      for (const version of versions) {
        if (javaLacks(declaration.name, version)) {
          it(`v${version}: Java has no such version; Sluice's v0 is Java's v1 without the clientId`, async () => {
            const count = casesFor(declaration.name);
            const seed = seedFor(declaration.name, version);
            const made = await Promise.all(
              Array.from({ length: count }, (_, index) =>
                oracle.random({ message: declaration.name, version: 1, seed: seed + index }),
              ),
            );
            for (const [index, { json, bytes }] of made.entries()) {
              const label = `${declaration.name} v${version} (from Java's v1, seed ${seed + index})`;
              const withoutClientId = bytes.subarray(0, 8);
              const decoded = decodeMessage(codec, version, withoutClientId);
              const { clientId: _clientId, ...expected } = json;
              expect(toKafkaJson(declaration, version, decoded), label).toEqual(expected);
              expect(hex(encodeMessage(codec, version, decoded)), label).toBe(hex(withoutClientId));
              casesRun++;
            }
          });
          continue;
        }
        it(`v${version}`, async () => {
          const count = casesFor(declaration.name);
          const seed = seedFor(declaration.name, version);
          const made = await Promise.all(
            Array.from({ length: count }, (_, index) =>
              oracle.random({ message: declaration.name, version, seed: seed + index }),
            ),
          );
          for (const [index, { json, bytes }] of made.entries()) {
            const label = `${declaration.name} v${version}, Java's random seed ${seed + index}, bytes ${hex(bytes)}`;
            const decoded = decodeMessage(codec, version, bytes);
            expect(toKafkaJson(declaration, version, decoded), label).toEqual(
              normalizeJavaJson(declaration, version, json),
            );
            expect(hex(encodeMessage(codec, version, decoded)), label).toBe(hex(bytes));
            casesRun++;
          }
        });
      }
    });
  }
});
