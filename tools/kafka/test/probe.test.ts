/** The harness's small wire client against a fake broker: good answers parse, bad frames fail clearly. */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeConnection, ProbeError } from '../src/probe.ts';

type Reply = (request: { apiKey: number; apiVersion: number; correlationId: number }, socket: Socket) => void;

let server: Server | null = null;

async function fakeBroker(reply: Reply): Promise<number> {
  server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const frame = buffered.subarray(4, 4 + size);
        buffered = buffered.subarray(4 + size);
        reply(
          { apiKey: frame.readInt16BE(0), apiVersion: frame.readInt16BE(2), correlationId: frame.readInt32BE(4) },
          socket,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function frame(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

const int16 = (value: number) => Buffer.from([(value >> 8) & 0xff, value & 0xff]);
const int32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
};
const string = (value: string) => Buffer.concat([int16(Buffer.byteLength(value)), Buffer.from(value)]);

function apiVersionsV0(correlationId: number): Buffer {
  // error 0; [Metadata 0..12, ApiVersions 0..4]
  return frame(int32(correlationId), int16(0), int32(2), int16(3), int16(0), int16(12), int16(18), int16(0), int16(4));
}

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = null;
});

describe('ProbeConnection', () => {
  it('negotiates with ApiVersions v0 and parses a Metadata v8 answer', async () => {
    const requests: Array<[number, number]> = [];
    const port = await fakeBroker((request, socket) => {
      requests.push([request.apiKey, request.apiVersion]);
      if (request.apiKey === 18) return socket.write(apiVersionsV0(request.correlationId));
      socket.write(
        frame(
          int32(request.correlationId),
          int32(0), // throttle
          int32(2),
          int32(2),
          string('b2'),
          int32(9092),
          int16(-1),
          int32(1),
          string('b1'),
          int32(9093),
          string('rack-a'),
          string('cluster-x'),
          int32(1),
          int32(0), // topics
          int32(0), // cluster authorized operations
        ),
      );
    });
    const connection = await ProbeConnection.open({ host: '127.0.0.1', port });
    const metadata = await connection.metadata();
    connection.close();
    expect(requests).toEqual([
      [18, 0],
      [3, 8],
    ]);
    expect(metadata).toEqual({
      clusterId: 'cluster-x',
      controllerId: 1,
      brokers: [
        { nodeId: 1, host: 'b1', port: 9093, rack: 'rack-a' },
        { nodeId: 2, host: 'b2', port: 9092, rack: null },
      ],
    });
  });

  it('refuses a giant frame length without buffering it', async () => {
    const port = await fakeBroker((_request, socket) => socket.write(int32(0x7fffffff)));
    await expect(ProbeConnection.open({ host: '127.0.0.1', port })).rejects.toThrow(/bad response frame size/);
  });

  it('fails on a truncated body, a wrong correlation id, and silence', async () => {
    let mode = 'truncated';
    const port = await fakeBroker((request, socket) => {
      if (mode === 'truncated') socket.write(frame(int32(request.correlationId), int16(0), int32(5)));
      if (mode === 'wrong-id') socket.write(apiVersionsV0(request.correlationId + 7));
    });
    await expect(ProbeConnection.open({ host: '127.0.0.1', port })).rejects.toThrow(/array count 5 exceeds/);
    mode = 'wrong-id';
    await expect(ProbeConnection.open({ host: '127.0.0.1', port })).rejects.toThrow(/correlation id/);
    mode = 'silent';
    await expect(ProbeConnection.open({ host: '127.0.0.1', port, timeoutMs: 200 })).rejects.toThrow(/no response/);
  });

  it('reports a refused connection as a ProbeError', async () => {
    const port = await fakeBroker(() => {});
    await new Promise((resolve) => server!.close(resolve));
    server = null;
    await expect(ProbeConnection.open({ host: '127.0.0.1', port })).rejects.toBeInstanceOf(ProbeError);
  });
});
