// Emits one version-aware TypeScript codec file for an API (its request and response), or for the headers.
// Generated code branches on `version >= n` inside one function per struct; no per-version copies.

import {
  covers,
  type DefaultValue,
  type FieldDeclaration,
  type FieldType,
  intersect,
  isEmptyRange,
  type MessageDeclaration,
  NO_VERSIONS,
  type PrimitiveKind,
  type StructDeclaration,
  type VersionRange,
} from './schema.ts';

/** How a string, bytes or array field is encoded: see CodecEmitter.#encoding. */
interface Encoding {
  readonly compact: Condition;
  readonly nullableWhenCompact: Condition;
  readonly nullableWhenClassic: Condition;
}

/** A version condition: `true` always holds, `false` never, a string is a TypeScript expression on `version`. */
type Condition = true | false | string;

export function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function pascalToCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Where `range` holds, as a condition on `version` among the versions in `within`. */
function condition(range: VersionRange, within: VersionRange): Condition {
  if (isEmptyRange(within)) return false;
  const effective = intersect(range, within);
  if (isEmptyRange(effective)) return false;
  const parts: string[] = [];
  if (effective.min > within.min) parts.push(`version >= ${effective.min}`);
  if (effective.max < within.max) parts.push(`version <= ${effective.max}`);
  return parts.length === 0 ? true : parts.join(' && ');
}

function choose(test: Condition, whenTrue: string, whenFalse: string): string {
  if (test === true) return whenTrue;
  if (test === false) return whenFalse;
  if (whenTrue === whenFalse) return whenTrue;
  return `(${test} ? ${whenTrue} : ${whenFalse})`;
}

function chooseStatement(test: Condition, whenTrue: string[], whenFalse: string[]): string[] {
  if (test === true) return whenTrue;
  if (test === false) return whenFalse;
  if (whenFalse.length === 0) return [`if (${test}) {`, ...indent(whenTrue), '}'];
  return [`if (${test}) {`, ...indent(whenTrue), '} else {', ...indent(whenFalse), '}'];
}

function indent(lines: string[], depth = 1): string[] {
  const prefix = '  '.repeat(depth);
  return lines.map((line) => (line === '' ? line : prefix + line));
}

function rangeText(range: VersionRange): string {
  if (isEmptyRange(range)) return 'none';
  if (range.max === Number.POSITIVE_INFINITY) return `${range.min}+`;
  return range.min === range.max ? `${range.min}` : `${range.min}-${range.max}`;
}

const PRIMITIVE_TYPES: Record<PrimitiveKind, string> = {
  bool: 'boolean',
  int8: 'number',
  int16: 'number',
  uint16: 'number',
  int32: 'number',
  uint32: 'number',
  int64: 'bigint',
  float64: 'number',
  string: 'string',
  uuid: 'Uuid',
  bytes: 'Uint8Array',
  records: 'Uint8Array',
};

const FIXED_SIZES: Partial<Record<PrimitiveKind, number>> = {
  bool: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  float64: 8,
  uuid: 16,
};

function typeScriptType(type: FieldType): string {
  switch (type.kind) {
    case 'primitive':
      return PRIMITIVE_TYPES[type.primitive];
    case 'struct':
      return type.struct.typeName;
    case 'array':
      return `${typeScriptType(type.element)}[]`;
  }
}

function describeType(type: FieldType): string {
  if (type.kind === 'primitive') return type.primitive;
  if (type.kind === 'struct') return type.struct.name;
  return `[]${describeType(type.element)}`;
}

function upperFirst(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** Emits the codec for the structs of one or more messages into one file body. */
export class CodecEmitter {
  readonly #lines: string[] = [];
  readonly #isDefaultNeeded = new Set<StructDeclaration>();
  readonly #isDefaultEmitted = new Set<StructDeclaration>();
  #message!: MessageDeclaration;

  get lines(): readonly string[] {
    return this.#lines;
  }

  emitMessage(message: MessageDeclaration): void {
    this.#message = message;
    for (const struct of message.structs) this.#emitStruct(struct);
    // isDefault functions are emitted for the structs whose default-ness is asked (tagged or absent struct fields).
    while (this.#isDefaultNeeded.size > this.#isDefaultEmitted.size) {
      for (const struct of [...this.#isDefaultNeeded]) {
        if (this.#isDefaultEmitted.has(struct)) continue;
        this.#isDefaultEmitted.add(struct);
        this.#emitIsDefault(struct);
      }
    }
  }

  get #valid(): VersionRange {
    return this.#message.validVersions;
  }

  get #flexible(): VersionRange {
    return intersect(this.#message.flexibleVersions, this.#message.validVersions);
  }

  #hasTaggedSection(): boolean {
    return !isEmptyRange(this.#flexible);
  }

  #fieldPath(struct: StructDeclaration, field: FieldDeclaration): string {
    return quote(`${struct.path}.${field.property}`);
  }

  /** Versions where the field is in the fixed sequence (not tagged). */
  #regularVersions(field: FieldDeclaration): VersionRange {
    if (isEmptyRange(field.taggedVersions)) return intersect(field.versions, this.#valid);
    if (!covers(field.taggedVersions, intersect(field.versions, this.#valid))) {
      throw new Error(`${field.name}: fields that are tagged in only some of their versions are not supported`);
    }
    return NO_VERSIONS;
  }

  #taggedVersions(field: FieldDeclaration): VersionRange {
    return intersect(intersect(field.taggedVersions, field.versions), this.#valid);
  }

  #isNullableAnywhere(field: FieldDeclaration): boolean {
    return !isEmptyRange(intersect(field.nullableVersions, intersect(field.versions, this.#valid)));
  }

  /**
   * How a variable-length field is encoded among the versions `within`: compact or classic, and nullable or not in
   * each of the two, so that no branch tests a version the enclosing branch has already ruled out.
   */
  #encoding(field: FieldDeclaration, within: VersionRange): Encoding {
    const flexible = field.flexibleVersions ?? this.#flexible;
    const compactVersions = intersect(within, flexible);
    if (!isEmptyRange(flexible) && flexible.max < within.max && flexible.max >= within.min) {
      throw new Error(`${field.name}: flexible versions that end are not supported`);
    }
    const classicVersions = isEmptyRange(flexible)
      ? within
      : intersect(within, { min: within.min, max: flexible.min - 1 });
    return {
      compact: condition(flexible, within),
      nullableWhenCompact: condition(field.nullableVersions, compactVersions),
      nullableWhenClassic: condition(field.nullableVersions, classicVersions),
    };
  }

  #fieldType(field: FieldDeclaration): string {
    const base = typeScriptType(field.type);
    return this.#isNullableAnywhere(field) || field.defaultValue.kind === 'null' ? `${base} | null` : base;
  }

  #defaultExpression(field: FieldDeclaration): string {
    return defaultExpression(field.type, field.defaultValue);
  }

  // ---- interfaces and defaults ----

  #emitStruct(struct: StructDeclaration): void {
    const lines = this.#lines;
    const isRoot = struct === this.#message.root;
    lines.push(
      isRoot ? `/** ${this.#message.name}, versions ${rangeText(this.#valid)}. */` : `/** In ${struct.path}. */`,
    );
    lines.push(`export interface ${struct.typeName} {`);
    for (const field of struct.fields) {
      const notes = [`versions ${rangeText(field.versions)}`];
      if (!isEmptyRange(field.nullableVersions)) notes.push(`nullable ${rangeText(field.nullableVersions)}`);
      if (field.tag !== null) notes.push(`tag ${field.tag} in ${rangeText(field.taggedVersions)}`);
      if (field.ignorable) notes.push('ignorable');
      notes.push(`default ${this.#defaultExpression(field)}`);
      lines.push(`  /** ${describeType(field.type)}, ${notes.join(', ')}. */`);
      lines.push(`  ${field.property}: ${this.#fieldType(field)};`);
    }
    if (this.#hasTaggedSection()) {
      lines.push('  /** Tagged fields this codec does not know, kept so that a re-encode writes them back. */');
      lines.push('  unknownTaggedFields?: readonly RawTaggedField[];');
    }
    lines.push('}', '');

    lines.push(`${isRoot ? 'export ' : ''}function default${struct.typeName}(): ${struct.typeName} {`);
    lines.push('  return {');
    for (const field of struct.fields) lines.push(`    ${field.property}: ${this.#defaultExpression(field)},`);
    if (this.#hasTaggedSection()) {
      lines.push('    unknownTaggedFields: NO_TAGGED_FIELDS,');
    }
    lines.push('  };', '}', '');

    this.#emitRead(struct);
    this.#emitWrite(struct);
    for (const field of struct.fields) {
      if (field.type.kind === 'array') this.#emitArrayFunctions(struct, field, field.type.element);
    }
  }

  #emitIsDefault(struct: StructDeclaration): void {
    const lines = this.#lines;
    lines.push(`function isDefault${struct.typeName}(value: ${struct.typeName}): boolean {`);
    const tests = struct.fields.map((field) => `!(${this.#nonDefault(`value.${field.property}`, field)})`);
    if (this.#hasTaggedSection()) {
      tests.push('(value.unknownTaggedFields === undefined || value.unknownTaggedFields.length === 0)');
    }
    lines.push(`  return ${tests.length === 0 ? 'true' : tests.join(' &&\n    ')};`, '}', '');
  }

  /** An expression that is true when `value` differs from the field's default, as Kafka's Java compares. */
  #nonDefault(value: string, field: FieldDeclaration): string {
    const defaultValue = field.defaultValue;
    const nullable = this.#isNullableAnywhere(field) || defaultValue.kind === 'null';
    if (defaultValue.kind === 'null') return `${value} !== null`;
    switch (field.type.kind) {
      case 'array':
        return nullable ? `(${value} === null || ${value}.length !== 0)` : `${value}.length !== 0`;
      case 'struct': {
        this.#isDefaultNeeded.add(field.type.struct);
        const test = `!isDefault${field.type.struct.typeName}(${value})`;
        return nullable ? `(${value} === null || ${test})` : test;
      }
      case 'primitive':
        if (field.type.primitive === 'bytes' || field.type.primitive === 'records') {
          return nullable ? `(${value} === null || ${value}.length !== 0)` : `${value}.length !== 0`;
        }
        return `${value} !== ${this.#defaultExpression(field)}`;
    }
  }

  // ---- decoding ----

  #readExpression(struct: StructDeclaration, field: FieldDeclaration, within: VersionRange): string {
    const path = this.#fieldPath(struct, field);
    const type = field.type;
    if (type.kind === 'array') return `read${struct.typeName}${upperFirst(field.property)}Array(reader, version)`;
    const nullable = condition(field.nullableVersions, within);
    if (type.kind === 'struct') {
      const read = `read${type.struct.typeName}(reader, version)`;
      return choose(nullable, `(reader.int8(${path}) < 0 ? null : ${read})`, read);
    }
    return primitiveRead(type.primitive, path, this.#encoding(field, within));
  }

  #emitRead(struct: StructDeclaration): void {
    const lines = this.#lines;
    const structPath = quote(struct.path);
    lines.push(`function read${struct.typeName}(reader: Reader, version: number): ${struct.typeName} {`);
    lines.push(`  const result: ${struct.typeName} = {`);
    const tagged: FieldDeclaration[] = [];
    for (const field of struct.fields) {
      const regular = this.#regularVersions(field);
      if (!isEmptyRange(this.#taggedVersions(field))) tagged.push(field);
      const present = condition(regular, this.#valid);
      const read = present === false ? '' : this.#readExpression(struct, field, regular);
      lines.push(`    ${field.property}: ${choose(present, read, this.#defaultExpression(field))},`);
    }
    if (this.#hasTaggedSection()) lines.push('    unknownTaggedFields: NO_TAGGED_FIELDS,');
    lines.push('  };');
    if (this.#hasTaggedSection()) {
      const body: string[] = [
        'let unknownTaggedFields: RawTaggedField[] | undefined;',
        `const taggedFieldCount = reader.taggedFieldCount(${structPath});`,
        'for (let index = 0; index < taggedFieldCount; index++) {',
        `  const tag = reader.unsignedVarint(${structPath});`,
      ];
      const unknown = `(unknownTaggedFields ??= []).push(reader.unknownTaggedField(tag, ${structPath}));`;
      if (tagged.length === 0) {
        body.push(`  ${unknown}`);
      } else {
        body.push('  switch (tag) {');
        for (const field of [...tagged].sort((a, b) => a.tag! - b.tag!)) {
          const versions = this.#taggedVersions(field);
          const path = this.#fieldPath(struct, field);
          const read = [
            `const outerEnd = reader.enterTaggedField(${path});`,
            `result.${field.property} = ${this.#readExpression(struct, field, versions)};`,
            `reader.leaveTaggedField(outerEnd, ${path});`,
          ];
          const known = condition(versions, this.#flexible);
          body.push(`    case ${field.tag}: {`);
          if (known === true) body.push(...indent(read, 3), '      break;');
          else body.push(...indent(chooseStatement(known, read, [unknown]), 3), '      break;');
          body.push('    }');
        }
        body.push('    default:', `      ${unknown}`, '  }');
      }
      body.push('}', 'if (unknownTaggedFields !== undefined) result.unknownTaggedFields = unknownTaggedFields;');
      lines.push(...indent(chooseStatement(condition(this.#flexible, this.#valid), body, [])));
    }
    lines.push('  return result;', '}', '');
  }

  // ---- encoding ----

  #writeStatements(struct: StructDeclaration, field: FieldDeclaration, value: string, within: VersionRange): string[] {
    const path = this.#fieldPath(struct, field);
    const type = field.type;
    if (type.kind === 'array') {
      return [`write${struct.typeName}${upperFirst(field.property)}Array(writer, version, ${value});`];
    }
    const nullable = condition(field.nullableVersions, within);
    const anyNull = this.#isNullableAnywhere(field) || field.defaultValue.kind === 'null';
    if (type.kind === 'struct') {
      const write = (expression: string) => `write${type.struct.typeName}(writer, version, ${expression});`;
      const nonNull = anyNull ? write(`requireValue(${value}, ${path})`) : write(value);
      const whenNullable = [
        `if (${value} === null) {`,
        `  writer.int8(-1, ${path});`,
        '} else {',
        `  writer.int8(1, ${path});`,
        `  ${write(value)}`,
        '}',
      ];
      return chooseStatement(nullable, whenNullable, [nonNull]);
    }
    return primitiveWrite(type.primitive, value, path, this.#encoding(field, within), anyNull);
  }

  #absentCheck(struct: StructDeclaration, field: FieldDeclaration): string[] {
    if (field.ignorable) return [];
    return [
      `if (${this.#nonDefault(`value.${field.property}`, field)}) {`,
      `  throw unsupportedField(${this.#fieldPath(struct, field)}, version);`,
      '}',
    ];
  }

  #emitWrite(struct: StructDeclaration): void {
    const lines = this.#lines;
    const structPath = quote(struct.path);
    lines.push(`function write${struct.typeName}(writer: Writer, version: number, value: ${struct.typeName}): void {`);
    const tagged: FieldDeclaration[] = [];
    const body: string[] = [];
    for (const field of struct.fields) {
      const regular = this.#regularVersions(field);
      const taggedVersions = this.#taggedVersions(field);
      if (!isEmptyRange(taggedVersions)) {
        tagged.push(field);
        continue;
      }
      const present = condition(regular, this.#valid);
      const write = present === false ? [] : this.#writeStatements(struct, field, `value.${field.property}`, regular);
      const absent = present === true ? [] : this.#absentCheck(struct, field);
      body.push(...chooseStatement(present, write, absent));
    }
    if (this.#hasTaggedSection()) {
      const section: string[] = [
        'const unknownTaggedFields = value.unknownTaggedFields ?? NO_TAGGED_FIELDS;',
        `${tagged.length === 0 ? 'const' : 'let'} taggedFieldCount = unknownTaggedFields.length;`,
      ];
      const sorted = [...tagged].sort((a, b) => a.tag! - b.tag!);
      for (const field of sorted) {
        const known = condition(this.#taggedVersions(field), this.#flexible);
        const nonDefault = this.#nonDefault(`value.${field.property}`, field);
        const test = known === true ? nonDefault : known === false ? 'false' : `${known} && ${nonDefault}`;
        section.push(`const writeTag${field.tag} = ${test};`, `if (writeTag${field.tag}) taggedFieldCount++;`);
      }
      section.push(`writer.unsignedVarint(taggedFieldCount, ${structPath});`);
      for (const field of sorted) {
        const path = this.#fieldPath(struct, field);
        section.push(
          `if (writeTag${field.tag}) {`,
          `  writer.unsignedVarint(${field.tag}, ${path});`,
          '  const start = writer.beginSized();',
          ...indent(this.#writeStatements(struct, field, `value.${field.property}`, this.#taggedVersions(field))),
          '  writer.endSized(start);',
          '}',
        );
      }
      // Kafka's Java writes the tagged fields it knows, in tag order, and then the raw ones it kept.
      section.push(`writer.unknownTaggedFields(unknownTaggedFields, ${structPath});`);
      const flexible = condition(this.#flexible, this.#valid);
      const notFlexible = [
        'if (value.unknownTaggedFields !== undefined && value.unknownTaggedFields.length > 0) {',
        `  throw unsupportedField(${quote(`${struct.path}.unknownTaggedFields`)}, version);`,
        '}',
      ];
      // A tagged field in a version without it must be at its default unless ignorable, like any absent field.
      for (const field of sorted) {
        const absentIn = condition(this.#taggedVersions(field), this.#valid);
        if (absentIn === true || field.ignorable) continue;
        const check = this.#absentCheck(struct, field);
        const test = absentIn === false ? 'true' : `!(${absentIn})`;
        if (check.length > 0) body.push(`if (${test}) {`, ...indent(check), '}');
      }
      body.push(...chooseStatement(flexible, section, flexible === true ? [] : notFlexible));
    }
    if (body.length === 0) body.push('// Nothing to write in any version.');
    lines.push(...indent(body), '}', '');
  }

  // ---- arrays ----

  #emitArrayFunctions(struct: StructDeclaration, field: FieldDeclaration, element: FieldType): void {
    const lines = this.#lines;
    const name = `${struct.typeName}${upperFirst(field.property)}Array`;
    const path = this.#fieldPath(struct, field);
    const elementPath = quote(`${struct.path}.${field.property}[]`);
    const within = intersect(field.versions, this.#valid);
    const encoding = this.#encoding(field, within);
    const canBeNull = encoding.nullableWhenCompact !== false || encoding.nullableWhenClassic !== false;
    const elementEncoding: Encoding = {
      compact: encoding.compact,
      nullableWhenCompact: false,
      nullableWhenClassic: false,
    };
    const elementType = typeScriptType(element);
    const listType = this.#fieldType(field);
    const minimumSize = element.kind === 'primitive' ? (FIXED_SIZES[element.primitive] ?? 1) : 1;
    const count = choose(
      encoding.compact,
      choose(
        encoding.nullableWhenCompact,
        `reader.compactNullableArrayCount(${path}, ${minimumSize})`,
        `reader.compactArrayCount(${path}, ${minimumSize})`,
      ),
      choose(
        encoding.nullableWhenClassic,
        `reader.nullableArrayCount(${path}, ${minimumSize})`,
        `reader.arrayCount(${path}, ${minimumSize})`,
      ),
    );
    let elementRead: string;
    let elementWrite: string[];
    if (element.kind === 'struct') {
      elementRead = `read${element.struct.typeName}(reader, version)`;
      elementWrite = [`write${element.struct.typeName}(writer, version, element);`];
    } else if (element.kind === 'primitive') {
      elementRead = primitiveRead(element.primitive, elementPath, elementEncoding);
      elementWrite = primitiveWrite(element.primitive, 'element', elementPath, elementEncoding, false);
    } else {
      throw new Error(`${field.name}: arrays of arrays are not supported`);
    }
    lines.push(`function read${name}(reader: Reader, version: number): ${listType} {`);
    lines.push(`  const count = ${count};`);
    if (canBeNull) lines.push('  if (count < 0) return null;');
    lines.push(`  const list: ${elementType}[] = [];`);
    lines.push(`  for (let index = 0; index < count; index++) list.push(${elementRead});`);
    lines.push('  return list;', '}', '');

    const countCall = (method: string, argument: string) => [`writer.${method}(${argument}, ${path});`];
    const listAsArray = `list as ${elementType}[]`;
    const countWrite = chooseStatement(
      encoding.compact,
      chooseStatement(
        encoding.nullableWhenCompact,
        countCall('compactNullableArrayCount', 'list'),
        countCall('compactArrayCount', listAsArray),
      ),
      chooseStatement(
        encoding.nullableWhenClassic,
        countCall('nullableArrayCount', 'list'),
        countCall('arrayCount', listAsArray),
      ),
    );
    lines.push(`function write${name}(writer: Writer, version: number, list: ${listType}): void {`);
    lines.push(...indent(countWrite));
    if (canBeNull || listType.endsWith('| null')) lines.push('  if (list === null) return;');
    lines.push('  for (const element of list) {', ...indent(elementWrite, 2), '  }', '}', '');
  }
}

function primitiveRead(primitive: PrimitiveKind, path: string, encoding: Encoding): string {
  const { compact, nullableWhenCompact, nullableWhenClassic } = encoding;
  switch (primitive) {
    case 'bool':
      return `reader.boolean(${path})`;
    case 'string':
      return choose(
        compact,
        choose(nullableWhenCompact, `reader.compactNullableString(${path})`, `reader.compactString(${path})`),
        choose(nullableWhenClassic, `reader.nullableString(${path})`, `reader.string(${path})`),
      );
    case 'bytes':
    case 'records':
      return choose(
        compact,
        choose(nullableWhenCompact, `reader.compactNullableBytes(${path})`, `reader.compactBytes(${path})`),
        choose(nullableWhenClassic, `reader.nullableBytes(${path})`, `reader.bytes(${path})`),
      );
    default:
      return `reader.${primitive}(${path})`;
  }
}

function primitiveWrite(
  primitive: PrimitiveKind,
  value: string,
  path: string,
  encoding: Encoding,
  typeAllowsNull: boolean,
): string[] {
  const { compact, nullableWhenCompact, nullableWhenClassic } = encoding;
  // In versions where null is not allowed the value is passed on as it is: the non-nullable writers refuse null.
  const nonNull = typeAllowsNull ? `${value} as ${primitive === 'string' ? 'string' : 'Uint8Array'}` : value;
  const call = (method: string, argument: string) => [`writer.${method}(${argument}, ${path});`];
  switch (primitive) {
    case 'bool':
      return call('boolean', value);
    case 'string':
      return chooseStatement(
        compact,
        chooseStatement(nullableWhenCompact, call('compactNullableString', value), call('compactString', nonNull)),
        chooseStatement(nullableWhenClassic, call('nullableString', value), call('string', nonNull)),
      );
    case 'bytes':
    case 'records':
      return chooseStatement(
        compact,
        chooseStatement(nullableWhenCompact, call('compactNullableBytes', value), call('compactBytes', nonNull)),
        chooseStatement(nullableWhenClassic, call('nullableBytes', value), call('bytes', nonNull)),
      );
    default:
      return call(primitive, value);
  }
}

export function defaultExpression(type: FieldType, defaultValue: DefaultValue): string {
  switch (defaultValue.kind) {
    case 'null':
      return 'null';
    case 'number':
      return Object.is(defaultValue.value, -0) ? '0' : String(defaultValue.value);
    case 'bigint':
      return `${defaultValue.value}n`;
    case 'boolean':
      return String(defaultValue.value);
    case 'string':
      return type.kind === 'primitive' && type.primitive === 'uuid' ? 'ZERO_UUID' : quote(defaultValue.value);
    case 'empty':
      return type.kind === 'array' ? '[]' : 'new Uint8Array(0)';
    case 'struct':
      if (type.kind !== 'struct') throw new Error('struct default on a non-struct');
      return `default${type.struct.typeName}()`;
  }
}
