import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SaslFailure, type SaslMechanismClient } from './mechanism.ts';
import { redactSecrets, type Secret } from './secret.ts';

const pbkdf2Async = promisify(pbkdf2);

/**
 * RFC 5802 section 5.1: fewer than 4096 iterations is too weak for SHA-256 (RFC 7677 section 4) and Kafka refuses
 * to store fewer. A broker asking for fewer is either misconfigured or an impostor trying to make the proof cheap
 * to attack offline, so the client refuses to compute it.
 */
export const SCRAM_MIN_ITERATIONS = 4096;
/**
 * Kafka stores at most 16384 iterations; the iteration count is the broker's to choose and each one costs the
 * client a hash, so an absurd count is refused rather than computed.
 */
export const SCRAM_MAX_ITERATIONS = 1_000_000;

const HASHES = {
  'SCRAM-SHA-256': { algorithm: 'sha256', keyLength: 32 },
  'SCRAM-SHA-512': { algorithm: 'sha512', keyLength: 64 },
} as const;

export type ScramMechanism = keyof typeof HASHES;

export interface ScramClientOptions {
  readonly mechanism: ScramMechanism;
  readonly username: string;
  readonly password: Secret;
  /** For test vectors only; by default 24 random bytes, base64 (printable and free of ','). */
  readonly clientNonce?: string;
}

/**
 * SCRAM (RFC 5802, RFC 7677) without channel binding (gs2 header `n,,`, as Kafka's SCRAM does): the password
 * never leaves the client, and the broker proves it knows the stored key by its signature, which is checked.
 */
export function scramClient(options: ScramClientOptions): SaslMechanismClient {
  const { algorithm, keyLength } = HASHES[options.mechanism];
  return {
    mechanism: options.mechanism,
    username: options.username,
    redact: (text) => redactSecrets(text, [options.password.reveal()]),
    async authenticate(exchange) {
      const clientNonce = options.clientNonce ?? randomBytes(24).toString('base64');
      const clientFirstBare = `n=${scramSaslName(options.username)},r=${clientNonce}`;
      // gs2-header "n,,": no channel binding, no authorization identity (RFC 5802 section 7).
      const serverFirst = decodeMessage(await exchange(Buffer.from(`n,,${clientFirstBare}`, 'utf8')), 'server-first');
      const challenge = parseServerFirst(serverFirst, clientNonce);

      const saltedPassword = await pbkdf2Async(
        Buffer.from(options.password.reveal(), 'utf8'),
        challenge.salt,
        challenge.iterations,
        keyLength,
        algorithm,
      );
      try {
        const clientKey = hmac(algorithm, saltedPassword, 'Client Key');
        const storedKey = createHash(algorithm).update(clientKey).digest();
        // c=biws is base64("n,,"): the gs2 header repeated, as RFC 5802 section 7 requires without channel binding.
        const clientFinalWithoutProof = `c=biws,r=${challenge.nonce}`;
        const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
        const clientSignature = hmac(algorithm, storedKey, authMessage);
        const proof = Buffer.alloc(clientKey.length);
        for (let index = 0; index < proof.length; index++) proof[index] = clientKey[index]! ^ clientSignature[index]!;
        const serverFinal = decodeMessage(
          await exchange(Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8')),
          'server-final',
        );
        const serverKey = hmac(algorithm, saltedPassword, 'Server Key');
        verifyServerFinal(serverFinal, hmac(algorithm, serverKey, authMessage));
        return { credentialLifetimeMs: null };
      } finally {
        saltedPassword.fill(0);
      }
    },
  };
}

/** RFC 5802 section 5.1: in a saslname, "=" is written "=3D" and "," is written "=2C". */
export function scramSaslName(username: string): string {
  return username.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

interface ServerFirst {
  readonly nonce: string;
  readonly salt: Buffer;
  readonly iterations: number;
}

/** Checks the server-first-message (RFC 5802 section 7) before anything is computed from it. */
export function parseServerFirst(message: string, clientNonce: string): ServerFirst {
  const attributes = parseAttributes(message, 'server-first');
  const error = attributes.get('e');
  if (error !== undefined) throw new SaslFailure(`the broker answered with SCRAM error "${error}"`);
  // "m" announces a mandatory extension this client cannot know (RFC 5802 section 5.1): authentication must fail.
  if (attributes.has('m')) throw new SaslFailure('the broker requires a SCRAM extension this client does not support');
  const nonce = attributes.get('r');
  // The server appends its part to our nonce; anything else is a replay or a man in the middle (section 5.1).
  if (nonce === undefined || !nonce.startsWith(clientNonce) || nonce.length <= clientNonce.length)
    throw new SaslFailure('the broker did not extend the client nonce (SCRAM server-first r=)');
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce)) throw new SaslFailure('the broker nonce has characters SCRAM forbids');
  const saltText = attributes.get('s') ?? '';
  const salt = Buffer.from(saltText, 'base64');
  if (saltText === '' || salt.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(saltText))
    throw new SaslFailure('the broker sent no valid salt (SCRAM server-first s=)');
  const iterationText = attributes.get('i') ?? '';
  const iterations = /^[0-9]{1,10}$/.test(iterationText) ? Number(iterationText) : Number.NaN;
  if (!(iterations >= SCRAM_MIN_ITERATIONS && iterations <= SCRAM_MAX_ITERATIONS))
    throw new SaslFailure(
      `the broker asked for ${iterationText || 'no'} iterations (SCRAM server-first i=), outside ${SCRAM_MIN_ITERATIONS}-${SCRAM_MAX_ITERATIONS}`,
    );
  return { nonce, salt, iterations };
}

/** server-final-message: `e=` reports the server's error (RFC 5802 section 7); `v=` must equal our ServerSignature. */
export function verifyServerFinal(message: string, expectedSignature: Buffer): void {
  const attributes = parseAttributes(message, 'server-final');
  const error = attributes.get('e');
  if (error !== undefined) throw new SaslFailure(`the broker answered with SCRAM error "${error}"`);
  const verifier = attributes.get('v');
  if (verifier === undefined) throw new SaslFailure('the broker sent no server signature (SCRAM server-final v=)');
  const signature = Buffer.from(verifier, 'base64');
  // Constant time, so that how much of a forged signature matched cannot be timed.
  if (signature.length !== expectedSignature.length || !timingSafeEqual(signature, expectedSignature))
    throw new SaslFailure("the broker signature does not verify: it does not know this user's stored key");
}

/** `a=value,b=value`: one-letter attribute names; values may hold "=" (base64) but not ",". */
function parseAttributes(message: string, what: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=' || !/^[A-Za-z]$/.test(part[0]!))
      throw new SaslFailure(`the broker sent a malformed SCRAM ${what} message`);
    if (!attributes.has(part[0]!)) attributes.set(part[0]!, part.slice(2));
  }
  return attributes;
}

function decodeMessage(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SaslFailure(`the broker's SCRAM ${what} message is not UTF-8`);
  }
}

function hmac(algorithm: string, key: Uint8Array, text: string): Buffer {
  return createHmac(algorithm, key).update(text, 'utf8').digest();
}
