/**
 * The harness runs every Kafka line it claims: the default (newest 4.x) is covered by the rest of the suite;
 * this starts the other verified versions (3.9.x needs reload4j and a log4j 1 config) and exchanges requests.
 */
import { describe, expect, it } from 'vitest';
import { KafkaCluster } from '../src/cluster.ts';
import { ProbeConnection } from '../src/probe.ts';
import { DEFAULT_KAFKA_VERSION, VERIFIED_KAFKA_VERSIONS } from '../src/versions.ts';

const others = VERIFIED_KAFKA_VERSIONS.filter((version) => version !== DEFAULT_KAFKA_VERSION);

describe.each(others)('Kafka %s', (version) => {
  it('starts with SASL, answers ApiVersions, SASL and Metadata, and stops', async () => {
    const cluster = await KafkaCluster.start({ version, security: ['sasl'] });
    try {
      const [host, port] = cluster.bootstrap('SASL_PLAINTEXT').split(':');
      const connection = await ProbeConnection.open({ host: host!, port: Number(port) });
      try {
        await connection.authenticate('SCRAM-SHA-256', cluster.sasl!.username, cluster.sasl!.password);
        const metadata = await connection.metadata();
        expect(metadata.brokers.map((broker) => broker.nodeId)).toEqual([1]);
        expect(metadata.clusterId).toBe(cluster.clusterId);
      } finally {
        connection.close();
      }
    } finally {
      await cluster.stop();
    }
  });
});
