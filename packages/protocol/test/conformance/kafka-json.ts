// Sluice's typed message values in the JSON form of Kafka's own `<Message>DataJsonConverter`, so that a value decoded
// by Sluice can be compared with what Java printed, and a value built by Sluice can be handed to Java's `encode`.
//
// Kafka's form, as the oracle speaks it (tools/oracle/README.md):
// - field names are the schema names with a lower-case first letter (Sluice's property names, checked by the tests);
// - only the fields valid in the version are present; Kafka's writer leaves out tagged fields at their default;
// - int64 as decimal strings, bytes and records as standard base64, uuids as Kafka's 22-character text (Sluice's
//   own representation), null for null;
// - unknown tagged fields are not part of the JSON (Java keeps them in `_unknownTaggedFields`, its writer drops them).
// The walk is driven by the declarations (test/declarations.generated.ts), so it covers every field of every version.
import { toBase64 } from '@sluice/tools-oracle';
import { NO_TAGGED_FIELDS } from '../../src/primitives/tagged-fields.ts';
import type { FieldShape, MessageShape, RangeShape, TypeShape } from '../declaration-types.ts';
import { defaultValue } from '../message-arbitraries.ts';

export type KafkaJson = Record<string, unknown>;

export function within(range: RangeShape | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

function fieldsOf(message: MessageShape, struct: string): readonly FieldShape[] {
  const fields = message.structs[struct];
  if (fields === undefined) throw new Error(`${message.name} has no struct ${struct}`);
  return fields;
}

function typeToJson(message: MessageShape, type: TypeShape, version: number, value: unknown, path: string): unknown {
  if (value === null) return null;
  if (typeof type === 'object') {
    if ('array' in type) {
      if (!Array.isArray(value)) throw new Error(`${path}: expected an array, got ${typeof value}`);
      return value.map((element, index) => typeToJson(message, type.array, version, element, `${path}[${index}]`));
    }
    return structToJson(message, type.struct, version, value as Record<string, unknown>, path);
  }
  switch (type) {
    case 'int64':
      if (typeof value !== 'bigint') throw new Error(`${path}: expected a bigint, got ${typeof value}`);
      return value.toString();
    case 'bytes':
    case 'records':
      if (!(value instanceof Uint8Array)) throw new Error(`${path}: expected a Uint8Array, got ${typeof value}`);
      return toBase64(value);
    default:
      return value;
  }
}

function structToJson(
  message: MessageShape,
  struct: string,
  version: number,
  value: Record<string, unknown>,
  path: string,
): KafkaJson {
  const json: KafkaJson = {};
  for (const field of fieldsOf(message, struct)) {
    if (!within(field.versions, version)) continue;
    if (!(field.property in value)) throw new Error(`${path}.${field.property} is missing from Sluice's value`);
    json[field.property] = typeToJson(message, field.type, version, value[field.property], `${path}.${field.property}`);
  }
  return json;
}

/** A Sluice value (decoded or built) in Kafka's JSON form, with every field valid in the version present. */
export function toKafkaJson(message: MessageShape, version: number, value: unknown): KafkaJson {
  return structToJson(message, message.root, version, value as Record<string, unknown>, message.name);
}

function normalizeType(message: MessageShape, type: TypeShape, version: number, json: unknown): unknown {
  if (json === null || typeof type !== 'object') return json;
  if ('array' in type)
    return (json as unknown[]).map((element) => normalizeType(message, type.array, version, element));
  return normalizeStruct(message, type.struct, version, json as KafkaJson);
}

function normalizeStruct(message: MessageShape, struct: string, version: number, json: KafkaJson): KafkaJson {
  const normalized: KafkaJson = {};
  for (const field of fieldsOf(message, struct)) {
    if (!within(field.versions, version)) continue;
    if (field.property in json) {
      normalized[field.property] = normalizeType(message, field.type, version, json[field.property]);
    } else if (within(field.taggedVersions, version)) {
      // Kafka's writer leaves a tagged field out when it holds its default.
      normalized[field.property] = typeToJson(
        message,
        field.type,
        version,
        defaultValue(message, field),
        field.property,
      );
    } else {
      throw new Error(`${message.name}: Java's JSON lacks the non-tagged field ${field.property} at v${version}`);
    }
  }
  // Names Java printed that the declarations do not know stay visible, so a renamed field shows up in the diff.
  for (const name of Object.keys(json)) if (!(name in normalized)) normalized[name] = json[name];
  return normalized;
}

/** Java's JSON with the tagged fields its writer left out (because they held their defaults) filled in. */
export function normalizeJavaJson(message: MessageShape, version: number, json: KafkaJson): KafkaJson {
  return normalizeStruct(message, message.root, version, json);
}

/**
 * The value without unknown tagged fields, which Kafka's JSON cannot carry: what Java's `encode` of the value's
 * JSON must give back byte for byte.
 */
export function withoutUnknownTaggedFields<Value>(value: Value): Value {
  if (Array.isArray(value)) return value.map(withoutUnknownTaggedFields) as Value;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const copy: Record<string, unknown> = {};
  for (const [name, inner] of Object.entries(value)) {
    copy[name] = name === 'unknownTaggedFields' ? NO_TAGGED_FIELDS : withoutUnknownTaggedFields(inner);
  }
  return copy as Value;
}

/** Whether the value carries any unknown tagged field, anywhere. */
export function hasUnknownTaggedFields(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasUnknownTaggedFields);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false;
  for (const [name, inner] of Object.entries(value)) {
    if (name === 'unknownTaggedFields') {
      if ((inner as readonly unknown[]).length > 0) return true;
    } else if (hasUnknownTaggedFields(inner)) {
      return true;
    }
  }
  return false;
}

const LONG_TEXT = 'ü'.repeat(90); // 180 bytes of UTF-8 for 90 UTF-16 units: byte and character counts differ
const LONG_ARRAY_LENGTH = 130;
const LONG_BYTES_LENGTH = 200;

function enlargeType(message: MessageShape, type: TypeShape, version: number, value: unknown, depth: number): unknown {
  if (value === null) return null;
  if (typeof type === 'object') {
    if ('array' in type) {
      const elements = (value as unknown[]).map((element) =>
        enlargeType(message, type.array, version, element, depth + 1),
      );
      if (depth > 0 || elements.length === 0) return elements;
      return Array.from({ length: LONG_ARRAY_LENGTH }, (_, index) => elements[index % elements.length]);
    }
    return enlargeStruct(message, type.struct, version, value as Record<string, unknown>, depth + 1);
  }
  switch (type) {
    case 'string':
      return `${LONG_TEXT}${value as string}`;
    case 'bytes':
    case 'records':
      return Uint8Array.from({ length: LONG_BYTES_LENGTH + (value as Uint8Array).length }, (_, index) => index * 7);
    default:
      return value;
  }
}

function enlargeStruct(
  message: MessageShape,
  struct: string,
  version: number,
  value: Record<string, unknown>,
  depth: number,
): Record<string, unknown> {
  const enlarged: Record<string, unknown> = { ...value };
  for (const field of fieldsOf(message, struct)) {
    if (!within(field.versions, version)) continue;
    enlarged[field.property] = enlargeType(message, field.type, version, value[field.property], depth);
  }
  return enlarged;
}

/**
 * The value with every string 90 characters (180 bytes) longer, every bytes and records field 200+ bytes, and every
 * non-empty array of the root struct repeated to 130 elements: every length prefix (int16, int32, compact varint)
 * then takes its multi-byte form, which the small random values rarely reach.
 */
export function enlarge(message: MessageShape, version: number, value: unknown): unknown {
  return enlargeStruct(message, message.root, version, value as Record<string, unknown>, 0);
}
