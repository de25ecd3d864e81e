/** Connection behaviour that a real broker will not show on demand, against a scripted fake broker. */
import { defaultMetadataRequest, defaultMetadataResponse, encodeResponse, metadataApi } from '@sluice/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.ts';
import { BrokerProtocolError, NetworkError, RequestTimeoutError, UnsupportedVersionError } from '../src/errors.ts';
import {
  apiVersionsBody,
  type FakeBroker,
  type ReceivedRequest,
  responseFrame,
  startFakeBroker,
  withApiVersions,
} from './fake-broker.ts';

let broker: FakeBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

const METADATA_VERSION = 4;
const metadataBody = (controllerId: number) =>
  encodeResponse(metadataApi, METADATA_VERSION, { ...defaultMetadataResponse(), controllerId });

async function open(handler: (request: ReceivedRequest) => void, options = {}): Promise<Connection> {
  broker = await startFakeBroker(withApiVersions(handler));
  return Connection.open({ host: '127.0.0.1', port: broker.port, clientId: 'test', ...options });
}

const metadata = (connection: Connection, timeoutMs?: number) =>
  connection.send(
    metadataApi,
    METADATA_VERSION,
    defaultMetadataRequest(),
    timeoutMs === undefined ? {} : { timeoutMs },
  );

describe('Connection', () => {
  it('refuses receive.buffer.bytes and send.buffer.bytes other than -1 or a positive integer, before connecting', async () => {
    for (const value of [0, -2, 1.5, Number.NaN, 2 ** 31]) {
      await expect(Connection.open({ host: '127.0.0.1', port: 1, receiveBufferBytes: value })).rejects.toThrow(
        /receive\.buffer\.bytes must be -1 \(the OS default\) or a positive integer/,
      );
      await expect(Connection.open({ host: '127.0.0.1', port: 1, sendBufferBytes: value })).rejects.toThrow(RangeError);
    }
  });

  it('negotiates versions and picks the highest both sides support', async () => {
    const connection = await open(() => {});
    expect(connection.brokerVersions.get(metadataApi.apiKey)).toEqual({ minVersion: 4, maxVersion: 12 });
    expect(connection.versionFor(metadataApi)).toBe(12);
    expect(connection.versionFor(metadataApi, { ceiling: 8 })).toBe(8);
    expect(() => connection.versionFor(metadataApi, { floor: 13 })).toThrow(UnsupportedVersionError);
    connection.close();
  });

  it('fails with UnsupportedVersionError for an API the broker does not list', async () => {
    const connection = await open(() => {});
    const { heartbeatApi, defaultHeartbeatRequest } = await import('@sluice/protocol');
    await expect(connection.request(heartbeatApi, defaultHeartbeatRequest())).rejects.toThrow(
      /Heartbeat: Sluice speaks v0-v4, broker 127\.0\.0\.1:\d+ speaks no version/,
    );
    connection.close();
  });

  it('retries ApiVersions at v0 when the broker answers UNSUPPORTED_VERSION in v0 format', async () => {
    const versionsAsked: number[] = [];
    broker = await startFakeBroker((request) => {
      versionsAsked.push(request.apiVersion);
      const body =
        request.apiVersion > 2
          ? apiVersionsBody(0, { errorCode: 35, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 2 }] })
          : apiVersionsBody(request.apiVersion);
      request.socket.write(responseFrame(request.correlationId, body));
    });
    const connection = await Connection.open({ host: '127.0.0.1', port: broker.port });
    expect(versionsAsked[0]).toBeGreaterThan(2);
    expect(versionsAsked.at(-1)).toBeLessThanOrEqual(2);
    expect(connection.versionFor(metadataApi)).toBe(12);
    connection.close();
  });

  it('matches pipelined responses to their requests in order', async () => {
    const connection = await open((request) => {
      request.socket.write(responseFrame(request.correlationId, metadataBody(request.correlationId)));
    });
    const responses = await Promise.all(Array.from({ length: 500 }, () => metadata(connection)));
    // Correlation ids 0 went to ApiVersions; Metadata requests got 1..500, echoed as controllerId.
    expect(responses.map((response) => response.controllerId)).toEqual(
      Array.from({ length: 500 }, (_, index) => index + 1),
    );
    expect(connection.inFlight).toBe(0);
    connection.close();
  });

  it('fails a timed-out request alone, and drops its late response', async () => {
    const held: ReceivedRequest[] = [];
    const connection = await open((request) => held.push(request));
    const slow = metadata(connection, 50);
    await expect(slow).rejects.toBeInstanceOf(RequestTimeoutError);
    const next = metadata(connection);
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const request of held)
      request.socket.write(responseFrame(request.correlationId, metadataBody(request.correlationId)));
    expect((await next).controllerId).toBe(2);
    expect(connection.closed).toBe(false);
    connection.close();
  });

  it('fails every pending request at once with a retriable NetworkError when the connection is lost', async () => {
    const connection = await open((request) => {
      if (request.correlationId === 3) request.socket.destroy();
    });
    const pending = [metadata(connection), metadata(connection), metadata(connection)];
    for (const result of await Promise.allSettled(pending)) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(NetworkError);
      expect(error.retriable).toBe(true);
    }
    expect(connection.closed).toBe(true);
    await expect(metadata(connection)).rejects.toBeInstanceOf(NetworkError);
  });

  it('closes on a response for no pending request, and on a giant size prefix, failing what was pending', async () => {
    const unexpected = await open((request) => {
      request.socket.write(responseFrame(request.correlationId + 100, metadataBody(0)));
    });
    await expect(metadata(unexpected)).rejects.toThrow(/correlation id 101 \(expected 1\)/);
    expect(unexpected.closed).toBe(true);
    await broker?.close();

    const giant = await open(
      (request) => {
        const prefix = Buffer.alloc(4);
        prefix.writeInt32BE(0x7fffffff);
        request.socket.write(prefix);
      },
      { maxFrameBytes: 1024 * 1024 },
    );
    const failure = metadata(giant);
    await expect(failure).rejects.toBeInstanceOf(BrokerProtocolError);
    await expect(failure).rejects.toThrow(/2147483647-byte frame, over the 1048576-byte limit/);
    expect(giant.closed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(broker!.sockets.size).toBe(0);
  });

  it('gives a clear error when nothing listens, and when set-up does not finish in time', async () => {
    broker = await startFakeBroker(() => {});
    const port = broker.port;
    await broker.close();
    broker = null;
    await expect(Connection.open({ host: '127.0.0.1', port })).rejects.toThrow(/cannot connect: connect ECONNREFUSED/);

    // TLS to a server that accepts TCP but never answers the handshake: set-up times out.
    broker = await startFakeBroker(() => {});
    await expect(
      Connection.open({ host: '127.0.0.1', port: broker.port, tls: {}, connectTimeoutMs: 100 }),
    ).rejects.toThrow(/connection set-up took longer than 100 ms/);
    await broker.close();

    // A server that accepts but never answers ApiVersions: the request times out.
    broker = await startFakeBroker(() => {});
    await expect(
      Connection.open({ host: '127.0.0.1', port: broker.port, requestTimeoutMs: 100 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
  });
});
