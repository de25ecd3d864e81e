import * as zlib from 'node:zlib';
import type { ProtocolError } from '../errors.ts';
import { decompressionFailed, type ErrorLocation, limitExceeded } from './options.ts';

// gzip and zstd both come from node:zlib, share its output cap (`maxOutputLength`, enforced while inflating, so
// a bomb never allocates past the limit) and its async mode (work runs in libuv's thread pool).

type SyncInflate = (data: Uint8Array, options: zlib.ZlibOptions & zlib.ZstdOptions) => Buffer;
type AsyncInflate = (
  data: Uint8Array,
  options: zlib.ZlibOptions & zlib.ZstdOptions,
  callback: (error: Error | null, result: Buffer) => void,
) => void;

interface ZlibCodec {
  readonly name: string;
  readonly inflateSync: SyncInflate;
  readonly inflate: AsyncInflate;
}

const gzipCodec: ZlibCodec = { name: 'gzip', inflateSync: zlib.gunzipSync, inflate: zlib.gunzip };
const zstdCodec: ZlibCodec = {
  name: 'zstd',
  inflateSync: zlib.zstdDecompressSync as SyncInflate,
  inflate: zlib.zstdDecompress as AsyncInflate,
};

function translate(codec: ZlibCodec, error: unknown, limit: number, location: ErrorLocation): ProtocolError {
  if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return limitExceeded(limit, location);
  return decompressionFailed(codec.name, error, location);
}

/**
 * zlib inflates into chunks of `chunkSize` bytes (16 KiB by default), and in async mode every chunk is a round
 * trip to the thread pool: sized from the input (4x the compressed bytes, a typical ratio, from 64 KiB to 1 MiB),
 * a batch takes a few steps instead of hundreds. Never above the caller's limit, so the cap still bounds memory.
 */
function inflateOptions(data: Uint8Array, limit: number): zlib.ZlibOptions & zlib.ZstdOptions {
  const estimate = Math.min(Math.max(data.length * 4, 64 * 1024), 1024 * 1024);
  return { maxOutputLength: Math.max(limit, 1), chunkSize: Math.max(64, Math.min(estimate, limit)) };
}

function inflateSync(codec: ZlibCodec, data: Uint8Array, limit: number, location: ErrorLocation): Buffer {
  try {
    return codec.inflateSync(data, inflateOptions(data, limit));
  } catch (error) {
    throw translate(codec, error, limit, location);
  }
}

function inflate(codec: ZlibCodec, data: Uint8Array, limit: number, location: ErrorLocation): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    codec.inflate(data, inflateOptions(data, limit), (error, result) => {
      if (error) reject(translate(codec, error, limit, location));
      else resolve(result);
    });
  });
}

// zlib's maxOutputLength must be at least 1, so a limit of 0 is enforced on the output.
function checkZeroLimit(output: Buffer, limit: number, location: ErrorLocation): Buffer {
  if (output.length > limit) throw limitExceeded(limit, location, output.length);
  return output;
}

export function gunzipSync(data: Uint8Array, limit: number, location: ErrorLocation): Buffer {
  return checkZeroLimit(inflateSync(gzipCodec, data, limit, location), limit, location);
}

export async function gunzip(data: Uint8Array, limit: number, location: ErrorLocation): Promise<Buffer> {
  return checkZeroLimit(await inflate(gzipCodec, data, limit, location), limit, location);
}

export function zstdDecompressSync(data: Uint8Array, limit: number, location: ErrorLocation): Buffer {
  return checkZeroLimit(inflateSync(zstdCodec, data, limit, location), limit, location);
}

export async function zstdDecompress(data: Uint8Array, limit: number, location: ErrorLocation): Promise<Buffer> {
  return checkZeroLimit(await inflate(zstdCodec, data, limit, location), limit, location);
}

export function gzipSync(data: Uint8Array): Buffer {
  return zlib.gzipSync(data);
}

export function gzip(data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.gzip(data, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

export function zstdCompressSync(data: Uint8Array): Buffer {
  return zlib.zstdCompressSync(data);
}

export function zstdCompress(data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.zstdCompress(data, (error, result) => (error ? reject(error) : resolve(result)));
  });
}
