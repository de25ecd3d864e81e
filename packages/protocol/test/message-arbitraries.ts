// fast-check arbitraries for any generated message at any version, built from the declarations as data.
import fc from 'fast-check';
import { NO_TAGGED_FIELDS } from '../src/primitives/tagged-fields.ts';
import { uuidFromBytes, ZERO_UUID } from '../src/primitives/uuid.ts';
import type { FieldShape, MessageShape, RangeShape, TypeShape } from './declaration-types.ts';

function within(range: RangeShape | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

function fieldsOf(message: MessageShape, struct: string): readonly FieldShape[] {
  const fields = message.structs[struct];
  if (fields === undefined) throw new Error(`${message.name} has no struct ${struct}`);
  return fields;
}

/** The value a decoder gives a field that its version lacks. */
export function defaultValue(message: MessageShape, field: FieldShape): unknown {
  const declared = field.default;
  switch (declared.kind) {
    case 'null':
      return null;
    case 'bigint':
      return BigInt(declared.value as string);
    case 'number':
    case 'boolean':
      return declared.value;
    case 'string':
      return field.type === 'uuid' ? ZERO_UUID : declared.value;
    case 'empty':
      return typeof field.type === 'object' && 'array' in field.type ? [] : new Uint8Array(0);
    case 'struct':
      return defaultStruct(message, (field.type as { struct: string }).struct);
  }
}

export function defaultStruct(message: MessageShape, struct: string): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of fieldsOf(message, struct)) value[field.property] = defaultValue(message, field);
  if (message.flexibleVersions !== null) value.unknownTaggedFields = NO_TAGGED_FIELDS;
  return value;
}

const strings = fc.string({ unit: 'grapheme', maxLength: 12 });

function typeArbitrary(message: MessageShape, type: TypeShape, version: number): fc.Arbitrary<unknown> {
  if (typeof type === 'object') {
    if ('array' in type) return fc.array(typeArbitrary(message, type.array, version), { maxLength: 2 });
    return structArbitrary(message, type.struct, version);
  }
  switch (type) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float64':
      return fc.double();
    case 'string':
      return strings;
    case 'uuid':
      return fc.uint8Array({ minLength: 16, maxLength: 16 }).map(uuidFromBytes);
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 6 });
  }
}

function fieldArbitrary(message: MessageShape, field: FieldShape, version: number): fc.Arbitrary<unknown> {
  if (!within(field.versions, version)) return fc.constant(defaultValue(message, field));
  const value = typeArbitrary(message, field.type, version);
  return within(field.nullableVersions, version) ? fc.option(value, { nil: null, freq: 4 }) : value;
}

/** Unknown tagged fields, with tags above every known one (Kafka writes raw tags after the known ones). */
function unknownTaggedArbitrary(fields: readonly FieldShape[]): fc.Arbitrary<unknown> {
  const firstFree = Math.max(-1, ...fields.map((field) => field.tag ?? -1)) + 1;
  return fc
    .uniqueArray(fc.integer({ min: firstFree, max: firstFree + 200 }), { maxLength: 2 })
    .chain((tags) =>
      fc.tuple(
        ...tags
          .sort((a, b) => a - b)
          .map((tag) => fc.record({ tag: fc.constant(tag), data: fc.uint8Array({ maxLength: 4 }) })),
      ),
    )
    .map((list) => (list.length === 0 ? NO_TAGGED_FIELDS : list));
}

const cache = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

export function structArbitrary(
  message: MessageShape,
  struct: string,
  version: number,
): fc.Arbitrary<Record<string, unknown>> {
  const key = `${message.name}/${struct}/${version}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const fields = fieldsOf(message, struct);
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  // Assigned before the fields are built so that a recursive struct would find it (none are, today).
  const arbitrary = fc.constant(null).chain(() => fc.record(shape)) as fc.Arbitrary<Record<string, unknown>>;
  cache.set(key, arbitrary);
  for (const field of fields) shape[field.property] = fieldArbitrary(message, field, version);
  if (message.flexibleVersions !== null) {
    shape.unknownTaggedFields = within(message.flexibleVersions, version)
      ? unknownTaggedArbitrary(fields)
      : fc.constant(NO_TAGGED_FIELDS);
  }
  return arbitrary;
}

export function messageArbitrary(message: MessageShape, version: number): fc.Arbitrary<Record<string, unknown>> {
  return structArbitrary(message, message.root, version);
}

export function versionsOf(message: MessageShape): number[] {
  const range = message.validVersions;
  if (range === null) return [];
  const versions: number[] = [];
  // Header declarations keep Kafka's validVersions; their codecs start at 0 (see the generator).
  const min = message.type === 'header' ? 0 : range[0];
  for (let version = min; version <= range[1]; version++) versions.push(version);
  return versions;
}
