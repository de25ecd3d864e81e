import { SaslFailure, type SaslMechanismClient } from './mechanism.ts';
import type { OAuthBearerToken } from './options.ts';
import { redactSecrets, Secret } from './secret.ts';

/** RFC 7628 section 3.1: key/value pairs are separated by the control character 0x01 (kvsep). */
const SEPARATOR = '\x01';
/** RFC 6750 section 2.1 b64token, the form a bearer token takes in `auth=Bearer <token>`. */
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** RFC 7628 section 3.1: key = 1*(ALPHA); value = *(VCHAR / SP / HTAB / CR / LF). Kafka checks the same (KIP-342). */
const EXTENSION_KEY_PATTERN = /^[A-Za-z]+$/;
const EXTENSION_VALUE_PATTERN = /^[\x21-\x7e \t\r\n]*$/;

/**
 * OAUTHBEARER (RFC 7628; Kafka's KIP-255, extensions KIP-342). One message carries the token; a broker that
 * refuses it answers with a JSON error as a challenge, to which the client must reply with a lone kvsep
 * (section 3.2.3) before the broker fails the authentication.
 */
export function oauthBearerClient(options: { tokenProvider: () => Promise<OAuthBearerToken> }): SaslMechanismClient {
  let username: string | null = null;
  let tokenValue: string | null = null;
  return {
    mechanism: 'OAUTHBEARER',
    get username() {
      return username;
    },
    redact: (text) => redactTokenValue(text, tokenValue),
    async authenticate(exchange) {
      let token: OAuthBearerToken;
      try {
        token = await options.tokenProvider();
      } catch (error) {
        throw new SaslFailure(`the token provider failed: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
        });
      }
      if (token === null || typeof token !== 'object') throw new SaslFailure('the token provider returned no token');
      username = typeof token.principalName === 'string' ? token.principalName : null;
      tokenValue = token.value instanceof Secret ? token.value.reveal() : token.value;
      const message = oauthBearerClientFirstMessage(token);
      const reply = await exchange(message);
      if (reply.length > 0) {
        // The broker's error JSON (RFC 7628 section 3.2.2: status, scope, openid-configuration); never the token.
        const detail = Buffer.from(reply).toString('utf8');
        try {
          await exchange(Buffer.from(SEPARATOR, 'utf8'));
        } catch (error) {
          if (error instanceof SaslFailure) throw new SaslFailure(`${error.message} ${detail}`, { code: error.code });
          throw error;
        }
        throw new SaslFailure(`the broker refused the token: ${detail}`);
      }
      const lifetime = token.lifetimeMs;
      return {
        credentialLifetimeMs:
          typeof lifetime === 'number' && Number.isFinite(lifetime) && lifetime > 0 ? lifetime : null,
      };
    },
  };
}

/**
 * The client's initial response (RFC 7628 section 3.1):
 * `n,,` kvsep `auth=Bearer <token>` kvsep [`key=value` kvsep]... kvsep.
 */
export function oauthBearerClientFirstMessage(token: OAuthBearerToken): Buffer {
  const value = token.value instanceof Secret ? token.value.reveal() : token.value;
  if (typeof value !== 'string' || !TOKEN_PATTERN.test(value))
    throw new SaslFailure('the token provider returned a token that is not an RFC 6750 bearer token');
  let extensions = '';
  for (const [key, extensionValue] of Object.entries(token.extensions ?? {})) {
    // "auth" is the token's own key (RFC 7628 section 3.1); Kafka refuses it as an extension name.
    if (!EXTENSION_KEY_PATTERN.test(key) || key === 'auth')
      throw new SaslFailure(`SASL extension name ${JSON.stringify(key)} is not allowed (letters only, not "auth")`);
    if (typeof extensionValue !== 'string' || !EXTENSION_VALUE_PATTERN.test(extensionValue))
      throw new SaslFailure(`SASL extension ${key} has a value with characters RFC 7628 does not allow`);
    extensions += `${key}=${extensionValue}${SEPARATOR}`;
  }
  return Buffer.from(`n,,${SEPARATOR}auth=Bearer ${value}${SEPARATOR}${extensions}${SEPARATOR}`, 'utf8');
}

/** The token, and each long part of a JWS (header, claims, signature), which a message might quote alone. */
function redactTokenValue(text: string, token: string | null): string {
  if (token === null) return text;
  return redactSecrets(text, [token, ...token.split('.').filter((part) => part.length >= 16)]);
}
