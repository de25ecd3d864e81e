import { crc32, crc32c } from '../../src/records/checksums.ts';

/**
 * Recomputes the CRC of every batch (CRC-32C, magic 2) and legacy message (CRC-32, magic 0/1) whose length field
 * fits the bytes, in place. Without this almost every mutation of a records region would stop at the CRC check,
 * and the decoders behind it would never see hostile input.
 */
export function repairChecksums(data: Uint8Array): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let position = 0;
  while (position + 17 <= data.length) {
    const length = view.getInt32(position + 8);
    const end = position + 12 + length;
    if (length < 5 || end > data.length) return;
    const magic = data[position + 16];
    if (magic === 2 && length >= 9) view.setUint32(position + 17, crc32c(data, position + 21, end));
    else if (magic === 0 || magic === 1) view.setUint32(position + 12, crc32(data, position + 16, end));
    position = end;
  }
}
