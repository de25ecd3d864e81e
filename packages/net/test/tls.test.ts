/** TLS verification against a local TLS server that answers ApiVersions, with certificates from the harness's CA. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { createTlsMaterial } from '@sluice/tools-kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.ts';
import { NetworkError } from '../src/errors.ts';
import { TLS_VERIFICATION_DISABLED_WARNING, TlsError } from '../src/tls.ts';
import { apiVersionsBody, responseFrame } from './fake-broker.ts';

interface Pem {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
}

let root = '';
let cluster: Pem;
let other: Pem;
const servers: Server[] = [];

async function material(dir: string): Promise<Pem> {
  const files = await createTlsMaterial(dir);
  return {
    ca: readFileSync(files.caFile),
    cert: readFileSync(join(dir, 'broker.pem')),
    key: readFileSync(join(dir, 'broker.key')),
    clientCert: readFileSync(files.clientCertFile),
    clientKey: readFileSync(files.clientKeyFile),
  };
}

/** A TLS server that answers ApiVersions like a broker; `clientAuth` demands a certificate its CA signed. */
async function startTlsBroker(pem: Pem, clientAuth = false): Promise<number> {
  const server = createServer(
    { key: pem.key, cert: pem.cert, ca: pem.ca, requestCert: clientAuth, rejectUnauthorized: clientAuth },
    (socket: TLSSocket) => {
      socket.on('error', () => {});
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
          const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
          buffered = buffered.subarray(4 + frame.length);
          socket.write(responseFrame(frame.readInt32BE(4), apiVersionsBody(frame.readInt16BE(2))));
        }
      });
    },
  );
  server.on('tlsClientError', () => {});
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-tls-test-'));
  [cluster, other] = await Promise.all([material(join(root, 'cluster')), material(join(root, 'other'))]);
}, 60_000);

afterAll(async () => {
  for (const server of servers) server.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const failure = (attempt: Promise<unknown>) =>
  attempt.then(
    () => {
      throw new Error('expected the connection to fail');
    },
    (error: unknown) => error as Error,
  );

describe('TLS', () => {
  it('connects with the cluster CA, checking the host name (SNI "localhost")', async () => {
    const port = await startTlsBroker(cluster);
    for (const host of ['localhost', '127.0.0.1']) {
      const connection = await Connection.open({ host, port, tls: { ca: cluster.ca } });
      expect(connection.brokerVersions.size).toBeGreaterThan(0);
      connection.close();
    }
  });

  it('refuses a certificate from another CA, saying what to do', async () => {
    const port = await startTlsBroker(cluster);
    const error = await failure(Connection.open({ host: 'localhost', port, tls: { ca: other.ca } }));
    expect(error).toBeInstanceOf(TlsError);
    expect(error).not.toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ retriable: false });
    expect(error.message).toMatch(/not signed by a trusted CA .*pass the cluster's CA certificate as tls\.ca/);
    // Without a CA at all: the system CAs do not know the cluster's.
    const untrusted = await failure(Connection.open({ host: 'localhost', port, tls: {} }));
    expect(untrusted.message).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it('refuses a certificate that does not name the host', async () => {
    const port = await startTlsBroker(cluster);
    const error = await failure(
      Connection.open({ host: '127.0.0.1', port, tls: { ca: cluster.ca, servername: 'kafka.example.com' } }),
    );
    expect(error).toBeInstanceOf(TlsError);
    expect(error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(error.message).toMatch(/certificate is not valid for "kafka\.example\.com"/);
  });

  it('connects without verification only when told, warning once per process', async () => {
    const port = await startTlsBroker(cluster);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      for (let index = 0; index < 2; index++) {
        const connection = await Connection.open({ host: 'localhost', port, tls: { rejectUnauthorized: false } });
        connection.close();
      }
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    const ours = warnings.filter(
      (warning) => (warning as { code?: string }).code === TLS_VERIFICATION_DISABLED_WARNING,
    );
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toMatch(/verification is turned off/);
  });

  it('does mutual TLS with a client certificate, and reports a broker that demands one', async () => {
    const port = await startTlsBroker(cluster, true);
    const connection = await Connection.open({
      host: 'localhost',
      port,
      tls: { ca: cluster.ca, cert: cluster.clientCert, key: cluster.clientKey },
    });
    connection.close();

    const missing = await failure(Connection.open({ host: 'localhost', port, tls: { ca: cluster.ca } }));
    expect(missing).toBeInstanceOf(TlsError);
    expect(missing.message).toMatch(/requires a client certificate its CA signed/);

    const foreign = await failure(
      Connection.open({
        host: 'localhost',
        port,
        tls: { ca: cluster.ca, cert: other.clientCert, key: other.clientKey },
      }),
    );
    // Node's TLS server checks the chain after the handshake and just closes (no alert), so the client sees a
    // closed connection; a broker's TLS stack sends an alert, which becomes a TlsError (integration test).
    expect(foreign).toBeInstanceOf(Error);
    // The client key is a secret too: it never appears in the error.
    expect(inspect(foreign, { depth: 10 })).not.toContain(other.clientKey.toString('utf8').split('\n')[1]);
  });
});
