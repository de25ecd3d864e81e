import { SaslFailure, type SaslMechanismClient } from './mechanism.ts';
import { redactSecrets, type Secret } from './secret.ts';

/**
 * PLAIN (RFC 4616): one message, `authzid NUL authcid NUL passwd`, with an empty authzid (the broker then
 * authorizes as the authenticated user). The password is sent as it is: use PLAIN over TLS.
 */
export function plainClient(options: { username: string; password: Secret }): SaslMechanismClient {
  return {
    mechanism: 'PLAIN',
    username: options.username,
    async authenticate(exchange) {
      const message = plainMessage(options.username, options.password);
      try {
        await exchange(message);
      } finally {
        message.fill(0);
      }
      return { credentialLifetimeMs: null };
    },
    redact: (text) => redactSecrets(text, [options.password.reveal()]),
  };
}

/** The PLAIN message; NUL separates its fields, so neither the username nor the password may hold one. */
export function plainMessage(username: string, password: Secret): Buffer {
  if (username.includes('\0')) throw new SaslFailure('the username contains a NUL character, which PLAIN cannot send');
  const secret = password.reveal();
  if (secret.includes('\0')) throw new SaslFailure('the password contains a NUL character, which PLAIN cannot send');
  return Buffer.from(`\0${username}\0${secret}`, 'utf8');
}
