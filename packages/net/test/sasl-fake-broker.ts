/**
 * A scripted broker that speaks SaslHandshake + SaslAuthenticate (PLAIN only) and enforces KIP-368 the way a real
 * broker does: after the session lifetime, any request other than a re-authentication closes the connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  apiVersionsApi,
  decodeRequest,
  defaultApiVersionsResponse,
  defaultMetadataResponse,
  encodeResponse,
  metadataApi,
  Reader,
  requestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  saslAuthenticateApi,
  saslHandshakeApi,
} from '@sluice/protocol';
import { responseFrame } from './fake-broker.ts';

export interface SaslFakeBrokerOptions {
  readonly mechanisms?: readonly string[];
  readonly username?: string;
  readonly password?: string;
  /** Returned in SaslAuthenticate v1+; 0 disables expiry. */
  readonly sessionLifetimeMs?: number;
  /** Delay before answering SaslAuthenticate, so that the client has time to send requests meanwhile. */
  readonly authenticateDelayMs?: number;
  /** Authentications after this many succeed no more (to fail a re-authentication). */
  readonly failAfter?: number;
  /** The broker's error message for a failed authentication. */
  readonly failureMessage?: string;
}

export interface SaslFakeBroker {
  readonly port: number;
  /** What happened, in order: `request <apiKey>`, `response <apiKey>`, `expired-close`. */
  readonly events: string[];
  authentications: number;
  close(): Promise<void>;
}

export async function startSaslFakeBroker(options: SaslFakeBrokerOptions = {}): Promise<SaslFakeBroker> {
  const mechanisms = options.mechanisms ?? ['PLAIN'];
  const username = options.username ?? 'alice';
  const password = options.password ?? 'alice-secret';
  const sessionLifetimeMs = options.sessionLifetimeMs ?? 0;
  const sockets = new Set<Socket>();
  const broker: SaslFakeBroker = {
    port: 0,
    events: [],
    authentications: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let expiresAt = Number.POSITIVE_INFINITY;
    let authenticated = false;
    // Requests are answered one at a time, in order, as a broker does (it mutes a connection while processing).
    let chain = Promise.resolve();
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const frame = buffered.subarray(4, 4 + size);
        buffered = buffered.subarray(4 + size);
        chain = chain.then(() => handle(frame));
      }
    });
    const reply = (apiKey: number, version: number, correlationId: number, body: Uint8Array) => {
      broker.events.push(`response ${apiKey}`);
      socket.write(responseFrame(correlationId, body, responseHeaderVersion(apiKey, version)));
    };
    const handle = async (frame: Buffer) => {
      const apiKey = frame.readInt16BE(0);
      const version = frame.readInt16BE(2);
      const reader = new Reader(frame);
      const header = requestHeader.read(reader, requestHeaderVersion(apiKey, version));
      const body = frame.subarray(reader.offset);
      const correlationId = header.correlationId;
      broker.events.push(`request ${apiKey}`);
      if (apiKey === apiVersionsApi.apiKey) {
        reply(
          apiKey,
          version,
          correlationId,
          encodeResponse(apiVersionsApi, version, {
            ...defaultApiVersionsResponse(),
            apiKeys: [
              { apiKey: apiVersionsApi.apiKey, minVersion: 0, maxVersion: 4 },
              { apiKey: metadataApi.apiKey, minVersion: 4, maxVersion: 12 },
              { apiKey: saslHandshakeApi.apiKey, minVersion: 0, maxVersion: 1 },
              { apiKey: saslAuthenticateApi.apiKey, minVersion: 0, maxVersion: 2 },
            ],
          }),
        );
        return;
      }
      if (apiKey === saslHandshakeApi.apiKey) {
        const request = decodeRequest(saslHandshakeApi, version, body);
        const enabled = mechanisms.includes(request.mechanism);
        reply(
          apiKey,
          version,
          correlationId,
          encodeResponse(saslHandshakeApi, version, { errorCode: enabled ? 0 : 33, mechanisms: [...mechanisms] }),
        );
        if (!enabled) socket.end();
        return;
      }
      if (apiKey === saslAuthenticateApi.apiKey) {
        const request = decodeRequest(saslAuthenticateApi, version, body);
        if (options.authenticateDelayMs)
          await new Promise((resolve) => setTimeout(resolve, options.authenticateDelayMs));
        const valid =
          Buffer.from(request.authBytes).equals(Buffer.from(`\0${username}\0${password}`, 'utf8')) &&
          (options.failAfter === undefined || broker.authentications < options.failAfter);
        if (valid) {
          broker.authentications++;
          authenticated = true;
          expiresAt = sessionLifetimeMs > 0 ? Date.now() + sessionLifetimeMs : Number.POSITIVE_INFINITY;
        }
        reply(
          apiKey,
          version,
          correlationId,
          encodeResponse(saslAuthenticateApi, version, {
            errorCode: valid ? 0 : 58,
            errorMessage: valid
              ? null
              : (options.failureMessage ?? 'Authentication failed: Invalid username or password'),
            authBytes: new Uint8Array(0),
            sessionLifetimeMs: valid ? BigInt(sessionLifetimeMs) : 0n,
          }),
        );
        if (!valid) socket.end();
        return;
      }
      // KIP-368: past the session's end, only a re-authentication is accepted; anything else closes the connection.
      if (!authenticated || Date.now() > expiresAt) {
        broker.events.push('expired-close');
        socket.destroy();
        return;
      }
      reply(apiKey, version, correlationId, encodeResponse(metadataApi, version, defaultMetadataResponse()));
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (broker as { port: number }).port = (server.address() as { port: number }).port;
  return broker;
}
