import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { BootstrapAddress, BrokerAddress } from './pool.ts';

/** `bootstrap.servers` is malformed, or none of its names resolves. */
export class BootstrapError extends Error {
  override name = 'BootstrapError';
  readonly retriable: boolean;

  constructor(message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.retriable = options.retriable;
  }
}

/**
 * Parses `bootstrap.servers`: `host:port` entries, comma-separated or as a list; IPv6 literals in brackets
 * (`[::1]:9092`). Whitespace around entries is ignored, as Kafka's ClientUtils does.
 */
export function parseBootstrapServers(servers: string | readonly string[]): BrokerAddress[] {
  const entries = (typeof servers === 'string' ? servers.split(',') : servers.flatMap((entry) => entry.split(',')))
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new BootstrapError('bootstrap.servers is empty', { retriable: false });
  return entries.map((entry) => {
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[3]) : Number.NaN;
    if (!match || port < 1 || port > 65535) {
      throw new BootstrapError(`invalid bootstrap.servers entry "${entry}": expected host:port`, { retriable: false });
    }
    return { host: (match[1] ?? match[2])!, port };
  });
}

export type LookupAll = (host: string) => Promise<readonly { address: string }[]>;

const lookupAll: LookupAll = (host) => dnsLookup(host, { all: true, verbatim: true }) as Promise<LookupAddress[]>;

/**
 * Resolves every address of every bootstrap name (Kafka's `client.dns.lookup=use_all_dns_ips`, its default since
 * KIP-602): a name with several A/AAAA records gives several candidates, so one dead IP does not block bootstrap.
 * A name that does not resolve is skipped; when none resolves the error is retriable (DNS may recover), and the
 * caller resolves again on the next attempt and on every rebootstrap (KIP-899).
 */
export async function resolveBootstrapServers(
  servers: readonly BrokerAddress[],
  options: { lookup?: LookupAll } = {},
): Promise<BootstrapAddress[]> {
  const lookup = options.lookup ?? lookupAll;
  const failures: unknown[] = [];
  const resolved = await Promise.all(
    servers.map(async (server) => {
      try {
        const addresses = await lookup(server.host);
        return addresses.map((address) => ({ host: server.host, port: server.port, ip: address.address }));
      } catch (error) {
        failures.push(error);
        return [];
      }
    }),
  );
  const seen = new Set<string>();
  const result: BootstrapAddress[] = [];
  for (const address of resolved.flat()) {
    const key = `${address.ip}:${address.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(address);
  }
  if (result.length === 0) {
    throw new BootstrapError(
      `no resolvable bootstrap.servers: ${servers.map((server) => `${server.host}:${server.port}`).join(', ')}`,
      { retriable: true, cause: failures[0] },
    );
  }
  return result;
}
