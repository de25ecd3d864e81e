/**
 * A hostile or broken server: garbage, a giant length prefix, a frame cut short, a close in the middle of a frame,
 * silence. Each gives a clear error, the socket is closed, and nothing is buffered past the frame limit.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { defaultMetadataRequest, metadataApi } from '@sluice/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.ts';
import { BrokerProtocolError, NetworkError, RequestTimeoutError } from '../src/errors.ts';
import { type FakeBroker, type ReceivedRequest, startFakeBroker, withApiVersions } from './fake-broker.ts';

let broker: FakeBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

async function open(handler: (request: ReceivedRequest) => void, maxFrameBytes = 1024 * 1024): Promise<Connection> {
  broker = await startFakeBroker(withApiVersions(handler));
  return Connection.open({ host: '127.0.0.1', port: broker.port, maxFrameBytes, requestTimeoutMs: 2000 });
}

const metadata = (connection: Connection) => connection.send(metadataApi, 4, defaultMetadataRequest());

async function socketsClosed(): Promise<void> {
  for (let attempt = 0; attempt < 50 && broker!.sockets.size > 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(broker!.sockets.size).toBe(0);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

describe('Connection against a hostile server', () => {
  it('closes with a clear error on garbage, whatever the garbage', async () => {
    for (let round = 0; round < 20; round++) {
      const garbage = randomBytes(64);
      // Keep the size prefix in the range a broker could send, so the garbage reaches the frame handling too.
      if (round % 2 === 0) garbage.writeInt32BE(60, 0);
      const connection = await open((request) => request.socket.write(garbage));
      const failure = await metadata(connection).then(
        () => null,
        (error: unknown) => error,
      );
      // A frame of garbage fails the request (bad size, unknown correlation id, or undecodable body), never silently.
      expect(failure === null ? 'answered' : (failure as Error).name).toMatch(
        /BrokerProtocolError|ProtocolError|RequestTimeoutError/,
      );
      connection.close();
      await broker?.close();
      broker = null;
    }
  });

  it('refuses a giant length prefix before buffering, and closes', async () => {
    const connection = await open((request) =>
      request.socket.write(Buffer.concat([int32(512 * 1024 * 1024), randomBytes(1000)])),
    );
    await expect(metadata(connection)).rejects.toThrow(/536870912-byte frame, over the 1048576-byte limit/);
    expect(connection.closed).toBe(true);
    await socketsClosed();
  });

  it('fails pending requests when the server closes in the middle of a frame', async () => {
    const connection = await open((request) => {
      request.socket.write(Buffer.concat([int32(1000), int32(request.correlationId), randomBytes(100)]));
      request.socket.end();
    });
    const failure = metadata(connection);
    await expect(failure).rejects.toBeInstanceOf(NetworkError);
    await expect(failure).rejects.toThrow(/connection closed/);
    expect(connection.closed).toBe(true);
  });

  it('times out a request whose frame never completes, without closing the connection', async () => {
    const connection = await open((request) => {
      request.socket.write(Buffer.concat([int32(1000), int32(request.correlationId), randomBytes(100)]));
    });
    await expect(metadata(connection)).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(connection.closed).toBe(false);
    connection.close();
    await socketsClosed();
  });

  it('times out a server that never answers, and closes on close()', async () => {
    const connection = await open(() => {});
    await expect(metadata(connection)).rejects.toBeInstanceOf(RequestTimeoutError);
    connection.close();
    await expect(metadata(connection)).rejects.toBeInstanceOf(NetworkError);
    await socketsClosed();
  });

  it('does not grow memory past the frame limit while a server trickles a frame', async () => {
    const limit = 8 * 1024 * 1024;
    const chunk = randomBytes(64 * 1024);
    const connection = await open((request) => {
      const socket = request.socket;
      socket.write(Buffer.concat([int32(limit), int32(request.correlationId)]));
      let sent = 4;
      // Send 4x the frame limit of bytes: the frame completes at the limit and the rest is refused.
      const pump = () => {
        while (sent < 4 * limit && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    }, limit);
    const before = process.memoryUsage().arrayBuffers;
    const failure = await metadata(connection).then(
      () => null,
      (error: unknown) => error,
    );
    const grown = process.memoryUsage().arrayBuffers - before;
    // The frame (at the limit) decodes as garbage or the following bytes make an impossible frame: either way an error.
    expect(failure).toBeInstanceOf(Error);
    expect(failure instanceof BrokerProtocolError || (failure as Error).name === 'ProtocolError').toBe(true);
    expect(grown).toBeLessThan(3 * limit);
    connection.close();
  });

  it('fails set-up with a clear error when the server talks first, whatever the timing', async () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.concat([int32(512 * 1024 * 1024), randomBytes(100)]), /over the 1048576-byte limit/],
      [Buffer.concat([int32(8), int32(999), int32(0)]), /correlation id 999|before any request/],
    ];
    for (const [bytes, message] of cases) {
      const server: Server = createServer((socket) => {
        socket.on('error', () => {});
        // Flowing, so the server side sees the client's close (server.close() waits for it).
        socket.resume();
        socket.write(bytes);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      try {
        const opened = Connection.open({ host: '127.0.0.1', port, maxFrameBytes: 1024 * 1024, requestTimeoutMs: 2000 });
        const error = await opened.then(
          () => null,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(BrokerProtocolError);
        expect((error as Error).message).toMatch(message);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
});
