/** Connection against the real broker of the run: every listener type, version negotiation, deep pipelining. */
import { readFileSync } from 'node:fs';
import { defaultMetadataRequest, fetchApi, metadataApi } from '@sluice/protocol';
import { describe, expect, inject, it } from 'vitest';
import { Connection } from '../src/connection.ts';

const kafka = inject('kafka');

function firstAddress(listener: 'PLAINTEXT' | 'SSL'): { host: string; port: number } {
  const [host, port] = kafka.bootstrap[listener]!.split(',')[0]!.split(':');
  return { host: host!, port: Number(port) };
}

describe('Connection to a real broker', () => {
  it('negotiates ApiVersions and serves Metadata at the highest common version', async () => {
    const connection = await Connection.open({ ...firstAddress('PLAINTEXT'), clientId: 'sluice-test' });
    try {
      expect(connection.versionFor(metadataApi)).toBe(
        Math.min(metadataApi.maxVersion, connection.brokerVersions.get(3)!.maxVersion),
      );
      expect(connection.versionFor(fetchApi)).toBeGreaterThanOrEqual(12);
      const metadata = await connection.request(metadataApi, { ...defaultMetadataRequest(), topics: [] });
      expect(metadata.brokers.length).toBeGreaterThan(0);
    } finally {
      connection.close();
    }
  });

  it('answers 10,000 pipelined requests on one connection, each matched to its request', async () => {
    const connection = await Connection.open(firstAddress('PLAINTEXT'));
    try {
      const version = connection.versionFor(metadataApi);
      const request = { ...defaultMetadataRequest(), topics: [] };
      const responses = await Promise.all(
        Array.from({ length: 10_000 }, () => connection.send(metadataApi, version, request)),
      );
      expect(responses).toHaveLength(10_000);
      for (const response of responses) expect(response.brokers.length).toBeGreaterThan(0);
      expect(connection.inFlight).toBe(0);
    } finally {
      connection.close();
    }
  });

  it.skipIf(!kafka.tls)('connects over TLS with the cluster CA', async () => {
    const connection = await Connection.open({ ...firstAddress('SSL'), tls: { ca: readFileSync(kafka.tls!.caFile) } });
    try {
      const metadata = await connection.request(metadataApi, { ...defaultMetadataRequest(), topics: [] });
      expect(metadata.clusterId).toBe(kafka.clusterId);
    } finally {
      connection.close();
    }
  });

  it.runIf(process.platform === 'linux')(
    'applies receive.buffer.bytes and send.buffer.bytes on plaintext and TLS sockets, and -1 leaves the OS default',
    async () => {
      const tls = kafka.tls ? { tls: { ca: readFileSync(kafka.tls.caFile) } } : {};
      for (const address of [firstAddress('PLAINTEXT'), ...(kafka.tls ? [{ ...firstAddress('SSL'), ...tls }] : [])]) {
        const sized = await Connection.open({ ...address, receiveBufferBytes: 100_000, sendBufferBytes: 150_000 });
        const untouched = await Connection.open({ ...address, receiveBufferBytes: -1, sendBufferBytes: -1 });
        try {
          // Linux reports twice the size asked for (it counts its bookkeeping), and caps at net.core.*mem_max.
          const sizes = sized.socketBufferSizes;
          expect(sizes).not.toBeNull();
          expect(sizes!.receiveBufferBytes).toBe(200_000);
          expect(sizes!.sendBufferBytes).toBe(300_000);
          const defaults = untouched.socketBufferSizes!;
          expect(defaults.receiveBufferBytes).not.toBe(200_000);
          expect(defaults.sendBufferBytes).not.toBe(300_000);
          // And the connection works with them.
          const metadata = await sized.request(metadataApi, { ...defaultMetadataRequest(), topics: [] });
          expect(metadata.brokers.length).toBeGreaterThan(0);
        } finally {
          sized.close();
          untouched.close();
        }
      }
    },
  );
});
