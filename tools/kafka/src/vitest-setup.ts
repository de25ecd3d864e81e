/**
 * Vitest global setup for the integration project: one Kafka for the whole run.
 *
 * - With KAFKA_BOOTSTRAP set (host:port,...), tests use that running cluster's PLAINTEXT listener and start nothing.
 * - Otherwise a single combined node with every listener (PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL) is started
 *   from the harness; KAFKA_VERSION picks the version. The brokers watch a pipe to this process, so they end
 *   with it even when the run is interrupted or crashes; teardown stops them and removes their folder.
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { type ClusterInfo, KafkaCluster } from './cluster.ts';
import { DEFAULT_KAFKA_VERSION } from './versions.ts';

export interface TestKafka extends ClusterInfo {
  /** True when the cluster came from KAFKA_BOOTSTRAP: only PLAINTEXT is known, and nothing can be killed. */
  readonly external: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafka: TestKafka;
  }
}

export function externalCluster(bootstrap: string): TestKafka {
  return {
    external: true,
    version: process.env.KAFKA_VERSION ?? 'unknown',
    root: '',
    clusterId: '',
    nodeIds: [],
    bootstrap: { PLAINTEXT: bootstrap },
    listeners: ['PLAINTEXT'],
    sasl: null,
    tls: null,
    nodes: [],
  };
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const bootstrap = process.env.KAFKA_BOOTSTRAP;
  if (bootstrap) {
    project.provide('kafka', externalCluster(bootstrap));
    return undefined;
  }
  const started = Date.now();
  const cluster = await KafkaCluster.start({
    version: process.env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION,
    brokers: 1,
    security: ['sasl', 'tls'],
    log: (line) => console.log(`[kafka] ${line}`),
  });
  console.log(`[kafka] Kafka ${cluster.version} ready in ${Date.now() - started} ms: ${cluster.bootstrap()}`);
  project.provide('kafka', { ...cluster.info(), external: false });
  return async () => {
    await cluster.stop();
  };
}
