/**
 * A TCP proxy between Kafka clients and brokers that injects network faults: a stall (no byte moves, the sockets
 * stay open), resets (RST) of every connection of a broker or in the middle of a response, and rewritten responses.
 * Each route is one broker: the proxy listens where the broker is advertised (the harness's PROXIED listener) and
 * forwards every accepted connection to the broker's own port.
 *
 * It knows Kafka's framing in both directions (an int32 size, then the header): every request's apiKey and
 * apiVersion are remembered by correlation id, so a response can be matched to the request it answers.
 *
 * Invariants:
 * - The fast path (no rewrite set) forwards each chunk as it came; it reads only frame boundaries and the head of
 *   each frame (12 bytes of a request, 8 of a response), and copies nothing else (heads into a small buffer).
 * - A rewrite buffers whole response frames, without a copy when one chunk holds the frame, and forwards what the
 *   rewrite returns, whatever its size.
 * - A stall pauses both sockets of every connection of the broker, so TCP backpressure keeps the bytes in the
 *   kernels' buffers, not here; the little that was read before the pause took effect is held, in order, and
 *   forwarded first on heal. An end of stream that came meanwhile is passed on after it.
 * - Otherwise a destination whose write buffer is full pauses its source until it drains: memory stays bounded
 *   whatever either side does.
 * - A cut response forwards the first half of its frame; the connection is reset (both sides) once those bytes are
 *   handed to the kernel. On loopback they reach the client before the RST, unless its receive buffer is full.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ProxyRoute {
  readonly nodeId: number;
  /** Where the proxy listens on 127.0.0.1: the port the broker advertises. */
  readonly listenPort: number;
  /** Where the broker listens on 127.0.0.1. */
  readonly brokerPort: number;
}

/** What a response answers. apiKey and apiVersion are -1 when no request with its correlation id was seen. */
export interface ResponseContext {
  readonly nodeId: number;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
}

/**
 * Sees every response frame (its int32 size prefix included) while set; returns a replacement frame, which carries
 * its own correct size prefix, or undefined to forward the frame unchanged. A rewrite that throws forwards the frame
 * unchanged (and the proxy logs it).
 */
export type ResponseRewrite = (context: ResponseContext, frame: Buffer) => Buffer | undefined;

export interface ProxyNodeStats {
  /** Client connections accepted. */
  readonly accepted: number;
  /** Connections the proxy reset: `reset`, and the cuts of `resetMidResponse`. */
  readonly reset: number;
  readonly bytesToBroker: number;
  readonly bytesToClient: number;
  /** Request frames seen going to the broker, and response frames coming back (cut ones included). */
  readonly requests: number;
  readonly responses: number;
  /** Responses a rewrite replaced. */
  readonly rewritten: number;
}

export interface FaultProxyOptions {
  /** Faults injected and connections that failed, one line each. */
  readonly log?: (line: string) => void;
}

type MutableStats = { -readonly [Key in keyof ProxyNodeStats]: ProxyNodeStats[Key] };

const HOST = '127.0.0.1';

export class FaultProxy {
  readonly #nodes: ReadonlyMap<number, ProxyNode>;
  readonly #log: (line: string) => void;
  #closing: Promise<void> | null = null;

  private constructor(nodes: ReadonlyMap<number, ProxyNode>, log: (line: string) => void) {
    this.#nodes = nodes;
    this.#log = log;
  }

  /** Listens on every route's `listenPort`; fails (listening nowhere) if any port cannot be had. */
  static async start(routes: readonly ProxyRoute[], options: FaultProxyOptions = {}): Promise<FaultProxy> {
    const log = options.log ?? (() => {});
    const nodes = new Map<number, ProxyNode>();
    for (const route of routes) {
      if (nodes.has(route.nodeId)) throw new Error(`two routes for node ${route.nodeId}`);
      nodes.set(route.nodeId, new ProxyNode(route, log));
    }
    const listening = await Promise.allSettled([...nodes.values()].map((node) => node.listen()));
    const failed = listening.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all([...nodes.values()].map((node) => node.close()));
      throw failed.reason;
    }
    return new FaultProxy(nodes, log);
  }

  /** Every connection to the broker, and any accepted until `heal`, stops moving bytes both ways; none is closed. */
  stall(nodeId: number): void {
    const node = this.#node(nodeId);
    node.stall();
    this.#log(`fault-proxy: node ${nodeId} stalled (${node.connections.size} connections)`);
  }

  /** Bytes flow again, everything held first, in order. */
  heal(nodeId: number): void {
    const node = this.#node(nodeId);
    node.heal();
    this.#log(`fault-proxy: node ${nodeId} healed`);
  }

  /** Resets (RST) both sides of every current connection to the broker; returns how many connections. */
  reset(nodeId: number): number {
    const node = this.#node(nodeId);
    const connections = [...node.connections];
    for (const connection of connections) connection.reset();
    this.#log(`fault-proxy: node ${nodeId}: ${connections.length} connections reset`);
    return connections.length;
  }

  /**
   * The broker's next `count` responses of at least `minBytes` (size prefix included), on any connection, are cut:
   * the first half of the frame is forwarded, then the connection is reset (both sides). Replaces what is left of
   * an earlier call's budget.
   */
  resetMidResponse(nodeId: number, options: { readonly count: number; readonly minBytes: number }): void {
    const node = this.#node(nodeId);
    node.cuts = options.count > 0 ? { left: options.count, minBytes: options.minBytes } : null;
    this.#log(`fault-proxy: node ${nodeId}: the next ${options.count} responses of ${options.minBytes}+ bytes cut`);
  }

  /** Sets (or with null removes) the rewrite of one broker's responses, or of every broker's. */
  rewriteResponses(nodeId: number | 'all', rewrite: ResponseRewrite | null): void {
    const nodes = nodeId === 'all' ? [...this.#nodes.values()] : [this.#node(nodeId)];
    for (const node of nodes) node.rewrite = rewrite;
    this.#log(
      `fault-proxy: node ${nodeId}: ${rewrite === null ? 'responses no longer rewritten' : 'responses rewritten'}`,
    );
  }

  /** Connections to the broker not closed yet. */
  connections(nodeId: number): number {
    return this.#node(nodeId).connections.size;
  }

  /** Per broker, counted since the start. */
  stats(): Map<number, ProxyNodeStats> {
    return new Map([...this.#nodes].map(([nodeId, node]) => [nodeId, { ...node.stats }]));
  }

  /** Stops listening and destroys every connection; resolves once every server and socket is closed. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#nodes.values()].map((node) => node.close())).then(() => {});
    return this.#closing;
  }

  #node(nodeId: number): ProxyNode {
    const node = this.#nodes.get(nodeId);
    if (node === undefined) throw new Error(`the fault proxy has no route for node ${nodeId}`);
    return node;
  }
}

/** One broker's route: its server, its connections and the faults set on it. */
class ProxyNode {
  readonly route: ProxyRoute;
  readonly log: (line: string) => void;
  readonly connections = new Set<ProxiedConnection>();
  readonly stats: MutableStats = {
    accepted: 0,
    reset: 0,
    bytesToBroker: 0,
    bytesToClient: 0,
    requests: 0,
    responses: 0,
    rewritten: 0,
  };
  stalled = false;
  rewrite: ResponseRewrite | null = null;
  cuts: { left: number; readonly minBytes: number } | null = null;
  readonly #server: Server;
  #closed: Promise<void> | null = null;

  constructor(route: ProxyRoute, log: (line: string) => void) {
    this.route = route;
    this.log = log;
    // Paused on accept: the connection decides whether to read (it does not while the node is stalled).
    this.#server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) =>
      this.#accept(client),
    );
    this.#server.on('error', (error) => log(`fault-proxy: node ${route.nodeId}: server error: ${error.message}`));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: HOST, port: this.route.listenPort }, () => {
        this.#server.removeListener('error', reject);
        resolve();
      });
    });
  }

  /** Takes one cut from the budget when a response frame of this size qualifies. */
  takeCut(frameBytes: number): boolean {
    const cuts = this.cuts;
    if (cuts === null || frameBytes < cuts.minBytes) return false;
    if (--cuts.left <= 0) this.cuts = null;
    return true;
  }

  stall(): void {
    this.stalled = true;
    for (const connection of this.connections) connection.pause();
  }

  heal(): void {
    this.stalled = false;
    for (const connection of this.connections) connection.flow();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => {
      if (this.#server.listening) this.#server.close(() => resolve());
      else resolve();
    });
    const connections = [...this.connections];
    for (const connection of connections) connection.destroy();
    await Promise.all([serverClosed, ...connections.map((connection) => connection.closed)]);
  }

  #accept(client: Socket): void {
    if (this.#closed !== null) {
      client.destroy();
      return;
    }
    this.stats.accepted++;
    const connection = new ProxiedConnection(this, client);
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }
}

/** A request awaiting its response. */
interface RequestKey {
  readonly correlationId: number;
  readonly apiKey: number;
  readonly apiVersion: number;
}

/** One direction of a connection: what is held while stalled, and whether the destination is to be ended. */
interface Flow {
  readonly source: Socket;
  readonly destination: Socket;
  readonly held: Buffer[];
  /** The destination's write buffer is full: the source waits for 'drain'. */
  draining: boolean;
  /** The source ended: the destination ends once everything held is forwarded. */
  ended: boolean;
  endSent: boolean;
  readonly forward: (chunk: Buffer) => void;
  /** Runs just before the destination is ended. */
  readonly beforeEnd: () => void;
}

/** One client connection and its connection to the broker. */
class ProxiedConnection {
  readonly closed: Promise<void>;
  readonly #node: ProxyNode;
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #requests = new InFlightRequests();
  readonly #toBroker: Flow;
  readonly #toClient: Flow;
  #connected = false;
  /** A response is being cut: nothing more is forwarded, the reset follows. */
  #cutting = false;
  #reset = false;

  constructor(node: ProxyNode, client: Socket) {
    this.#node = node;
    this.#client = client;
    const upstream = connect({ host: HOST, port: node.route.brokerPort, allowHalfOpen: true, noDelay: true });
    this.#upstream = upstream;
    const requestScanner = new RequestScanner((request) => {
      node.stats.requests++;
      this.#requests.push(request);
    });
    const responseScanner = new ResponseScanner({
      nodeId: node.route.nodeId,
      rewrite: () => node.rewrite,
      takeCut: (frameBytes) => node.takeCut(frameBytes),
      request: (correlationId) => this.#requests.take(correlationId),
      write: (bytes) => this.#write(this.#toClient, bytes),
      cut: (bytes) => this.#cut(bytes),
      counted: (rewritten) => {
        node.stats.responses++;
        if (rewritten) node.stats.rewritten++;
      },
      log: node.log,
    });
    this.#toBroker = this.#flow(client, upstream, (chunk) => {
      requestScanner.scan(chunk);
      this.#write(this.#toBroker, chunk);
    });
    // The broker may end while a response frame is being collected for a rewrite: what came of it is passed on.
    this.#toClient = this.#flow(
      upstream,
      client,
      (chunk) => responseScanner.scan(chunk),
      () => responseScanner.flushPartial(),
    );
    const whenClosed = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));
    this.closed = Promise.all([whenClosed(client), whenClosed(upstream)]).then(() => {});

    upstream.once('connect', () => {
      this.#connected = true;
    });
    upstream.on('error', (error) => {
      if (!this.#connected) {
        node.log(`fault-proxy: node ${node.route.nodeId}: cannot reach the broker (${error.message})`);
        client.destroy();
      } else {
        this.#failed(client, error);
      }
    });
    client.on('error', (error) => this.#failed(upstream, error));
    client.setNoDelay(true);
    if (node.stalled) this.pause();
    else this.flow();
  }

  pause(): void {
    this.#client.pause();
    this.#upstream.pause();
  }

  /** Forwards what was held, then lets the sockets read again (unless a destination is full). */
  flow(): void {
    for (const flow of [this.#toBroker, this.#toClient]) {
      while (flow.held.length > 0 && !this.#node.stalled && !this.#cutting) flow.forward(flow.held.shift()!);
      this.#endIfDone(flow);
      this.#resume(flow);
    }
  }

  reset(): void {
    if (this.#reset) return;
    this.#reset = true;
    this.#node.stats.reset++;
    this.#client.resetAndDestroy();
    this.#upstream.resetAndDestroy();
  }

  destroy(): void {
    this.#client.destroy();
    this.#upstream.destroy();
  }

  #flow(source: Socket, destination: Socket, forward: Flow['forward'], beforeEnd: Flow['beforeEnd'] = () => {}): Flow {
    const flow: Flow = {
      source,
      destination,
      held: [],
      draining: false,
      ended: false,
      endSent: false,
      forward,
      beforeEnd,
    };
    source.on('data', (chunk: Buffer) => {
      if (this.#node.stalled || flow.held.length > 0) flow.held.push(chunk);
      else if (!this.#cutting) forward(chunk);
    });
    source.on('end', () => {
      flow.ended = true;
      this.#endIfDone(flow);
    });
    destination.on('drain', () => {
      flow.draining = false;
      this.#resume(flow);
    });
    // One side is gone: the other gets what was written to it, then closes.
    source.once('close', () => {
      if (!destination.destroyed) destination.destroySoon();
    });
    return flow;
  }

  #endIfDone(flow: Flow): void {
    if (!flow.ended || flow.endSent || flow.held.length > 0 || this.#node.stalled || this.#cutting) return;
    flow.endSent = true;
    flow.beforeEnd();
    flow.destination.end();
  }

  #resume(flow: Flow): void {
    if (this.#node.stalled || flow.draining || this.#cutting || flow.source.destroyed) return;
    flow.source.resume();
  }

  #write(flow: Flow, bytes: Buffer): void {
    if (bytes.length === 0 || flow.destination.destroyed) return;
    if (flow === this.#toClient) this.#node.stats.bytesToClient += bytes.length;
    else this.#node.stats.bytesToBroker += bytes.length;
    if (!flow.destination.write(bytes)) {
      flow.draining = true;
      flow.source.pause();
    }
  }

  /** Forwards the last bytes of a cut response, then resets once they are handed to the kernel. */
  #cut(bytes: Buffer | null): void {
    this.#cutting = true;
    this.#upstream.pause();
    this.#client.pause();
    this.#node.log(`fault-proxy: node ${this.#node.route.nodeId}: a response cut after ${bytes?.length ?? 0} bytes`);
    if (bytes === null || bytes.length === 0 || this.#client.destroyed) {
      this.reset();
      return;
    }
    this.#node.stats.bytesToClient += bytes.length;
    this.#client.write(bytes, () => this.reset());
  }

  /** A socket failed: a reset is passed on as a reset, anything else as a close. */
  #failed(other: Socket, error: Error): void {
    if (other.destroyed) return;
    if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') other.resetAndDestroy();
    else other.destroy();
  }
}

/**
 * The requests of one connection awaiting their response, in the order they were sent: Kafka answers a connection's
 * requests in that order, so the response normally matches the head; requests that get no response (Produce with
 * acks=0) are dropped when a later one is answered.
 */
class InFlightRequests {
  #queue: RequestKey[] = [];
  #head = 0;

  push(request: RequestKey): void {
    this.#queue.push(request);
  }

  take(correlationId: number): RequestKey | undefined {
    const queue = this.#queue;
    for (let index = this.#head; index < queue.length; index++) {
      const request = queue[index]!;
      if (request.correlationId !== correlationId) continue;
      this.#head = index + 1;
      if (this.#head === queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
        this.#queue = queue.slice(this.#head);
        this.#head = 0;
      }
      return request;
    }
    return undefined;
  }
}

/** size (4), apiKey (2), apiVersion (2), correlationId (4): the part of a request header read. */
const REQUEST_HEAD_BYTES = 12;

/** Finds the request frames going to the broker and reads their head; the bytes are forwarded by the caller. */
class RequestScanner {
  readonly #onRequest: (request: RequestKey) => void;
  readonly #head = Buffer.alloc(REQUEST_HEAD_BYTES);
  /** Bytes of the current frame's head seen so far. */
  #filled = 0;
  /** Bytes of the current frame after its head still to come. */
  #left = 0;
  /** A frame too short to be a request: the framing is lost, nothing more is tracked. */
  #lost = false;

  constructor(onRequest: (request: RequestKey) => void) {
    this.#onRequest = onRequest;
  }

  scan(chunk: Buffer): void {
    const length = chunk.length;
    let position = 0;
    while (position < length && !this.#lost) {
      if (this.#left > 0) {
        const take = Math.min(this.#left, length - position);
        this.#left -= take;
        position += take;
      } else if (this.#filled === 0 && length - position >= REQUEST_HEAD_BYTES) {
        this.#started(chunk, position);
        position += REQUEST_HEAD_BYTES;
      } else {
        const take = Math.min(REQUEST_HEAD_BYTES - this.#filled, length - position);
        chunk.copy(this.#head, this.#filled, position, position + take);
        this.#filled += take;
        position += take;
        if (this.#filled === REQUEST_HEAD_BYTES) {
          this.#filled = 0;
          this.#started(this.#head, 0);
        }
      }
    }
  }

  #started(bytes: Buffer, at: number): void {
    const size = bytes.readInt32BE(at);
    if (size < REQUEST_HEAD_BYTES - 4) {
      this.#lost = true;
      return;
    }
    this.#left = size - (REQUEST_HEAD_BYTES - 4);
    this.#onRequest({
      apiKey: bytes.readInt16BE(at + 4),
      apiVersion: bytes.readInt16BE(at + 6),
      correlationId: bytes.readInt32BE(at + 8),
    });
  }
}

/** What the response scanner needs of its connection. */
interface ResponseHost {
  readonly nodeId: number;
  rewrite(): ResponseRewrite | null;
  takeCut(frameBytes: number): boolean;
  request(correlationId: number): RequestKey | undefined;
  write(bytes: Buffer): void;
  /** The response is cut: `bytes` (none if null) are the last to forward, then the connection is reset. */
  cut(bytes: Buffer | null): void;
  /** A response frame went by (or was cut). */
  counted(rewritten: boolean): void;
  log(line: string): void;
}

/** size (4) and correlationId (4): the part of a response header read. */
const RESPONSE_HEAD_BYTES = 8;

/**
 * Finds the response frames coming from the broker and forwards them: chunks as they came (the fast path), whole
 * frames through the rewrite while one is set, and up to the middle of a frame that is cut.
 */
class ResponseScanner {
  readonly #host: ResponseHost;
  readonly #head = Buffer.alloc(RESPONSE_HEAD_BYTES);
  /** Bytes of the current frame seen so far (0: the next byte starts a frame). */
  #seen = 0;
  /** The current frame's size with its prefix, once read. */
  #frameBytes = 0;
  #correlationId = 0;
  #request: RequestKey | undefined;
  /** The current frame goes to the rewrite: its pieces so far (views of the chunks, not copies). */
  #collecting = false;
  #pieces: Buffer[] = [];
  /** Where the current frame is cut (bytes from its start), or -1. */
  #cutAt = -1;
  /** Cut: nothing more is forwarded. */
  #stopped = false;
  /** A size no response can have: the framing is lost, bytes are forwarded unread. */
  #lost = false;

  constructor(host: ResponseHost) {
    this.#host = host;
  }

  scan(chunk: Buffer): void {
    if (this.#stopped) return;
    if (this.#lost) {
      this.#host.write(chunk);
      return;
    }
    const host = this.#host;
    const length = chunk.length;
    let position = 0;
    /** Start of the bytes to pass on as they are (-1 while a frame is collected). */
    let passFrom = this.#collecting ? -1 : 0;
    /** Start of the current frame's bytes in this chunk, while it is collected. */
    let collectFrom = 0;
    while (position < length) {
      if (this.#seen === 0) {
        this.#collecting = host.rewrite() !== null;
        if (this.#collecting) {
          if (passFrom >= 0 && position > passFrom) host.write(chunk.subarray(passFrom, position));
          passFrom = -1;
          collectFrom = position;
        } else if (passFrom < 0) {
          passFrom = position;
        }
      }
      const seen = this.#seen;
      const limit = seen < 4 ? 4 : seen < RESPONSE_HEAD_BYTES ? RESPONSE_HEAD_BYTES : this.#frameBytes;
      const take = Math.min(limit - seen, length - position);
      if (seen < RESPONSE_HEAD_BYTES) chunk.copy(this.#head, seen, position, position + take);
      position += take;
      this.#seen = seen + take;
      if (this.#seen === 4) {
        this.#frameBytes = 4 + this.#head.readInt32BE(0);
        if (this.#frameBytes < RESPONSE_HEAD_BYTES) {
          this.#lose(chunk.subarray(this.#collecting ? collectFrom : passFrom));
          return;
        }
        if (!this.#collecting && host.takeCut(this.#frameBytes)) this.#cutAt = Math.floor(this.#frameBytes / 2);
      }
      if (this.#seen === RESPONSE_HEAD_BYTES) {
        this.#correlationId = this.#head.readInt32BE(4);
        this.#request = host.request(this.#correlationId);
      }
      if (this.#cutAt >= 0 && this.#seen >= this.#cutAt) {
        const end = position - (this.#seen - this.#cutAt);
        this.#stopped = true;
        host.counted(false);
        host.cut(end > passFrom ? chunk.subarray(passFrom, end) : null);
        return;
      }
      if (this.#seen >= RESPONSE_HEAD_BYTES && this.#seen === this.#frameBytes) {
        this.#seen = 0;
        if (this.#collecting) {
          this.#pieces.push(chunk.subarray(collectFrom, position));
          this.#complete();
          if (this.#stopped) return;
        } else {
          host.counted(false);
        }
      }
    }
    if (this.#collecting && this.#seen > 0) this.#pieces.push(chunk.subarray(collectFrom, length));
    else if (passFrom >= 0 && passFrom < length) host.write(passFrom === 0 ? chunk : chunk.subarray(passFrom));
  }

  /** The stream ended inside a collected frame: its bytes go on as they came. */
  flushPartial(): void {
    if (this.#stopped || this.#pieces.length === 0) return;
    for (const piece of this.#pieces) this.#host.write(piece);
    this.#pieces = [];
  }

  #complete(): void {
    const host = this.#host;
    const pieces = this.#pieces;
    this.#pieces = [];
    const frame = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.#frameBytes);
    let out = frame;
    const rewrite = host.rewrite();
    if (rewrite !== null) {
      const context: ResponseContext = {
        nodeId: host.nodeId,
        apiKey: this.#request?.apiKey ?? -1,
        apiVersion: this.#request?.apiVersion ?? -1,
        correlationId: this.#correlationId,
      };
      try {
        out = rewrite(context, frame) ?? frame;
      } catch (error) {
        host.log(`fault-proxy: node ${host.nodeId}: the rewrite threw, frame forwarded as it was: ${String(error)}`);
      }
    }
    host.counted(out !== frame);
    if (host.takeCut(out.length)) {
      this.#stopped = true;
      host.cut(out.subarray(0, Math.floor(out.length / 2)));
      return;
    }
    host.write(out);
  }

  /** Forwards what was collected and `rest`, and from then on every byte unread. */
  #lose(rest: Buffer): void {
    this.#host.log(
      `fault-proxy: node ${this.#host.nodeId}: a response frame of ${this.#frameBytes} bytes: framing lost`,
    );
    this.#lost = true;
    this.flushPartial();
    this.#host.write(rest);
  }
}
