/**
 * A conformance test's view of one broker listener: a negotiated BrokerConnection that is reopened if the broker
 * closed it (so one refused request does not fail every later test), responses checked for the right correlation
 * id, and a disconnect reported together with the broker's recent warnings, which usually say why it closed.
 */
import { open, stat } from 'node:fs/promises';
import type { ApiDescriptor } from '@sluice/protocol';
import {
  type ApiVersionsNegotiation,
  BrokerConnection,
  ConnectionClosedError,
  type Exchange,
  type SendOptions,
} from './connection.ts';

/** The Kafka error codes these tests name (org.apache.kafka.common.protocol.Errors). */
export const ErrorCode = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_VERSION: 35,
  CONCURRENT_TRANSACTIONS: 51,
  SASL_AUTHENTICATION_FAILED: 58,
  MEMBER_ID_REQUIRED: 79,
  UNKNOWN_TOPIC_ID: 100,
} as const;

/** Errors that mean "not ready yet, ask again": coordinators loading, leaders being elected, markers in flight. */
export const TRANSIENT_ERRORS: readonly number[] = [
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.CONCURRENT_TRANSACTIONS,
  ErrorCode.UNKNOWN_TOPIC_ID,
];

export interface SessionOptions {
  readonly host: string;
  readonly port: number;
  /** The broker's server.log, when the harness started it; quoted when the broker closes the connection. */
  readonly brokerLogFile: string | null;
  readonly timeoutMs?: number;
}

export interface RetryOptions {
  readonly retriable?: readonly number[];
  readonly timeoutMs?: number;
  readonly delayMs?: number;
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** The last WARN/ERROR lines of the broker log, for a disconnect report. */
export async function brokerWarnings(logFile: string | null, lines = 12): Promise<string> {
  if (logFile === null) return '(external broker: no log)';
  try {
    const size = (await stat(logFile)).size;
    const length = Math.min(size, 64 * 1024);
    const handle = await open(logFile, 'r');
    try {
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const warnings = buffer
        .toString('utf8')
        .split('\n')
        .filter((line) => /\b(WARN|ERROR)\b/.test(line));
      return warnings.slice(-lines).join('\n') || '(no warnings in the broker log)';
    } finally {
      await handle.close();
    }
  } catch (error) {
    return `(cannot read ${logFile}: ${error instanceof Error ? error.message : String(error)})`;
  }
}

export class BrokerSession {
  readonly #options: SessionOptions;
  #connection: BrokerConnection;
  #negotiation: ApiVersionsNegotiation;
  /** How many times the broker closed the connection and it had to be reopened. */
  reconnects = 0;

  private constructor(options: SessionOptions, connection: BrokerConnection, negotiation: ApiVersionsNegotiation) {
    this.#options = options;
    this.#connection = connection;
    this.#negotiation = negotiation;
  }

  static async open(options: SessionOptions): Promise<BrokerSession> {
    const { connection, negotiation } = await BrokerSession.#connect(options);
    return new BrokerSession(options, connection, negotiation);
  }

  static async #connect(
    options: SessionOptions,
  ): Promise<{ connection: BrokerConnection; negotiation: ApiVersionsNegotiation }> {
    const connection = await BrokerConnection.open({
      host: options.host,
      port: options.port,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    try {
      return { connection, negotiation: await connection.negotiateApiVersions() };
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  get negotiation(): ApiVersionsNegotiation {
    return this.#negotiation;
  }

  /** The broker's version range per API key, from its ApiVersions answer. */
  get brokerVersions(): ReadonlyMap<number, { readonly min: number; readonly max: number }> {
    return this.#connection.brokerVersions;
  }

  /** The versions of `api` that both sides speak, lowest first. */
  commonVersions(api: ApiDescriptor<unknown, unknown>): number[] {
    return this.#connection.commonVersions(api);
  }

  /** The highest version both sides speak; throws when there is none. */
  highest(api: ApiDescriptor<unknown, unknown>): number {
    const versions = this.commonVersions(api);
    const version = versions.at(-1);
    if (version === undefined) throw new Error(`the broker and this codec share no version of ${api.name}`);
    return version;
  }

  /**
   * Sends one request and returns the decoded response, after checking that the response header echoes the
   * request's correlation id. A disconnect fails with the broker's recent warnings; the next call reconnects.
   */
  async send<Request, Response>(
    api: ApiDescriptor<Request, Response>,
    version: number,
    request: Request,
    options: SendOptions = {},
  ): Promise<Exchange<Response>> {
    await this.#reopenIfClosed();
    let exchange: Exchange<Response>;
    try {
      exchange = await this.#connection.send(api, version, request, options);
    } catch (error) {
      if (error instanceof ConnectionClosedError) {
        // Let the broker finish writing its log line before quoting it.
        await sleep(200);
        const warnings = await brokerWarnings(this.#options.brokerLogFile);
        throw new ConnectionClosedError(`${error.message}\nbroker log (recent warnings):\n${warnings}`, {
          cause: error,
        });
      }
      throw error;
    }
    if (exchange.header.correlationId !== exchange.correlationId) {
      throw new Error(
        `${api.name} v${version}: response header has correlation id ${exchange.header.correlationId}, ` +
          `the request had ${exchange.correlationId}`,
      );
    }
    return exchange;
  }

  /**
   * Sends until the error code `errorCodeOf` picks is not a transient one (or the time is up), and returns the
   * last exchange: for requests that race coordinator loading, leader election or transaction markers.
   */
  async sendUntilSettled<Request, Response>(
    api: ApiDescriptor<Request, Response>,
    version: number,
    request: Request | (() => Request),
    errorCodeOf: (response: Response) => number,
    options: RetryOptions = {},
  ): Promise<Exchange<Response>> {
    const retriable = options.retriable ?? TRANSIENT_ERRORS;
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    for (;;) {
      const value = typeof request === 'function' ? (request as () => Request)() : request;
      const exchange = await this.send(api, version, value);
      if (!retriable.includes(errorCodeOf(exchange.response)) || Date.now() >= deadline) return exchange;
      await sleep(options.delayMs ?? 100);
    }
  }

  close(): void {
    this.#connection.close();
  }

  async #reopenIfClosed(): Promise<void> {
    if (this.#connection.closeReason === null) return;
    const { connection, negotiation } = await BrokerSession.#connect(this.#options);
    this.#connection = connection;
    this.#negotiation = negotiation;
    this.reconnects++;
  }
}
