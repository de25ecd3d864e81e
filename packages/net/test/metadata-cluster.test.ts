/** ClusterMetadata (the I/O driver) and bootstrap.servers handling, against scripted fake brokers. */
import { afterEach, describe, expect, it } from 'vitest';
import { BootstrapError, parseBootstrapServers, resolveBootstrapServers } from '../src/bootstrap.ts';
import { ClusterMetadata, type ClusterMetadataOptions, MetadataTimeoutError } from '../src/cluster-metadata.ts';
import { KafkaError } from '../src/kafka-error.ts';
import { ErrorCode } from '../src/kafka-errors.generated.ts';
import { findPartition } from '../src/metadata-snapshot.ts';
import { ConnectionPool } from '../src/pool.ts';
import type { FakeBroker } from './fake-broker.ts';
import { clusterResponse, type FakeMetadataBroker, startMetadataBroker } from './fake-cluster.ts';

const brokers: FakeBroker[] = [];
const closers: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const closer of closers.splice(0)) closer.close();
  for (const broker of brokers.splice(0)) await broker.close();
});

async function fakeBroker(respond: Parameters<typeof startMetadataBroker>[0]): Promise<FakeMetadataBroker> {
  const broker = await startMetadataBroker(respond);
  brokers.push(broker);
  return broker;
}

function metadata(options: Partial<ClusterMetadataOptions> & Pick<ClusterMetadataOptions, 'bootstrapServers'>) {
  const pool = new ConnectionPool({ random: () => 0.5 });
  const cluster = new ClusterMetadata({
    pool,
    random: () => 0.5,
    retryBackoffMs: 10,
    retryBackoffMaxMs: 50,
    ...options,
  });
  closers.push(cluster, pool);
  return { pool, cluster };
}

describe('bootstrap.servers', () => {
  it('parses host:port lists, with IPv6 in brackets', () => {
    expect(parseBootstrapServers(' a:9092, b.example:9093 ,[::1]:9094')).toEqual([
      { host: 'a', port: 9092 },
      { host: 'b.example', port: 9093 },
      { host: '::1', port: 9094 },
    ]);
    expect(parseBootstrapServers(['a:1', 'b:2,c:3'])).toHaveLength(3);
    expect(() => parseBootstrapServers('')).toThrow(BootstrapError);
    expect(() => parseBootstrapServers('a')).toThrow(/invalid bootstrap.servers entry "a"/);
    expect(() => parseBootstrapServers('a:0')).toThrow(BootstrapError);
    expect(() => parseBootstrapServers('::1:9092')).toThrow(BootstrapError);
  });

  it('resolves every address of every name (use_all_dns_ips), skipping names that do not resolve', async () => {
    const lookup = async (host: string) => {
      if (host === 'gone') throw new Error('ENOTFOUND');
      return host === 'multi' ? [{ address: '10.0.0.1' }, { address: '10.0.0.2' }] : [{ address: '10.0.0.1' }];
    };
    const servers = parseBootstrapServers('multi:9092,single:9092,gone:9092');
    expect(await resolveBootstrapServers(servers, { lookup })).toEqual([
      { host: 'multi', port: 9092, ip: '10.0.0.1' },
      { host: 'multi', port: 9092, ip: '10.0.0.2' },
    ]);
    const error = await resolveBootstrapServers(parseBootstrapServers('gone:1'), { lookup }).catch((caught) => caught);
    expect(error).toBeInstanceOf(BootstrapError);
    expect(error.retriable).toBe(true);
    const local = await resolveBootstrapServers([{ host: 'localhost', port: 1 }]);
    expect(local.length).toBeGreaterThan(0);
  });
});

describe('ClusterMetadata', () => {
  it('bootstraps through every resolved address, then serves snapshots and teaches the pool the brokers', async () => {
    const broker = await fakeBroker((port) => clusterResponse({ brokers: new Map([[1, port]]), topic: 'orders' }));
    // The name resolves to a dead address first: use_all_dns_ips moves on to the next one.
    const lookup = async () => [{ address: '127.0.0.2' }, { address: '127.0.0.1' }];
    const { pool, cluster } = metadata({ bootstrapServers: `kafka.test:${broker.port}`, lookup, topics: ['orders'] });
    const snapshot = await cluster.ready();
    expect(snapshot.clusterId).toBe('fake-cluster');
    expect(snapshot.brokers.get(1)).toEqual({ nodeId: 1, host: '127.0.0.1', port: broker.port, rack: null });
    expect(findPartition(snapshot, 'orders', 0)).toMatchObject({ leaderId: 1, leaderEpoch: 0 });
    expect(cluster.mode).toBe('brokers');
    expect(pool.knows(1)).toBe(true);
    expect(await cluster.ready()).toBe(snapshot);
  });

  it('coalesces concurrent refreshes into one request', async () => {
    const broker = await fakeBroker((port) => clusterResponse({ brokers: new Map([[1, port]]) }));
    const { cluster } = metadata({ bootstrapServers: `127.0.0.1:${broker.port}`, lookup: localLookup });
    await cluster.ready();
    const before = broker.metadataRequests();
    const snapshots = await Promise.all(Array.from({ length: 20 }, () => cluster.refresh()));
    expect(new Set(snapshots).size).toBe(1);
    expect(broker.metadataRequests() - before).toBe(1);
  });

  it('refreshes when told the metadata is stale, and follows the new leader', async () => {
    let leader = 1;
    let leaderEpoch = 0;
    const broker = await fakeBroker((port) =>
      clusterResponse({
        brokers: new Map([
          [1, port],
          [2, port],
        ]),
        topic: 'orders',
        leader,
        leaderEpoch,
      }),
    );
    const { cluster } = metadata({
      bootstrapServers: `127.0.0.1:${broker.port}`,
      lookup: localLookup,
      topics: ['orders'],
    });
    await cluster.ready();
    const updated = new Promise<number>((resolve) =>
      cluster.onUpdate((snapshot) => resolve(findPartition(snapshot, 'orders', 0)!.leaderId)),
    );
    leader = 2;
    leaderEpoch = 1;
    expect(cluster.reportError(new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER), { nodeId: 1 })).toBe(true);
    expect(await updated).toBe(2);
    expect(cluster.reportError(new KafkaError(ErrorCode.GROUP_AUTHORIZATION_FAILED))).toBe(false);
  });

  it('rebootstraps (KIP-899) when every known broker is unreachable', async () => {
    // The bootstrap broker first names a broker elsewhere (node 1), later itself (node 2).
    const elsewhere = await fakeBroker((port) => clusterResponse({ brokers: new Map([[1, port]]) }));
    let moved = false;
    const bootstrap = await fakeBroker((port) =>
      clusterResponse({ brokers: moved ? new Map([[2, port]]) : new Map([[1, elsewhere.port]]) }),
    );
    let lookups = 0;
    const lookup = async () => {
      lookups++;
      return [{ address: '127.0.0.1' }];
    };
    const { cluster } = metadata({ bootstrapServers: `kafka.test:${bootstrap.port}`, lookup });
    expect([...(await cluster.ready()).brokers.keys()]).toEqual([1]);
    expect(lookups).toBe(1);
    moved = true;
    await elsewhere.close();
    const snapshot = await cluster.refresh({ timeoutMs: 10_000 });
    expect([...snapshot.brokers.keys()]).toEqual([2]);
    // DNS was asked again: addresses behind a name may have changed.
    expect(lookups).toBe(2);
  });

  it('fails refresh() with MetadataTimeoutError, naming the last error, when no broker answers', async () => {
    const broker = await fakeBroker(() => clusterResponse({ brokers: new Map() }));
    const port = broker.port;
    await broker.close();
    const { cluster } = metadata({ bootstrapServers: `127.0.0.1:${port}`, lookup: localLookup });
    const error = await cluster.refresh({ timeoutMs: 300 }).catch((caught) => caught);
    expect(error).toBeInstanceOf(MetadataTimeoutError);
    expect(error.message).toMatch(/no metadata within 300 ms: cannot connect/);
    expect(error.retriable).toBe(true);
  });

  it('close() fails waiting refreshes and stops the loop', async () => {
    const broker = await fakeBroker(() => clusterResponse({ brokers: new Map() }));
    const { cluster } = metadata({ bootstrapServers: `127.0.0.1:${broker.port}`, lookup: localLookup });
    const waiting = cluster.refresh();
    cluster.close();
    await expect(waiting).rejects.toThrow(/cluster metadata closed/);
  });
});

async function localLookup() {
  return [{ address: '127.0.0.1' }];
}
