/** Why a piece of the wire format was refused. */
export type ProtocolErrorReason =
  /** Fewer bytes remain than a field needs. */
  | 'truncated'
  /** A length or count below -1 (or -1 where null is not allowed). */
  | 'negative-length'
  /** A length or count larger than the bytes that remain, or than a configured limit. */
  | 'length-too-large'
  /** A varint or varlong longer than its type allows. */
  | 'varint-too-long'
  /** A value that decodes but is not allowed (bad UTF-8, an unknown magic byte, a boolean other than 0/1 ...). */
  | 'invalid-value'
  /** A message or field that the requested version cannot express. */
  | 'unsupported-version'
  /** A record batch whose CRC does not match its bytes. */
  | 'crc-mismatch'
  /** A compression codec id that Kafka does not define. */
  | 'unknown-codec'
  /** Compressed data that is corrupt or that the codec library refused. */
  | 'decompression-failed'
  /** Decompressed output larger than the limit the caller passed. */
  | 'decompression-limit';

export interface ProtocolErrorDetails {
  readonly reason: ProtocolErrorReason;
  /** What was being read or written, as a path: `FetchResponse.responses[].partitions[].records`. */
  readonly field: string;
  /** Byte offset in the buffer being read (or written) where the problem was found; -1 when unknown. */
  readonly offset: number;
}

/**
 * The one error type the codec throws for bad input, whether it came from the wire or from the caller.
 * It names the field and the byte offset, and never carries the bytes themselves.
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  readonly reason: ProtocolErrorReason;
  readonly field: string;
  readonly offset: number;

  constructor(message: string, details: ProtocolErrorDetails) {
    super(`${message} (${details.field}${details.offset >= 0 ? ` at byte ${details.offset}` : ''})`);
    this.reason = details.reason;
    this.field = details.field;
    this.offset = details.offset;
  }
}
