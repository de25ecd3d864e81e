import type { CompressionType } from '../../src/compression/index.ts';
import type { ApiDescriptor, MessageCodec } from '../../src/message-codec.ts';
import type { FieldPosition } from './field-positions.ts';

/** What a case's bytes are fed to. */
export type FuzzTarget =
  /** `decodeMessage(codec, version, bytes)`, or `decodeResponseFrame(frameApi, version, bytes)` when set. */
  | {
      readonly kind: 'message';
      readonly codec: MessageCodec<unknown>;
      readonly version: number;
      readonly frameApi: ApiDescriptor<unknown, unknown> | null;
    }
  /** `decodeRecords(bytes)`, then every batch decompressed and every record read. */
  | { readonly kind: 'records' }
  /** `decompressSync(compression, bytes, { maxDecompressedBytes })`. */
  | { readonly kind: 'compressed'; readonly compression: CompressionType; readonly legacyLz4HeaderChecksum: boolean };

/**
 * A compressed part of a seed (a v2 batch's records, a legacy wrapper's value) with its plain form, so that a
 * mutator can change the plain bytes, compress them again and put the result back with valid lengths and CRCs:
 * mutations then reach the record decoder behind the decompressor.
 */
export interface InnerSection {
  /** The bytes of the batch (or wrapper message) holding the compressed part, within the seed. */
  readonly batchStart: number;
  readonly batchEnd: number;
  /** `v2`: the plain bytes are a records section; `legacy`: a message set whose CRCs can be repaired. */
  readonly format: 'v2' | 'legacy';
  readonly compression: CompressionType;
  readonly snappyFraming: 'xerial' | 'raw';
  readonly plain: Uint8Array;
  readonly plainPositions: readonly FieldPosition[];
  /** The whole batch (or wrapper) again around new compressed bytes, with its length and CRC set. */
  readonly rebuild: (compressed: Uint8Array) => Uint8Array;
}

export interface Seed {
  /** Names the seed in findings: `FetchResponse v16 #1`, `records: gzip v2 batch + legacy v1`, `bomb: zstd`. */
  readonly name: string;
  readonly target: FuzzTarget;
  readonly bytes: Uint8Array;
  /** Lengths, counts and varints in `bytes`. */
  readonly positions: readonly FieldPosition[];
  readonly inner: readonly InnerSection[];
  /**
   * Checked on the unmutated seed: a valid seed decodes without error, a bomb is refused because its output would
   * exceed the cap, and a lying seed (a length past its data) is refused with some ProtocolError.
   */
  readonly expectation: 'decodes' | 'exceeds-cap' | 'refused';
}
