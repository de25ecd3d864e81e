/** SASL on a Connection against a scripted broker: handshake errors, failures, KIP-368 re-authentication, secrets. */
import { inspect } from 'node:util';
import { defaultMetadataRequest, metadataApi } from '@sluice/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionOptions } from '../src/connection.ts';
import { SaslAuthenticationError } from '../src/sasl/sasl-error.ts';
import { Secret } from '../src/sasl/secret.ts';
import { type SaslFakeBroker, type SaslFakeBrokerOptions, startSaslFakeBroker } from './sasl-fake-broker.ts';

const PASSWORD = 'alice-secret-Pa55';
let broker: SaslFakeBroker | null = null;
const connections: Connection[] = [];
afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  await broker?.close();
  broker = null;
});

async function open(
  brokerOptions: SaslFakeBrokerOptions,
  sasl: ConnectionOptions['sasl'] = { mechanism: 'PLAIN', username: 'alice', password: PASSWORD },
): Promise<Connection> {
  broker = await startSaslFakeBroker({ password: PASSWORD, ...brokerOptions });
  const connection = await Connection.open({ host: '127.0.0.1', port: broker.port, sasl });
  connections.push(connection);
  return connection;
}

const metadata = (connection: Connection) => connection.send(metadataApi, 4, defaultMetadataRequest());

/** Every string a person or a log could see of a value: inspect (deep, hidden too), JSON, String, and causes. */
function everythingShown(value: unknown): string {
  const shown = [inspect(value, { depth: 10, showHidden: true, getters: true }), String(value)];
  try {
    shown.push(JSON.stringify(value) ?? '');
  } catch {
    // cyclic: inspect already shows it
  }
  if (value instanceof Error)
    shown.push(value.stack ?? '', value.cause === undefined ? '' : everythingShown(value.cause));
  return shown.join('\n');
}

describe('SASL on a Connection', () => {
  it('authenticates with PLAIN after ApiVersions, then serves requests', async () => {
    const connection = await open({});
    expect(broker!.events.slice(0, 6)).toEqual([
      'request 18',
      'response 18',
      'request 17',
      'response 17',
      'request 36',
      'response 36',
    ]);
    expect(connection.sessionLifetimeMs).toBe(0);
    await expect(metadata(connection)).resolves.toMatchObject({ brokers: [] });
  });

  it('fails with a typed, non-retriable error naming mechanism and user, never the password', async () => {
    broker = await startSaslFakeBroker({ password: 'something-else' });
    const attempt = Connection.open({
      host: '127.0.0.1',
      port: broker.port,
      sasl: { mechanism: 'PLAIN', username: 'alice', password: PASSWORD },
    });
    const error = await attempt.catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(SaslAuthenticationError);
    expect(error).toMatchObject({ retriable: false, code: 58, mechanism: 'PLAIN', username: 'alice' });
    expect((error as Error).message).toMatch(
      /^SASL PLAIN authentication of user "alice" failed \[SASL_AUTHENTICATION_FAILED \(58\)\]: Authentication failed: Invalid username or password \(broker 127\.0\.0\.1:\d+\)$/,
    );
    expect(everythingShown(error)).not.toContain(PASSWORD);
  });

  it('redacts a password the broker echoes in its message', async () => {
    broker = await startSaslFakeBroker({ password: 'other', failureMessage: `bad password ${PASSWORD}` });
    const error = await Connection.open({
      host: '127.0.0.1',
      port: broker.port,
      sasl: { mechanism: 'PLAIN', username: 'alice', password: PASSWORD },
    }).catch((failure: unknown) => failure);
    expect((error as Error).message).toContain('bad password [redacted]');
    expect(everythingShown(error)).not.toContain(PASSWORD);
  });

  it('names the mechanisms the broker enables when ours is not one of them', async () => {
    broker = await startSaslFakeBroker({ mechanisms: ['SCRAM-SHA-512', 'OAUTHBEARER'] });
    const error = await Connection.open({
      host: '127.0.0.1',
      port: broker.port,
      sasl: { mechanism: 'PLAIN', username: 'alice', password: PASSWORD },
    }).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(SaslAuthenticationError);
    expect(error).toMatchObject({ code: 33, enabledMechanisms: ['SCRAM-SHA-512', 'OAUTHBEARER'] });
    expect((error as Error).message).toMatch(
      /does not enable PLAIN on this listener; it enables: SCRAM-SHA-512, OAUTHBEARER/,
    );
  });

  it('re-authenticates before each short session ends, holding new requests meanwhile (KIP-368)', async () => {
    const connection = await open({ sessionLifetimeMs: 200, authenticateDelayMs: 30 });
    expect(connection.sessionLifetimeMs).toBe(200);
    // Keep the connection busy for five lifetimes; the broker closes it if a request comes after the session ended.
    const until = Date.now() + 1000;
    let answered = 0;
    while (Date.now() < until) {
      await Promise.all([metadata(connection), metadata(connection), metadata(connection)]);
      answered += 3;
    }
    expect(connection.closed).toBe(false);
    expect(answered).toBeGreaterThan(30);
    expect(connection.reauthentications).toBeGreaterThanOrEqual(4);
    expect(broker!.events).not.toContain('expired-close');
    // Between a re-authentication's SaslHandshake and its SaslAuthenticate response, nothing else was sent.
    const events = broker!.events;
    for (let index = 0; index < events.length; index++) {
      if (events[index] !== 'request 17') continue;
      const end = events.indexOf('response 36', index);
      const between = events.slice(index + 1, end).filter((event) => event.startsWith('request'));
      expect(between).toEqual(['request 36']);
    }
  });

  it('closes the connection with the error when re-authentication fails; waiting requests get it', async () => {
    const connection = await open({ sessionLifetimeMs: 100, authenticateDelayMs: 20, failAfter: 1 });
    const closed = new Promise<Error>((resolve) => connection.onClose(resolve));
    const results: Array<Promise<unknown>> = [];
    const until = Date.now() + 300;
    while (!connection.closed && Date.now() < until) {
      results.push(metadata(connection).catch((error: unknown) => error));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const reason = await closed;
    expect(reason).toBeInstanceOf(SaslAuthenticationError);
    expect(reason.message).toMatch(/PLAIN authentication of user "alice" failed/);
    const failures = (await Promise.all(results)).filter((result) => result instanceof Error);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure).toBe(reason);
    await expect(metadata(connection)).rejects.toBe(reason);
  });

  it('calls the OAUTHBEARER token provider again at each re-authentication', async () => {
    let calls = 0;
    broker = await startSaslFakeBroker({ mechanisms: ['OAUTHBEARER'], sessionLifetimeMs: 1000 });
    // The fake broker only checks PLAIN; here it refuses, which proves the message reached it.
    const error = await Connection.open({
      host: '127.0.0.1',
      port: broker.port,
      sasl: {
        mechanism: 'OAUTHBEARER',
        tokenProvider: async () => {
          calls++;
          return { value: 'header-part-0123456789.claims-part-0123456789.', principalName: 'alice' };
        },
      },
    }).catch((failure: unknown) => failure);
    expect(calls).toBe(1);
    expect(error).toMatchObject({ mechanism: 'OAUTHBEARER', username: 'alice', code: 58 });
    expect(everythingShown(error)).not.toMatch(/header-part-0123456789|claims-part-0123456789/);
  });
});

describe('secrets stay out of what can be shown', () => {
  it('a Secret shows and serialises as [redacted]', () => {
    const secret = new Secret(PASSWORD);
    expect(inspect(secret)).toBe('Secret([redacted])');
    expect(JSON.stringify({ password: secret })).toBe('{"password":"[redacted]"}');
    expect(`${secret}`).toBe('[redacted]');
    expect(everythingShown(secret)).not.toContain(PASSWORD);
    expect(secret.reveal()).toBe(PASSWORD);
  });

  it('options built with Secret, and a Connection, never show the password', async () => {
    const options = { mechanism: 'SCRAM-SHA-256', username: 'alice', password: new Secret(PASSWORD) } as const;
    expect(everythingShown(options)).not.toContain(PASSWORD);
    // Even when the caller passed a plain string, what the connection keeps is redacted.
    const connection = await open({}, { mechanism: 'PLAIN', username: 'alice', password: PASSWORD });
    expect(everythingShown(connection)).not.toContain(PASSWORD);
    expect(everythingShown(connection)).toContain('Connection');
  });
});
