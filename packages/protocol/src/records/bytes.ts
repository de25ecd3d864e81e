// Fixed-width big-endian reads and writes over plain Uint8Arrays. The record hot path reads its own bytes instead
// of going through a general-purpose reader: these are the few widths a batch header needs.

export function readInt16(data: Uint8Array, position: number): number {
  return ((data[position]! << 24) | (data[position + 1]! << 16)) >> 16;
}

export function readInt32(data: Uint8Array, position: number): number {
  return (data[position]! << 24) | (data[position + 1]! << 16) | (data[position + 2]! << 8) | data[position + 3]!;
}

export function readUint32(data: Uint8Array, position: number): number {
  return readInt32(data, position) >>> 0;
}

/** An int64 exactly, as a bigint. */
export function readInt64(data: Uint8Array, position: number): bigint {
  return (BigInt(readInt32(data, position)) << 32n) | BigInt(readUint32(data, position + 4));
}

export function writeInt16(data: Uint8Array, position: number, value: number): void {
  data[position] = value >>> 8;
  data[position + 1] = value;
}

export function writeInt32(data: Uint8Array, position: number, value: number): void {
  data[position] = value >>> 24;
  data[position + 1] = value >>> 16;
  data[position + 2] = value >>> 8;
  data[position + 3] = value;
}

export function writeInt64(data: Uint8Array, position: number, value: bigint): void {
  const unsigned = BigInt.asUintN(64, value);
  writeInt32(data, position, Number(unsigned >> 32n));
  writeInt32(data, position + 4, Number(unsigned & 0xffffffffn));
}
