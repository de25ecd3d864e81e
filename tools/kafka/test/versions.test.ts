import { describe, expect, it } from 'vitest';
import {
  brokerArtifacts,
  brokerFeatureGaps,
  DEFAULT_KAFKA_VERSION,
  KafkaVersionError,
  kafkaLine,
  MATRIX_KAFKA_VERSIONS,
  VERIFIED_KAFKA_VERSIONS,
} from '../src/versions.ts';

describe('Kafka versions', () => {
  it('defaults to a 4.x release', () => {
    expect(kafkaLine(DEFAULT_KAFKA_VERSION)).toBe('4.x');
  });

  it('accepts 3.9.x and 4.x, refuses older lines and malformed versions with a typed error', () => {
    expect(kafkaLine('3.9.1')).toBe('3.9');
    expect(kafkaLine('4.1.1')).toBe('4.x');
    expect(() => kafkaLine('3.8.0')).toThrow(KafkaVersionError);
    expect(() => kafkaLine('latest')).toThrow(/not of the form X.Y.Z/);
  });

  it('adds the logging binding each line needs', () => {
    expect(brokerArtifacts('4.4.0').map((artifact) => artifact.artifactId)).toEqual(['kafka_2.13', 'log4j-slf4j-impl']);
    expect(brokerArtifacts('3.9.1').map((artifact) => artifact.artifactId)).toEqual([
      'kafka_2.13',
      'slf4j-reload4j',
      'reload4j',
    ]);
  });
});

describe('the version matrix', () => {
  it('runs one verified release per older line, never the default (the whole suite runs on that)', () => {
    const lines = MATRIX_KAFKA_VERSIONS.map((version) => version.split('.').slice(0, 2).join('.'));
    expect(new Set(lines).size).toBe(MATRIX_KAFKA_VERSIONS.length);
    for (const version of MATRIX_KAFKA_VERSIONS) {
      expect(VERIFIED_KAFKA_VERSIONS).toContain(version);
      expect(version).not.toBe(DEFAULT_KAFKA_VERSION);
      expect(() => kafkaLine(version)).not.toThrow();
    }
  });
});

describe('brokerFeatureGaps', () => {
  it('says why 3.9 lacks KIP-848 consumer groups unless its early access is on, and regex ones always; 4.x lacks nothing', () => {
    expect(Object.keys(brokerFeatureGaps('3.9.2'))).toEqual(['consumerGroupProtocol', 'consumerGroupRegex']);
    expect(brokerFeatureGaps('3.9.2').consumerGroupProtocol).toMatch(
      /^Kafka 3\.9\.2 serves KIP-848 consumer groups only as early access/,
    );
    expect(brokerFeatureGaps('3.9.2', { consumerProtocol: true })).toEqual({
      consumerGroupRegex: expect.stringMatching(/^Kafka 3\.9\.2 speaks ConsumerGroupHeartbeat v0 only/),
    });
    expect(brokerFeatureGaps('4.0.2')).toEqual({});
    expect(brokerFeatureGaps(DEFAULT_KAFKA_VERSION)).toEqual({});
    expect(() => brokerFeatureGaps('3.8.0')).toThrow(KafkaVersionError);
  });
});

describe('randomClusterId', () => {
  it('gives 22-character URL-safe ids that never start with "-" (StorageTool would read one as an option)', async () => {
    const { randomClusterId } = await import('../src/cluster.ts');
    for (let index = 0; index < 5000; index++) {
      const id = randomClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  });
});
