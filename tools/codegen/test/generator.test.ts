import { describe, expect, it } from 'vitest';
import { generateFiles, loadSchemas, runGenerator } from '../src/generate.ts';
import { parseJsonWithComments } from '../src/json-with-comments.ts';
import { buildMessage, parseVersionRange } from '../src/schema.ts';

describe('the committed generated code', () => {
  // Resolves kafka-clients through the Kafka harness: from the cache when present, else from Maven once.
  it('is what the generator makes from the schemas now', { timeout: 600_000 }, async () => {
    const schemas = await loadSchemas();
    const result = await runGenerator({ check: true, schemas });
    expect(result.differing).toEqual([]);
    expect(result.written).toEqual([]);
    // And generating is deterministic.
    expect(generateFiles(schemas)).toEqual(generateFiles(schemas));
  });
});

describe('schema reading', () => {
  it('drops // comments but not // inside strings', () => {
    const parsed = parseJsonWithComments('// header\n{ "a": "x // y", // trailing\n "b": 1 }');
    expect(parsed).toEqual({ a: 'x // y', b: 1 });
  });

  it('reads version ranges', () => {
    expect(parseVersionRange('3+', 'test')).toEqual({ min: 3, max: Number.POSITIVE_INFINITY });
    expect(parseVersionRange('0-12', 'test')).toEqual({ min: 0, max: 12 });
    expect(parseVersionRange('7', 'test')).toEqual({ min: 7, max: 7 });
    expect(parseVersionRange('none', 'test').min).toBeGreaterThan(parseVersionRange('none', 'test').max);
    expect(() => parseVersionRange('1-', 'test')).toThrow();
  });

  it('builds declarations with defaults, tags and common structs', () => {
    const message = buildMessage({
      apiKey: 99,
      type: 'request',
      name: 'ExampleRequest',
      validVersions: '0-3',
      flexibleVersions: '2+',
      fields: [
        { name: 'MaxBytes', type: 'int32', versions: '0+', default: '0x7fffffff' },
        { name: 'Offset', type: 'int64', versions: '1+', default: -1 },
        {
          name: 'Rack',
          type: 'string',
          versions: '2+',
          nullableVersions: '2+',
          default: 'null',
          tag: 0,
          taggedVersions: '2+',
        },
        { name: 'Items', type: '[]Item', versions: '0+' },
      ],
      commonStructs: [{ name: 'Item', versions: '0+', fields: [{ name: 'Id', type: 'uuid', versions: '0+' }] }],
    });
    const [maxBytes, offset, rack, items] = message.root.fields;
    expect(maxBytes?.defaultValue).toEqual({ kind: 'number', value: 0x7fffffff });
    expect(offset?.defaultValue).toEqual({ kind: 'bigint', value: -1n });
    expect(rack?.tag).toBe(0);
    expect(rack?.defaultValue).toEqual({ kind: 'null' });
    expect(items?.type.kind).toBe('array');
    expect(message.structs.map((struct) => struct.name)).toEqual(['ExampleRequest', 'Item']);
  });

  it('refuses defaults that do not fit the type', () => {
    const build = (field: object) =>
      buildMessage({ type: 'request', name: 'X', validVersions: '0', flexibleVersions: 'none', fields: [field] });
    expect(() => build({ name: 'A', type: 'int8', versions: '0+', default: '300' })).toThrow();
    expect(() => build({ name: 'A', type: 'string', versions: '0+', default: 'null' })).toThrow();
  });
});
