/**
 * Secrets (passwords, tokens) held so that they cannot leak by accident: the value lives in a `#private` field,
 * which `util.inspect`, `console.log`, `JSON.stringify`, string templates and structured logs cannot see.
 * Only `reveal()` returns it, and only the code that puts it on the wire calls that.
 */

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== 'string') throw new TypeError('a Secret holds a string');
    this.#value = value;
  }

  /** A Secret as it is, or a string wrapped in one. */
  static from(value: string | Secret): Secret {
    return value instanceof Secret ? value : new Secret(value);
  }

  /** The secret itself; for the code that sends it, never for messages or logs. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${REDACTED})`;
  }
}

/**
 * Replaces every occurrence of the given secrets in a text that came from elsewhere (a broker's error message, a
 * token provider's error): a broker has no reason to echo a credential, but a message is no place to find out.
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | null | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    // Very short secrets would redact ordinary words; they are also no secret worth the name.
    if (secret && secret.length >= 4) result = result.replaceAll(secret, REDACTED);
  }
  return result;
}
