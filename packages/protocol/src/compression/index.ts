// Compression codecs for Kafka record batches: gzip, snappy (raw and xerial-framed), lz4 (frame format), zstd.
export { type CompressionType, compressionTypeFromId, compressionTypeId } from './codec.ts';
export { type CompressOptions, compress, compressSync } from './compress.ts';
export { type CodecDecompressOptions, decompress, decompressSync } from './decompress.ts';
export { type DecompressOptions, defaultSyncThresholdBytes } from './options.ts';
export type { SnappyFraming } from './snappy.ts';
