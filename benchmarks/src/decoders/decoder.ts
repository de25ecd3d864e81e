import type { CompressionType } from '@sluice/protocol';
import type { Fixture } from '../fixtures.ts';

/** What the timed loop keeps from every record, as a consumer would: enough that no decoder can skip the work. */
export interface Tally {
  records: number;
  keyBytes: number;
  valueBytes: number;
  /** Offset and timestamp of the last record, in decimal, whatever type the decoder gives them in. */
  lastOffset: string;
  lastTimestamp: string;
}

/** A full fingerprint of the decoded records, taken once per fixture (not timed) to prove every decoder agrees. */
export interface Checksum {
  records: number;
  /** FNV-1a over every key's and every value's bytes, in record order. */
  keyHash: number;
  valueHash: number;
  offsetSum: string;
  timestampSum: string;
  headers: number;
}

export interface DecoderUnderTest {
  /** Column id in the table and the JSON. */
  readonly id: string;
  readonly label: string;
  /** Measured on compressed rows only (a pipelined decompression path): absent from uncompressed rows. */
  readonly compressedOnly?: boolean;
  /** Undefined when the decoder can read this codec, else why not (printed as "n/a"). */
  unsupported(compression: CompressionType): string | undefined;
  tally(fixture: Fixture): Tally | Promise<Tally>;
  checksum(fixture: Fixture): Checksum | Promise<Checksum>;
}

export function emptyChecksum(): Checksum {
  return { records: 0, keyHash: 0x811c9dc5, valueHash: 0x811c9dc5, offsetSum: '0', timestampSum: '0', headers: 0 };
}

/** FNV-1a, 32 bits, continued from `hash`. */
export function hashBytes(hash: number, bytes: Uint8Array | null): number {
  if (bytes === null) return Math.imul(hash ^ 0xff, 0x01000193) >>> 0;
  let value = hash;
  for (let index = 0; index < bytes.length; index++) value = Math.imul(value ^ bytes[index]!, 0x01000193);
  return value >>> 0;
}

/** Fails loudly when a timed run read something other than the fixture holds. */
export function checkTally(id: string, fixture: Fixture, tally: Tally): void {
  const expectedValueBytes = fixture.records * fixture.shape.valueSize;
  if (
    tally.records !== fixture.records ||
    tally.valueBytes !== expectedValueBytes ||
    tally.keyBytes + tally.valueBytes !== fixture.payloadBytes ||
    tally.lastOffset !== String(fixture.lastOffset) ||
    tally.lastTimestamp !== String(fixture.lastTimestamp)
  ) {
    throw new Error(
      `${id} read ${tally.records} records, ${tally.valueBytes} value bytes, last offset ${tally.lastOffset} ` +
        `at ${tally.lastTimestamp}; the fixture holds ${fixture.records}, ${expectedValueBytes}, ` +
        `${fixture.lastOffset} at ${fixture.lastTimestamp}`,
    );
  }
}
