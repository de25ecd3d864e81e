import { kafkaErrorDefinition } from '../kafka-error.ts';

/**
 * SASL authentication failed: wrong credentials, a mechanism the broker does not enable, a broker that failed the
 * mechanism's own checks (SCRAM nonce or signature), or a token provider that threw. Not retriable: sending the
 * same credentials again gives the same answer (Kafka's SaslAuthenticationException is not retriable either).
 *
 * The message names the mechanism, the user and the broker, never the password or token.
 */
export class SaslAuthenticationError extends Error {
  override name = 'SaslAuthenticationError';
  readonly retriable = false;
  readonly broker: string;
  readonly mechanism: string;
  /** The user (SCRAM/PLAIN username, OAUTHBEARER principal name) when known. */
  readonly username: string | null;
  /** Kafka's error code when the broker returned one: 58 SASL_AUTHENTICATION_FAILED, 33 UNSUPPORTED_SASL_MECHANISM... */
  readonly code: number | null;
  /** Kafka's name of `code`. */
  readonly errorName: string | null;
  /** Mechanisms the broker enables on this listener, when it said (SaslHandshake). */
  readonly enabledMechanisms: readonly string[] | null;

  constructor(
    reason: string,
    options: {
      broker: string;
      mechanism: string;
      username: string | null;
      code?: number | null;
      enabledMechanisms?: readonly string[] | null;
      cause?: unknown;
    },
  ) {
    const code = options.code ?? null;
    const errorName = code === null ? null : kafkaErrorDefinition(code).name;
    const user = options.username === null ? '' : ` of user "${options.username}"`;
    const coded = errorName === null ? '' : ` [${errorName} (${code})]`;
    super(
      `SASL ${options.mechanism} authentication${user} failed${coded}: ${reason} (broker ${options.broker})`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.broker = options.broker;
    this.mechanism = options.mechanism;
    this.username = options.username;
    this.code = code;
    this.errorName = errorName;
    this.enabledMechanisms = options.enabledMechanisms ?? null;
  }
}
