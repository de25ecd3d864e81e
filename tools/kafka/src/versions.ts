/**
 * Kafka versions the harness knows how to run. The default is the newest 4.x release on Maven Central;
 * the 3.9 line also works (it needs reload4j instead of log4j2 for its logging).
 */
export const DEFAULT_KAFKA_VERSION = '4.4.0';

/**
 * Versions started and tested by the harness's own tests (tools/kafka/test/versions.integration.test.ts starts each)
 * and by the version matrix; others of the same lines are expected to work.
 */
export const VERIFIED_KAFKA_VERSIONS = ['4.4.0', '4.2.2', '4.0.2', '3.9.2', '3.9.1'] as const;

/**
 * The older versions that `./pnpmw test:matrix` (and CI) runs a subset of the integration suite against, besides the
 * default that the whole suite runs on: the newest patch release of the 3.9, 4.0 and 4.2 lines on Maven Central.
 * 3.9 is the last 3.x line, whose brokers serve classic groups from the old group coordinator by default; 4.0 made
 * KIP-848 consumer groups generally available (and dropped the old coordinator); 4.2 made KIP-932 share groups
 * production-ready.
 */
export const MATRIX_KAFKA_VERSIONS = ['3.9.2', '4.0.2', '4.2.2'] as const;

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

/**
 * Features that some tests need and that a broker may lack.
 * - `consumerGroupProtocol`: KIP-848 consumer groups (ConsumerGroupHeartbeat), generally available from 4.0; 3.9 has
 *   them as early access, off unless its broker was started with `group.coordinator.rebalance.protocols=classic,
 *   consumer` (the harness's `consumerProtocol` option).
 * - `consumerGroupRegex`: a consumer group subscription to a regular expression that the coordinator resolves
 *   (ConsumerGroupHeartbeat v1's SubscribedTopicRegex, Kafka 4.0); 3.9's early access speaks v0 only.
 */
export type BrokerFeature = 'consumerGroupProtocol' | 'consumerGroupRegex';

export interface BrokerFeatureOptions {
  /** The broker was started with 3.9's early-access consumer group protocol turned on. */
  readonly consumerProtocol?: boolean;
}

/**
 * Why a broker of `version` (configured as the harness does it) lacks each feature it lacks, as a sentence a
 * skipped test can show; a feature it has is absent from the result. The facts were checked against each line's
 * brokers: 3.9.x advertises ConsumerGroupHeartbeat v0 in ApiVersions even when the protocol is off (it answers
 * UNSUPPORTED_VERSION then), so ApiVersions alone cannot tell.
 */
export function brokerFeatureGaps(
  version: string,
  options: BrokerFeatureOptions = {},
): Partial<Record<BrokerFeature, string>> {
  const gaps: Partial<Record<BrokerFeature, string>> = {};
  if (kafkaLine(version) === '3.9') {
    if (!options.consumerProtocol) {
      gaps.consumerGroupProtocol =
        `Kafka ${version} serves KIP-848 consumer groups only as early access, off by default ` +
        '(group.coordinator.rebalance.protocols=classic; the harness turns it on with consumerProtocol / ' +
        'KAFKA_CONSUMER_PROTOCOL=1)';
    }
    gaps.consumerGroupRegex =
      `Kafka ${version} speaks ConsumerGroupHeartbeat v0 only: no SubscribedTopicRegex, so no subscription to a ` +
      'regular expression that the coordinator resolves (v1, Kafka 4.0)';
  }
  return gaps;
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
