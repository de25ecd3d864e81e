// The shape of test/declarations.generated.ts: Kafka's message declarations as plain data.

/** Inclusive [min, max]; open ranges end at 0x7fff. */
export type RangeShape = readonly [number, number];

export type PrimitiveShape =
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

export type TypeShape = PrimitiveShape | { readonly struct: string } | { readonly array: TypeShape };

export interface DefaultShape {
  readonly kind: 'null' | 'number' | 'bigint' | 'boolean' | 'string' | 'empty' | 'struct';
  readonly value?: number | string | boolean;
}

export interface FieldShape {
  readonly property: string;
  readonly type: TypeShape;
  readonly versions: RangeShape | null;
  readonly nullableVersions: RangeShape | null;
  readonly taggedVersions: RangeShape | null;
  readonly tag: number | null;
  readonly flexibleVersions: RangeShape | null;
  readonly ignorable: boolean;
  readonly default: DefaultShape;
}

export interface MessageShape {
  readonly name: string;
  readonly type: 'request' | 'response' | 'header' | 'data';
  readonly apiKey: number | null;
  readonly validVersions: RangeShape | null;
  readonly flexibleVersions: RangeShape | null;
  /** The TypeScript name of the root struct; `structs` is keyed by TypeScript names. */
  readonly root: string;
  readonly structs: Readonly<Record<string, readonly FieldShape[]>>;
}
