export type { BrokerState, ClusterInfo, StartOptions } from './cluster.ts';
export {
  DEDICATED_CONTROLLER_ID,
  isHarnessBroker,
  KafkaCluster,
  KafkaHarnessError,
  stopDetached,
  sweepStaleClusters,
} from './cluster.ts';
export type { ListenerName, NodeRole, SaslMechanism, SaslUser, SecurityFeature } from './config.ts';
export { ensureCompiledJava, ensureKafkaInstall, ensureMavenJars, KafkaSetupError, type MavenJars } from './jars.ts';
export type { ApiVersionRange, ClusterMetadata, MetadataBroker, ProbeTarget } from './probe.ts';
export { fetchMetadata, ProbeConnection, ProbeError } from './probe.ts';
export { createTlsMaterial, type TlsMaterial } from './tls.ts';
export { DEFAULT_KAFKA_VERSION, kafkaLine, VERIFIED_KAFKA_VERSIONS } from './versions.ts';
