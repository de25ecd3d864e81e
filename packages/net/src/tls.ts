/**
 * TLS for broker connections: certificate and host name verification are on unless turned off explicitly, and a
 * failed verification is reported in words a person can act on.
 */
import { isIP } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';

/** The warning code emitted (once per process) when a connection turns certificate verification off. */
export const TLS_VERIFICATION_DISABLED_WARNING = 'SLUICE_TLS_VERIFICATION_DISABLED';

let warnedVerificationDisabled = false;

/**
 * Node's options for `tls.connect` to a broker. `rejectUnauthorized` is set to true unless the caller set it to
 * false: it is explicit here, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn verification off
 * for Kafka connections unnoticed. Turning it off warns once per process. SNI carries host names only (RFC 6066
 * section 3); for an IP address no server name is sent and the certificate is checked against the IP.
 */
export function tlsConnectOptions(tls: TlsConnectionOptions, host: string, port: number): TlsConnectionOptions {
  const verify = tls.rejectUnauthorized !== false;
  if (!verify && !warnedVerificationDisabled) {
    warnedVerificationDisabled = true;
    process.emitWarning(
      'TLS certificate verification is turned off (tls.rejectUnauthorized: false): any server can impersonate the broker and read the credentials and records. Use it only for local tests.',
      { type: 'SecurityWarning', code: TLS_VERIFICATION_DISABLED_WARNING },
    );
  }
  return {
    ...tls,
    host,
    port,
    rejectUnauthorized: verify,
    ...(tls.servername === undefined && isIP(host) === 0 ? { servername: host } : {}),
  };
}

/**
 * TLS could not be set up, or the broker refused us at the TLS layer: its certificate is not trusted, does not
 * name the host, or it demands a client certificate. Not retriable: the same attempt fails the same way until the
 * configuration changes (Kafka's SslAuthenticationException is an AuthenticationException for the same reason).
 */
export class TlsError extends Error {
  override name = 'TlsError';
  readonly retriable = false;
  readonly broker: string;
  /** Node's / OpenSSL's code: `SELF_SIGNED_CERT_IN_CHAIN`, `ERR_TLS_CERT_ALTNAME_INVALID`... */
  readonly code: string;

  constructor(message: string, options: { broker: string; code: string; cause?: unknown }) {
    super(`${message} (broker ${options.broker})`, options.cause === undefined ? {} : { cause: options.cause });
    this.broker = options.broker;
    this.code = options.code;
  }
}

/** OpenSSL's X509 verification results that mean "this chain does not lead to a CA you trust". */
const UNTRUSTED_CHAIN = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);

const EXPIRED = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
]);

/**
 * A TlsError explaining `error` when it is a TLS verification or handshake failure; null for anything else (a
 * refused or reset TCP connection stays a retriable NetworkError).
 */
export function tlsErrorFrom(error: unknown, context: { broker: string; host: string }): TlsError | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  const detail = (error as Error).message;
  const options = { broker: context.broker, code, cause: error };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const host = (error as { host?: string }).host ?? context.host;
    return new TlsError(
      `the broker's TLS certificate is not valid for "${host}" (${detail}); connect by a name the certificate lists, or set tls.servername`,
      options,
    );
  }
  if (UNTRUSTED_CHAIN.has(code)) {
    return new TlsError(
      `the broker's TLS certificate is not signed by a trusted CA (${code}: ${detail}); pass the cluster's CA certificate as tls.ca`,
      options,
    );
  }
  if (EXPIRED.has(code)) {
    return new TlsError(`the broker's TLS certificate is not valid now (${code}: ${detail})`, options);
  }
  // TLS 1.3 "certificate_required" alert (RFC 8446 section 4.4.2.4), or the TLS 1.2 handshake failure a broker
  // with ssl.client.auth=required sends to a client without a certificate.
  if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN/.test(code)) {
    return new TlsError(
      `the broker refused the TLS connection: it requires a client certificate its CA signed (mutual TLS; pass tls.cert and tls.key) (${code})`,
      options,
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new TlsError(
      `the server does not speak TLS here: is this an SSL or SASL_SSL listener? (${detail})`,
      options,
    );
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new TlsError(`TLS failed: ${detail}`, options);
  }
  return null;
}
