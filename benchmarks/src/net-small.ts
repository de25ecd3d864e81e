// Small pipelined requests through one connection: Sluice's Connection against a plain socket that writes the same
// pre-encoded request bytes and only counts response frames.

import type { Connection } from '@sluice/net';
import {
  type ApiDescriptor,
  apiVersionsApi,
  defaultApiVersionsRequest,
  defaultMetadataRequest,
  encodeRequestFrame,
  metadataApi,
} from '@sluice/protocol';
import { type Address, FrameCounter, openSocket } from './net-raw-socket.ts';

export type SmallApi = 'metadata' | 'apiversions';

export interface SmallRequest {
  readonly api: ApiDescriptor<unknown, unknown>;
  readonly version: number;
  readonly request: unknown;
  /** The same request encoded once, for the plain socket (its correlation id is never checked). */
  readonly frame: Uint8Array;
  readonly label: string;
}

/** The request of the small-request runs, at the version the connection negotiated. */
export function smallRequest(connection: Connection, which: SmallApi, clientId: string): SmallRequest {
  const api = (which === 'metadata' ? metadataApi : apiVersionsApi) as ApiDescriptor<unknown, unknown>;
  const version = connection.versionFor(api);
  const request =
    which === 'metadata'
      ? { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false }
      : { ...defaultApiVersionsRequest(), clientSoftwareName: 'sluice', clientSoftwareVersion: '0.0.0' };
  const frame = encodeRequestFrame({ api, version, correlationId: 1, clientId, request });
  const label = which === 'metadata' ? `Metadata v${version} (topics: [])` : `ApiVersions v${version}`;
  return { api, version, request, frame, label };
}

export interface SmallRun {
  readonly requests: number;
  readonly seconds: number;
  /** Microseconds from send to response, sorted. */
  readonly latencies: Float64Array;
}

/** Sends `total` requests through the connection, keeping `window` in flight; resolves when all are answered. */
export function runSluiceSmall(connection: Connection, small: SmallRequest, total: number, window: number) {
  return new Promise<SmallRun>((resolve, reject) => {
    const latencies = new Float64Array(total);
    let sent = 0;
    let answered = 0;
    let failed = false;
    const start = performance.now();
    const launch = () => {
      const index = sent++;
      const sentAt = performance.now();
      connection.send(small.api, small.version, small.request).then(
        () => {
          latencies[index] = (performance.now() - sentAt) * 1000;
          answered++;
          if (sent < total) launch();
          else if (answered === total) {
            resolve({ requests: total, seconds: (performance.now() - start) / 1000, latencies: latencies.sort() });
          }
        },
        (error: unknown) => {
          if (!failed) reject(error);
          failed = true;
        },
      );
    };
    for (let index = 0; index < Math.min(window, total); index++) launch();
  });
}

/** The same with a plain socket: the same request bytes, responses only counted (their sizes read, nothing else). */
export async function runRawSmall(address: Address, small: SmallRequest, total: number, window: number) {
  const socket = await openSocket(address);
  try {
    return await new Promise<SmallRun>((resolve, reject) => {
      const latencies = new Float64Array(total);
      const sentAt = new Float64Array(total);
      let sent = 0;
      let answered = 0;
      const start = performance.now();
      const launch = () => {
        sentAt[sent++] = performance.now();
        socket.write(small.frame);
      };
      const counter = new FrameCounter(() => {
        latencies[answered] = (performance.now() - sentAt[answered]!) * 1000;
        answered++;
        if (sent < total) launch();
        else if (answered === total) {
          resolve({ requests: total, seconds: (performance.now() - start) / 1000, latencies: latencies.sort() });
        }
      });
      socket.on('data', (chunk: Buffer) => counter.push(chunk));
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('the broker closed the plain socket')));
      for (let index = 0; index < Math.min(window, total); index++) launch();
    });
  } finally {
    socket.destroy();
  }
}
