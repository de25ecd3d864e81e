/**
 * Vitest global setup for the integration project: one Kafka for the whole run.
 *
 * - With KAFKA_BOOTSTRAP set (host:port,...), tests use that running cluster's PLAINTEXT listener and start nothing.
 * - Otherwise a single combined node with every listener (PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL) is started
 *   from the harness; KAFKA_VERSION picks the version, KAFKA_CONSUMER_PROTOCOL=1 turns on 3.9's early-access KIP-848
 *   consumer groups. The brokers watch a pipe to this process, so they end with it even when the run is
 *   interrupted or crashes; teardown stops them and removes their folder.
 *
 * Tests that need a feature an older broker lacks skip on `inject('kafka').lacks.<feature>`, whose value is the
 * reason (put it in the skipped test's name: vitest shows no other).
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { type ClusterInfo, KafkaCluster } from './cluster.ts';
import { type BrokerFeature, brokerFeatureGaps, DEFAULT_KAFKA_VERSION, KafkaVersionError } from './versions.ts';

export interface TestKafka extends ClusterInfo {
  /** True when the cluster came from KAFKA_BOOTSTRAP: only PLAINTEXT is known, and nothing can be killed. */
  readonly external: boolean;
  /**
   * The features this broker lacks, each with the reason (from its version and how it was started), for a test to
   * skip on. Empty for an external cluster whose version KAFKA_VERSION does not tell: its tests are tried.
   */
  readonly lacks: Readonly<Partial<Record<BrokerFeature, string>>>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafka: TestKafka;
  }
}

/** KAFKA_CONSUMER_PROTOCOL=1 (or true): start 3.9 with its early-access consumer group protocol on. */
export function consumerProtocolFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.KAFKA_CONSUMER_PROTOCOL?.trim().toLowerCase();
  return value === '1' || value === 'true';
}

function gapsOf(version: string, consumerProtocol: boolean): TestKafka['lacks'] {
  try {
    return brokerFeatureGaps(version, { consumerProtocol });
  } catch (error) {
    if (error instanceof KafkaVersionError) return {};
    throw error;
  }
}

export function externalCluster(bootstrap: string, env: NodeJS.ProcessEnv = process.env): TestKafka {
  const version = env.KAFKA_VERSION ?? 'unknown';
  return {
    external: true,
    lacks: gapsOf(version, consumerProtocolFromEnv(env)),
    version,
    root: '',
    clusterId: '',
    nodeIds: [],
    bootstrap: { PLAINTEXT: bootstrap },
    listeners: ['PLAINTEXT'],
    sasl: null,
    tls: null,
    nodes: [],
    controller: null,
  };
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const bootstrap = process.env.KAFKA_BOOTSTRAP;
  if (bootstrap) {
    project.provide('kafka', externalCluster(bootstrap));
    return undefined;
  }
  const started = Date.now();
  const consumerProtocol = consumerProtocolFromEnv();
  const cluster = await KafkaCluster.start({
    version: process.env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION,
    brokers: 1,
    security: ['sasl', 'tls'],
    consumerProtocol,
    log: (line) => console.log(`[kafka] ${line}`),
  });
  console.log(`[kafka] Kafka ${cluster.version} ready in ${Date.now() - started} ms: ${cluster.bootstrap()}`);
  const lacks = gapsOf(cluster.version, consumerProtocol);
  for (const [feature, reason] of Object.entries(lacks))
    console.log(`[kafka] tests needing ${feature} skip: ${reason}`);
  project.provide('kafka', { ...cluster.info(), external: false, lacks });
  return async () => {
    await cluster.stop();
  };
}
