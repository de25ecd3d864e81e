/**
 * Kafka versions the harness knows how to run. The default is the newest 4.x release on Maven Central;
 * the 3.9 line also works (it needs reload4j instead of log4j2 for its logging).
 */
export const DEFAULT_KAFKA_VERSION = '4.4.0';

/** Versions started and tested by the harness's own tests; others of the same lines are expected to work. */
export const VERIFIED_KAFKA_VERSIONS = ['4.4.0', '3.9.1'] as const;

export type KafkaLine = '3.9' | '4.x';

export interface MavenArtifact {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

export class KafkaVersionError extends Error {
  override name = 'KafkaVersionError';
}

const VERSION_PATTERN = /^(\d+)\.(\d+)\.(\d+)$/;

/** Which logging and config dialect a version needs. Only 3.9.x and 4.x run in KRaft mode from these jars. */
export function kafkaLine(version: string): KafkaLine {
  const match = VERSION_PATTERN.exec(version);
  if (!match) {
    throw new KafkaVersionError(`Kafka version "${version}" is not of the form X.Y.Z`);
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major >= 4) return '4.x';
  if (major === 3 && minor === 9) return '3.9';
  throw new KafkaVersionError(`Kafka ${version} is not supported by the harness: use 3.9.x or 4.x`);
}

/** The Maven artifacts whose runtime dependencies make a broker's classpath. */
export function brokerArtifacts(version: string): MavenArtifact[] {
  const broker = { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version };
  if (kafkaLine(version) === '3.9') {
    return [
      broker,
      { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' },
      { groupId: 'ch.qos.reload4j', artifactId: 'reload4j', version: '1.2.25' },
    ];
  }
  // Kafka 4.x logs through SLF4J 1.7 to log4j2; its POM leaves the binding out.
  return [broker, { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: '2.25.3' }];
}
