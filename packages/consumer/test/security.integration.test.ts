/** The consumer's security settings, through its configuration, against the broker's SASL_SSL listener. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BrokerProtocolError, ClusterMetadata, ConnectionPool, SaslAuthenticationError, TlsError } from '@sluice/net';
import { createTopic, produce } from '@sluice/tools-admin';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KafkaConsumer } from '../src/index.ts';

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

/**
 * What no retry fixes reaches the application at its first call, as Kafka's consumer throws it: not after
 * default.api.timeout.ms (set to ten minutes here), and not wrapped in a metadata timeout.
 */
describe.skipIf(!kafka.tls || !kafka.sasl || !kafka.bootstrap.SASL_SSL || !kafka.bootstrap.SSL)(
  'security errors, at once',
  () => {
    const slowTimeouts = { 'default.api.timeout.ms': 600_000, 'group.id': `refused-${randomUUID().slice(0, 8)}` };

    async function firstPollError(config: Record<string, unknown>): Promise<unknown> {
      const consumer = new KafkaConsumer({ ...slowTimeouts, ...config });
      try {
        consumer.subscribe(['anything']);
        for (;;) {
          const error = await consumer.poll(1_000).then(
            () => null,
            (reason: unknown) => reason,
          );
          if (error !== null) return error;
        }
      } finally {
        await consumer.close({ timeoutMs: 2_000 });
      }
    }

    it('a wrong SASL password is a SaslAuthenticationError from poll, and the password is in no message', async () => {
      const error = await firstPollError({
        'bootstrap.servers': kafka.bootstrap.SASL_SSL!,
        'security.protocol': 'SASL_SSL',
        'sasl.mechanism': 'SCRAM-SHA-512',
        'sasl.username': kafka.sasl!.username,
        'sasl.password': 'not-the-password-123',
        'ssl.ca': readFileSync(kafka.tls!.caFile, 'utf8'),
      });
      expect(error).toBeInstanceOf(SaslAuthenticationError);
      expect(String((error as Error).message)).not.toContain('not-the-password-123');
    });

    it('a broker certificate the given CA did not sign is a TlsError from poll', async () => {
      const error = await firstPollError({
        'bootstrap.servers': kafka.bootstrap.SSL!,
        'security.protocol': 'SSL',
      });
      expect(error).toBeInstanceOf(TlsError);
    });

    it('a plaintext client pointed at a TLS listener is told that the listener probably speaks TLS', async () => {
      const error = await firstPollError({ 'bootstrap.servers': kafka.bootstrap.SSL! });
      expect(error).toBeInstanceOf(BrokerProtocolError);
      expect((error as Error).message).toMatch(/probably speaks TLS \(use security.protocol SSL or SASL_SSL/);
    });
  },
);
