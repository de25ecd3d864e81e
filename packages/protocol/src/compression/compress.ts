import type { CompressionType } from './codec.ts';
import { lz4Compress, lz4CompressSync } from './lz4.ts';
import { type SnappyFraming, snappyCompress, snappyCompressSync } from './snappy.ts';
import { gzip, gzipSync, zstdCompress, zstdCompressSync } from './zlib-codecs.ts';

export interface CompressOptions {
  /** Snappy framing to write. Default `xerial`, as Kafka's Java producer writes it; every Kafka reader accepts it. */
  readonly snappyFraming?: SnappyFraming;
}

/** Compresses on the calling thread. */
export function compressSync(type: CompressionType, data: Uint8Array, options: CompressOptions = {}): Uint8Array {
  switch (type) {
    case 'none':
      return data;
    case 'gzip':
      return gzipSync(data);
    case 'snappy':
      return snappyCompressSync(data, options.snappyFraming ?? 'xerial');
    case 'lz4':
      return lz4CompressSync(data);
    case 'zstd':
      return zstdCompressSync(data);
  }
}

/** Compresses in libuv's thread pool. */
export async function compress(
  type: CompressionType,
  data: Uint8Array,
  options: CompressOptions = {},
): Promise<Uint8Array> {
  switch (type) {
    case 'none':
      return data;
    case 'gzip':
      return gzip(data);
    case 'snappy':
      return snappyCompress(data, options.snappyFraming ?? 'xerial');
    case 'lz4':
      return lz4Compress(data);
    case 'zstd':
      return zstdCompress(data);
  }
}
