/** The consumer's security settings, through its configuration, against the broker's SASL_SSL listener. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KafkaConsumer } from '../src/index.ts';
import { createTopic, produce } from './topic-helpers.ts';

const kafka = inject('kafka');
const pool = new ConnectionPool({ connection: { clientId: 'sluice-consumer-security-setup' } });
const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.PLAINTEXT!, pool });

afterAll(() => {
  metadata.close();
  pool.close();
});

describe.skipIf(!kafka.tls || !kafka.sasl || !kafka.bootstrap.SASL_SSL)('KafkaConsumer over SASL_SSL', () => {
  it('reads records with SCRAM-SHA-512 over TLS, verifying the broker against the given CA', async () => {
    const topic = `secure-${randomUUID().slice(0, 8)}`;
    metadata.setTopics([topic]);
    await createTopic(pool, metadata, topic, 1);
    await produce(pool, metadata, { topic, partition: 0 }, [{ value: new TextEncoder().encode('over tls') }]);
    const consumer = new KafkaConsumer<Uint8Array | null, string | null>({
      'bootstrap.servers': kafka.bootstrap.SASL_SSL!,
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.username': kafka.sasl!.username,
      'sasl.password': kafka.sasl!.password,
      'ssl.ca': readFileSync(kafka.tls!.caFile, 'utf8'),
      'value.deserializer': 'string',
      'group.id': `secure-${randomUUID().slice(0, 8)}`,
      'auto.offset.reset': 'earliest',
    });
    try {
      consumer.subscribe([topic]);
      const deadline = Date.now() + 60_000;
      let values: Array<string | null> = [];
      while (values.length === 0 && Date.now() < deadline) values = (await consumer.poll(500)).map((r) => r.value);
      expect(values).toEqual(['over tls']);
    } finally {
      await consumer.close();
    }
  });
});
