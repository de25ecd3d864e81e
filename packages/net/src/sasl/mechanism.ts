import type { SaslMechanismName } from './options.ts';

/** Sends one SASL message to the broker (in a SaslAuthenticate request) and resolves with the broker's reply. */
export type SaslExchange = (message: Uint8Array) => Promise<Uint8Array>;

/**
 * A failed step of the SASL exchange: the broker's error code and message (`code` set), or a check of the
 * mechanism's own that failed (`code` null). `authenticateSasl` turns it into a SaslAuthenticationError that names
 * the broker and the user; it never leaves this folder.
 */
export class SaslFailure extends Error {
  override name = 'SaslFailure';
  readonly code: number | null;

  constructor(reason: string, options: { code?: number | null; cause?: unknown } = {}) {
    super(reason, options.cause === undefined ? {} : { cause: options.cause });
    this.code = options.code ?? null;
  }
}

export interface SaslOutcome {
  /** How long the credential stays valid (an OAUTHBEARER token's lifetime), when the mechanism knows. */
  readonly credentialLifetimeMs: number | null;
}

/** One authentication with one mechanism. A fresh one is made for every authentication and re-authentication. */
export interface SaslMechanismClient {
  readonly mechanism: SaslMechanismName;
  /** The user being authenticated, once known (OAUTHBEARER learns it from the token provider). */
  readonly username: string | null;
  /** Runs the exchange; throws SaslFailure when the broker or the mechanism's checks refuse. */
  authenticate(exchange: SaslExchange): Promise<SaslOutcome>;
  /** Replaces this client's secrets in a text (a broker message) before it goes into an error. */
  redact(text: string): string;
}
