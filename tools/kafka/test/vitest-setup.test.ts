import { describe, expect, it } from 'vitest';
import { consumerProtocolFromEnv, externalCluster } from '../src/vitest-setup.ts';

describe('the global setup', () => {
  it('reads KAFKA_CONSUMER_PROTOCOL=1 or true as on, anything else as off', () => {
    expect(consumerProtocolFromEnv({})).toBe(false);
    expect(consumerProtocolFromEnv({ KAFKA_CONSUMER_PROTOCOL: '1' })).toBe(true);
    expect(consumerProtocolFromEnv({ KAFKA_CONSUMER_PROTOCOL: ' TRUE ' })).toBe(true);
    expect(consumerProtocolFromEnv({ KAFKA_CONSUMER_PROTOCOL: '0' })).toBe(false);
  });

  it('tells what an external cluster lacks from KAFKA_VERSION, and nothing when that is unset or unknown', () => {
    const old = externalCluster('127.0.0.1:9092', { KAFKA_VERSION: '3.9.2' });
    expect(old).toMatchObject({ external: true, version: '3.9.2', bootstrap: { PLAINTEXT: '127.0.0.1:9092' } });
    expect(old.lacks.consumerGroupProtocol).toMatch(/early access/);
    expect(Object.keys(externalCluster('h:1', { KAFKA_VERSION: '3.9.2', KAFKA_CONSUMER_PROTOCOL: '1' }).lacks)).toEqual(
      ['consumerGroupRegex'],
    );
    expect(externalCluster('h:1', { KAFKA_VERSION: '4.0.2' }).lacks).toEqual({});
    expect(externalCluster('h:1', {})).toMatchObject({ version: 'unknown', lacks: {} });
    expect(externalCluster('h:1', { KAFKA_VERSION: 'trunk' }).lacks).toEqual({});
  });
});
