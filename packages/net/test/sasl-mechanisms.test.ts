/** PLAIN (RFC 4616) and OAUTHBEARER (RFC 7628) messages, and the reauthentication schedule (KIP-368). */
import { describe, expect, it } from 'vitest';
import { reauthenticationDelayMs } from '../src/sasl/authenticate.ts';
import { SaslFailure } from '../src/sasl/mechanism.ts';
import { oauthBearerClient, oauthBearerClientFirstMessage } from '../src/sasl/oauthbearer.ts';
import { normalizeSaslOptions } from '../src/sasl/options.ts';
import { plainMessage } from '../src/sasl/plain.ts';
import { Secret } from '../src/sasl/secret.ts';

describe('PLAIN', () => {
  it('sends NUL authzid NUL authcid NUL password with an empty authzid', () => {
    expect(plainMessage('alice', new Secret('pässword')).toString('utf8')).toBe('\0alice\0pässword');
  });

  it('refuses a NUL inside the username or password', () => {
    expect(() => plainMessage('al\0ice', new Secret('x'))).toThrow(SaslFailure);
    expect(() => plainMessage('alice', new Secret('x\0y'))).toThrow(/password contains a NUL/);
  });
});

describe('OAUTHBEARER', () => {
  it('builds the RFC 7628 client initial response, with extensions', () => {
    expect(oauthBearerClientFirstMessage({ value: 'eyJh.eyJz.' }).toString('utf8')).toBe(
      'n,,\x01auth=Bearer eyJh.eyJz.\x01\x01',
    );
    expect(
      oauthBearerClientFirstMessage({
        value: new Secret('token'),
        extensions: { traceId: 'abc 123', logicalCluster: 'lkc-1' },
      }).toString('utf8'),
    ).toBe('n,,\x01auth=Bearer token\x01traceId=abc 123\x01logicalCluster=lkc-1\x01\x01');
  });

  it('refuses extension names and values RFC 7628 forbids, and tokens that are not bearer tokens', () => {
    expect(() => oauthBearerClientFirstMessage({ value: 't', extensions: { auth: 'x' } })).toThrow(/not allowed/);
    expect(() => oauthBearerClientFirstMessage({ value: 't', extensions: { 'a-b': 'x' } })).toThrow(/not allowed/);
    expect(() => oauthBearerClientFirstMessage({ value: 't', extensions: { ab: 'x\x01' } })).toThrow(/characters/);
    expect(() => oauthBearerClientFirstMessage({ value: 'a b' })).toThrow(/not an RFC 6750 bearer token/);
    // The refusal does not quote the token.
    expect(() => oauthBearerClientFirstMessage({ value: 'secret-token\x01' })).toThrow(/^((?!secret-token).)*$/);
  });

  it('answers an error challenge with a lone kvsep, and reports the broker status without the token', async () => {
    const sent: string[] = [];
    const client = oauthBearerClient({
      tokenProvider: async () => ({ value: 'header0123456789abcdef.payload0123456789abcdef.', principalName: 'alice' }),
    });
    const failure = client.authenticate(async (message) => {
      sent.push(Buffer.from(message).toString('utf8'));
      if (sent.length === 1) return Buffer.from('{"status":"invalid_token"}');
      throw new SaslFailure('Authentication failed', { code: 58 });
    });
    await expect(failure).rejects.toThrow(/Authentication failed \{"status":"invalid_token"\}/);
    expect(sent[1]).toBe('\x01');
    expect(client.username).toBe('alice');
    expect(client.redact('token header0123456789abcdef.payload0123456789abcdef. or payload0123456789abcdef')).toBe(
      'token [redacted] or [redacted]',
    );
  });

  it('reports a failing token provider', async () => {
    const client = oauthBearerClient({
      tokenProvider: async () => {
        throw new Error('identity provider unreachable');
      },
    });
    await expect(client.authenticate(async () => new Uint8Array(0))).rejects.toThrow(
      /token provider failed: identity provider unreachable/,
    );
  });

  it('returns the token lifetime', async () => {
    const client = oauthBearerClient({ tokenProvider: async () => ({ value: 'abc', lifetimeMs: 60_000 }) });
    await expect(client.authenticate(async () => new Uint8Array(0))).resolves.toEqual({ credentialLifetimeMs: 60_000 });
  });
});

describe('options', () => {
  it('refuses a missing password, a missing token provider and an unknown mechanism before connecting', () => {
    expect(() => normalizeSaslOptions({ mechanism: 'PLAIN', username: 'alice' } as never)).toThrow(/needs a password/);
    expect(() => normalizeSaslOptions({ mechanism: 'OAUTHBEARER' } as never)).toThrow(/tokenProvider/);
    expect(() => normalizeSaslOptions({ mechanism: 'GSSAPI' } as never)).toThrow(
      /unknown mechanism "GSSAPI" \(use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER\)/,
    );
  });
});

describe('re-authentication schedule (KIP-368)', () => {
  it('falls between 85 % and 95 % of the session lifetime', () => {
    expect(reauthenticationDelayMs(10_000, () => 0)).toBe(8500);
    expect(reauthenticationDelayMs(10_000, () => 0.999999)).toBe(9499);
    expect(reauthenticationDelayMs(10_000, () => 0.5)).toBe(9000);
    for (let index = 0; index < 100; index++) {
      const delay = reauthenticationDelayMs(3000);
      expect(delay).toBeGreaterThanOrEqual(2550);
      expect(delay).toBeLessThan(2850);
    }
  });

  it('stays within what setTimeout can wait', () => {
    expect(reauthenticationDelayMs(10 * 365 * 24 * 3600 * 1000)).toBe(2 ** 31 - 1);
  });
});
