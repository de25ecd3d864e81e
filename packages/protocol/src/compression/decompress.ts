import type { CompressionType } from './codec.ts';
import { lz4Decompress, lz4DecompressSync } from './lz4.ts';
import { checkLimitOption, type DecompressOptions, defaultSyncThresholdBytes, locationOf } from './options.ts';
import { snappyDecompress, snappyDecompressSync } from './snappy.ts';
import { gunzip, gunzipSync, zstdDecompress, zstdDecompressSync } from './zlib-codecs.ts';

export interface CodecDecompressOptions extends DecompressOptions {
  /** The data is the value of a message format v0 wrapper: its lz4 header checksum is the pre-KIP-57 one. */
  readonly legacyLz4HeaderChecksum?: boolean;
}

/**
 * Decompresses on the calling thread. Meant for small inputs; `decompress` picks this path by itself below
 * `syncThresholdBytes`. The output never exceeds `maxDecompressedBytes` and is never allocated past it.
 */
export function decompressSync(type: CompressionType, data: Uint8Array, options: CodecDecompressOptions): Uint8Array {
  checkLimitOption(options);
  const limit = options.maxDecompressedBytes;
  const location = locationOf(options);
  switch (type) {
    case 'none':
      return data;
    case 'gzip':
      return gunzipSync(data, limit, location);
    case 'snappy':
      return snappyDecompressSync(data, limit, location);
    case 'lz4':
      return lz4DecompressSync(data, limit, location, { legacyHeaderChecksum: options.legacyLz4HeaderChecksum });
    case 'zstd':
      return zstdDecompressSync(data, limit, location);
  }
}

/**
 * Decompresses off the event loop (libuv's thread pool) when the input has at least `syncThresholdBytes`
 * bytes, and on the calling thread below that.
 */
export async function decompress(
  type: CompressionType,
  data: Uint8Array,
  options: CodecDecompressOptions,
): Promise<Uint8Array> {
  if (type === 'none' || data.length < (options.syncThresholdBytes ?? defaultSyncThresholdBytes)) {
    return decompressSync(type, data, options);
  }
  checkLimitOption(options);
  const limit = options.maxDecompressedBytes;
  const location = locationOf(options);
  switch (type) {
    case 'gzip':
      return gunzip(data, limit, location);
    case 'snappy':
      return snappyDecompress(data, limit, location);
    case 'lz4':
      return lz4Decompress(data, limit, location, { legacyHeaderChecksum: options.legacyLz4HeaderChecksum });
    case 'zstd':
      return zstdDecompress(data, limit, location);
  }
}
