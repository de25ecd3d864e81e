import { connect as connectTcp, type OnReadOpts, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import {
  type ApiDescriptor,
  type ApiVersionsResponse,
  apiVersionsApi,
  decodeResponseFrame,
  defaultApiVersionsRequest,
  encodeRequestFrame,
} from '@sluice/protocol';
import { BrokerProtocolError, NetworkError, RequestTimeoutError, UnsupportedVersionError } from './errors.ts';
import { FrameAssembler } from './frame-assembler.ts';
import type { FrameBufferPool } from './frame-buffers.ts';
import { authenticateSasl, reauthenticationDelayMs, type SaslTransport } from './sasl/authenticate.ts';
import { normalizeSaslOptions, type SaslOptions } from './sasl/options.ts';
import {
  applySocketBufferSizes,
  checkSocketBufferBytes,
  type SocketBufferSizes,
  socketBufferSizes,
} from './socket-buffers.ts';
import { tlsConnectOptions, tlsErrorFrom } from './tls.ts';

/** Kafka's UNSUPPORTED_VERSION error code. */
const UNSUPPORTED_VERSION = 35;

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Kafka's `client.id`, sent in every request header. */
  readonly clientId?: string | null;
  /**
   * Connect with TLS using these options (`ca`, `cert` + `key` for mutual TLS, `servername` ...). The broker's
   * certificate and host name are verified; `rejectUnauthorized: false` turns that off, with a one-time warning.
   */
  readonly tls?: TlsConnectionOptions | null;
  /**
   * Authenticate with SASL after ApiVersions (SaslHandshake v1 + SaslAuthenticate), and again before the session
   * lifetime the broker grants runs out (KIP-368). Wrap passwords in `Secret` to keep them out of logs.
   */
  readonly sasl?: SaslOptions | null;
  /**
   * `receive.buffer.bytes` / `send.buffer.bytes`: SO_RCVBUF / SO_SNDBUF, set right after connecting. -1 (the
   * default here) keeps the operating system's default; see socket-buffers.ts for where they cannot be applied.
   */
  readonly receiveBufferBytes?: number;
  readonly sendBufferBytes?: number;
  /** `socket.connection.setup.timeout.ms`: TCP (and TLS) set-up must finish within this. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** `request.timeout.ms`: default time a request waits for its response. Default 30000. */
  readonly requestTimeoutMs?: number;
  /** Largest response frame accepted; a larger size prefix closes the connection before anything is buffered. */
  readonly maxFrameBytes?: number;
  /**
   * Where a response frame spread over several socket chunks is copied to (every large Fetch response). Default: a
   * new buffer per frame. With `ReusableFrameBuffers`, large frames reuse released buffers; the caller must release a
   * response's frame only when nothing reads the response or any view of it (records are views into the frame).
   */
  readonly frameBuffers?: FrameBufferPool | null;
  /** Sent in ApiVersions v3+ (KIP-511). */
  readonly clientSoftwareName?: string;
  readonly clientSoftwareVersion?: string;
}

export interface SendOptions {
  /** Overrides the connection's `request.timeout.ms` for this request. */
  readonly timeoutMs?: number;
}

/** A version range the broker reported in ApiVersions. */
export interface VersionRange {
  readonly minVersion: number;
  readonly maxVersion: number;
}

interface PendingRequest {
  readonly correlationId: number;
  readonly api: ApiDescriptor<unknown, unknown>;
  readonly version: number;
  readonly resolve: (response: unknown) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
  /** Timed out: the request has been failed, and its response, when it comes, is read and dropped. */
  abandoned: boolean;
}

const DEFAULT_MAX_FRAME_BYTES = 128 * 1024 * 1024;

/**
 * One TCP or TLS connection to one broker.
 *
 * Requests are pipelined: any number may be in flight. Kafka answers the requests of one connection in the order
 * it received them, so pending requests are a FIFO queue and each response must carry the correlation id at its
 * head; anything else is a protocol violation that closes the connection. A request that times out fails alone:
 * it stays in the queue, marked abandoned, so that its late response is recognised and dropped. When the
 * connection is lost, every pending request fails at once with a retriable NetworkError.
 */
export class Connection {
  readonly broker: string;
  readonly #socket: Socket;
  readonly #clientId: string | null;
  readonly #requestTimeoutMs: number;
  readonly #queue: PendingRequest[] = [];
  #queueHead = 0;
  #nextCorrelationId = 0;
  #closedError: Error | null = null;
  readonly #closeListeners: Array<(error: Error) => void> = [];
  #brokerVersions: ReadonlyMap<number, VersionRange> = new Map();
  /** The connection's own copy of the SASL options (password in a Secret); null without SASL. */
  readonly #sasl: SaslOptions | null;
  #sessionLifetimeMs: number | null = null;
  #reauthenticationTimer: NodeJS.Timeout | null = null;
  #reauthentications = 0;
  /**
   * Requests the caller sent while a re-authentication runs, in order; null when none runs. KIP-368: the client
   * sends nothing but the SASL requests until re-authentication completes. Responses to requests sent before it
   * began still arrive first (the broker answers in order), so only new requests wait.
   */
  #held: Array<() => void> | null = null;

  private constructor(
    socket: Socket,
    options: ConnectionOptions,
    broker: string,
    sasl: SaslOptions | null,
    input: FrameInput,
  ) {
    this.broker = broker;
    this.#sasl = sasl;
    this.#socket = socket;
    this.#clientId = options.clientId ?? null;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    input.attach(
      (frame) => this.#onFrame(frame),
      (error) => this.#destroy(new BrokerProtocolError(error.message, { broker, cause: error })),
    );
    socket.on('error', (error) =>
      this.#destroy(
        // A broker demanding a client certificate refuses it with a TLS alert after the handshake (TLS 1.3).
        tlsErrorFrom(error, { broker, host: options.host }) ??
          new NetworkError(`connection failed: ${error.message}`, { broker, cause: error }),
      ),
    );
    socket.on('close', () => this.#destroy(new NetworkError('connection closed', { broker })));
  }

  /**
   * Opens a connection and negotiates versions with ApiVersions (retrying at the version the broker names when it
   * does not know ours, as KIP-511 defines), then authenticates with SASL when `sasl` is given. Fails with
   * NetworkError when set-up does not finish in time, TlsError when TLS verification fails, and
   * SaslAuthenticationError when the broker refuses the credentials.
   */
  static async open(options: ConnectionOptions): Promise<Connection> {
    const broker = `${options.host}:${options.port}`;
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    // Checked before connecting, so a missing password is a TypeError and not a refused authentication.
    const sasl = options.sasl ? normalizeSaslOptions(options.sasl) : null;
    const receiveBufferBytes = checkSocketBufferBytes('receive.buffer.bytes', options.receiveBufferBytes);
    const sendBufferBytes = checkSocketBufferBytes('send.buffer.bytes', options.sendBufferBytes);
    const input = new FrameInput(
      new FrameAssembler({
        maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
        onFrame: (frame) => input.frame(frame),
        frameBuffers: options.frameBuffers ?? null,
      }),
    );
    const socket = await new Promise<Socket>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const onConnect = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeListener('error', onError);
        applySocketBufferSizes(socket, receiveBufferBytes, sendBufferBytes);
        resolve(socket);
      };
      const onError = (error: Error) => {
        // A plaintext listener drops a TLS ClientHello without an answer: say what is likely wrong.
        const hint =
          options.tls && (error as { code?: string }).code === 'ECONNRESET'
            ? ' (closed during the TLS handshake: is this an SSL or SASL_SSL listener?)'
            : '';
        fail(
          tlsErrorFrom(error, { broker, host: options.host }) ??
            new NetworkError(`cannot connect: ${error.message}${hint}`, { broker, cause: error }),
        );
      };
      const tls = options.tls;
      // Reads go straight into frame buffers (`onread`); for TLS, OpenSSL decrypts into them.
      const onread = input.onread();
      const socket: Socket = tls
        ? // tls.connect documents `onread` (as net.Socket's); @types/node does not declare it.
          connectTls(
            { ...tlsConnectOptions(tls, options.host, options.port), onread } as TlsConnectionOptions,
            onConnect,
          )
        : connectTcp({ host: options.host, port: options.port, noDelay: true, keepAlive: true, onread }, onConnect);
      if (tls) socket.setNoDelay(true);
      const timer = setTimeout(
        () => fail(new NetworkError(`connection set-up took longer than ${timeoutMs} ms`, { broker })),
        timeoutMs,
      );
      socket.once('error', onError);
    });
    const connection = new Connection(socket, options, broker, sasl, input);
    try {
      await connection.#negotiate(options);
      if (sasl) await connection.#authenticate(sasl);
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  async #negotiate(options: ConnectionOptions): Promise<void> {
    const request = {
      ...defaultApiVersionsRequest(),
      clientSoftwareName: options.clientSoftwareName ?? 'sluice',
      clientSoftwareVersion: options.clientSoftwareVersion ?? '0.0.0',
    };
    let version = apiVersionsApi.maxVersion;
    let response = await this.send(apiVersionsApi, version, request).catch((error: unknown) => {
      // A broker that does not know our ApiVersions version answers in v0 with UNSUPPORTED_VERSION; reading that
      // as our version fails. Retry once at v0 to learn its range.
      if (error instanceof NetworkError) throw error;
      return null;
    });
    if (response === null || response.errorCode === UNSUPPORTED_VERSION) {
      const brokerRange = response?.apiKeys.find((entry) => entry.apiKey === apiVersionsApi.apiKey);
      version = brokerRange ? Math.min(brokerRange.maxVersion, apiVersionsApi.maxVersion) : 0;
      response = await this.send(apiVersionsApi, version, request);
    }
    if (response.errorCode !== 0) {
      throw new BrokerProtocolError(`ApiVersions v${version} failed with error code ${response.errorCode}`, {
        broker: this.broker,
      });
    }
    this.#brokerVersions = versionMap(response);
  }

  async #authenticate(sasl: SaslOptions): Promise<void> {
    const transport: SaslTransport = {
      broker: this.broker,
      versionFor: (api, bounds) => this.versionFor(api, bounds),
      // The SASL requests themselves are never held back.
      send: (api, version, request) => this.#write(api, version, request, {}),
    };
    const session = await authenticateSasl(transport, sasl);
    this.#sessionLifetimeMs = session.sessionLifetimeMs;
    if (session.sessionLifetimeMs > 0 && this.#closedError === null) {
      this.#reauthenticationTimer = setTimeout(
        () => this.#reauthenticate(),
        reauthenticationDelayMs(session.sessionLifetimeMs),
      );
      // The connection's socket decides whether the process stays alive, not this timer.
      this.#reauthenticationTimer.unref();
    }
  }

  /**
   * KIP-368 re-authentication on the same connection: the same handshake and exchange as the first time. New
   * requests wait until it completes; if it fails, the connection closes with its error, which every pending and
   * waiting request receives.
   */
  async #reauthenticate(): Promise<void> {
    this.#reauthenticationTimer = null;
    if (this.#closedError || this.#sasl === null) return;
    this.#held = [];
    try {
      await this.#authenticate(this.#sasl);
      this.#reauthentications++;
    } catch (error) {
      this.#destroy(error as Error);
    } finally {
      const held = this.#held ?? [];
      this.#held = null;
      // In the order they were sent, before anything sent later: the broker sees them as the caller sent them.
      for (const start of held) start();
    }
  }

  /** The session lifetime the broker granted at the last (re-)authentication; 0 if it never expires, null without SASL. */
  get sessionLifetimeMs(): number | null {
    return this.#sessionLifetimeMs;
  }

  /** How many KIP-368 re-authentications have completed on this connection. */
  get reauthentications(): number {
    return this.#reauthentications;
  }

  /** SO_RCVBUF and SO_SNDBUF as the kernel reports them now; null where they cannot be read. */
  get socketBufferSizes(): SocketBufferSizes | null {
    return socketBufferSizes(this.#socket);
  }

  /** The version ranges the broker reported, by API key. */
  get brokerVersions(): ReadonlyMap<number, VersionRange> {
    return this.#brokerVersions;
  }

  /** The highest version of `api` that both Sluice and this broker support, within `[floor, ceiling]` if given. */
  versionFor(api: ApiDescriptor<unknown, unknown>, bounds: { floor?: number; ceiling?: number } = {}): number {
    const broker = this.#brokerVersions.get(api.apiKey);
    const low = Math.max(api.minVersion, broker?.minVersion ?? Number.POSITIVE_INFINITY, bounds.floor ?? 0);
    const high = Math.min(api.maxVersion, broker?.maxVersion ?? -1, bounds.ceiling ?? Number.POSITIVE_INFINITY);
    if (!broker || high < low) {
      const brokerRange = broker ? `v${broker.minVersion}-v${broker.maxVersion}` : 'no version';
      throw new UnsupportedVersionError(
        `${api.name}: Sluice speaks v${api.minVersion}-v${api.maxVersion}${bounds.floor === undefined ? '' : ` (needs v${bounds.floor}+)`}, broker ${this.broker} speaks ${brokerRange}`,
        { api: api.name },
      );
    }
    return high;
  }

  /** Sends a request at the highest version both sides support. */
  request<Request, Response>(
    api: ApiDescriptor<Request, Response>,
    request: Request,
    options?: SendOptions,
  ): Promise<Response> {
    let version: number;
    try {
      version = this.versionFor(api as ApiDescriptor<unknown, unknown>);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.send(api, version, request, options);
  }

  /** Sends a request at an explicit version; resolves with the decoded response. */
  send<Request, Response>(
    api: ApiDescriptor<Request, Response>,
    version: number,
    request: Request,
    options: SendOptions = {},
  ): Promise<Response> {
    const held = this.#held;
    if (held !== null && this.#closedError === null) {
      // Re-authenticating: the request waits, and its timeout starts when it is written.
      return new Promise<Response>((resolve, reject) => {
        held.push(() => this.#write(api, version, request, options).then(resolve, reject));
      });
    }
    return this.#write(api, version, request, options);
  }

  #write<Request, Response>(
    api: ApiDescriptor<Request, Response>,
    version: number,
    request: Request,
    options: SendOptions,
  ): Promise<Response> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = (correlationId + 1) | 0;
    let frame: Uint8Array;
    try {
      frame = encodeRequestFrame({ api, version, correlationId, clientId: this.#clientId, request });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Response>((resolve, reject) => {
      const pending: PendingRequest = {
        correlationId,
        api: api as ApiDescriptor<unknown, unknown>,
        version,
        resolve: resolve as (response: unknown) => void,
        reject,
        timer: null,
        abandoned: false,
      };
      const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
      pending.timer = setTimeout(() => {
        pending.timer = null;
        pending.abandoned = true;
        reject(new RequestTimeoutError({ broker: this.broker, api: api.name, version, timeoutMs }));
      }, timeoutMs);
      this.#queue.push(pending);
      this.#socket.write(frame);
    });
  }

  /**
   * Requests sent and not yet answered (timed-out ones included until their response arrives, and requests waiting
   * for a re-authentication to complete).
   */
  get inFlight(): number {
    return this.#queue.length - this.#queueHead + (this.#held?.length ?? 0);
  }

  get closed(): boolean {
    return this.#closedError !== null;
  }

  /** Called once, with the reason, when the connection closes for any reason. */
  onClose(listener: (error: Error) => void): void {
    if (this.#closedError) listener(this.#closedError);
    else this.#closeListeners.push(listener);
  }

  /** Closes the connection; pending requests fail with a NetworkError. */
  close(): void {
    this.#destroy(new NetworkError('connection closed by the client', { broker: this.broker }));
  }

  #onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.#queue[this.#queueHead];
    if (pending === undefined || pending.correlationId !== correlationId) {
      const expected = pending === undefined ? 'none pending' : `expected ${pending.correlationId}`;
      this.#destroy(
        new BrokerProtocolError(`response with correlation id ${correlationId} (${expected})`, { broker: this.broker }),
      );
      return;
    }
    this.#queue[this.#queueHead] = undefined as unknown as PendingRequest;
    this.#queueHead++;
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    if (pending.abandoned) return;
    if (pending.timer) clearTimeout(pending.timer);
    let response: unknown;
    try {
      response = decodeResponseFrame(pending.api, pending.version, frame).response;
    } catch (error) {
      // Frames are delimited by size, so one undecodable response does not desynchronise the stream.
      pending.reject(error as Error);
      return;
    }
    pending.resolve(response);
  }

  #destroy(error: Error): void {
    if (this.#closedError) return;
    this.#closedError = error;
    this.#socket.destroy();
    if (this.#reauthenticationTimer) clearTimeout(this.#reauthenticationTimer);
    this.#reauthenticationTimer = null;
    const pending = this.#queue.slice(this.#queueHead);
    this.#queue.length = 0;
    this.#queueHead = 0;
    for (const request of pending) {
      if (request.timer) clearTimeout(request.timer);
      if (!request.abandoned) request.reject(error);
    }
    // Requests waiting for a re-authentication fail with the same error (#write refuses once closed).
    const held = this.#held ?? [];
    this.#held = null;
    for (const start of held) start();
    for (const listener of this.#closeListeners.splice(0)) listener(error);
  }
}

/**
 * Feeds a socket's bytes to the FrameAssembler by direct reads (net.Socket's `onread`: no 'data' events), and
 * passes frames and framing errors on to the Connection once it exists. No frame can come before: Kafka sends
 * nothing unrequested, so bytes before the first request are a protocol error.
 */
class FrameInput {
  readonly #assembler: FrameAssembler;
  #onFrame: ((frame: Buffer) => void) | null = null;
  #onError: ((error: Error) => void) | null = null;
  #failed = false;
  /** A framing error from before the Connection existed, reported when it attaches. */
  #early: Error | null = null;

  constructor(assembler: FrameAssembler) {
    this.#assembler = assembler;
  }

  attach(onFrame: (frame: Buffer) => void, onError: (error: Error) => void): void {
    this.#onFrame = onFrame;
    this.#onError = onError;
    if (this.#early !== null) onError(this.#early);
  }

  /** The `onread` option for net.connect: reads go where the assembler wants them. */
  onread(): OnReadOpts {
    return {
      buffer: () => this.#assembler.readTarget(),
      callback: (bytesRead: number) => {
        if (this.#failed) return false;
        try {
          this.#assembler.commitRead(bytesRead);
        } catch (error) {
          this.#fail(error as Error);
          return false;
        }
        return true;
      },
    };
  }

  frame(frame: Buffer): void {
    // Thrown inside the assembler, so it becomes this input's framing error.
    if (this.#onFrame === null) throw new Error('the broker sent a response before any request');
    this.#onFrame(frame);
  }

  #fail(error: Error): void {
    this.#failed = true;
    if (this.#onError) this.#onError(error);
    else this.#early = error;
  }
}

function versionMap(response: ApiVersionsResponse): Map<number, VersionRange> {
  const versions = new Map<number, VersionRange>();
  for (const entry of response.apiKeys) {
    versions.set(entry.apiKey, { minVersion: entry.minVersion, maxVersion: entry.maxVersion });
  }
  return versions;
}
