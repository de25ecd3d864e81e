import { compressSync } from '../../src/compression/index.ts';
import { repairChecksums } from './checksum-repair.ts';
import type { InnerSection, Seed } from './corpus-types.ts';
import type { FieldPosition } from './field-positions.ts';
import type { Random } from './random.ts';

/** What a mutator may look at besides the bytes: the seed's structure and the other seeds of the same target. */
export interface MutationContext {
  readonly random: Random;
  readonly seed: Seed;
  /** Seeds of the same target kind, for splicing. */
  readonly kin: readonly Seed[];
}

export interface Mutator {
  readonly name: string;
  /** Returns new bytes (never changes its input), or null when it does not apply to this seed. */
  readonly apply: (bytes: Uint8Array, context: MutationContext) => Uint8Array | null;
}

const interestingBytes = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const hostileInt16 = [-2, -1, 0, 1, 0x7fff, -0x8000, 0x7ffe];
const hostileInt32 = [-2, -1, 0, 1, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0x7ffffffe];
const hostileUnsignedVarints = [0, 1, 2, 0x7f, 0x80, 0x3fff, 0xffff, 0x7fffffff, 0xfffffffe, 0xffffffff];

function copy(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes);
}

function splice(bytes: Uint8Array, start: number, end: number, replacement: Uint8Array): Uint8Array {
  const output = new Uint8Array(bytes.length - (end - start) + replacement.length);
  output.set(bytes.subarray(0, start), 0);
  output.set(replacement, start);
  output.set(bytes.subarray(end), start + replacement.length);
  return output;
}

/** Unsigned LEB128 of a value up to 2^53, in its shortest form. */
export function encodeUnsignedVarint(value: number): Uint8Array {
  const output: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    output.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  output.push(rest);
  return Uint8Array.from(output);
}

/** The same value in `size` bytes: continuation bits over zero groups, which strict readers refuse past 5 bytes. */
export function overlongVarint(value: number, size: number): Uint8Array {
  const shortest = encodeUnsignedVarint(value);
  const output = new Uint8Array(Math.max(size, shortest.length));
  output.set(shortest, 0);
  for (let index = 0; index < output.length - 1; index++) output[index]! |= 0x80;
  return output;
}

function decodeUnsignedVarint(bytes: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let index = 0; index < size && offset + index < bytes.length; index++) {
    value += (bytes[offset + index]! & 0x7f) * 2 ** (7 * index);
  }
  return value;
}

function pickPosition(
  bytes: Uint8Array,
  context: MutationContext,
  encodings?: readonly string[],
): FieldPosition | null {
  const candidates = context.seed.positions.filter(
    (position) =>
      position.offset + position.size <= bytes.length &&
      (encodings === undefined || encodings.includes(position.encoding)),
  );
  return candidates.length === 0 ? null : context.random.pick(candidates);
}

function writeFixed(bytes: Uint8Array, position: FieldPosition, value: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (position.encoding) {
    case 'int16':
      view.setInt16(position.offset, value);
      break;
    case 'int32':
      view.setInt32(position.offset, value | 0);
      break;
    case 'int32-little-endian':
      view.setInt32(position.offset, value | 0, true);
      break;
    case 'uint64-little-endian':
      view.setBigUint64(position.offset, BigInt.asUintN(64, BigInt(Math.trunc(value))), true);
      break;
    case 'varint':
      throw new Error('varints are rewritten, not overwritten');
  }
}

/** Sets a length, count or varint to a hostile value: -2, -1, 0, the type's maximum, the input's length + 1 ... */
const hostileLength: Mutator = {
  name: 'hostile-length',
  apply(bytes, context) {
    const { random } = context;
    const position = pickPosition(bytes, context);
    if (position === null) return null;
    if (position.encoding === 'varint') {
      const value = random.chance(0.2) ? bytes.length + random.between(-2, 2) : random.pick(hostileUnsignedVarints);
      return splice(bytes, position.offset, position.offset + position.size, encodeUnsignedVarint(Math.max(0, value)));
    }
    const output = copy(bytes);
    let value: number;
    if (position.encoding === 'int16') value = random.pick(hostileInt16);
    else if (position.encoding === 'uint64-little-endian') value = random.pick([0, 1, 2 ** 32, 2 ** 53, -1]);
    else value = random.chance(0.2) ? bytes.length + random.between(-2, 2) : random.pick(hostileInt32);
    writeFixed(output, position, value);
    return output;
  },
};

/** Moves a length or count by a little: the off-by-one lies that slip past coarse checks. */
const nudgeLength: Mutator = {
  name: 'nudge-length',
  apply(bytes, context) {
    const { random } = context;
    const position = pickPosition(bytes, context);
    if (position === null) return null;
    const delta = random.pick([-8, -3, -2, -1, 1, 2, 3, 8, 100]);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (position.encoding === 'varint') {
      const value = decodeUnsignedVarint(bytes, position.offset, position.size) + delta;
      return splice(bytes, position.offset, position.offset + position.size, encodeUnsignedVarint(Math.max(0, value)));
    }
    const output = copy(bytes);
    if (position.encoding === 'int16')
      writeFixed(output, position, ((view.getInt16(position.offset) + delta) << 16) >> 16);
    else if (position.encoding === 'int32') writeFixed(output, position, view.getInt32(position.offset) + delta);
    else if (position.encoding === 'int32-little-endian') {
      writeFixed(output, position, view.getInt32(position.offset, true) + delta);
    } else writeFixed(output, position, Number(view.getBigUint64(position.offset, true)) + delta);
    return output;
  },
};

/** Re-encodes a varint in 6 to 10 bytes (or an unterminated run), which every varint reader must refuse. */
const overlongVarintMutator: Mutator = {
  name: 'overlong-varint',
  apply(bytes, context) {
    const { random } = context;
    const position = pickPosition(bytes, context, ['varint']);
    if (position === null) return null;
    const value = decodeUnsignedVarint(bytes, position.offset, position.size);
    let replacement: Uint8Array;
    const choice = random.below(3);
    if (choice === 0) replacement = overlongVarint(value, random.between(6, 10));
    else if (choice === 1) replacement = new Uint8Array(random.between(6, 12)).fill(0xff);
    // Five bytes whose last one carries bits past 32.
    else replacement = Uint8Array.of(0xff, 0xff, 0xff, 0xff, random.pick([0x10, 0x1f, 0x7f]));
    return splice(bytes, position.offset, position.offset + position.size, replacement);
  },
};

const bitFlip: Mutator = {
  name: 'bit-flip',
  apply(bytes, { random }) {
    if (bytes.length === 0) return null;
    const output = copy(bytes);
    const flips = random.between(1, 8);
    for (let index = 0; index < flips; index++) output[random.below(output.length)]! ^= 1 << random.below(8);
    return output;
  },
};

const byteReplace: Mutator = {
  name: 'byte-replace',
  apply(bytes, { random }) {
    if (bytes.length === 0) return null;
    const output = copy(bytes);
    const count = random.between(1, 4);
    for (let index = 0; index < count; index++) {
      output[random.below(output.length)] = random.chance(0.5) ? random.pick(interestingBytes) : random.below(256);
    }
    return output;
  },
};

const truncate: Mutator = {
  name: 'truncate',
  apply(bytes, { random }) {
    if (bytes.length === 0) return null;
    return bytes.slice(0, random.below(bytes.length));
  },
};

const insert: Mutator = {
  name: 'insert',
  apply(bytes, { random }) {
    const length = random.between(1, 16);
    const filler = random.chance(0.5)
      ? random.bytes(length)
      : new Uint8Array(length).fill(random.pick(interestingBytes));
    const at = random.below(bytes.length + 1);
    return splice(bytes, at, at, filler);
  },
};

const remove: Mutator = {
  name: 'delete',
  apply(bytes, { random }) {
    if (bytes.length === 0) return null;
    const start = random.below(bytes.length);
    const end = Math.min(bytes.length, start + random.between(1, 16));
    return splice(bytes, start, end, new Uint8Array(0));
  },
};

const duplicate: Mutator = {
  name: 'duplicate',
  apply(bytes, { random }) {
    if (bytes.length === 0) return null;
    const start = random.below(bytes.length);
    const chunk = bytes.slice(start, Math.min(bytes.length, start + random.between(1, 64)));
    const at = random.below(bytes.length + 1);
    return splice(bytes, at, at, chunk);
  },
};

/** The head of this input and the tail of another seed of the same target. */
const spliceSeeds: Mutator = {
  name: 'splice',
  apply(bytes, { random, kin }) {
    const other = random.pick(kin).bytes;
    const head = bytes.subarray(0, random.below(bytes.length + 1));
    const tail = other.subarray(random.below(other.length + 1));
    const output = new Uint8Array(head.length + tail.length);
    output.set(head, 0);
    output.set(tail, head.length);
    return output;
  },
};

/** Mutators that keep the seed's layout: structure-aware ones run first, while positions still hold. */
export const structureMutators: readonly Mutator[] = [hostileLength, nudgeLength, overlongVarintMutator];
export const byteMutators: readonly Mutator[] = [
  bitFlip,
  byteReplace,
  truncate,
  insert,
  remove,
  duplicate,
  spliceSeeds,
];

/**
 * Mutates the plain records behind a compressed batch (or legacy wrapper), compresses them again, and puts the
 * batch back with a correct length and CRC: the record decoder behind the decompressor sees the damage.
 */
export function mutateInner(bytes: Uint8Array, context: MutationContext, names: string[]): Uint8Array | null {
  const sections = context.seed.inner.filter((section) => section.batchEnd <= bytes.length);
  if (sections.length === 0) return null;
  const { random } = context;
  const section: InnerSection = random.pick(sections);
  const innerSeed: Seed = {
    ...context.seed,
    bytes: section.plain,
    positions: section.plainPositions,
    inner: [],
  };
  const innerContext: MutationContext = { random, seed: innerSeed, kin: [innerSeed] };
  let plain: Uint8Array = section.plain;
  const steps = random.between(1, 2);
  for (let step = 0; step < steps; step++) {
    const pool = step === 0 && random.chance(0.6) ? structureMutators : byteMutators;
    const mutator = random.pick(pool);
    const mutated = mutator.apply(plain, innerContext);
    if (mutated !== null) {
      plain = mutated;
      names.push(`inner ${section.compression} ${mutator.name}`);
    }
  }
  if (section.format === 'legacy' && random.chance(0.5)) {
    plain = Uint8Array.from(plain);
    repairChecksums(plain);
  }
  const compressed = compressSync(section.compression, plain, { snappyFraming: section.snappyFraming });
  return splice(bytes, section.batchStart, section.batchEnd, section.rebuild(compressed));
}
