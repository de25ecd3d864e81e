import {
  type ApiDescriptor,
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponse,
  type SaslHandshakeRequest,
  type SaslHandshakeResponse,
  saslAuthenticateApi,
  saslHandshakeApi,
} from '@sluice/protocol';
import { SaslFailure, type SaslMechanismClient } from './mechanism.ts';
import { oauthBearerClient } from './oauthbearer.ts';
import type { SaslOptions } from './options.ts';
import { plainClient } from './plain.ts';
import { SaslAuthenticationError } from './sasl-error.ts';
import { scramClient } from './scram.ts';
import { Secret } from './secret.ts';

/** Kafka error codes SaslHandshake answers with. */
const UNSUPPORTED_SASL_MECHANISM = 33;
const ILLEGAL_SASL_STATE = 34;

/** What authentication needs of a connection: its version table and a send that is never held back. */
export interface SaslTransport {
  readonly broker: string;
  versionFor(api: ApiDescriptor<unknown, unknown>, bounds?: { floor?: number; ceiling?: number }): number;
  send<Request, Response>(api: ApiDescriptor<Request, Response>, version: number, request: Request): Promise<Response>;
}

export interface SaslSession {
  /**
   * The session lifetime the broker granted (SaslAuthenticate v1+, KIP-368), bounded by the credential's own
   * lifetime when the mechanism knows it; 0 when the broker does not expire sessions.
   */
  readonly sessionLifetimeMs: number;
}

/** A fresh mechanism client: SCRAM nonces and OAUTHBEARER tokens belong to one authentication. */
export function createMechanismClient(options: SaslOptions): SaslMechanismClient {
  switch (options.mechanism) {
    case 'PLAIN':
      return plainClient({ username: options.username, password: Secret.from(options.password) });
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512':
      return scramClient({
        mechanism: options.mechanism,
        username: options.username,
        password: Secret.from(options.password),
      });
    case 'OAUTHBEARER':
      return oauthBearerClient({ tokenProvider: options.tokenProvider });
  }
}

/**
 * SaslHandshake v1 (names the mechanism; from v1 on the SASL messages travel in SaslAuthenticate requests, KIP-152),
 * then the mechanism's exchange in SaslAuthenticate at the highest common version (v1+ carries the session
 * lifetime, KIP-368). Used for the first authentication and, unchanged, for every re-authentication.
 */
export async function authenticateSasl(transport: SaslTransport, options: SaslOptions): Promise<SaslSession> {
  const client = createMechanismClient(options);
  const fail = (reason: string, extra: { code?: number | null; enabledMechanisms?: string[]; cause?: unknown } = {}) =>
    new SaslAuthenticationError(client.redact(reason), {
      broker: transport.broker,
      mechanism: client.mechanism,
      username: client.username,
      ...extra,
    });

  const handshakeVersion = transport.versionFor(saslHandshakeApi as ApiDescriptor<unknown, unknown>, { floor: 1 });
  const handshake = await transport.send<SaslHandshakeRequest, SaslHandshakeResponse>(
    saslHandshakeApi,
    handshakeVersion,
    { mechanism: client.mechanism },
  );
  if (handshake.errorCode === UNSUPPORTED_SASL_MECHANISM) {
    const enabled = handshake.mechanisms.length > 0 ? handshake.mechanisms.join(', ') : 'none';
    throw fail(`the broker does not enable ${client.mechanism} on this listener; it enables: ${enabled}`, {
      code: handshake.errorCode,
      enabledMechanisms: handshake.mechanisms,
    });
  }
  if (handshake.errorCode === ILLEGAL_SASL_STATE) {
    throw fail('the broker does not expect SASL here: is this a SASL_PLAINTEXT or SASL_SSL listener?', {
      code: handshake.errorCode,
      enabledMechanisms: handshake.mechanisms,
    });
  }
  if (handshake.errorCode !== 0)
    throw fail('SaslHandshake refused', { code: handshake.errorCode, enabledMechanisms: handshake.mechanisms });

  const authenticateVersion = transport.versionFor(saslAuthenticateApi as ApiDescriptor<unknown, unknown>);
  let sessionLifetimeMs = 0;
  const exchange = async (message: Uint8Array): Promise<Uint8Array> => {
    const response = await transport.send<SaslAuthenticateRequest, SaslAuthenticateResponse>(
      saslAuthenticateApi,
      authenticateVersion,
      { authBytes: message },
    );
    if (response.errorCode !== 0) {
      throw new SaslFailure(response.errorMessage || 'the broker refused the credentials', {
        code: response.errorCode,
      });
    }
    // The last successful response carries the lifetime (SaslAuthenticate v1+).
    sessionLifetimeMs = Number(response.sessionLifetimeMs);
    return response.authBytes;
  };

  let credentialLifetimeMs: number | null;
  try {
    ({ credentialLifetimeMs } = await client.authenticate(exchange));
  } catch (error) {
    if (error instanceof SaslFailure) throw fail(error.message, { code: error.code, cause: error.cause });
    throw error;
  }
  if (!(sessionLifetimeMs > 0)) return { sessionLifetimeMs: 0 };
  return {
    sessionLifetimeMs:
      credentialLifetimeMs === null ? sessionLifetimeMs : Math.min(sessionLifetimeMs, credentialLifetimeMs),
  };
}

/** setTimeout takes at most 2^31-1 ms; a longer session is re-authenticated at that point instead, early but safe. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * When to re-authenticate a session of `sessionLifetimeMs` (KIP-368): at a random point between 85 % and 95 % of it,
 * as Kafka's Java client does. The 85 % floor leaves room for network latency and clock drift; the random 10 %
 * keeps many connections opened together from re-authenticating in one storm.
 */
export function reauthenticationDelayMs(sessionLifetimeMs: number, random: () => number = Math.random): number {
  const fraction = 0.85 + 0.1 * random();
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(sessionLifetimeMs * fraction)));
}
