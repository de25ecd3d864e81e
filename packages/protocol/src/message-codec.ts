import { ProtocolError } from './errors.ts';
import type { Reader } from './primitives/reader.ts';
import type { Writer } from './primitives/writer.ts';

/**
 * One message (a request, a response or a header) for every version Kafka defines: generated from Kafka's schemas.
 * `read` and `write` refuse versions outside `minVersion..maxVersion` with 'unsupported-version'.
 */
export interface MessageCodec<Value> {
  /** Kafka's name: `MetadataRequest`. */
  readonly name: string;
  /** The API key, or -1 for headers. */
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The first version with compact encodings and tagged fields, or null when no version has them. */
  readonly firstFlexibleVersion: number | null;
  // Method syntax on purpose: it lets a MessageCodec<MetadataRequest> stand where a MessageCodec<unknown> is expected.
  read(reader: Reader, version: number): Value;
  write(writer: Writer, version: number, value: Value): void;
  /** A value with every field at Kafka's default (what a decode of a version without the field gives). */
  createDefault(): Value;
}

/** A Kafka API: its key, its versions and the codecs of its request and response. */
export interface ApiDescriptor<Request, Response> {
  /** Kafka's name: `Metadata`. */
  readonly name: string;
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The first flexible version: from it on, requests use header v2 and responses header v1. */
  readonly firstFlexibleVersion: number | null;
  readonly request: MessageCodec<Request>;
  readonly response: MessageCodec<Response>;
}

export interface MessageDefinition<Value> {
  readonly name: string;
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly firstFlexibleVersion: number | null;
  readonly read: (reader: Reader, version: number) => Value;
  readonly write: (writer: Writer, version: number, value: Value) => void;
  readonly createDefault: () => Value;
}

function checkVersion(
  definition: Pick<MessageDefinition<never>, 'name' | 'minVersion' | 'maxVersion'>,
  version: number,
  offset: number,
): void {
  if (Number.isInteger(version) && version >= definition.minVersion && version <= definition.maxVersion) return;
  throw new ProtocolError(`version ${version} is outside ${definition.minVersion}-${definition.maxVersion}`, {
    reason: 'unsupported-version',
    field: definition.name,
    offset,
  });
}

/** Wraps a generated message's functions with the version check done once per message, not per struct. */
export function defineMessage<Value>(definition: MessageDefinition<Value>): MessageCodec<Value> {
  const { read, write } = definition;
  return {
    name: definition.name,
    apiKey: definition.apiKey,
    minVersion: definition.minVersion,
    maxVersion: definition.maxVersion,
    firstFlexibleVersion: definition.firstFlexibleVersion,
    createDefault: definition.createDefault,
    read(reader, version) {
      checkVersion(definition, version, reader.offset);
      return read(reader, version);
    },
    write(writer, version, value) {
      checkVersion(definition, version, writer.offset);
      write(writer, version, value);
    },
  };
}

/**
 * The error for a value the version cannot carry: a field absent from the version set to something other than its
 * default (Kafka's Java throws UnsupportedVersionException the same way, unless the field is `ignorable`).
 */
export function unsupportedField(field: string, version: number): ProtocolError {
  return new ProtocolError(`version ${version} has no such field, and the value is not the default`, {
    reason: 'unsupported-version',
    field,
    offset: -1,
  });
}

/** A struct that is nullable in some versions but not in the one being written. */
export function requireValue<Value>(value: Value | null, field: string): Value {
  if (value === null || value === undefined) {
    throw new ProtocolError('null is not allowed in this version', { reason: 'invalid-value', field, offset: -1 });
  }
  return value;
}
