// What the message conformance suites iterate over: every message @sluice/protocol declares (the request and
// response of every API, the request and response headers, and the consumer protocol's subscription and
// assignment) at every version its codec speaks, and how many
// cases each message x version gets.
import type { MessageCodec } from '../../src/index.ts';
import type { MessageShape } from '../declaration-types.ts';
import { declarations } from '../declarations.generated.ts';
import { messageCodecs } from '../message-codecs.ts';

export interface MessageUnderTest {
  readonly declaration: MessageShape;
  readonly codec: MessageCodec<unknown>;
  readonly versions: readonly number[];
}

/** Every declared message with its codec and the versions the codec speaks (minVersion..maxVersion). */
export function messagesUnderTest(): MessageUnderTest[] {
  const codecs = messageCodecs();
  return declarations.map((declaration) => {
    const codec = codecs.get(declaration.name)?.codec;
    if (codec === undefined) throw new Error(`no codec for the declaration ${declaration.name}`);
    const versions: number[] = [];
    for (let version = codec.minVersion; version <= codec.maxVersion; version++) versions.push(version);
    return { declaration, codec, versions };
  });
}

/**
 * Versions Sluice's codec speaks that Kafka 4.4's Java classes cannot serve, so Java cannot be the oracle for them.
 * RequestHeader v0 (the header of ControlledShutdown v0, removed in Kafka 4.0) is outside Kafka's RequestHeader.json
 * `validVersions: 1-2`; Java's RequestHeaderData reads and writes a clientId at v0 because ClientId's `versions: 1+`
 * covers all of Kafka's valid versions. For it the suites check instead that Sluice's v0 is exactly Java's v1
 * without the clientId (the old v0 layout: apiKey, apiVersion, correlationId).
 */
export const VERSIONS_JAVA_LACKS: ReadonlyMap<string, readonly number[]> = new Map([['RequestHeader', [0]]]);

export function javaLacks(message: string, version: number): boolean {
  return VERSIONS_JAVA_LACKS.get(message)?.includes(version) ?? false;
}

// The messages whose shape matters most to a consumer (and which are the deepest) get more cases.
const HEAVY_MESSAGES = new Set([
  'FetchRequest',
  'FetchResponse',
  'ProduceRequest',
  'ProduceResponse',
  'MetadataRequest',
  'MetadataResponse',
]);
const HEAVY_FACTOR = 4;
const DEFAULT_CASES = 4;

/**
 * Cases per message x version and direction: SLUICE_CONFORMANCE_CASES (default 4) for most messages, four times
 * as many for Fetch, Produce and Metadata. Raise it for a longer run: SLUICE_CONFORMANCE_CASES=100.
 */
export function casesFor(message: string): number {
  const configured = process.env.SLUICE_CONFORMANCE_CASES;
  const base = configured === undefined || configured === '' ? DEFAULT_CASES : Number(configured);
  if (!Number.isSafeInteger(base) || base < 1) {
    throw new Error(`SLUICE_CONFORMANCE_CASES must be a positive integer, got ${configured}`);
  }
  return HEAVY_MESSAGES.has(message) ? base * HEAVY_FACTOR : base;
}

/** A fixed seed per message x version (FNV-1a of the name), so each gets its own values and a rerun the same. */
export function seedFor(message: string, version: number): number {
  let hash = 0x811c9dc5;
  for (const character of `${message}/v${version}`) {
    hash ^= character.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
