/**
 * A tagged field that this codec does not know (a newer broker's, or one of a version we do not model), kept as
 * its raw bytes so that decoding and re-encoding a message gives back the same bytes.
 */
export interface RawTaggedField {
  readonly tag: number;
  /** The field's value bytes, without the tag and size prefixes: a view into the decoded frame. */
  readonly data: Uint8Array;
}

/** Shared by every decoded struct without unknown tagged fields, so that the common case allocates nothing. */
export const NO_TAGGED_FIELDS: readonly RawTaggedField[] = Object.freeze([]);
