import { describe, expect, it } from 'vitest';
import { KafkaError, kafkaErrorDefinition, throwIfKafkaError } from '../src/kafka-error.ts';
import { ErrorCode, KAFKA_ERROR_DEFINITIONS } from '../src/kafka-errors.generated.ts';

describe('Kafka error table', () => {
  it('has every code once, with names matching the ErrorCode constants', () => {
    const codes = KAFKA_ERROR_DEFINITIONS.map((definition) => definition.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.length).toBeGreaterThan(120);
    for (const definition of KAFKA_ERROR_DEFINITIONS) {
      expect(ErrorCode[definition.name as keyof typeof ErrorCode]).toBe(definition.code);
    }
  });

  it('carries Kafka retriable and stale-metadata flags for the codes a consumer meets', () => {
    expect(kafkaErrorDefinition(ErrorCode.NOT_COORDINATOR)).toMatchObject({ retriable: true, invalidMetadata: false });
    expect(kafkaErrorDefinition(ErrorCode.NOT_LEADER_OR_FOLLOWER)).toMatchObject({
      retriable: true,
      invalidMetadata: true,
    });
    expect(kafkaErrorDefinition(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)).toMatchObject({
      retriable: true,
      invalidMetadata: true,
    });
    expect(kafkaErrorDefinition(ErrorCode.OFFSET_OUT_OF_RANGE)).toMatchObject({ retriable: false });
    expect(kafkaErrorDefinition(ErrorCode.REBALANCE_IN_PROGRESS)).toMatchObject({ retriable: false });
    expect(kafkaErrorDefinition(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)).toMatchObject({ retriable: true });
    expect(kafkaErrorDefinition(ErrorCode.SASL_AUTHENTICATION_FAILED)).toMatchObject({ code: 58, retriable: false });
  });
});

describe('KafkaError', () => {
  it('names the code, the request and the broker message', () => {
    const error = new KafkaError(ErrorCode.NOT_COORDINATOR, {
      context: 'OffsetCommit for group g',
      brokerMessage: 'moved',
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('OffsetCommit for group g failed with NOT_COORDINATOR (16): moved');
    expect(error).toMatchObject({ code: 16, errorName: 'NOT_COORDINATOR', retriable: true, invalidMetadata: false });
  });

  it('stays typed for a code this client does not know', () => {
    const error = new KafkaError(9999);
    expect(error.errorName).toBe('UNKNOWN_ERROR_CODE_9999');
    expect(error.retriable).toBe(false);
  });

  it('throwIfKafkaError ignores NONE', () => {
    expect(() => throwIfKafkaError(0)).not.toThrow();
    expect(() => throwIfKafkaError(3, { context: 'Metadata' })).toThrow(
      /Metadata failed with UNKNOWN_TOPIC_OR_PARTITION/,
    );
  });
});
