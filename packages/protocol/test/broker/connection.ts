/**
 * A minimal, test-only Kafka connection over @sluice/protocol's codecs: one TCP socket, 4-byte size framing,
 * correlation ids, pipelined requests matched to their responses by correlation id, and a timeout per request.
 * It is not the client (that is @sluice/net's job): it exists so that conformance tests can put bytes that Sluice
 * encoded in front of a real broker and decode what comes back, and say precisely what went wrong when not.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import {
  type ApiDescriptor,
  type ApiVersionsResponse,
  apiVersionsApi,
  decodeResponseFrame,
  defaultApiVersionsRequest,
  encodeRequestFrame,
  Reader,
  type ResponseFrame,
  type ResponseHeader,
} from '@sluice/protocol';

/** Kafka's UNSUPPORTED_VERSION error code. */
export const UNSUPPORTED_VERSION = 35;

const API_VERSIONS_KEY = apiVersionsApi.apiKey;
/** Larger frames mean a framing bug (or a broker speaking another protocol), not a real response. */
const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId?: string;
  /** Per-request timeout, and the connect timeout. Default 10 s. */
  readonly timeoutMs?: number;
}

export interface SendOptions {
  /** Overrides the connection's per-request timeout. */
  readonly timeoutMs?: number;
}

/** One request and its decoded response. */
export interface Exchange<Response> {
  readonly apiName: string;
  readonly version: number;
  readonly correlationId: number;
  readonly header: ResponseHeader;
  readonly response: Response;
  /** The response frame (after the size prefix), for reports. */
  readonly frame: Uint8Array;
}

export interface ApiVersionsNegotiation {
  /** Every ApiVersions version tried, in order, with the error code the broker gave. */
  readonly attempts: ReadonlyArray<{ readonly version: number; readonly errorCode: number }>;
  /** The version whose answer was accepted. */
  readonly version: number;
  readonly response: ApiVersionsResponse;
}

/** The broker closed the connection (or the socket failed) while a request waited. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}

/** A response arrived but the codec could not decode it; carries the frame so the report can show the bytes. */
export class ResponseDecodeError extends Error {
  override name = 'ResponseDecodeError';
  readonly frame: Uint8Array;

  constructor(message: string, frame: Uint8Array, options: { cause: unknown }) {
    super(message, options);
    this.frame = frame;
  }
}

interface Pending {
  readonly apiName: string;
  readonly version: number;
  readonly decode: (frame: Uint8Array) => ResponseFrame<unknown>;
  readonly resolve: (exchange: Exchange<unknown>) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** `0a0b0c...`, cut after `limit` bytes: enough to show a decode failure in a report. */
export function hexPreview(bytes: Uint8Array, limit = 256): string {
  const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, limit)).toString('hex');
  return bytes.length > limit ? `${shown}... (${bytes.length} bytes)` : shown;
}

export class BrokerConnection {
  readonly #socket: Socket;
  readonly #clientId: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #nextCorrelationId = 1;
  #buffered: Buffer = Buffer.alloc(0);
  #closeReason: Error | null = null;
  #brokerVersions = new Map<number, VersionRange>();

  private constructor(socket: Socket, options: { clientId: string; timeoutMs: number }) {
    this.#socket = socket;
    this.#clientId = options.clientId;
    this.#timeoutMs = options.timeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(new ConnectionClosedError(`socket error: ${error.message}`)));
    socket.on('close', () => this.#fail(new ConnectionClosedError('connection closed by the broker')));
  }

  /** Connects; sends nothing. Call `negotiateApiVersions()` next, as a client would. */
  static async open(options: ConnectionOptions): Promise<BrokerConnection> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const socket = connectTcp({ host: options.host, port: options.port }, () => {
        socket.setTimeout(0);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.setTimeout(timeoutMs, () => {
        socket.destroy();
        reject(new ConnectionClosedError(`no connection to ${options.host}:${options.port} within ${timeoutMs} ms`));
      });
      socket.once('error', (error) => {
        socket.destroy();
        reject(new ConnectionClosedError(`cannot connect to ${options.host}:${options.port}: ${error.message}`));
      });
    });
    return new BrokerConnection(socket, { clientId: options.clientId ?? 'sluice-conformance', timeoutMs });
  }

  /** The reason the connection ended, or null while it is open. */
  get closeReason(): Error | null {
    return this.#closeReason;
  }

  /** The broker's version range per API key, from the last ApiVersions exchange. */
  get brokerVersions(): ReadonlyMap<number, VersionRange> {
    return this.#brokerVersions;
  }

  close(): void {
    this.#fail(new ConnectionClosedError('connection closed by the test'));
    this.#socket.destroy();
  }

  /**
   * Sends one request; resolves with the decoded response once the frame with its correlation id arrives. Several
   * requests may be in flight at once (the broker answers them in order, one at a time per connection).
   */
  send<Request, Response>(
    api: ApiDescriptor<Request, Response>,
    version: number,
    request: Request,
    options: SendOptions = {},
  ): Promise<Exchange<Response>> {
    const correlationId = this.#takeCorrelationId();
    const frame = encodeRequestFrame({ api, version, correlationId, clientId: this.#clientId, request });
    return this.#exchange<Response>(
      { apiName: api.name, version, correlationId, frame, timeoutMs: options.timeoutMs },
      (bytes) => decodeResponseFrame(api, version, bytes),
    );
  }

  /**
   * ApiVersions with Kafka's downgrade rule (KIP-511): a broker that does not know the version asked for answers
   * UNSUPPORTED_VERSION in the v0 format, listing its own ApiVersions range; the client then retries with the
   * highest version both sides speak. `firstVersion` may exceed this codec's highest: the frame is then encoded at
   * the codec's highest and its header's version patched, which is how a test proves the rule against a broker
   * that knows every version this codec does (the broker does not parse the body of an unknown version).
   */
  async negotiateApiVersions(firstVersion: number = apiVersionsApi.maxVersion): Promise<ApiVersionsNegotiation> {
    const attempts: Array<{ version: number; errorCode: number }> = [];
    let version = firstVersion;
    for (;;) {
      const exchange = await this.#apiVersions(version);
      const { errorCode } = exchange.response;
      attempts.push({ version, errorCode });
      if (errorCode !== UNSUPPORTED_VERSION) {
        this.#brokerVersions = new Map(
          exchange.response.apiKeys.map((entry) => [entry.apiKey, { min: entry.minVersion, max: entry.maxVersion }]),
        );
        return { attempts, version, response: exchange.response };
      }
      const brokerRange = exchange.response.apiKeys.find((entry) => entry.apiKey === API_VERSIONS_KEY);
      const retry = Math.min(brokerRange?.maxVersion ?? 0, apiVersionsApi.maxVersion);
      if (brokerRange === undefined || retry < Math.max(brokerRange.minVersion, apiVersionsApi.minVersion)) {
        throw new Error(`no ApiVersions version in common (broker: ${JSON.stringify(brokerRange)})`);
      }
      if (attempts.some((attempt) => attempt.version === retry)) {
        throw new Error(`ApiVersions v${retry} refused as unsupported, though the broker listed it`);
      }
      version = retry;
    }
  }

  /** The versions of `api` that both this codec and the broker speak, lowest first; empty when none. */
  commonVersions(api: ApiDescriptor<unknown, unknown>): number[] {
    const broker = this.#brokerVersions.get(api.apiKey);
    if (broker === undefined) return [];
    const versions: number[] = [];
    for (
      let version = Math.max(api.minVersion, broker.min);
      version <= Math.min(api.maxVersion, broker.max);
      version++
    ) {
      versions.push(version);
    }
    return versions;
  }

  #apiVersions(version: number): Promise<Exchange<ApiVersionsResponse>> {
    const correlationId = this.#takeCorrelationId();
    const encodedVersion = Math.min(version, apiVersionsApi.maxVersion);
    const frame = encodeRequestFrame({
      api: apiVersionsApi,
      version: encodedVersion,
      correlationId,
      clientId: this.#clientId,
      request: { ...defaultApiVersionsRequest(), clientSoftwareName: 'sluice-conformance', clientSoftwareVersion: '0' },
    });
    // Header: int32 size, int16 api key, int16 api version.
    if (version !== encodedVersion) Buffer.from(frame.buffer, frame.byteOffset, frame.length).writeInt16BE(version, 6);
    return this.#exchange<ApiVersionsResponse>(
      { apiName: apiVersionsApi.name, version, correlationId, frame },
      (bytes) => {
        // The error code is the body's first field in every version, and the header is v0 in every version.
        const reader = new Reader(bytes);
        reader.int32('ResponseHeader.correlationId');
        const errorCode = reader.int16('ApiVersionsResponse.errorCode');
        const decodeVersion = errorCode === UNSUPPORTED_VERSION ? 0 : encodedVersion;
        return decodeResponseFrame(apiVersionsApi, decodeVersion, bytes);
      },
    );
  }

  #takeCorrelationId(): number {
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = correlationId === 0x7fffffff ? 1 : correlationId + 1;
    return correlationId;
  }

  #exchange<Response>(
    request: { apiName: string; version: number; correlationId: number; frame: Uint8Array; timeoutMs?: number },
    decode: (frame: Uint8Array) => ResponseFrame<Response>,
  ): Promise<Exchange<Response>> {
    if (this.#closeReason !== null) return Promise.reject(this.#closeReason);
    const { apiName, version, correlationId } = request;
    return new Promise<Exchange<Response>>((resolve, reject) => {
      const timeoutMs = request.timeoutMs ?? this.#timeoutMs;
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId);
        reject(new RequestTimeoutError(`no response to ${apiName} v${version} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(correlationId, {
        apiName,
        version,
        decode,
        resolve: resolve as (exchange: Exchange<unknown>) => void,
        reject,
        timer,
      });
      this.#socket.write(request.frame);
    });
  }

  #fail(error: Error): void {
    this.#closeReason ??= error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(new ConnectionClosedError(`${entry.apiName} v${entry.version}: ${error.message}`));
    }
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 4) {
      const size = this.#buffered.readInt32BE(0);
      if (size < 4 || size > MAX_FRAME_BYTES) {
        this.#fail(new ConnectionClosedError(`bad response frame size ${size}`));
        this.#socket.destroy();
        return;
      }
      if (this.#buffered.length < 4 + size) return;
      // A copy, so that a kept frame does not pin (or alias) the connection's buffer.
      const frame = new Uint8Array(this.#buffered.subarray(4, 4 + size));
      this.#buffered = this.#buffered.subarray(4 + size);
      this.#deliver(frame);
    }
  }

  #deliver(frame: Uint8Array): void {
    const correlationId = new Reader(frame).int32('ResponseHeader.correlationId');
    const pending = this.#pending.get(correlationId);
    if (pending === undefined) {
      this.#fail(new ConnectionClosedError(`response with unknown correlation id ${correlationId}`));
      this.#socket.destroy();
      return;
    }
    this.#pending.delete(correlationId);
    clearTimeout(pending.timer);
    let decoded: ResponseFrame<unknown>;
    try {
      decoded = pending.decode(frame);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      pending.reject(
        new ResponseDecodeError(
          `${pending.apiName} v${pending.version} response: ${message}; frame ${hexPreview(frame)}`,
          frame,
          {
            cause: error,
          },
        ),
      );
      return;
    }
    pending.resolve({
      apiName: pending.apiName,
      version: pending.version,
      correlationId,
      header: decoded.header,
      response: decoded.response,
      frame,
    });
  }
}
