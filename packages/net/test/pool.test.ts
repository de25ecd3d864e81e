/** The connection pool against scripted fake brokers: lazy connects, purposes, backoff, loss, idleness, close. */
import { defaultMetadataRequest, metadataApi } from '@sluice/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { ReconnectBackoff } from '../src/backoff-state.ts';
import type { Connection, ConnectionOptions } from '../src/connection.ts';
import { NetworkError } from '../src/errors.ts';
import { type BootstrapAddress, ConnectionPool, type ConnectionPoolOptions } from '../src/pool.ts';
import { type FakeBroker, type ReceivedRequest, startFakeBroker, withApiVersions } from './fake-broker.ts';
import { answerMetadata, clusterResponse, type FakeMetadataBroker, startMetadataBroker } from './fake-cluster.ts';

const brokers: FakeBroker[] = [];
const pools: ConnectionPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) pool.close();
  for (const broker of brokers.splice(0)) await broker.close();
});

async function broker(other?: (request: ReceivedRequest) => void): Promise<FakeMetadataBroker> {
  const started = await startMetadataBroker((port) => clusterResponse({ brokers: new Map([[1, port]]) }), other);
  brokers.push(started);
  return started;
}

function pool(options: ConnectionPoolOptions = {}): ConnectionPool {
  const created = new ConnectionPool({ random: () => 0.5, connection: { clientId: 'pool-test' }, ...options });
  pools.push(created);
  return created;
}

const bootstrap = (port: number): { bootstrap: BootstrapAddress } => ({
  bootstrap: { host: 'localhost', ip: '127.0.0.1', port },
});
const metadataRequest = { ...defaultMetadataRequest(), topics: [] };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ReconnectBackoff', () => {
  it('doubles reconnect.backoff.ms per failure up to reconnect.backoff.max.ms, and resets on success', () => {
    const backoff = new ReconnectBackoff({ random: () => 0.5 });
    const waits: number[] = [];
    let now = 1000;
    for (let failure = 0; failure < 7; failure++) {
      const readyAt = backoff.recordFailure('node:1', now);
      waits.push(readyAt - now);
      now = readyAt;
    }
    expect(waits).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    expect(backoff.isBackingOff('node:1', now - 1)).toBe(true);
    expect(backoff.isBackingOff('node:1', now)).toBe(false);
    backoff.recordSuccess('node:1');
    expect(backoff.failures('node:1')).toBe(0);
    expect(backoff.recordFailure('node:1', 0)).toBe(50);
    // Jitter is 20 % either way.
    expect(new ReconnectBackoff({ random: () => 0 }).recordFailure('x', 0)).toBe(40);
    expect(new ReconnectBackoff({ random: () => 1 }).recordFailure('x', 0)).toBe(60);
  });
  it('lengthens the set-up timeout per failed attempt up to its max, not for lost connections (KIP-601)', () => {
    const backoff = new ReconnectBackoff({ random: () => 0.5 });
    const timeouts: number[] = [];
    for (let failure = 0; failure < 4; failure++) {
      timeouts.push(backoff.setupTimeoutMs('node:1'));
      backoff.recordFailure('node:1', 0, { duringSetup: true });
    }
    expect(timeouts).toEqual([10_000, 20_000, 30_000, 30_000]);
    backoff.recordSuccess('node:1');
    expect(backoff.setupTimeoutMs('node:1')).toBe(10_000);
    // A connection lost after set-up backs off reconnects, but the next attempt gets the base set-up timeout.
    backoff.recordFailure('node:1', 0);
    expect(backoff.setupTimeoutMs('node:1')).toBe(10_000);
    const custom = new ReconnectBackoff({ setupTimeoutMs: 100, setupTimeoutMaxMs: 50, random: () => 0.5 });
    custom.recordFailure('x', 0, { duringSetup: true });
    expect(custom.setupTimeoutMs('x')).toBe(100);
    // Jitter is 20 % either way.
    expect(new ReconnectBackoff({ random: () => 0 }).setupTimeoutMs('x')).toBe(8000);
  });
});

describe('ConnectionPool', () => {
  it('gives each attempt to a failing broker a longer set-up timeout, and the base again after a success', async () => {
    const fake = await broker();
    const { Connection } = await import('../src/connection.ts');
    const timeouts: number[] = [];
    let failuresLeft = 3;
    const connections = pool({
      reconnectBackoffMs: 1,
      reconnectBackoffMaxMs: 2,
      connection: { clientId: 'pool-test', connectTimeoutMs: 1000 },
      connectTimeoutMaxMs: 3000,
      openConnection: (options) => {
        timeouts.push(options.connectTimeoutMs ?? -1);
        if (failuresLeft-- > 0) return Promise.reject(new NetworkError('refused', { broker: 'fake' }));
        return Connection.open(options);
      },
    });
    const target = bootstrap(fake.port);
    for (let attempt = 0; attempt < 3; attempt++) await expect(connections.get(target)).rejects.toThrow('refused');
    const connection = await connections.get(target);
    expect(timeouts).toEqual([1000, 2000, 3000, 3000]);
    connection.close();
    await connections.get(target);
    expect(timeouts.at(-1)).toBe(1000);
  });

  it('connects lazily, once for concurrent callers, with separate fetch and coordination connections', async () => {
    const fake = await broker();
    const opened: ConnectionOptions[] = [];
    const { Connection } = await import('../src/connection.ts');
    const connections = pool({
      openConnection: (options) => {
        opened.push(options);
        return Connection.open(options);
      },
    });
    await sleep(20);
    expect(fake.sockets.size).toBe(0);
    const target = bootstrap(fake.port);
    const [first, second, third] = await Promise.all([
      connections.get(target),
      connections.get(target),
      connections.get(target, { purpose: 'coordination' }),
    ]);
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ host: '127.0.0.1', port: fake.port, clientId: 'pool-test' });
    const fetch = await connections.get(target, { purpose: 'fetch' });
    expect(fetch).not.toBe(first);
    expect(fake.sockets.size).toBe(2);
    expect(connections.status(target, 'fetch')).toEqual({ state: 'connected', inFlight: 0, readyAt: 0 });
  });

  it('keeps coordination requests moving while a fetch waits on the broker', async () => {
    let fetchSocket: unknown = null;
    const held: ReceivedRequest[] = [];
    const fake = await startFakeBroker(
      withApiVersions((request) => {
        // Stand-in for a long fetch: the broker holds what arrives on the fetch connection.
        if (request.socket === fetchSocket) held.push(request);
        else answerMetadata(request, clusterResponse({ brokers: new Map([[1, fake.port]]) }));
      }),
    );
    brokers.push(fake);
    const connections = pool();
    const target = bootstrap(fake.port);
    await connections.get(target, { purpose: 'fetch' });
    fetchSocket = [...fake.sockets][0];
    const slow = connections.request(target, metadataApi, metadataRequest, { purpose: 'fetch', timeoutMs: 5000 });
    slow.catch(() => {});
    await sleep(20);
    expect(held).toHaveLength(1);
    expect(connections.status(target, 'fetch').inFlight).toBe(1);
    const fast = await connections.request(target, metadataApi, metadataRequest, { purpose: 'coordination' });
    expect(fast.brokers).toHaveLength(1);
    expect(connections.status(target, 'fetch').inFlight).toBe(1);
  });

  it('does not dial a broker again before its backoff; callers during the backoff share one attempt', async () => {
    const dials: number[] = [];
    const connections = pool({
      openConnection: async (options) => {
        dials.push(Date.now());
        throw new NetworkError('cannot connect: ECONNREFUSED', { broker: `${options.host}:${options.port}` });
      },
    });
    const target = bootstrap(1);
    await expect(connections.get(target)).rejects.toBeInstanceOf(NetworkError);
    expect(connections.status(target).state).toBe('backoff');
    expect(connections.status(target).readyAt).toBeGreaterThan(Date.now());
    const waiting = [connections.get(target), connections.get(target), connections.get(target, { purpose: 'fetch' })];
    for (const result of await Promise.allSettled(waiting)) expect(result.status).toBe('rejected');
    // After the 50 ms backoff: one dial for the two coordination callers, one for the fetch connection; their two
    // failures lengthen the backoff to 100, then 200 ms.
    expect(dials.length).toBe(3);
    await expect(connections.get(target)).rejects.toBeInstanceOf(NetworkError);
    expect(dials.length).toBe(4);
    const gaps = dials.slice(1).map((time, index) => time - dials[index]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[2]).toBeGreaterThanOrEqual(190);
  });

  it('fails pending requests at once when a connection is lost, forgets it, and reconnects', async () => {
    let drop = true;
    const fake = await broker((request) => {
      if (drop) request.socket.destroy();
    });
    const connections = pool();
    const target = bootstrap(fake.port);
    const connection = await connections.get(target);
    const { heartbeatApi, defaultHeartbeatRequest } = await import('@sluice/protocol');
    // Heartbeat is not in the fake's ApiVersions, so send it at an explicit version: the fake drops the socket.
    const pending = [1, 2, 3].map(() => connection.send(heartbeatApi, 0, defaultHeartbeatRequest()));
    for (const result of await Promise.allSettled(pending)) {
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(NetworkError);
      expect((result as PromiseRejectedResult).reason.retriable).toBe(true);
    }
    expect(connections.status(target).state).toBe('backoff');
    drop = false;
    const again = await connections.get(target);
    expect(again).not.toBe(connection);
    expect(connection.closed).toBe(true);
    expect((await connections.request(target, metadataApi, metadataRequest)).brokers).toHaveLength(1);
  });

  it('closes connections idle for connections.max.idle.ms, but not busy ones, and not as failures', async () => {
    const held: ReceivedRequest[] = [];
    const fake = await broker((request) => held.push(request));
    let now = 0;
    const connections = pool({ connectionsMaxIdleMs: 1000, now: () => now });
    const target = bootstrap(fake.port);
    const coordination = await connections.get(target);
    const fetch = await connections.get(target, { purpose: 'fetch' });
    const { heartbeatApi, defaultHeartbeatRequest } = await import('@sluice/protocol');
    fetch.send(heartbeatApi, 0, defaultHeartbeatRequest()).catch(() => {});
    now = 999;
    expect(connections.closeIdleConnections()).toBe(0);
    now = 1000;
    expect(connections.closeIdleConnections()).toBe(1);
    expect(coordination.closed).toBe(true);
    expect(fetch.closed).toBe(false);
    expect(connections.status(target)).toEqual({ state: 'disconnected', inFlight: 0, readyAt: 0 });
    const reopened = await connections.get(target);
    expect(reopened).not.toBe(coordination);
  });

  it('closes idle connections by itself', async () => {
    const fake = await broker();
    const connections = pool({ connectionsMaxIdleMs: 50 });
    const connection = await connections.get(bootstrap(fake.port));
    await sleep(200);
    expect(connection.closed).toBe(true);
  });

  it('addresses brokers by node id once metadata named them, and drops a connection whose address changed', async () => {
    const first = await broker();
    const second = await broker();
    const connections = pool();
    await expect(connections.get({ nodeId: 1 })).rejects.toThrow(/node 1 is not in the cluster metadata/);
    connections.setBrokers(new Map([[1, { host: '127.0.0.1', port: first.port }]]));
    const before = await connections.get({ nodeId: 1 });
    connections.setBrokers(new Map([[1, { host: '127.0.0.1', port: first.port }]]));
    expect(await connections.get({ nodeId: 1 })).toBe(before);
    connections.setBrokers(new Map([[1, { host: '127.0.0.1', port: second.port }]]));
    expect(before.closed).toBe(true);
    const after = await connections.get({ nodeId: 1 });
    expect(after.broker).toBe(`127.0.0.1:${second.port}`);
    // Closing for an address change is not a failure of the broker.
    expect(connections.status({ nodeId: 1 }).state).toBe('connected');
  });

  it('dials the resolved IP of a bootstrap name and verifies TLS against the name', async () => {
    const opened: ConnectionOptions[] = [];
    const connections = pool({
      connection: { tls: { rejectUnauthorized: true }, requestTimeoutMs: 1234 },
      openConnection: async (options) => {
        opened.push(options);
        throw new NetworkError('refused', { broker: options.host });
      },
    });
    await connections.get({ bootstrap: { host: 'kafka.example', ip: '10.1.2.3', port: 9093 } }).catch(() => {});
    expect(opened[0]).toMatchObject({
      host: '10.1.2.3',
      port: 9093,
      requestTimeoutMs: 1234,
      tls: { rejectUnauthorized: true, servername: 'kafka.example' },
    });
  });

  it('close() closes every connection and fails waiting and later callers', async () => {
    const fake = await broker();
    const connections = pool();
    const target = bootstrap(fake.port);
    const coordination: Connection = await connections.get(target);
    const fetch = await connections.get(target, { purpose: 'fetch' });
    connections.close();
    expect(coordination.closed).toBe(true);
    expect(fetch.closed).toBe(true);
    await expect(connections.get(target)).rejects.toThrow(/connection pool closed/);
    await sleep(20);
    expect(fake.sockets.size).toBe(0);
  });
});
