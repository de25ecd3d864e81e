/** Consumer configuration: Kafka's names and defaults, camelCase forms, and a clear error for anything wrong. */
import { inspect } from 'node:util';
import { CooperativeStickyAssignor, type PartitionAssignor, RangeAssignor, StickyAssignor } from '@sluice/assignors';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConsumerConfig } from '../src/config.ts';
import { deserializers } from '../src/deserializers.ts';

const base = { 'bootstrap.servers': 'localhost:9092' };

describe('parseConsumerConfig', () => {
  it("fills in Kafka's defaults", () => {
    const config = parseConsumerConfig(base);
    expect(config).toMatchObject({
      bootstrapServers: ['localhost:9092'],
      groupId: null,
      autoOffsetReset: 'latest',
      enableAutoCommit: true,
      autoCommitIntervalMs: 5000,
      fetchMinBytes: 1,
      fetchMaxBytes: 52428800,
      fetchMaxWaitMs: 500,
      maxPartitionFetchBytes: 1048576,
      maxPollRecords: 500,
      maxPollIntervalMs: 300000,
      sessionTimeoutMs: 45000,
      heartbeatIntervalMs: 3000,
      isolationLevel: 'read_uncommitted',
      requestTimeoutMs: 30000,
      defaultApiTimeoutMs: 60000,
      receiveBufferBytes: -1,
      sendBufferBytes: -1,
      securityProtocol: 'PLAINTEXT',
    });
    expect(config.partitionAssignmentStrategy.map((assignor) => assignor.name)).toEqual([
      'range',
      'cooperative-sticky',
    ]);
    expect(config.valueDeserializer).toBe(deserializers.bytes);
  });

  it('takes Kafka names and camelCase names, strings for numbers and booleans, and lists as strings', () => {
    const config = parseConsumerConfig({
      bootstrapServers: 'a:1, b:2',
      'group.id': 'orders',
      fetchMinBytes: '1024',
      'enable.auto.commit': 'false',
      'auto.offset.reset': 'EARLIEST',
      'partition.assignment.strategy': 'org.apache.kafka.clients.consumer.StickyAssignor,cooperative-sticky',
      'value.deserializer': 'org.apache.kafka.common.serialization.StringDeserializer',
    });
    expect(config.bootstrapServers).toEqual(['a:1', 'b:2']);
    expect(config.fetchMinBytes).toBe(1024);
    expect(config.enableAutoCommit).toBe(false);
    expect(config.autoOffsetReset).toBe('earliest');
    expect(config.partitionAssignmentStrategy[0]).toBeInstanceOf(StickyAssignor);
    expect(config.partitionAssignmentStrategy[1]).toBeInstanceOf(CooperativeStickyAssignor);
    expect(config.valueDeserializer).toBe(deserializers.string);
    const custom: PartitionAssignor = {
      name: 'mine',
      supportedProtocols: ['EAGER'],
      version: 0,
      assign: () => new Map(),
    };
    const withCustom = parseConsumerConfig({ ...base, partitionAssignmentStrategy: [custom, new RangeAssignor()] });
    expect(withCustom.partitionAssignmentStrategy[0]).toBe(custom);
  });

  it('refuses unknown, unsupported, duplicated and missing properties by name', () => {
    expect(() => parseConsumerConfig({ ...base, 'fetch.min.byte': 1 })).toThrow(
      /fetch.min.byte: is not a consumer property/,
    );
    expect(() => parseConsumerConfig({ ...base, 'interceptor.classes': 'x' })).toThrow(
      /interceptor.classes: is a Kafka consumer property that Sluice does not support/,
    );
    expect(() => parseConsumerConfig({ ...base, fetchMinBytes: 1, 'fetch.min.bytes': 2 })).toThrow(/given twice/);
    expect(() => parseConsumerConfig({})).toThrow(/bootstrap.servers: is required/);
    const error = (() => {
      try {
        parseConsumerConfig({ ...base, 'max.poll.records': 0 });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).property).toBe('max.poll.records');
  });

  it("group.protocol: classic by default, consumer in any case; each refuses the other one's properties", () => {
    expect(parseConsumerConfig(base)).toMatchObject({ groupProtocol: 'classic', groupRemoteAssignor: null });
    expect(
      parseConsumerConfig({ ...base, 'group.protocol': 'CONSUMER', 'group.remote.assignor': 'uniform' }),
    ).toMatchObject({ groupProtocol: 'consumer', groupRemoteAssignor: 'uniform' });
    for (const property of ['partition.assignment.strategy', 'session.timeout.ms', 'heartbeat.interval.ms']) {
      const value = property === 'partition.assignment.strategy' ? 'range' : 5_000;
      expect(() => parseConsumerConfig({ ...base, 'group.protocol': 'consumer', [property]: value })).toThrow(
        new RegExp(`^${property}: ${property} cannot be set when group.protocol=consumer`),
      );
    }
    expect(() => parseConsumerConfig({ ...base, groupProtocol: 'consumer', sessionTimeoutMs: 10_000 })).toThrow(
      ConfigError,
    );
    expect(() => parseConsumerConfig({ ...base, 'group.remote.assignor': 'range' })).toThrow(
      /group.remote.assignor: group.remote.assignor cannot be set when group.protocol=classic/,
    );
    expect(() => parseConsumerConfig({ ...base, 'group.protocol': 'eager' })).toThrow(
      /group.protocol: expected one of classic, consumer/,
    );
  });

  it('refuses bad values with what was expected', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ 'fetch.max.wait.ms': -1 }, /fetch.max.wait.ms: expected an integer from 0/],
      [{ 'session.timeout.ms': 1.5 }, /session.timeout.ms: expected an integer/],
      [{ 'enable.auto.commit': 'yes' }, /expected true or false, got "yes"/],
      [{ 'auto.offset.reset': 'smallest' }, /expected one of earliest, latest, none/],
      [{ 'isolation.level': 'read_dirty' }, /isolation.level/],
      [{ 'partition.assignment.strategy': 'fair' }, /unknown assignor "fair"/],
      [{ 'key.deserializer': 'avro' }, /key.deserializer: expected a function or one of bytes, string, json/],
      [{ 'bootstrap.servers': '' }, /bootstrap.servers: expected host:port entries/],
      [{ 'heartbeat.interval.ms': 45000 }, /heartbeat.interval.ms: must be lower than session.timeout.ms/],
      [{ 'group.instance.id': 'static-1' }, /group.instance.id: needs a group.id/],
      [{ 'security.protocol': 'SASL_SSL' }, /needs sasl.username and sasl.password/],
      [{ 'receive.buffer.bytes': -2 }, /receive.buffer.bytes: expected an integer from -1/],
    ];
    for (const [patch, message] of cases) {
      expect(() => parseConsumerConfig({ ...base, ...patch }), JSON.stringify(patch)).toThrow(message);
    }
  });

  it('keeps secrets out of errors and inspection', () => {
    const config = parseConsumerConfig({
      ...base,
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.username': 'alice',
      'sasl.password': 'hunter2-secret',
      'ssl.key': '-----BEGIN PRIVATE KEY-----secret-key',
    });
    const shown = `${inspect(config, { depth: 5 })} ${JSON.stringify(config)}`;
    expect(shown).not.toContain('hunter2-secret');
    expect(shown).not.toContain('secret-key');
    expect(config.saslPassword?.reveal()).toBe('hunter2-secret');
    try {
      parseConsumerConfig({ ...base, 'sasl.password': 42 });
    } catch (error) {
      expect(String(error)).not.toContain('42');
    }
  });
});
