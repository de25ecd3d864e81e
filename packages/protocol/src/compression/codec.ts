import { ProtocolError } from '../errors.ts';

/**
 * The compression codecs Kafka defines, by the name users know them under (`compression.type`).
 * The wire carries them as ids 0..4 in bits 0-2 of a batch's (or legacy message's) attributes.
 */
export type CompressionType = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

const typesById: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** The codec for a wire id; ids 5-7 are unassigned and refused. */
export function compressionTypeFromId(id: number, details: { field: string; offset: number }): CompressionType {
  const type = typesById[id];
  if (type === undefined) {
    throw new ProtocolError(`unknown compression codec id ${id}`, { reason: 'unknown-codec', ...details });
  }
  return type;
}

/** The wire id of a codec. */
export function compressionTypeId(type: CompressionType): number {
  const id = typesById.indexOf(type);
  if (id < 0) {
    throw new ProtocolError(`unknown compression type ${String(type)}`, {
      reason: 'unknown-codec',
      field: 'compression',
      offset: -1,
    });
  }
  return id;
}
