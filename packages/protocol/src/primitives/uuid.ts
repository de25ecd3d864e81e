/**
 * UUIDs are carried as Kafka's `Uuid.toString()` spells them: the 16 bytes in unpadded base64url (22 characters).
 * Strings compare with `===` and key a Map, which is most of what topic IDs are used for.
 */
export type Uuid = string;

/** Kafka's "no UUID" sentinel (all 16 bytes zero), the default of every uuid field. */
export const ZERO_UUID: Uuid = 'AAAAAAAAAAAAAAAAAAAAAA';

// 21 characters carry 126 bits; the 22nd carries the last 2 bits, so its low 4 bits must be zero (A, Q, g or w).
const UUID_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

export function isUuid(value: unknown): value is Uuid {
  return typeof value === 'string' && value.length === 22 && UUID_PATTERN.test(value);
}

/** The 22-character form of 16 bytes. */
export function uuidFromBytes(bytes: Uint8Array): Uuid {
  if (bytes.byteLength !== 16) throw new RangeError(`a UUID has 16 bytes, not ${bytes.byteLength}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('base64url');
}

/** The 16 bytes of a UUID string (a copy). */
export function uuidToBytes(uuid: Uuid): Uint8Array {
  if (!isUuid(uuid)) throw new RangeError(`not a Kafka UUID string: ${String(uuid)}`);
  return new Uint8Array(Buffer.from(uuid, 'base64url'));
}
