/**
 * Errors of the network layer. `retriable` says whether the same request may succeed if sent again (on this
 * connection once it is back, or to another broker): lost connections and timeouts are retriable, protocol
 * violations and unsupported versions are not.
 */

/** The connection to a broker failed, was lost, or could not be set up in time. Every pending request gets one. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  readonly retriable = true;
  /** `host:port` of the broker. */
  readonly broker: string;

  constructor(message: string, options: { broker: string; cause?: unknown }) {
    super(`${message} (broker ${options.broker})`, options.cause === undefined ? {} : { cause: options.cause });
    this.broker = options.broker;
  }
}

/** No response within `request.timeout.ms`; only this request fails, the connection stays. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
  readonly retriable = true;
  readonly broker: string;
  readonly api: string;
  readonly timeoutMs: number;

  constructor(options: { broker: string; api: string; version: number; timeoutMs: number }) {
    super(
      `${options.api} v${options.version} got no response within ${options.timeoutMs} ms (broker ${options.broker})`,
    );
    this.broker = options.broker;
    this.api = options.api;
    this.timeoutMs = options.timeoutMs;
  }
}

/** The request cannot be expressed for this broker: no version both sides support. */
export class UnsupportedVersionError extends Error {
  override name = 'UnsupportedVersionError';
  readonly retriable = false;
  readonly api: string;

  constructor(message: string, options: { api: string }) {
    super(message);
    this.api = options.api;
  }
}

/** The broker broke the protocol (a response for no request, an undecodable frame): the connection is closed. */
export class BrokerProtocolError extends Error {
  override name = 'BrokerProtocolError';
  readonly retriable = false;
  readonly broker: string;

  constructor(message: string, options: { broker: string; cause?: unknown }) {
    super(`${message} (broker ${options.broker})`, options.cause === undefined ? {} : { cause: options.cause });
    this.broker = options.broker;
  }
}
