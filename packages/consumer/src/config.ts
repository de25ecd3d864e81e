/**
 * Consumer configuration under Kafka's property names (`fetch.min.bytes`) or their camelCase forms
 * (`fetchMinBytes`), with Kafka's defaults. Every key is checked: an unknown key, a Kafka property Sluice does not
 * implement, or a bad value fails with ConfigError naming the property, before anything connects.
 *
 * Chosen where Kafka's defaults do not fit Node: `receive.buffer.bytes` and `send.buffer.bytes` default to -1 (the
 * operating system's sizes and Linux's automatic tuning, as librdkafka does) rather than Java's 65536 / 131072,
 * which bench:net measured at about two thirds of the large-fetch throughput on loopback.
 */
import {
  CooperativeStickyAssignor,
  type PartitionAssignor,
  RangeAssignor,
  RoundRobinAssignor,
  StickyAssignor,
} from '@sluice/assignors';
import { Secret } from '@sluice/net';
import type { OffsetResetStrategy } from '@sluice/runtime';
import { type Deserializer, deserializers } from './deserializers.ts';

/** A configuration property is unknown, unsupported or has a bad value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly property: string;

  constructor(property: string, message: string) {
    super(`${property}: ${message}`);
    this.property = property;
  }
}

export type { OffsetResetStrategy };
export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

/** The configuration after checking, with every default filled in. */
export interface ConsumerConfig {
  readonly bootstrapServers: readonly string[];
  readonly groupId: string | null;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly keyDeserializer: Deserializer<unknown>;
  readonly valueDeserializer: Deserializer<unknown>;
  readonly autoOffsetReset: OffsetResetStrategy;
  readonly enableAutoCommit: boolean;
  readonly autoCommitIntervalMs: number;
  readonly fetchMinBytes: number;
  readonly fetchMaxBytes: number;
  readonly fetchMaxWaitMs: number;
  readonly maxPartitionFetchBytes: number;
  /**
   * Sluice's own: bytes of fetched data buffered at most before the consumer stops sending Fetches (responses the
   * application has not finished reading, decompressed batches included). Default twice `fetch.max.bytes`.
   */
  readonly fetchBufferMaxBytes: number;
  /**
   * Sluice's own: fetch responses land in reused buffers (no page faults on fresh memory). The records of one
   * `poll()` then stay valid until the next `poll()`; `record.detach()` keeps one longer. Default true.
   */
  readonly fetchBufferReuse: boolean;
  readonly maxPollRecords: number;
  readonly maxPollIntervalMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly partitionAssignmentStrategy: readonly PartitionAssignor[];
  /**
   * `group.protocol`: `classic` (JoinGroup / SyncGroup, client-side assignors; the default) or `consumer` (KIP-848:
   * ConsumerGroupHeartbeat, the broker assigns). Kafka's consumer takes either case; this is lower case.
   */
  readonly groupProtocol: 'classic' | 'consumer';
  /** `group.remote.assignor`: the broker's assignor under `consumer` (`uniform`, `range`), or null: its default. */
  readonly groupRemoteAssignor: string | null;
  readonly isolationLevel: 'read_uncommitted' | 'read_committed';
  readonly checkCrcs: boolean;
  readonly clientRack: string | null;
  readonly requestTimeoutMs: number;
  readonly defaultApiTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  readonly reconnectBackoffMs: number;
  readonly reconnectBackoffMaxMs: number;
  readonly connectionsMaxIdleMs: number;
  readonly metadataMaxAgeMs: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  readonly socketConnectionSetupTimeoutMs: number;
  readonly socketConnectionSetupTimeoutMaxMs: number;
  readonly allowAutoCreateTopics: boolean;
  readonly excludeInternalTopics: boolean;
  readonly securityProtocol: SecurityProtocol;
  readonly saslMechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  readonly saslUsername: string | null;
  readonly saslPassword: Secret | null;
  /** PEM text. */
  readonly sslCa: string | null;
  readonly sslCertificate: string | null;
  readonly sslKey: Secret | null;
  /** `ssl.endpoint.identification.algorithm`: 'https' (verify the host name, the default) or '' (do not). */
  readonly sslEndpointIdentificationAlgorithm: 'https' | '';
}

/** What the user passes: Kafka names or camelCase names, values as Kafka would take them (strings work too). */
export type ConsumerConfigInput = Readonly<Record<string, unknown>>;

type Parser = (value: unknown, property: string) => unknown;

interface Property {
  readonly name: string;
  readonly camel: keyof ConsumerConfig;
  readonly parse: Parser;
  readonly default: unknown;
}

const int =
  (min: number, max = 2 ** 31 - 1): Parser =>
  (value, property) => {
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
      throw new ConfigError(property, `expected an integer from ${min} to ${max}, got ${describe(value)}`);
    }
    return number;
  };
const bool: Parser = (value, property) => {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(property, `expected true or false, got ${describe(value)}`);
};
const oneOf =
  (...allowed: string[]): Parser =>
  (value, property) => {
    const text = typeof value === 'string' ? value.trim() : value;
    const match = allowed.find((candidate) => candidate.toLowerCase() === String(text).toLowerCase());
    if (typeof text !== 'string' || match === undefined) {
      throw new ConfigError(property, `expected one of ${allowed.join(', ')}, got ${describe(value)}`);
    }
    return match;
  };
const text =
  (nullable: boolean): Parser =>
  (value, property) => {
    if (value === null && nullable) return null;
    if (typeof value !== 'string') throw new ConfigError(property, `expected a string, got ${describe(value)}`);
    return value;
  };
const nonEmptyOrNull: Parser = (value, property) => {
  const parsed = text(true)(value, property) as string | null;
  return parsed === null || parsed === '' ? null : parsed;
};
const secret: Parser = (value, property) => {
  if (value === null) return null;
  if (value instanceof Secret) return value;
  if (typeof value === 'string') return new Secret(value);
  throw new ConfigError(property, 'expected a string or a Secret');
};
const bootstrap: Parser = (value, property) => {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : null;
  const servers = list?.map((entry) => (typeof entry === 'string' ? entry.trim() : '')).filter((entry) => entry);
  if (!servers || servers.length === 0 || servers.length !== list!.filter((entry) => String(entry).trim()).length) {
    throw new ConfigError(property, `expected host:port entries, got ${describe(value)}`);
  }
  return servers;
};
const deserializer: Parser = (value, property) => {
  if (typeof value === 'function') return value;
  if (typeof value === 'string') {
    const known = DESERIALIZERS_BY_NAME.get(value);
    if (known) return known;
  }
  throw new ConfigError(
    property,
    `expected a function or one of ${[...DESERIALIZERS_BY_NAME.keys()].filter((name) => !name.includes('.')).join(', ')}, got ${describe(value)}`,
  );
};
const assignors: Parser = (value, property) => {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [value];
  const result = list.map((entry) => {
    if (typeof entry === 'string') {
      const factory = ASSIGNORS_BY_NAME.get(entry.trim());
      if (factory === undefined) throw new ConfigError(property, `unknown assignor ${describe(entry)}`);
      return factory();
    }
    if (entry && typeof entry === 'object' && typeof (entry as PartitionAssignor).assign === 'function') {
      return entry as PartitionAssignor;
    }
    throw new ConfigError(property, `expected assignor names or PartitionAssignor objects, got ${describe(entry)}`);
  });
  if (result.length === 0) throw new ConfigError(property, 'names no assignor');
  return result;
};

const DESERIALIZERS_BY_NAME = new Map<string, Deserializer<unknown>>([
  ['bytes', deserializers.bytes],
  ['string', deserializers.string],
  ['json', deserializers.json],
  ['org.apache.kafka.common.serialization.ByteArrayDeserializer', deserializers.bytes],
  ['org.apache.kafka.common.serialization.BytesDeserializer', deserializers.bytes],
  ['org.apache.kafka.common.serialization.StringDeserializer', deserializers.string],
]);

const ASSIGNORS_BY_NAME = new Map<string, () => PartitionAssignor>([
  ['range', () => new RangeAssignor()],
  ['roundrobin', () => new RoundRobinAssignor()],
  ['sticky', () => new StickyAssignor()],
  ['cooperative-sticky', () => new CooperativeStickyAssignor()],
  ['org.apache.kafka.clients.consumer.RangeAssignor', () => new RangeAssignor()],
  ['org.apache.kafka.clients.consumer.RoundRobinAssignor', () => new RoundRobinAssignor()],
  ['org.apache.kafka.clients.consumer.StickyAssignor', () => new StickyAssignor()],
  ['org.apache.kafka.clients.consumer.CooperativeStickyAssignor', () => new CooperativeStickyAssignor()],
]);

const PROPERTIES: readonly Property[] = [
  { name: 'bootstrap.servers', camel: 'bootstrapServers', parse: bootstrap, default: undefined },
  { name: 'group.id', camel: 'groupId', parse: nonEmptyOrNull, default: null },
  { name: 'group.instance.id', camel: 'groupInstanceId', parse: nonEmptyOrNull, default: null },
  { name: 'client.id', camel: 'clientId', parse: text(false), default: '' },
  { name: 'key.deserializer', camel: 'keyDeserializer', parse: deserializer, default: deserializers.bytes },
  { name: 'value.deserializer', camel: 'valueDeserializer', parse: deserializer, default: deserializers.bytes },
  {
    name: 'auto.offset.reset',
    camel: 'autoOffsetReset',
    parse: oneOf('earliest', 'latest', 'none'),
    default: 'latest',
  },
  { name: 'enable.auto.commit', camel: 'enableAutoCommit', parse: bool, default: true },
  { name: 'auto.commit.interval.ms', camel: 'autoCommitIntervalMs', parse: int(0), default: 5_000 },
  { name: 'fetch.min.bytes', camel: 'fetchMinBytes', parse: int(0), default: 1 },
  { name: 'fetch.max.bytes', camel: 'fetchMaxBytes', parse: int(0), default: 52_428_800 },
  { name: 'fetch.max.wait.ms', camel: 'fetchMaxWaitMs', parse: int(0), default: 500 },
  { name: 'max.partition.fetch.bytes', camel: 'maxPartitionFetchBytes', parse: int(0), default: 1_048_576 },
  // -1: twice fetch.max.bytes (resolved below).
  { name: 'fetch.buffer.max.bytes', camel: 'fetchBufferMaxBytes', parse: int(-1, 2 ** 53 - 1), default: -1 },
  { name: 'fetch.buffer.reuse', camel: 'fetchBufferReuse', parse: bool, default: true },
  { name: 'max.poll.records', camel: 'maxPollRecords', parse: int(1), default: 500 },
  { name: 'max.poll.interval.ms', camel: 'maxPollIntervalMs', parse: int(1), default: 300_000 },
  { name: 'session.timeout.ms', camel: 'sessionTimeoutMs', parse: int(1), default: 45_000 },
  { name: 'heartbeat.interval.ms', camel: 'heartbeatIntervalMs', parse: int(1), default: 3_000 },
  {
    name: 'partition.assignment.strategy',
    camel: 'partitionAssignmentStrategy',
    parse: assignors,
    // Kafka 3.0+: range first, with cooperative-sticky listed so a group can move to it with rolling restarts.
    default: 'range,cooperative-sticky',
  },
  {
    name: 'group.protocol',
    camel: 'groupProtocol',
    parse: (value, property) => (oneOf('classic', 'consumer')(value, property) as string).toLowerCase(),
    default: 'classic',
  },
  { name: 'group.remote.assignor', camel: 'groupRemoteAssignor', parse: nonEmptyOrNull, default: null },
  {
    name: 'isolation.level',
    camel: 'isolationLevel',
    parse: oneOf('read_uncommitted', 'read_committed'),
    default: 'read_uncommitted',
  },
  { name: 'check.crcs', camel: 'checkCrcs', parse: bool, default: true },
  { name: 'client.rack', camel: 'clientRack', parse: nonEmptyOrNull, default: null },
  { name: 'request.timeout.ms', camel: 'requestTimeoutMs', parse: int(0), default: 30_000 },
  { name: 'default.api.timeout.ms', camel: 'defaultApiTimeoutMs', parse: int(0), default: 60_000 },
  { name: 'retry.backoff.ms', camel: 'retryBackoffMs', parse: int(0), default: 100 },
  { name: 'retry.backoff.max.ms', camel: 'retryBackoffMaxMs', parse: int(0), default: 1_000 },
  { name: 'reconnect.backoff.ms', camel: 'reconnectBackoffMs', parse: int(0), default: 50 },
  { name: 'reconnect.backoff.max.ms', camel: 'reconnectBackoffMaxMs', parse: int(0), default: 1_000 },
  { name: 'connections.max.idle.ms', camel: 'connectionsMaxIdleMs', parse: int(-1), default: 540_000 },
  { name: 'metadata.max.age.ms', camel: 'metadataMaxAgeMs', parse: int(0), default: 300_000 },
  { name: 'receive.buffer.bytes', camel: 'receiveBufferBytes', parse: int(-1), default: -1 },
  { name: 'send.buffer.bytes', camel: 'sendBufferBytes', parse: int(-1), default: -1 },
  {
    name: 'socket.connection.setup.timeout.ms',
    camel: 'socketConnectionSetupTimeoutMs',
    parse: int(0),
    default: 10_000,
  },
  {
    name: 'socket.connection.setup.timeout.max.ms',
    camel: 'socketConnectionSetupTimeoutMaxMs',
    parse: int(0),
    default: 30_000,
  },
  { name: 'allow.auto.create.topics', camel: 'allowAutoCreateTopics', parse: bool, default: true },
  { name: 'exclude.internal.topics', camel: 'excludeInternalTopics', parse: bool, default: true },
  {
    name: 'security.protocol',
    camel: 'securityProtocol',
    parse: oneOf('PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'),
    default: 'PLAINTEXT',
  },
  {
    name: 'sasl.mechanism',
    camel: 'saslMechanism',
    parse: oneOf('PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'),
    default: 'PLAIN',
  },
  { name: 'sasl.username', camel: 'saslUsername', parse: text(true), default: null },
  { name: 'sasl.password', camel: 'saslPassword', parse: secret, default: null },
  { name: 'ssl.ca', camel: 'sslCa', parse: text(true), default: null },
  { name: 'ssl.certificate', camel: 'sslCertificate', parse: text(true), default: null },
  { name: 'ssl.key', camel: 'sslKey', parse: secret, default: null },
  {
    name: 'ssl.endpoint.identification.algorithm',
    camel: 'sslEndpointIdentificationAlgorithm',
    parse: (value, property) => (value === '' ? '' : oneOf('https')(value, property)),
    default: 'https',
  },
];

/** Kafka consumer properties Sluice knows of and does not implement: named in the error rather than "unknown". */
const UNSUPPORTED = new Set([
  'interceptor.classes',
  'metric.reporters',
  'metrics.num.samples',
  'metrics.recording.level',
  'metrics.sample.window.ms',
  'client.dns.lookup',
  'sasl.jaas.config',
  'sasl.login.callback.handler.class',
  'sasl.client.callback.handler.class',
  'security.providers',
  'ssl.keystore.location',
  'ssl.keystore.password',
  'ssl.truststore.location',
  'ssl.truststore.password',
  'enable.metrics.push',
  'metadata.recovery.strategy',
]);

const BY_NAME = new Map<string, Property>();
for (const property of PROPERTIES) {
  BY_NAME.set(property.name, property);
  BY_NAME.set(property.camel, property);
}

/** Checks a configuration and fills in Kafka's defaults. Throws ConfigError on the first problem. */
export function parseConsumerConfig(input: ConsumerConfigInput): ConsumerConfig {
  if (input === null || typeof input !== 'object') throw new ConfigError('config', 'expected an object');
  const given = new Map<Property, { key: string; value: unknown }>();
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const property = BY_NAME.get(key);
    if (property === undefined) {
      if (UNSUPPORTED.has(key)) throw new ConfigError(key, 'is a Kafka consumer property that Sluice does not support');
      throw new ConfigError(key, 'is not a consumer property');
    }
    const earlier = given.get(property);
    if (earlier !== undefined) {
      throw new ConfigError(key, `is given twice (also as ${earlier.key})`);
    }
    given.set(property, { key, value });
  }
  const config: Record<string, unknown> = {};
  for (const property of PROPERTIES) {
    const entry = given.get(property);
    if (entry === undefined && property.default === undefined) {
      throw new ConfigError(property.name, 'is required');
    }
    config[property.camel] = property.parse(entry === undefined ? property.default : entry.value, property.name);
  }
  if (config.fetchBufferMaxBytes === 0) {
    throw new ConfigError('fetch.buffer.max.bytes', 'must be at least 1 (or -1: twice fetch.max.bytes)');
  }
  if (config.fetchBufferMaxBytes === -1) config.fetchBufferMaxBytes = 2 * (config.fetchMaxBytes as number);
  const parsed = config as unknown as ConsumerConfig;
  checkGroupProtocol(parsed.groupProtocol, (name) => {
    const entry = given.get(BY_NAME.get(name)!);
    return entry !== undefined && entry.value !== null && String(entry.value).trim() !== '';
  });
  if (parsed.heartbeatIntervalMs >= parsed.sessionTimeoutMs) {
    throw new ConfigError('heartbeat.interval.ms', 'must be lower than session.timeout.ms');
  }
  if (parsed.groupInstanceId !== null && parsed.groupId === null) {
    throw new ConfigError('group.instance.id', 'needs a group.id');
  }
  const sasl = parsed.securityProtocol.startsWith('SASL');
  if (sasl && (parsed.saslUsername === null || parsed.saslPassword === null)) {
    throw new ConfigError('sasl.username', `${parsed.securityProtocol} needs sasl.username and sasl.password`);
  }
  return parsed;
}

/**
 * Properties of one group protocol that the other refuses, as Kafka's consumer does (ConsumerConfig): under
 * `consumer` the broker assigns and sets the session and heartbeat times (group.consumer.* on the broker); under
 * `classic` there is no broker-side assignor.
 */
const ONLY_CLASSIC = ['partition.assignment.strategy', 'session.timeout.ms', 'heartbeat.interval.ms'] as const;
const ONLY_CONSUMER = ['group.remote.assignor'] as const;

function checkGroupProtocol(protocol: 'classic' | 'consumer', isGiven: (name: string) => boolean): void {
  const refused = (protocol === 'consumer' ? ONLY_CLASSIC : ONLY_CONSUMER).filter(isGiven);
  if (refused.length === 0) return;
  const where =
    protocol === 'consumer'
      ? 'the broker assigns the partitions and sets the session and heartbeat times (group.consumer.* on the broker)'
      : 'it is a setting of group.protocol=consumer';
  throw new ConfigError(refused[0]!, `${refused.join(', ')} cannot be set when group.protocol=${protocol}: ${where}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
