import { describe, expect, it } from 'vitest';
import { brokerArtifacts, DEFAULT_KAFKA_VERSION, KafkaVersionError, kafkaLine } from '../src/versions.ts';

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

describe('randomClusterId', () => {
  it('gives 22-character URL-safe ids that never start with "-" (StorageTool would read one as an option)', async () => {
    const { randomClusterId } = await import('../src/cluster.ts');
    for (let index = 0; index < 5000; index++) {
      const id = randomClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  });
});
