import { ProtocolError } from '../errors.ts';

/** What #readShort returns when the varint is not short: no zigzag value of 3 bytes or fewer is this large. */
const NOT_SHORT = 2 ** 31;

/**
 * Reads Kafka's zigzag varints (int32, at most 5 bytes) and varlongs (int64, at most 10 bytes) between `position`
 * and `limit`. One reader serves a whole batch: it is created once per iteration, not per record.
 */
export class VarintReader {
  data: Uint8Array;
  position: number;
  /** Reads never go past this position (the end of the record or batch being read). */
  limit: number;

  constructor(data: Uint8Array, position: number, limit: number) {
    this.data = data;
    this.position = position;
    this.limit = limit;
  }

  /**
   * Record lengths, key and value lengths, offset and timestamp deltas are nearly always 1 to 3 bytes: this reads
   * those with integer arithmetic (and leaves anything longer, or too near the limit, to the careful path).
   * A zigzag value of at most 21 bits is the same as int32 or int64.
   */
  #readShort(): number {
    const data = this.data;
    const position = this.position;
    if (position + 2 >= this.limit) return NOT_SHORT;
    const first = data[position]!;
    if (first < 0x80) {
      this.position = position + 1;
      return (first >>> 1) ^ -(first & 1);
    }
    const second = data[position + 1]!;
    if (second < 0x80) {
      const raw = (first & 0x7f) | (second << 7);
      this.position = position + 2;
      return (raw >>> 1) ^ -(raw & 1);
    }
    const third = data[position + 2]!;
    if (third < 0x80) {
      const raw = (first & 0x7f) | ((second & 0x7f) << 7) | (third << 14);
      this.position = position + 3;
      return (raw >>> 1) ^ -(raw & 1);
    }
    return NOT_SHORT;
  }

  /** A zigzag int32. Bits past 32 in the fifth byte are dropped, as Kafka's Java reader does. */
  readVarint(field: string): number {
    const short = this.#readShort();
    if (short !== NOT_SHORT) return short;
    return this.#readVarintSlow(field);
  }

  #readVarintSlow(field: string): number {
    const data = this.data;
    let position = this.position;
    let raw = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (position >= this.limit) throw this.#truncated(field);
      const byte = data[position++]!;
      raw += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        this.position = position;
        // `>>> 0` keeps the low 32 bits; the zigzag step then gives the signed value.
        const unsigned = raw >>> 0;
        return (unsigned >>> 1) ^ -(unsigned & 1);
      }
    }
    throw this.#tooLong(field, 'varint');
  }

  /**
   * A zigzag int64: a number when it is a safe integer (every value of 7 bytes or fewer, and in practice every
   * delta a broker sends), otherwise an exact bigint.
   */
  readVarlong(field: string): number | bigint {
    const short = this.#readShort();
    if (short !== NOT_SHORT) return short;
    const data = this.data;
    let position = this.position;
    let raw = 0;
    // Up to 7 bytes (49 bits) the value is exact in a double.
    for (let shift = 0; shift < 49; shift += 7) {
      if (position >= this.limit) throw this.#truncated(field);
      const byte = data[position++]!;
      raw += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        this.position = position;
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
    }
    let big = BigInt(raw);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      if (position >= this.limit) throw this.#truncated(field);
      const byte = data[position++]!;
      big |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.position = position;
        const unsigned = BigInt.asUintN(64, big);
        const value = BigInt.asIntN(64, (unsigned >> 1n) ^ -(unsigned & 1n));
        return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
      }
    }
    throw this.#tooLong(field, 'varlong');
  }

  #truncated(field: string): ProtocolError {
    return new ProtocolError('varint runs past the end of its bytes', {
      reason: 'truncated',
      field,
      offset: this.position,
    });
  }

  #tooLong(field: string, kind: string): ProtocolError {
    return new ProtocolError(`${kind} is longer than its type allows`, {
      reason: 'varint-too-long',
      field,
      offset: this.position,
    });
  }
}
