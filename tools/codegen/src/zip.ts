import { inflateRawSync } from 'node:zlib';

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

export class ZipError extends Error {
  override name = 'ZipError';
}

/**
 * Reads the entries of a zip (a jar) whose names pass `include`, without an unzip binary: fresh machines have Node
 * and a JDK, not always `unzip`. Handles stored and deflated entries, which is all a jar holds; no zip64.
 */
export function readZipEntries(zip: Buffer, include: (name: string) => boolean): Map<string, Buffer> {
  // The end record is 22 bytes plus a comment of up to 65535 bytes, so it is found by scanning back from the end.
  let endOffset = -1;
  for (let offset = zip.length - 22; offset >= Math.max(0, zip.length - 22 - 0xffff); offset--) {
    if (zip.readUInt32LE(offset) === END_OF_CENTRAL_DIRECTORY) {
      endOffset = offset;
      break;
    }
  }
  if (endOffset < 0) throw new ZipError('no end-of-central-directory record: not a zip file');
  const entryCount = zip.readUInt16LE(endOffset + 10);
  let offset = zip.readUInt32LE(endOffset + 16);
  const entries = new Map<string, Buffer>();
  for (let index = 0; index < entryCount; index++) {
    if (zip.readUInt32LE(offset) !== CENTRAL_DIRECTORY_ENTRY) throw new ZipError(`bad central directory at ${offset}`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localOffset = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + extraLength + commentLength;
    if (!include(name)) continue;
    if (zip.readUInt32LE(localOffset) !== LOCAL_FILE_HEADER) throw new ZipError(`bad local header for ${name}`);
    const dataOffset = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const data = zip.subarray(dataOffset, dataOffset + compressedSize);
    if (method === 0) entries.set(name, Buffer.from(data));
    else if (method === 8) entries.set(name, inflateRawSync(data));
    else throw new ZipError(`${name} uses compression method ${method}`);
  }
  return entries;
}
