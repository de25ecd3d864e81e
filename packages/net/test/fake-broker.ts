/** A scripted TCP server speaking Kafka framing, for tests of what a real broker will not do on demand. */
import { createServer, type Server, type Socket } from 'node:net';
import {
  type ApiVersionsResponse,
  apiVersionsApi,
  defaultApiVersionsResponse,
  encodeResponse,
  metadataApi,
} from '@sluice/protocol';

export interface ReceivedRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly socket: Socket;
}

export type Handler = (request: ReceivedRequest) => void;

export interface FakeBroker {
  readonly port: number;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function startFakeBroker(handler: Handler): Promise<FakeBroker> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const frame = buffered.subarray(4, 4 + size);
        buffered = buffered.subarray(4 + size);
        handler({
          apiKey: frame.readInt16BE(0),
          apiVersion: frame.readInt16BE(2),
          correlationId: frame.readInt32BE(4),
          socket,
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** size + correlation id (response header v0) + body; flexible responses (header v1) add an empty tagged-field byte. */
export function responseFrame(correlationId: number, body: Uint8Array, headerVersion = 0): Buffer {
  const header = Buffer.alloc(headerVersion === 1 ? 5 : 4);
  header.writeInt32BE(correlationId);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return Buffer.concat([size, header, body]);
}

export function apiVersionsBody(version: number, patch: Partial<ApiVersionsResponse> = {}): Uint8Array {
  return encodeResponse(apiVersionsApi, version, {
    ...defaultApiVersionsResponse(),
    apiKeys: [
      { apiKey: apiVersionsApi.apiKey, minVersion: 0, maxVersion: 4 },
      { apiKey: metadataApi.apiKey, minVersion: 4, maxVersion: 12 },
    ],
    ...patch,
  });
}

/** Answers ApiVersions (any version, in that version), and passes everything else to `next`. */
export function withApiVersions(next: Handler): Handler {
  return (request) => {
    if (request.apiKey === apiVersionsApi.apiKey) {
      request.socket.write(responseFrame(request.correlationId, apiVersionsBody(request.apiVersion)));
      return;
    }
    next(request);
  };
}
