// In-memory declarations built from Kafka's message schemas (clients/src/main/resources/common/message/*.json).
// The generator reads only facts from the schemas (names, types, versions, defaults); the "about" texts are dropped.

/** An inclusive version range; `max` is Infinity for open ranges ("3+"), and `min > max` means "none". */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const NO_VERSIONS: VersionRange = { min: 1, max: 0 };

export type PrimitiveKind =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'uuid'
  | 'bytes'
  | 'records';

export type FieldType =
  | { readonly kind: 'primitive'; readonly primitive: PrimitiveKind }
  | { readonly kind: 'struct'; readonly struct: StructDeclaration }
  | { readonly kind: 'array'; readonly element: FieldType };

/** A field's default, already interpreted for its type. */
export type DefaultValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'bigint'; readonly value: bigint }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'empty' }
  | { readonly kind: 'struct' };

export interface FieldDeclaration {
  /** Kafka's PascalCase name. */
  readonly name: string;
  /** The TypeScript property: Kafka's name with its first letter lowered, as Kafka's Java does. */
  readonly property: string;
  readonly type: FieldType;
  readonly versions: VersionRange;
  readonly nullableVersions: VersionRange;
  readonly taggedVersions: VersionRange;
  readonly tag: number | null;
  /** A field-level override of the message's flexible versions (RequestHeader.ClientId is never compact). */
  readonly flexibleVersions: VersionRange | null;
  readonly ignorable: boolean;
  readonly defaultValue: DefaultValue;
}

export interface StructDeclaration {
  /** Kafka's name. */
  readonly name: string;
  /** The TypeScript interface name, unique across everything generated (see naming in generate.ts). */
  typeName: string;
  readonly fields: readonly FieldDeclaration[];
  /** The field path used in error messages, from the first place the struct is used. */
  path: string;
}

export interface MessageDeclaration {
  readonly name: string;
  readonly type: 'request' | 'response' | 'header' | 'data';
  readonly apiKey: number | null;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange;
  /** The message's top-level fields as a struct named after the message. */
  readonly root: StructDeclaration;
  /** Every struct of the message, the root first, each once. */
  readonly structs: readonly StructDeclaration[];
}

export class SchemaError extends Error {
  override name = 'SchemaError';
}

export function parseVersionRange(text: string, context: string): VersionRange {
  const trimmed = text.trim();
  if (trimmed === 'none') return NO_VERSIONS;
  let match = /^(\d+)\+$/.exec(trimmed);
  if (match) return { min: Number(match[1]), max: Number.POSITIVE_INFINITY };
  match = /^(\d+)-(\d+)$/.exec(trimmed);
  if (match) return { min: Number(match[1]), max: Number(match[2]) };
  match = /^(\d+)$/.exec(trimmed);
  if (match) return { min: Number(match[1]), max: Number(match[1]) };
  throw new SchemaError(`${context}: cannot read version range "${text}"`);
}

export function isEmptyRange(range: VersionRange): boolean {
  return range.min > range.max;
}

export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  const min = Math.max(a.min, b.min);
  const max = Math.min(a.max, b.max);
  return min > max ? NO_VERSIONS : { min, max };
}

/** Whether `inner` holds every version of `outer`. */
export function covers(inner: VersionRange, outer: VersionRange): boolean {
  return isEmptyRange(outer) || (inner.min <= outer.min && inner.max >= outer.max);
}

const PRIMITIVES = new Set<string>([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'string',
  'uuid',
  'bytes',
  'records',
]);

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  ignorable?: boolean;
  default?: string | number | boolean;
  fields?: RawField[];
}

interface RawMessage {
  name: string;
  type: string;
  apiKey?: number;
  validVersions: string;
  flexibleVersions: string;
  fields: RawField[];
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[];
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function parseInteger(text: string, context: string): bigint {
  const trimmed = text.trim();
  const negative = trimmed.startsWith('-');
  const digits = negative ? trimmed.slice(1) : trimmed;
  let value: bigint;
  if (/^0x[0-9a-f]+$/i.test(digits)) value = BigInt(digits);
  else if (/^\d+$/.test(digits)) value = BigInt(digits);
  else throw new SchemaError(`${context}: cannot read integer default "${text}"`);
  return negative ? -value : value;
}

const INTEGER_LIMITS: Record<string, readonly [bigint, bigint]> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function parseDefault(field: RawField, type: FieldType, nullable: boolean, context: string): DefaultValue {
  const raw = field.default;
  if (type.kind === 'array') {
    if (raw === 'null') return { kind: 'null' };
    if (raw !== undefined && raw !== '') throw new SchemaError(`${context}: arrays take no default but "null"`);
    return { kind: 'empty' };
  }
  if (type.kind === 'struct') {
    if (raw === 'null') return { kind: 'null' };
    return { kind: 'struct' };
  }
  const primitive = type.primitive;
  const text = raw === undefined ? undefined : String(raw);
  switch (primitive) {
    case 'bool':
      if (text === undefined || text === 'false') return { kind: 'boolean', value: false };
      if (text === 'true') return { kind: 'boolean', value: true };
      throw new SchemaError(`${context}: bad bool default "${text}"`);
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64': {
      const value = text === undefined ? 0n : parseInteger(text, context);
      const [low, high] = INTEGER_LIMITS[primitive]!;
      if (value < low || value > high) throw new SchemaError(`${context}: default ${value} outside ${primitive}`);
      return primitive === 'int64' ? { kind: 'bigint', value } : { kind: 'number', value: Number(value) };
    }
    case 'float64':
      return { kind: 'number', value: text === undefined ? 0 : Number(text) };
    case 'string':
      if (text === 'null') {
        if (!nullable) throw new SchemaError(`${context}: null default on a field that is not nullable`);
        return { kind: 'null' };
      }
      return { kind: 'string', value: text ?? '' };
    case 'uuid':
      if (text !== undefined && text !== '' && text !== 'AAAAAAAAAAAAAAAAAAAAAA') {
        throw new SchemaError(`${context}: only the zero UUID is supported as a default`);
      }
      return { kind: 'string', value: 'AAAAAAAAAAAAAAAAAAAAAA' };
    case 'bytes':
      if (text === 'null') return { kind: 'null' };
      if (text !== undefined && text !== '') throw new SchemaError(`${context}: bytes take no default but "null"`);
      return { kind: 'empty' };
    case 'records':
      // Kafka's records fields default to null.
      return { kind: 'null' };
  }
}

/** Builds one message's declarations from its parsed schema JSON. */
export function buildMessage(json: unknown): MessageDeclaration {
  const raw = json as RawMessage;
  if (typeof raw?.name !== 'string' || !Array.isArray(raw.fields)) throw new SchemaError('not a message schema');
  if (raw.type !== 'request' && raw.type !== 'response' && raw.type !== 'header' && raw.type !== 'data') {
    throw new SchemaError(`${raw.name}: unsupported message type ${raw.type}`);
  }
  const structs: StructDeclaration[] = [];
  const common = new Map<string, { fields: RawField[] }>();
  for (const struct of raw.commonStructs ?? []) common.set(struct.name, struct);
  const built = new Map<string, StructDeclaration>();

  const buildStruct = (name: string, rawFields: RawField[], path: string): StructDeclaration => {
    const existing = built.get(name);
    if (existing) return existing;
    const fields: FieldDeclaration[] = [];
    const struct: StructDeclaration = { name, typeName: name, fields, path };
    built.set(name, struct);
    structs.push(struct);
    for (const field of rawFields) fields.push(buildField(field, `${path}.${lowerFirst(field.name)}`));
    return struct;
  };

  const buildType = (typeName: string, field: RawField, path: string): FieldType => {
    if (typeName.startsWith('[]')) {
      return { kind: 'array', element: buildType(typeName.slice(2), field, `${path}[]`) };
    }
    if (PRIMITIVES.has(typeName)) return { kind: 'primitive', primitive: typeName as PrimitiveKind };
    const fields = field.fields ?? common.get(typeName)?.fields;
    if (!fields) throw new SchemaError(`${path}: struct ${typeName} has no fields and is not a common struct`);
    return { kind: 'struct', struct: buildStruct(typeName, fields, path) };
  };

  const buildField = (field: RawField, path: string): FieldDeclaration => {
    if (field.versions === undefined) throw new SchemaError(`${path}: no versions`);
    const versions = parseVersionRange(field.versions, path);
    const nullableVersions =
      field.nullableVersions === undefined ? NO_VERSIONS : parseVersionRange(field.nullableVersions, path);
    const taggedVersions =
      field.taggedVersions === undefined ? NO_VERSIONS : parseVersionRange(field.taggedVersions, path);
    const type = buildType(field.type, field, path);
    if (!isEmptyRange(nullableVersions) && type.kind === 'primitive') {
      const nullableKinds = ['string', 'bytes', 'records'];
      if (!nullableKinds.includes(type.primitive))
        throw new SchemaError(`${path}: ${type.primitive} cannot be nullable`);
    }
    if ((field.tag === undefined) !== isEmptyRange(taggedVersions)) {
      throw new SchemaError(`${path}: tag and taggedVersions go together`);
    }
    return {
      name: field.name,
      property: lowerFirst(field.name),
      type,
      versions,
      nullableVersions,
      taggedVersions,
      tag: field.tag ?? null,
      flexibleVersions: field.flexibleVersions === undefined ? null : parseVersionRange(field.flexibleVersions, path),
      ignorable: field.ignorable === true,
      defaultValue: parseDefault(field, type, !isEmptyRange(nullableVersions), path),
    };
  };

  const root = buildStruct(raw.name, raw.fields, raw.name);
  return {
    name: raw.name,
    type: raw.type,
    apiKey: raw.apiKey ?? null,
    validVersions: parseVersionRange(raw.validVersions, raw.name),
    flexibleVersions: parseVersionRange(raw.flexibleVersions, raw.name),
    root,
    structs,
  };
}
