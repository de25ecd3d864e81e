// XXH32, the checksum of the LZ4 frame format (header, block and content checksums). Written from the
// algorithm's published description; only this module's LZ4 frame handling uses it.

const prime1 = 2654435761;
const prime2 = 2246822519;
const prime3 = 3266489917;
const prime4 = 668265263;
const prime5 = 374761393;

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function readUint32LittleEndian(data: Uint8Array, index: number): number {
  return data[index]! | (data[index + 1]! << 8) | (data[index + 2]! << 16) | (data[index + 3]! << 24);
}

function round(accumulator: number, input: number): number {
  return Math.imul(rotateLeft((accumulator + Math.imul(input, prime2)) | 0, 13), prime1);
}

/** XXH32 of `data[start, end)` with the given seed, as an unsigned 32-bit number. */
export function xxhash32(data: Uint8Array, start = 0, end = data.length, seed = 0): number {
  let index = start;
  let hash: number;
  if (end - start >= 16) {
    let v1 = (seed + prime1 + prime2) | 0;
    let v2 = (seed + prime2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - prime1) | 0;
    for (; index <= end - 16; index += 16) {
      v1 = round(v1, readUint32LittleEndian(data, index));
      v2 = round(v2, readUint32LittleEndian(data, index + 4));
      v3 = round(v3, readUint32LittleEndian(data, index + 8));
      v4 = round(v4, readUint32LittleEndian(data, index + 12));
    }
    hash = (rotateLeft(v1, 1) + rotateLeft(v2, 7) + rotateLeft(v3, 12) + rotateLeft(v4, 18)) | 0;
  } else {
    hash = (seed + prime5) | 0;
  }
  hash = (hash + (end - start)) | 0;
  for (; index + 4 <= end; index += 4) {
    hash = Math.imul(rotateLeft((hash + Math.imul(readUint32LittleEndian(data, index), prime3)) | 0, 17), prime4);
  }
  for (; index < end; index++) {
    hash = Math.imul(rotateLeft((hash + Math.imul(data[index]!, prime5)) | 0, 11), prime1);
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, prime2);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, prime3);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
