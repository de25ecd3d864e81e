/**
 * Security against the real broker of the run (every listener, every SASL mechanism), and against a second
 * cluster that demands client certificates and expires SASL sessions after 3 s (KIP-368).
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { defaultMetadataRequest, metadataApi } from '@sluice/protocol';
import { type ClusterInfo, KafkaCluster } from '@sluice/tools-kafka';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Connection, type ConnectionOptions } from '../src/connection.ts';
import type { OAuthBearerToken } from '../src/sasl/options.ts';
import { SaslAuthenticationError } from '../src/sasl/sasl-error.ts';
import { Secret } from '../src/sasl/secret.ts';
import { TlsError } from '../src/tls.ts';

const kafka = inject('kafka');
const hasSasl = kafka.listeners.includes('SASL_PLAINTEXT');
const hasTls = kafka.listeners.includes('SSL');
type Listener = 'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL';

function address(info: Pick<ClusterInfo, 'bootstrap'>, listener: Listener): { host: string; port: number } {
  const [host, port] = (info.bootstrap[listener] ?? '').split(',')[0]!.split(':');
  return { host: host!, port: Number(port) };
}

/** An unsecured JWS (`alg: none`, empty signature) as Kafka's default OAUTHBEARER validator accepts for tests. */
function unsignedJws(subject: string, lifetimeSeconds: number): OAuthBearerToken {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const issuedAt = Math.floor(Date.now() / 1000);
  const expires = issuedAt + lifetimeSeconds;
  return {
    value: new Secret(`${encode({ alg: 'none' })}.${encode({ sub: subject, iat: issuedAt, exp: expires })}.`),
    lifetimeMs: expires * 1000 - Date.now(),
    principalName: subject,
  };
}

type Mechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'OAUTHBEARER';
const MECHANISMS: readonly Mechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'];

function saslFor(mechanism: Mechanism, password = kafka.sasl?.password ?? ''): ConnectionOptions['sasl'] {
  if (mechanism === 'OAUTHBEARER')
    return { mechanism, tokenProvider: async () => unsignedJws(kafka.sasl!.username, 3600) };
  return { mechanism, username: kafka.sasl!.username, password };
}

async function expectMetadata(options: ConnectionOptions, clusterId = kafka.clusterId): Promise<void> {
  const connection = await Connection.open({ clientId: 'sluice-security-test', ...options });
  try {
    const metadata = await connection.request(metadataApi, { ...defaultMetadataRequest(), topics: [] });
    expect(metadata.brokers.length).toBeGreaterThan(0);
    expect(metadata.clusterId).toBe(clusterId);
  } finally {
    connection.close();
  }
}

async function failure(attempt: Promise<unknown>): Promise<Error> {
  return attempt.then(
    (connection) => {
      (connection as Connection).close();
      throw new Error('expected the connection to fail');
    },
    (error: unknown) => error as Error,
  );
}

function shown(error: Error): string {
  return [inspect(error, { depth: 10, showHidden: true }), error.stack ?? '', JSON.stringify(error)].join('\n');
}

/** Sends Metadata every few ms for `durationMs`; every request must succeed. */
/**
 * Sends Metadata requests, four at a time, for at least `durationMs` and until the connection has re-authenticated
 * `reauthentications` times (or 45 s have passed): on a loaded machine the lifetimes stretch, and the test is about
 * surviving them, not about their timing.
 */
async function keepBusy(connection: Connection, durationMs: number, reauthentications = 0): Promise<number> {
  const until = Date.now() + durationMs;
  const giveUp = Date.now() + 45_000;
  let answered = 0;
  while (Date.now() < until || (connection.reauthentications < reauthentications && Date.now() < giveUp)) {
    const batch = await Promise.all(
      Array.from({ length: 4 }, () => connection.request(metadataApi, { ...defaultMetadataRequest(), topics: [] })),
    );
    answered += batch.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return answered;
}

describe.skipIf(!hasSasl)('SASL_PLAINTEXT listener', () => {
  for (const mechanism of MECHANISMS) {
    it(`authenticates with ${mechanism} and serves Metadata`, async () => {
      await expectMetadata({ ...address(kafka, 'SASL_PLAINTEXT'), sasl: saslFor(mechanism) });
    });
  }

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    it(`refuses a wrong password with ${mechanism}, clearly and without showing it`, async () => {
      const wrong = 'not-the-password-42';
      const error = await failure(
        Connection.open({ ...address(kafka, 'SASL_PLAINTEXT'), sasl: saslFor(mechanism, wrong) }),
      );
      expect(error).toBeInstanceOf(SaslAuthenticationError);
      expect(error).toMatchObject({ code: 58, retriable: false, mechanism, username: 'alice' });
      expect(error.message).toMatch(
        new RegExp(
          `^SASL ${mechanism} authentication of user "alice" failed \\[SASL_AUTHENTICATION_FAILED \\(58\\)\\]`,
        ),
      );
      expect(shown(error)).not.toContain(wrong);
      expect(shown(error)).not.toContain(kafka.sasl!.password);
    });
  }

  it('refuses an expired OAUTHBEARER token without showing it', async () => {
    const token = unsignedJws('alice', -600);
    const value = (token.value as Secret).reveal();
    const error = await failure(
      Connection.open({
        ...address(kafka, 'SASL_PLAINTEXT'),
        sasl: { mechanism: 'OAUTHBEARER', tokenProvider: async () => token },
      }),
    );
    expect(error).toBeInstanceOf(SaslAuthenticationError);
    expect(error).toMatchObject({ code: 58, mechanism: 'OAUTHBEARER', username: 'alice' });
    expect(error.message).toMatch(/invalid_token/);
    expect(shown(error)).not.toContain(value);
    for (const part of value.split('.').filter(Boolean)) expect(shown(error)).not.toContain(part);
  });

  it('fails clearly when SASL is attempted on a listener without SASL', async () => {
    const error = await failure(Connection.open({ ...address(kafka, 'PLAINTEXT'), sasl: saslFor('SCRAM-SHA-256') }));
    expect(error).toBeInstanceOf(SaslAuthenticationError);
    expect(error).toMatchObject({ code: 34, mechanism: 'SCRAM-SHA-256' });
    expect(error.message).toMatch(/does not expect SASL here: is this a SASL_PLAINTEXT or SASL_SSL listener\?/);
  });

  it('re-authenticates with a fresh OAUTHBEARER token before each short-lived token expires', async () => {
    let tokens = 0;
    const connection = await Connection.open({
      ...address(kafka, 'SASL_PLAINTEXT'),
      sasl: {
        mechanism: 'OAUTHBEARER',
        tokenProvider: async () => {
          tokens++;
          return unsignedJws('alice', 3);
        },
      },
    });
    try {
      // The broker bounds the session by the token's expiry (KIP-368) even without connections.max.reauth.ms.
      expect(connection.sessionLifetimeMs).toBeGreaterThan(0);
      expect(connection.sessionLifetimeMs).toBeLessThanOrEqual(3000);
      await keepBusy(connection, 8000, 2);
      expect(connection.closed).toBe(false);
      expect(connection.reauthentications).toBeGreaterThanOrEqual(2);
      expect(tokens).toBe(connection.reauthentications + 1);
    } finally {
      connection.close();
    }
  });
});

describe.skipIf(!hasTls)('SSL listener', () => {
  const ca = () => readFileSync(kafka.tls!.caFile);

  it('serves Metadata with the cluster CA, host name verified', async () => {
    await expectMetadata({ ...address(kafka, 'SSL'), tls: { ca: ca() } });
    await expectMetadata({ host: 'localhost', port: address(kafka, 'SSL').port, tls: { ca: ca() } });
  });

  it('refuses the broker without the cluster CA, saying so', async () => {
    const error = await failure(Connection.open({ ...address(kafka, 'SSL'), tls: {} }));
    expect(error).toBeInstanceOf(TlsError);
    expect(error.message).toMatch(/not signed by a trusted CA .*tls\.ca/);
  });

  it('refuses a host name the certificate does not name, saying so', async () => {
    const error = await failure(
      Connection.open({ ...address(kafka, 'SSL'), tls: { ca: ca(), servername: 'kafka.example.com' } }),
    );
    expect(error).toBeInstanceOf(TlsError);
    expect(error.message).toMatch(/not valid for "kafka\.example\.com"/);
  });

  it('reports TLS spoken to a plaintext listener', async () => {
    const error = await failure(
      Connection.open({ ...address(kafka, 'PLAINTEXT'), tls: { ca: ca() }, connectTimeoutMs: 5000 }),
    );
    expect(error.message).toMatch(/is this an SSL or SASL_SSL listener\?/);
  });
});

describe.skipIf(!(hasSasl && hasTls))('SASL_SSL listener', () => {
  for (const mechanism of MECHANISMS) {
    it(`authenticates with ${mechanism} over TLS and serves Metadata`, async () => {
      await expectMetadata({
        ...address(kafka, 'SASL_SSL'),
        tls: { ca: readFileSync(kafka.tls!.caFile) },
        sasl: saslFor(mechanism),
      });
    });
  }
});

describe.skipIf(kafka.external)('a cluster demanding client certificates, with 3 s SASL sessions', () => {
  let cluster: KafkaCluster | null = null;
  beforeAll(async () => {
    cluster = await KafkaCluster.start({
      version: kafka.version,
      security: ['sasl', 'tls'],
      clientAuth: 'required',
      // OAUTHBEARER and SCRAM-SHA-256 are left out, to see the error for a mechanism the broker does not enable.
      brokerConfig: { 'connections.max.reauth.ms': 3000, 'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-512' },
    });
  }, 240_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('does mutual TLS with the client certificate', async () => {
    const info = cluster!.info();
    await expectMetadata(
      {
        ...address(info, 'SSL'),
        tls: {
          ca: readFileSync(info.tls!.caFile),
          cert: readFileSync(info.tls!.clientCertFile),
          key: readFileSync(info.tls!.clientKeyFile),
        },
      },
      info.clusterId,
    );
  });

  it('is refused without a client certificate, saying a client certificate is required', async () => {
    const info = cluster!.info();
    const error = await failure(
      Connection.open({ ...address(info, 'SSL'), tls: { ca: readFileSync(info.tls!.caFile) } }),
    );
    expect(error).toBeInstanceOf(TlsError);
    expect(error.message).toMatch(/requires a client certificate/);
  });

  it('names the mechanisms the broker enables when asked for another', async () => {
    const info = cluster!.info();
    const error = await failure(
      Connection.open({
        ...address(info, 'SASL_PLAINTEXT'),
        sasl: { mechanism: 'OAUTHBEARER', tokenProvider: async () => unsignedJws('alice', 60) },
      }),
    );
    expect(error).toBeInstanceOf(SaslAuthenticationError);
    expect(error).toMatchObject({ code: 33, enabledMechanisms: ['PLAIN', 'SCRAM-SHA-512'] });
    expect(error.message).toMatch(/does not enable OAUTHBEARER on this listener; it enables: PLAIN, SCRAM-SHA-512/);
  });

  for (const mechanism of ['SCRAM-SHA-512', 'PLAIN'] as const) {
    it(`keeps a busy ${mechanism} connection working past several session lifetimes (KIP-368)`, async () => {
      const info = cluster!.info();
      const connection = await Connection.open({
        ...address(info, 'SASL_PLAINTEXT'),
        sasl: { mechanism, username: info.sasl!.username, password: new Secret(info.sasl!.password) },
      });
      try {
        expect(connection.sessionLifetimeMs).toBe(3000);
        const answered = await keepBusy(connection, 10_000, 3);
        expect(connection.closed).toBe(false);
        expect(answered).toBeGreaterThan(100);
        expect(connection.reauthentications).toBeGreaterThanOrEqual(3);
      } finally {
        connection.close();
      }
    });
  }
});
