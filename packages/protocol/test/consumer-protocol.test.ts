/** The consumer protocol's embedded subscription and assignment: version prefix, round trips, forward compatibility. */
import { describe, expect, it } from 'vitest';
import {
  type ConsumerProtocolAssignment,
  type ConsumerProtocolSubscription,
  consumerProtocolSubscription,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
  encodeMessage,
  ProtocolError,
} from '../src/index.ts';

const subscription: ConsumerProtocolSubscription = {
  topics: ['orders', 'payments'],
  userData: new Uint8Array([0, 0, 0, 7]),
  ownedPartitions: [{ topic: 'orders', partitions: [0, 2] }],
  generationId: 7,
  rackId: 'rack-a',
};

const assignment: ConsumerProtocolAssignment = {
  assignedPartitions: [
    { topic: 'orders', partitions: [1] },
    { topic: 'payments', partitions: [0, 1] },
  ],
  userData: null,
};

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function version(value: number): Uint8Array {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setInt16(0, value);
  return bytes;
}

describe('consumer protocol data', () => {
  it('prefixes the body with its version, and reads back what each version holds', () => {
    const expected: Record<number, ConsumerProtocolSubscription> = {
      0: { ...subscription, ownedPartitions: [], generationId: -1, rackId: null },
      1: { ...subscription, generationId: -1, rackId: null },
      2: { ...subscription, rackId: null },
      3: subscription,
    };
    for (let v = 0; v <= 3; v++) {
      const bytes = encodeConsumerSubscription(subscription, v);
      expect(bytes.subarray(0, 2)).toEqual(version(v));
      expect(bytes.subarray(2)).toEqual(encodeMessage(consumerProtocolSubscription, v, subscription));
      expect(decodeConsumerSubscription(bytes)).toEqual({ version: v, value: expected[v] });
      const assigned = encodeConsumerAssignment(assignment, v);
      expect(decodeConsumerAssignment(assigned)).toEqual({ version: v, value: assignment });
    }
    // The newest version by default.
    expect(decodeConsumerSubscription(encodeConsumerSubscription(subscription)).version).toBe(3);
  });

  it('reads a version newer than it knows at its newest, skipping the fields it does not know', () => {
    const future = concat(
      version(9),
      encodeConsumerSubscription(subscription, 3).subarray(2),
      new Uint8Array([1, 2, 3, 4, 5]),
    );
    expect(decodeConsumerSubscription(future)).toEqual({ version: 9, value: subscription });
    const futureAssignment = concat(version(4), encodeConsumerAssignment(assignment, 3).subarray(2), new Uint8Array(8));
    expect(decodeConsumerAssignment(futureAssignment)).toEqual({ version: 4, value: assignment });
  });

  it('refuses a negative version, empty or truncated bytes, and encoding at a version it does not have', () => {
    const body = encodeConsumerSubscription(subscription, 1).subarray(2);
    expect(() => decodeConsumerSubscription(concat(version(-1), body))).toThrow(ProtocolError);
    expect(() => decodeConsumerSubscription(new Uint8Array(0))).toThrow(ProtocolError);
    const whole = encodeConsumerAssignment(assignment, 1);
    for (let length = 0; length < whole.length; length++) {
      expect(() => decodeConsumerAssignment(whole.subarray(0, length))).toThrow(ProtocolError);
    }
    expect(() => encodeConsumerSubscription(subscription, 4)).toThrow(/versions 0-3, not 4/);
    expect(() => encodeConsumerAssignment(assignment, -1)).toThrow(ProtocolError);
  });
});
