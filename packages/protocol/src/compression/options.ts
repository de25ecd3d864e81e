import { ProtocolError } from '../errors.ts';

export interface DecompressOptions {
  /** Largest output accepted; more gives ProtocolError 'decompression-limit'. */
  readonly maxDecompressedBytes: number;
  /**
   * Inputs of fewer compressed bytes than this are decompressed on the calling thread even by the async
   * functions: handing a tiny batch to the thread pool costs more than decompressing it. Default 16 KiB.
   */
  readonly syncThresholdBytes?: number;
  /** Field path named in errors. Default `records`. */
  readonly field?: string;
  /** Byte offset of the compressed data in the buffer the caller is reading, for errors. Default -1. */
  readonly offset?: number;
}

export const defaultSyncThresholdBytes = 16 * 1024;

/** Error details resolved once per call. */
export interface ErrorLocation {
  readonly field: string;
  readonly offset: number;
}

export function locationOf(options: DecompressOptions): ErrorLocation {
  return { field: options.field ?? 'records', offset: options.offset ?? -1 };
}

export function checkLimitOption(options: DecompressOptions): void {
  const limit = options.maxDecompressedBytes;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new ProtocolError(`maxDecompressedBytes must be a non-negative integer, got ${limit}`, {
      reason: 'invalid-value',
      field: 'maxDecompressedBytes',
      offset: -1,
    });
  }
}

export function limitExceeded(limit: number, location: ErrorLocation, size?: number): ProtocolError {
  const what = size === undefined ? 'decompressed data exceeds' : `decompressed size ${size} exceeds`;
  return new ProtocolError(`${what} the limit of ${limit} bytes`, { reason: 'decompression-limit', ...location });
}

export function decompressionFailed(codec: string, cause: unknown, location: ErrorLocation): ProtocolError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  const error = new ProtocolError(`${codec} data is corrupt: ${detail}`, {
    reason: 'decompression-failed',
    ...location,
  });
  // Keep the library's error for debugging; it carries no record bytes.
  (error as { cause?: unknown }).cause = cause;
  return error;
}
