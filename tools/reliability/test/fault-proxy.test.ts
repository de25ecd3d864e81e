/**
 * The fault proxy between a raw client socket and a tiny fake upstream that speaks Kafka's framing (not a broker):
 * each request's body says how large its response body is, and the upstream fills it with a pattern of the
 * correlation id, so every frame can be checked byte for byte.
 */
import { createHash, type Hash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy, type ResponseContext } from '../src/fault-proxy.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function requestFrame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer): Buffer {
  const frame = Buffer.alloc(12 + body.length);
  frame.writeInt32BE(8 + body.length, 0);
  frame.writeInt16BE(apiKey, 4);
  frame.writeInt16BE(apiVersion, 6);
  frame.writeInt32BE(correlationId, 8);
  body.copy(frame, 12);
  return frame;
}

/** A request whose response body is `responseBytes` long (plus `padding` bytes of request body). */
function sizedRequest(apiKey: number, correlationId: number, responseBytes: number, padding = 0): Buffer {
  const body = Buffer.alloc(4 + padding, correlationId & 0xff);
  body.writeUInt32BE(responseBytes, 0);
  return requestFrame(apiKey, 7, correlationId, body);
}

function responseFrame(correlationId: number, body: Buffer): Buffer {
  const frame = Buffer.alloc(8 + body.length);
  frame.writeInt32BE(4 + body.length, 0);
  frame.writeInt32BE(correlationId, 4);
  body.copy(frame, 8);
  return frame;
}

/** The body the fake upstream answers with: bytes counting up from the correlation id. */
function patternBody(correlationId: number, length: number): Buffer {
  const body = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) body[index] = (correlationId + index) & 0xff;
  return body;
}

/** Splits a byte stream into Kafka frames (int32 size first); copies each frame once. */
class FrameSplitter {
  #chunks: Buffer[] = [];
  #length = 0;

  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    const frames: Buffer[] = [];
    while (this.#length >= 4) {
      const head = this.#chunks[0]!.length >= 4 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      const frameBytes = 4 + head.readInt32BE(0);
      if (this.#length < frameBytes) break;
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#length);
      frames.push(all.subarray(0, frameBytes));
      const rest = all.subarray(frameBytes);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#length = rest.length;
    }
    return frames;
  }
}

interface SeenRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly body: Buffer;
}

/**
 * The fake upstream: answers every request with `patternBody(correlationId, n)`, n from the request's first 4 body
 * bytes, all answers to one chunk in one write; or, with `slowly`, each answer in `slowly` pieces 2 ms apart.
 */
class FakeUpstream {
  readonly server: Server;
  readonly sockets: Socket[] = [];
  readonly requests: SeenRequest[] = [];
  /** Per connection: the SHA-256 of the bytes received. */
  readonly received = new Map<Socket, Hash>();
  slowly = 0;

  private constructor() {
    this.server = createServer((socket) => {
      this.sockets.push(socket);
      const received = createHash('sha256');
      this.received.set(socket, received);
      socket.on('error', () => {});
      const splitter = new FrameSplitter();
      socket.on('data', (chunk: Buffer) => {
        received.update(chunk);
        const answers: Buffer[] = [];
        for (const frame of splitter.push(chunk)) {
          const request: SeenRequest = {
            apiKey: frame.readInt16BE(4),
            apiVersion: frame.readInt16BE(6),
            correlationId: frame.readInt32BE(8),
            body: Buffer.from(frame.subarray(12)),
          };
          this.requests.push(request);
          answers.push(
            responseFrame(request.correlationId, patternBody(request.correlationId, request.body.readUInt32BE(0))),
          );
        }
        if (answers.length === 0) return;
        if (this.slowly > 0) void this.#writeSlowly(socket, Buffer.concat(answers), this.slowly);
        else socket.write(Buffer.concat(answers));
      });
    });
  }

  static async start(): Promise<FakeUpstream> {
    const upstream = new FakeUpstream();
    await new Promise<void>((resolve) => upstream.server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    return upstream;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  async #writeSlowly(socket: Socket, bytes: Buffer, pieces: number): Promise<void> {
    const step = Math.ceil(bytes.length / pieces);
    for (let start = 0; start < bytes.length; start += step) {
      socket.write(bytes.subarray(start, start + step));
      await sleep(2);
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A raw client: the bytes it got, the frames in them, and how it ended. */
class TestClient {
  readonly socket: Socket;
  readonly frames: Buffer[] = [];
  bytes = 0;
  error: NodeJS.ErrnoException | null = null;
  ended = false;
  closed = false;
  readonly #splitter = new FrameSplitter();

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.frames.push(...this.#splitter.push(chunk));
    });
    this.socket.on('error', (error) => {
      this.error = error;
    });
    this.socket.on('end', () => {
      this.ended = true;
    });
    this.socket.on('close', () => {
      this.closed = true;
    });
  }

  async connected(): Promise<this> {
    if (!this.socket.connecting) return this;
    await new Promise((resolve) => this.socket.once('connect', resolve));
    return this;
  }

  async frameCount(count: number): Promise<void> {
    await until(() => this.frames.length >= count, `${count} frames (have ${this.frames.length})`);
  }
}

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function setUp(): Promise<{ upstream: FakeUpstream; proxy: FaultProxy; port: number; log: string[] }> {
  const upstream = await FakeUpstream.start();
  const port = await freePort();
  const log: string[] = [];
  const proxy = await FaultProxy.start([{ nodeId: 1, listenPort: port, brokerPort: upstream.port }], {
    log: (line) => log.push(line),
  });
  cleanups.push(
    () => upstream.close(),
    () => proxy.close(),
  );
  return { upstream, proxy, port, log };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function client(port: number): Promise<TestClient> {
  const created = new TestClient(port);
  cleanups.push(() => {
    created.socket.destroy();
  });
  return created.connected();
}

function expectPatternFrame(frame: Buffer | undefined, correlationId: number, bodyBytes: number): void {
  expect(frame).toBeDefined();
  expect(frame!.readInt32BE(0)).toBe(4 + bodyBytes);
  expect(frame!.readInt32BE(4)).toBe(correlationId);
  expect(frame!.subarray(8).equals(patternBody(correlationId, bodyBytes))).toBe(true);
}

describe('FaultProxy', () => {
  for (const path of ['fast path', 'rewrite path'] as const) {
    it(`passes frames split across chunks and many frames per chunk intact (${path})`, async () => {
      const { upstream, proxy, port } = await setUp();
      const contexts: ResponseContext[] = [];
      if (path === 'rewrite path') {
        proxy.rewriteResponses(1, (context) => {
          contexts.push(context);
          return undefined;
        });
      }
      const socket = await client(port);
      const sizes: number[] = [];
      const apiKeys: number[] = [];
      // 300 requests in one write: the upstream answers each chunk's requests in one write too.
      const many: Buffer[] = [];
      for (let id = 0; id < 300; id++) {
        const size = (id * 37) % 500;
        sizes.push(size);
        apiKeys.push(id % 5);
        many.push(sizedRequest(id % 5, id, size, id % 13));
      }
      socket.socket.write(Buffer.concat(many));
      await socket.frameCount(300);
      // A 3 MB answer: TCP splits it.
      sizes.push(3_000_000);
      apiKeys.push(1);
      socket.socket.write(sizedRequest(1, 300, 3_000_000));
      await socket.frameCount(301);
      // Requests written a few bytes at a time, answers written a few bytes at a time.
      upstream.slowly = 7;
      for (let id = 301; id < 305; id++) {
        sizes.push(100 + id);
        apiKeys.push(3);
        const frame = sizedRequest(3, id, 100 + id, 50);
        for (let start = 0; start < frame.length; start += 5) {
          socket.socket.write(frame.subarray(start, start + 5));
          await sleep(1);
        }
      }
      await socket.frameCount(305);

      expect(socket.frames).toHaveLength(305);
      socket.frames.forEach((frame, id) => {
        expectPatternFrame(frame, id, sizes[id]!);
      });
      expect(upstream.requests.map((request) => request.correlationId)).toEqual(sizes.map((_, id) => id));
      upstream.requests.forEach((request, id) => {
        expect(request.apiKey).toBe(apiKeys[id]);
        expect(request.body.readUInt32BE(0)).toBe(sizes[id]);
      });
      const stats = proxy.stats().get(1)!;
      expect(stats).toMatchObject({ accepted: 1, requests: 305, responses: 305, reset: 0, rewritten: 0 });
      expect(stats.bytesToClient).toBe(socket.bytes);
      if (path === 'rewrite path') {
        // Every response was matched to its request, across chunk boundaries on both sides.
        expect(contexts.map((context) => context.correlationId)).toEqual(sizes.map((_, id) => id));
        expect(contexts.map((context) => context.apiKey)).toEqual(apiKeys);
        expect(contexts.every((context) => context.apiVersion === 7 && context.nodeId === 1)).toBe(true);
      }
    });
  }

  it('stalls both directions with the sockets open; heal delivers everything in order', async () => {
    const { upstream, proxy, port } = await setUp();
    const first = await client(port);
    first.socket.write(sizedRequest(1, 0, 10));
    await first.frameCount(1);

    proxy.stall(1);
    for (let id = 1; id <= 3; id++) first.socket.write(sizedRequest(1, id, 1000 * id));
    // Unasked-for bytes from the upstream are held too.
    upstream.sockets[0]!.write(responseFrame(99, patternBody(99, 64)));
    // A connection accepted while stalled is stalled as well.
    const second = await client(port);
    second.socket.write(sizedRequest(2, 0, 20));
    // 32 MiB to the stalled broker: the proxy holds little of it, the client's own write buffer holds the rest.
    const bulk = Buffer.alloc(32 * 1024 * 1024, 7);
    const bulkFrame = requestFrame(0, 0, 1000, bulk.subarray(12));
    bulkFrame.writeUInt32BE(0, 12);
    first.socket.write(bulkFrame);
    await sleep(400);

    expect(upstream.requests).toHaveLength(1);
    expect(first.frames).toHaveLength(1);
    expect(second.frames).toHaveLength(0);
    expect(proxy.connections(1)).toBe(2);
    for (const socket of [first, second]) {
      expect(socket).toMatchObject({ error: null, ended: false, closed: false });
    }
    expect(upstream.sockets.every((socket) => !socket.destroyed && socket.readable && socket.writable)).toBe(true);
    // Backpressure: most of the bulk is still in the client's write buffer (kernel buffers hold a few MiB).
    expect(first.socket.writableLength).toBeGreaterThan(16 * 1024 * 1024);

    proxy.heal(1);
    await first.frameCount(6);
    await second.frameCount(1);
    expectPatternFrame(first.frames[1], 99, 64);
    for (let id = 1; id <= 3; id++) expectPatternFrame(first.frames[id + 1], id, 1000 * id);
    expectPatternFrame(first.frames[5], 1000, 0);
    expectPatternFrame(second.frames[0], 0, 20);
    // Nothing lost or reordered: the upstream got every byte the first client wrote, in order.
    const expected = createHash('sha256');
    expected.update(sizedRequest(1, 0, 10));
    for (let id = 1; id <= 3; id++) expected.update(sizedRequest(1, id, 1000 * id));
    expected.update(bulkFrame);
    expect(upstream.received.get(upstream.sockets[0]!)!.copy().digest('hex')).toBe(expected.digest('hex'));
  });

  it('reset resets every connection of the broker: the client gets ECONNRESET', async () => {
    const { upstream, proxy, port } = await setUp();
    const clients = [await client(port), await client(port)];
    for (const socket of clients) {
      socket.socket.write(sizedRequest(1, 0, 10));
      await socket.frameCount(1);
    }
    const upstreamErrors: string[] = [];
    for (const socket of upstream.sockets)
      socket.on('error', (error: NodeJS.ErrnoException) => upstreamErrors.push(error.code!));

    expect(proxy.reset(1)).toBe(2);
    await until(() => clients.every((socket) => socket.closed), 'the clients to close');
    for (const socket of clients) expect(socket.error?.code).toBe('ECONNRESET');
    await until(() => upstream.sockets.every((socket) => socket.destroyed), 'the upstream sockets to close');
    expect(upstreamErrors).toEqual(['ECONNRESET', 'ECONNRESET']);
    await until(() => proxy.connections(1) === 0, 'no connections');
    expect(proxy.stats().get(1)).toMatchObject({ accepted: 2, reset: 2 });
    expect(proxy.reset(1)).toBe(0);
  });

  for (const pieces of [0, 9]) {
    it(`resetMidResponse forwards exactly half a frame, then resets (${pieces === 0 ? 'one chunk' : 'frame in pieces'})`, async () => {
      const { upstream, proxy, port } = await setUp();
      upstream.slowly = pieces;
      proxy.resetMidResponse(1, { count: 1, minBytes: 1000 });
      const cut = await client(port);
      cut.socket.write(sizedRequest(1, 0, 100));
      await cut.frameCount(1);
      cut.socket.write(sizedRequest(1, 1, 4000));
      await until(() => cut.closed, 'the cut connection to close');

      expect(cut.error?.code).toBe('ECONNRESET');
      expect(cut.frames).toHaveLength(1);
      expect(cut.bytes).toBe(108 + 4008 / 2);
      expect(proxy.stats().get(1)).toMatchObject({ reset: 1, responses: 2 });
      // The budget is spent: the next large response passes.
      const next = await client(port);
      next.socket.write(sizedRequest(1, 0, 4000));
      await next.frameCount(1);
      expectPatternFrame(next.frames[0], 0, 4000);
    });
  }

  it('rewrite replaces the frames whose request had the apiKey, whatever their size', async () => {
    const { upstream, proxy, port } = await setUp();
    proxy.rewriteResponses('all', (context, frame) => {
      if (context.apiKey !== 1) return undefined;
      expect(frame.readInt32BE(4)).toBe(context.correlationId);
      return responseFrame(
        context.correlationId,
        Buffer.from(`rewritten ${context.correlationId} v${context.apiVersion}`),
      );
    });
    const socket = await client(port);
    const requests: Buffer[] = [];
    for (let id = 0; id < 20; id++) requests.push(sizedRequest(id % 2 === 0 ? 1 : 3, id, 50 + id * 100));
    socket.socket.write(Buffer.concat(requests));
    await socket.frameCount(20);
    socket.frames.forEach((frame, id) => {
      if (id % 2 === 0) expect(frame.subarray(8).toString()).toBe(`rewritten ${id} v7`);
      else expectPatternFrame(frame, id, 50 + id * 100);
    });
    expect(proxy.stats().get(1)).toMatchObject({ responses: 20, rewritten: 10 });

    proxy.rewriteResponses(1, null);
    socket.socket.write(sizedRequest(1, 20, 30));
    await socket.frameCount(21);
    expectPatternFrame(socket.frames[20], 20, 30);
    expect(upstream.requests).toHaveLength(21);
  });

  it('passes a close on, after the bytes of a frame the broker cut short while a rewrite collected it', async () => {
    const { upstream, proxy, port } = await setUp();
    proxy.rewriteResponses(1, () => undefined);
    const socket = await client(port);
    socket.socket.write(sizedRequest(1, 0, 10));
    await socket.frameCount(1);
    const partial = responseFrame(1, patternBody(1, 1000)).subarray(0, 600);
    upstream.sockets[0]!.end(partial);
    await until(() => socket.ended, 'the client to see the end');
    expect(socket.bytes).toBe(18 + 600);
    expect(socket.error).toBeNull();
    await until(() => proxy.connections(1) === 0, 'no connections');
  });

  it('destroys an accepted connection when the broker cannot be reached', async () => {
    const log: string[] = [];
    const port = await freePort();
    const proxy = await FaultProxy.start([{ nodeId: 5, listenPort: port, brokerPort: await freePort() }], {
      log: (line) => log.push(line),
    });
    cleanups.push(() => proxy.close());
    const socket = await client(port);
    await until(() => socket.closed, 'the client to close');
    expect(socket.bytes).toBe(0);
    expect(proxy.stats().get(5)).toMatchObject({ accepted: 1 });
    expect(proxy.connections(5)).toBe(0);
    expect(log.some((line) => line.includes('cannot reach the broker'))).toBe(true);
  });

  it('close destroys every connection and leaves no handles', async () => {
    const tcpHandles = () =>
      process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TCPServerWrap').length;
    // Handles closed by the tests before may leave the list only at the loop's next turn.
    await sleep(50);
    const before = tcpHandles();
    const upstream = await FakeUpstream.start();
    const port = await freePort();
    const proxy = await FaultProxy.start([{ nodeId: 1, listenPort: port, brokerPort: upstream.port }]);
    const clients = [new TestClient(port), new TestClient(port), new TestClient(port)];
    for (const socket of clients) {
      await socket.connected();
      socket.socket.write(sizedRequest(1, 0, 10));
      await socket.frameCount(1);
    }
    proxy.stall(1);
    expect(proxy.connections(1)).toBe(3);
    expect(tcpHandles()).toBeGreaterThan(before);

    await proxy.close();
    expect(proxy.connections(1)).toBe(0);
    await until(() => clients.every((socket) => socket.closed), 'the clients to close');
    await upstream.close();
    await until(() => tcpHandles() === before, 'every TCP handle to close');
    const refused = await new Promise<string | undefined>((resolve) => {
      const late = connect({ host: '127.0.0.1', port }, () => resolve('connected'));
      late.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
