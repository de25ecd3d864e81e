import { ProtocolError } from '../errors.ts';
import { readInt16 } from './bytes.ts';

/** Control record types (the key's `type` field); abort and commit are transaction markers (KIP-98). */
export type ControlRecordType =
  | 'abort'
  | 'commit'
  | 'leader-change'
  | 'snapshot-header'
  | 'snapshot-footer'
  | 'unknown';

const controlTypes: readonly ControlRecordType[] = [
  'abort',
  'commit',
  'leader-change',
  'snapshot-header',
  'snapshot-footer',
];

export interface ControlRecordKey {
  readonly version: number;
  /** The type id as on the wire. */
  readonly typeId: number;
  readonly type: ControlRecordType;
}

/** Decodes the key of a record in a control batch: version int16, type int16 (later versions may append fields). */
export function decodeControlRecordKey(key: Uint8Array | null): ControlRecordKey {
  if (key === null || key.length < 4) {
    throw new ProtocolError('control record key needs 4 bytes (version, type)', {
      reason: 'truncated',
      field: 'ControlRecord.key',
      offset: key === null ? -1 : key.length,
    });
  }
  const version = readInt16(key, 0);
  const typeId = readInt16(key, 2);
  return { version, typeId, type: controlTypes[typeId] ?? 'unknown' };
}

/** The 4-byte key of an abort or commit marker, for encoding control batches. */
export function encodeControlRecordKey(type: 'abort' | 'commit', version = 0): Uint8Array {
  return Uint8Array.of(version >>> 8, version & 0xff, 0, type === 'abort' ? 0 : 1);
}
