/**
 * Proves the harness's broker on every listener with real request/response exchanges
 * (ApiVersions, SaslHandshake + SaslAuthenticate, Metadata), and that the security is real:
 * a wrong password, an untrusted certificate and a wrong host name are refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import type { ListenerName } from '../src/config.ts';
import { ProbeConnection, ProbeError } from '../src/probe.ts';

const kafka = inject('kafka');
const hasSasl = kafka.listeners.includes('SASL_PLAINTEXT');
const hasTls = kafka.listeners.includes('SSL');

function firstAddress(listener: ListenerName): { host: string; port: number } {
  const [host, port] = (kafka.bootstrap[listener] ?? '').split(',')[0]!.split(':');
  return { host: host!, port: Number(port) };
}

function ca(): Buffer {
  return readFileSync(kafka.tls!.caFile);
}

async function withConnection<T>(
  listener: ListenerName,
  tls: { ca?: Buffer; servername?: string } | undefined,
  body: (connection: ProbeConnection) => Promise<T>,
): Promise<T> {
  const connection = await ProbeConnection.open({ ...firstAddress(listener), ...(tls ? { tls } : {}) });
  try {
    return await body(connection);
  } finally {
    connection.close();
  }
}

async function expectMetadataListsBrokers(connection: ProbeConnection): Promise<void> {
  const metadata = await connection.metadata();
  expect(metadata.brokers.length).toBeGreaterThan(0);
  if (!kafka.external) {
    expect(metadata.clusterId).toBe(kafka.clusterId);
    expect(metadata.brokers.map((broker) => broker.nodeId)).toEqual(kafka.nodeIds);
  }
}

describe('PLAINTEXT listener', () => {
  it('answers ApiVersions and Metadata', async () => {
    await withConnection('PLAINTEXT', undefined, async (connection) => {
      // ApiVersions ran on open: the broker reported its ranges, Metadata among them.
      expect(connection.versions.get(3)?.max).toBeGreaterThanOrEqual(12);
      await expectMetadataListsBrokers(connection);
    });
  });
});

describe.skipIf(!hasSasl)('SASL_PLAINTEXT listener', () => {
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    it(`authenticates with ${mechanism}, then serves Metadata`, async () => {
      await withConnection('SASL_PLAINTEXT', undefined, async (connection) => {
        await connection.authenticate(mechanism, kafka.sasl!.username, kafka.sasl!.password);
        await expectMetadataListsBrokers(connection);
      });
    });

    it(`refuses a wrong password with ${mechanism}`, async () => {
      await withConnection('SASL_PLAINTEXT', undefined, async (connection) => {
        const attempt = connection.authenticate(mechanism, kafka.sasl!.username, 'not-the-password');
        // Error 58 is SASL_AUTHENTICATION_FAILED.
        await expect(attempt).rejects.toThrow(/authentication failed \(error 58\)/);
      });
    });
  }

  it('refuses Metadata before authentication by closing the connection', async () => {
    await withConnection('SASL_PLAINTEXT', undefined, async (connection) => {
      await expect(connection.metadata()).rejects.toBeInstanceOf(ProbeError);
    });
  });
});

describe.skipIf(!hasTls)('SSL listener', () => {
  it('serves Metadata over TLS with the cluster CA and host name verified', async () => {
    await withConnection('SSL', { ca: ca() }, async (connection) => {
      await expectMetadataListsBrokers(connection);
    });
  });

  it('is refused without the cluster CA (self-signed chain)', async () => {
    const attempt = ProbeConnection.open({ ...firstAddress('SSL'), tls: {} });
    await expect(attempt).rejects.toThrow(/self-signed certificate/);
  });

  it('is refused for a host name the certificate does not name', async () => {
    const attempt = ProbeConnection.open({
      ...firstAddress('SSL'),
      tls: { ca: ca(), servername: 'kafka.example.com' },
    });
    await expect(attempt).rejects.toThrow(/altnames|does not match|Hostname/i);
  });
});

describe.skipIf(!(hasSasl && hasTls))('SASL_SSL listener', () => {
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-512'] as const) {
    it(`authenticates with ${mechanism} over TLS, then serves Metadata`, async () => {
      await withConnection('SASL_SSL', { ca: ca() }, async (connection) => {
        await connection.authenticate(mechanism, kafka.sasl!.username, kafka.sasl!.password);
        await expectMetadataListsBrokers(connection);
      });
    });
  }
});
