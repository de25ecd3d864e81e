import { Secret } from './secret.ts';

/** `sasl.mechanism=PLAIN` (RFC 4616): the password goes to the broker as it is, so use it over TLS. */
export interface SaslPlainOptions {
  readonly mechanism: 'PLAIN';
  readonly username: string;
  /** Wrap it in a `Secret` to keep it out of logs of the options object too. */
  readonly password: string | Secret;
}

/** `sasl.mechanism=SCRAM-SHA-256|SCRAM-SHA-512` (RFC 5802, RFC 7677): the password never leaves the client. */
export interface SaslScramOptions {
  readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  readonly username: string;
  readonly password: string | Secret;
}

/** What an OAUTHBEARER token provider returns (Kafka's OAuthBearerToken, reduced to what the client uses). */
export interface OAuthBearerToken {
  /** The compact token (a JWS for Kafka's default validators). */
  readonly value: string | Secret;
  /**
   * How long the token stays valid from now. The broker already bounds the session by the token's expiry
   * (KIP-368); this only ever makes re-authentication earlier.
   */
  readonly lifetimeMs?: number;
  /** The principal the token names (its `sub`), used in error messages. */
  readonly principalName?: string;
  /** SASL extensions sent in the client's first message (RFC 7628 section 3.1; KIP-342). */
  readonly extensions?: Readonly<Record<string, string>>;
}

/**
 * `sasl.mechanism=OAUTHBEARER` (RFC 7628, KIP-255): the provider is called for every authentication, the first and
 * each re-authentication, so it can hand out a fresh token before the old one expires.
 */
export interface SaslOAuthBearerOptions {
  readonly mechanism: 'OAUTHBEARER';
  readonly tokenProvider: () => Promise<OAuthBearerToken>;
}

export type SaslOptions = SaslPlainOptions | SaslScramOptions | SaslOAuthBearerOptions;

export type SaslMechanismName = SaslOptions['mechanism'];

export const SASL_MECHANISMS: readonly SaslMechanismName[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'];

/**
 * The connection's own copy of the SASL options, with the password in a Secret: whatever the caller passed, what
 * the connection keeps redacts itself. A missing field is refused here, before any connection is made.
 */
export function normalizeSaslOptions(options: SaslOptions): SaslOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('sasl must be an object');
  const mechanism = (options as { mechanism?: unknown }).mechanism;
  switch (options.mechanism) {
    case 'PLAIN':
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512': {
      if (typeof options.username !== 'string' || options.username === '')
        throw new TypeError(`sasl: ${options.mechanism} needs a username`);
      if (!(options.password instanceof Secret) && typeof options.password !== 'string')
        throw new TypeError(`sasl: ${options.mechanism} needs a password`);
      return Object.freeze({
        mechanism: options.mechanism,
        username: options.username,
        password: Secret.from(options.password),
      });
    }
    case 'OAUTHBEARER':
      if (typeof options.tokenProvider !== 'function')
        throw new TypeError('sasl: OAUTHBEARER needs a tokenProvider function');
      return Object.freeze({ mechanism: 'OAUTHBEARER', tokenProvider: options.tokenProvider });
    default:
      throw new TypeError(`sasl: unknown mechanism ${JSON.stringify(mechanism)} (use ${SASL_MECHANISMS.join(', ')})`);
  }
}
