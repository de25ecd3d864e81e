import { isIP } from 'node:net';
import type { ApiDescriptor } from '@sluice/protocol';
import { ReconnectBackoff } from './backoff-state.ts';
import { Connection, type ConnectionOptions, type SendOptions } from './connection.ts';
import { NetworkError } from './errors.ts';
import type { FrameBufferPool } from './frame-buffers.ts';

/**
 * Which connection to a broker a request travels on. Fetches can wait on the broker for `fetch.max.wait.ms` and
 * Kafka answers a connection's requests in order, so a heartbeat queued behind a long fetch on the same
 * connection would be late; coordination traffic (metadata, group, offsets) therefore gets a connection of its own.
 */
export type ConnectionPurpose = 'fetch' | 'coordination';

/** Where a broker listens, as Metadata advertises it. */
export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** One resolved address of a `bootstrap.servers` entry. */
export interface BootstrapAddress extends BrokerAddress {
  /** The address dialled: one of the IPs `host` resolved to (`client.dns.lookup=use_all_dns_ips`). */
  readonly ip: string;
}

/** A broker by node id (once metadata named it), or a bootstrap address (before any node id is known). */
export type BrokerTarget = { readonly nodeId: number } | { readonly bootstrap: BootstrapAddress };

/** What the pool knows about the connection of one purpose to one broker, for choosing whom to ask. */
export interface ConnectionStatus {
  /** `backoff`: the last attempt failed and the broker may not be dialled before `readyAt`. */
  readonly state: 'connected' | 'connecting' | 'disconnected' | 'backoff';
  readonly inFlight: number;
  /** The earliest time (pool clock) at which the broker may be dialled; 0 when not backing off. */
  readonly readyAt: number;
}

export interface ConnectionPoolOptions {
  /** Passed to every `Connection.open` (client.id, TLS, SASL, timeouts); host and port come from the target. */
  readonly connection?: Omit<ConnectionOptions, 'host' | 'port'>;
  /**
   * Frame buffers for the connections of one purpose, over `connection.frameBuffers` (the consumer gives its fetch
   * connections reusable buffers and releases them itself).
   */
  readonly frameBuffersFor?: Partial<Record<ConnectionPurpose, FrameBufferPool>>;
  /** `reconnect.backoff.ms`: first wait before dialling a broker again after a failure. Default 50. */
  readonly reconnectBackoffMs?: number;
  /** `reconnect.backoff.max.ms`: the wait doubles per consecutive failure up to this. Default 1000. */
  readonly reconnectBackoffMaxMs?: number;
  /**
   * `socket.connection.setup.timeout.max.ms`: the set-up timeout (`connection.connectTimeoutMs`, Kafka's
   * `socket.connection.setup.timeout.ms`, default 10000) doubles per consecutive failed attempt to a broker up to
   * this (KIP-601). Default 30000.
   */
  readonly connectTimeoutMaxMs?: number;
  /** `connections.max.idle.ms`: a connection with nothing in flight for this long is closed. Default 540000. */
  readonly connectionsMaxIdleMs?: number;
  /** For tests: the clock, the jitter source and the dialler. */
  readonly now?: () => number;
  readonly random?: () => number;
  readonly openConnection?: (options: ConnectionOptions) => Promise<Connection>;
}

export interface PoolRequestOptions extends SendOptions {
  /** Default `coordination`. */
  readonly purpose?: ConnectionPurpose;
}

interface PoolEntry {
  readonly key: string;
  readonly brokerKey: string;
  readonly options: ConnectionOptions;
  connection: Connection | null;
  opening: Promise<Connection> | null;
  lastUsed: number;
}

/**
 * Connections to the brokers of one cluster, at most one per broker and purpose, opened when first needed.
 *
 * Invariants:
 * - Concurrent callers for the same broker and purpose share one connect attempt.
 * - After a failed attempt or a lost connection, the broker is not dialled again before its reconnect backoff;
 *   a caller arriving during the backoff waits for it rather than failing. Intentional closes (idle, address
 *   change, `close()`) do not count as failures.
 * - A lost connection is forgotten at once (its pending requests already failed with a retriable NetworkError),
 *   so the next request dials again.
 */
export class ConnectionPool {
  readonly #connectionOptions: Omit<ConnectionOptions, 'host' | 'port'>;
  readonly #frameBuffersFor: Partial<Record<ConnectionPurpose, FrameBufferPool>>;
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #open: (options: ConnectionOptions) => Promise<Connection>;
  readonly #backoff: ReconnectBackoff;
  readonly #entries = new Map<string, PoolEntry>();
  readonly #brokers = new Map<number, BrokerAddress>();
  /** Connections this pool closed on purpose: their close is not a broker failure. */
  readonly #closedByPool = new WeakSet<Connection>();
  readonly #waits = new Set<{ timer: NodeJS.Timeout; reject: (error: Error) => void }>();
  readonly #idleTimer: NodeJS.Timeout;
  #closed = false;

  constructor(options: ConnectionPoolOptions = {}) {
    this.#connectionOptions = options.connection ?? {};
    this.#frameBuffersFor = options.frameBuffersFor ?? {};
    this.#idleMs = options.connectionsMaxIdleMs ?? 540_000;
    this.#now = options.now ?? Date.now;
    this.#open = options.openConnection ?? ((connectionOptions) => Connection.open(connectionOptions));
    this.#backoff = new ReconnectBackoff({
      initialMs: options.reconnectBackoffMs ?? 50,
      maxMs: options.reconnectBackoffMaxMs ?? 1000,
      setupTimeoutMs: this.#connectionOptions.connectTimeoutMs ?? 10_000,
      setupTimeoutMaxMs: options.connectTimeoutMaxMs ?? 30_000,
      ...(options.random ? { random: options.random } : {}),
    });
    // Kafka's selector checks idleness on every poll; a sweep at a fraction of the limit is as good here.
    this.#idleTimer = setInterval(() => this.closeIdleConnections(), Math.max(10, Math.min(this.#idleMs / 2, 30_000)));
    this.#idleTimer.unref();
  }

  /**
   * Replaces the node id -> address map (from a metadata snapshot). Connections to a node whose address changed
   * are closed; a node that left keeps its connection until it is lost or idle, and new dials to it fail.
   */
  setBrokers(brokers: ReadonlyMap<number, BrokerAddress>): void {
    for (const [nodeId, previous] of this.#brokers) {
      const next = brokers.get(nodeId);
      if (next && (next.host !== previous.host || next.port !== previous.port)) this.#closeBroker(`node:${nodeId}`);
    }
    this.#brokers.clear();
    for (const [nodeId, address] of brokers) this.#brokers.set(nodeId, { host: address.host, port: address.port });
  }

  /** The connection of `purpose` to the target, opened (or waited for) when there is none. */
  get(target: BrokerTarget, options: { purpose?: ConnectionPurpose } = {}): Promise<Connection> {
    if (this.#closed) return Promise.reject(new NetworkError('connection pool closed', { broker: describe(target) }));
    const purpose = options.purpose ?? 'coordination';
    const brokerKey = brokerKeyOf(target);
    const key = `${brokerKey}|${purpose}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      let connectionOptions: ConnectionOptions;
      try {
        connectionOptions = this.#optionsFor(target);
        const frameBuffers = this.#frameBuffersFor[purpose];
        if (frameBuffers !== undefined) connectionOptions = { ...connectionOptions, frameBuffers };
      } catch (error) {
        return Promise.reject(error);
      }
      entry = { key, brokerKey, options: connectionOptions, connection: null, opening: null, lastUsed: this.#now() };
      this.#entries.set(key, entry);
    }
    entry.lastUsed = this.#now();
    if (entry.connection && !entry.connection.closed) return Promise.resolve(entry.connection);
    entry.opening ??= this.#connect(entry);
    return entry.opening;
  }

  /** Sends a request at the highest version both sides support, on the connection of `options.purpose`. */
  async request<Request, Response>(
    target: BrokerTarget,
    api: ApiDescriptor<Request, Response>,
    request: Request,
    options: PoolRequestOptions = {},
  ): Promise<Response> {
    const connection = await this.get(target, options.purpose === undefined ? {} : { purpose: options.purpose });
    const sendOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
    try {
      return await connection.request(api, request, sendOptions);
    } finally {
      // A long request keeps its connection busy, not idle: idleness counts from the last response.
      const entry = this.#entries.get(`${brokerKeyOf(target)}|${options.purpose ?? 'coordination'}`);
      if (entry?.connection === connection) entry.lastUsed = this.#now();
    }
  }

  status(target: BrokerTarget, purpose: ConnectionPurpose = 'coordination'): ConnectionStatus {
    const brokerKey = brokerKeyOf(target);
    const entry = this.#entries.get(`${brokerKey}|${purpose}`);
    const readyAt = this.#backoff.readyAt(brokerKey);
    if (entry?.connection && !entry.connection.closed) {
      return { state: 'connected', inFlight: entry.connection.inFlight, readyAt: 0 };
    }
    if (entry?.opening) return { state: 'connecting', inFlight: 0, readyAt };
    return { state: readyAt > this.#now() ? 'backoff' : 'disconnected', inFlight: 0, readyAt };
  }

  /** Whether the target is a node id this pool has an address for. */
  knows(nodeId: number): boolean {
    return this.#brokers.has(nodeId);
  }

  /** Closes connections with nothing in flight that were last used `connections.max.idle.ms` ago or earlier. */
  closeIdleConnections(now: number = this.#now()): number {
    let closed = 0;
    for (const entry of [...this.#entries.values()]) {
      const connection = entry.connection;
      if (!connection || connection.inFlight > 0 || now - entry.lastUsed < this.#idleMs) continue;
      this.#closeEntry(entry);
      closed++;
    }
    return closed;
  }

  /** Closes every connection and fails every waiting or future `get`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#idleTimer);
    for (const wait of this.#waits) {
      clearTimeout(wait.timer);
      wait.reject(new NetworkError('connection pool closed', { broker: 'pool' }));
    }
    this.#waits.clear();
    for (const entry of [...this.#entries.values()]) this.#closeEntry(entry);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #connect(entry: PoolEntry): Promise<Connection> {
    try {
      const waitMs = this.#backoff.readyAt(entry.brokerKey) - this.#now();
      if (waitMs > 0) await this.#sleep(waitMs);
      if (this.#closed) throw new NetworkError('connection pool closed', { broker: entry.options.host });
      let connection: Connection;
      try {
        const connectTimeoutMs = this.#backoff.setupTimeoutMs(entry.brokerKey);
        connection = await this.#open({ ...entry.options, connectTimeoutMs });
      } catch (error) {
        this.#backoff.recordFailure(entry.brokerKey, this.#now(), { duringSetup: true });
        throw error;
      }
      if (this.#closed || this.#entries.get(entry.key) !== entry) {
        // Closed (or the address changed) while dialling: this connection is nobody's.
        this.#closedByPool.add(connection);
        connection.close();
        const reason = this.#closed ? 'connection pool closed' : 'broker address changed while connecting';
        throw new NetworkError(reason, { broker: connection.broker });
      }
      this.#backoff.recordSuccess(entry.brokerKey);
      entry.connection = connection;
      entry.lastUsed = this.#now();
      connection.onClose(() => {
        if (entry.connection === connection) this.#forget(entry);
        if (!this.#closedByPool.has(connection) && !this.#closed) {
          this.#backoff.recordFailure(entry.brokerKey, this.#now());
        }
      });
      return connection;
    } finally {
      entry.opening = null;
      if (entry.connection === null && this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    }
  }

  #forget(entry: PoolEntry): void {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    entry.connection = null;
  }

  #closeBroker(brokerKey: string): void {
    for (const entry of [...this.#entries.values()]) {
      if (entry.brokerKey === brokerKey) this.#closeEntry(entry);
    }
  }

  /** Closes on purpose: not a failure of the broker. An attempt in progress is dropped when it completes. */
  #closeEntry(entry: PoolEntry): void {
    const connection = entry.connection;
    this.#forget(entry);
    if (connection) {
      this.#closedByPool.add(connection);
      connection.close();
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const wait = {
        timer: setTimeout(() => {
          this.#waits.delete(wait);
          resolve();
        }, ms),
        reject,
      };
      this.#waits.add(wait);
    });
  }

  #optionsFor(target: BrokerTarget): ConnectionOptions {
    if ('nodeId' in target) {
      const address = this.#brokers.get(target.nodeId);
      if (!address) {
        // Retriable: the metadata that named this node is newer than ours, or the node left; a refresh tells.
        throw new NetworkError(`node ${target.nodeId} is not in the cluster metadata`, { broker: describe(target) });
      }
      return { ...this.#connectionOptions, host: address.host, port: address.port };
    }
    const { host, ip, port } = target.bootstrap;
    const tls = this.#connectionOptions.tls;
    // We dial the resolved IP, but the certificate names the host the user wrote: verify against that name.
    const servername = tls && tls.servername === undefined && ip !== host && isIP(host) === 0 ? host : undefined;
    return {
      ...this.#connectionOptions,
      host: ip,
      port,
      ...(tls && servername !== undefined ? { tls: { ...tls, servername } } : {}),
    };
  }
}

function brokerKeyOf(target: BrokerTarget): string {
  return 'nodeId' in target ? `node:${target.nodeId}` : `bootstrap:${target.bootstrap.ip}:${target.bootstrap.port}`;
}

function describe(target: BrokerTarget): string {
  return 'nodeId' in target ? `node ${target.nodeId}` : `${target.bootstrap.host}:${target.bootstrap.port}`;
}
