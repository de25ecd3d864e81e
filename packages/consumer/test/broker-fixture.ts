/**
 * What the consumer's integration tests share: the broker of the run, a pool and metadata for setting up topics,
 * topics with records, and consumers that are closed after the file.
 */
import { randomUUID } from 'node:crypto';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { createTopic, produce } from '@sluice/tools-admin';
import { afterAll, inject } from 'vitest';
import { KafkaConsumer } from '../src/index.ts';

/**
 * Polls every consumer (in parallel, like separate applications) until `done` holds, handing each poll's values to
 * `onValues`; bounded generously (`timeoutMs`, default 60 s).
 */
export async function pollUntil(
  members: ReadonlyArray<KafkaConsumer<string | null, string | null>>,
  done: () => boolean,
  onValues: (index: number, values: Array<string | null>) => void = () => {},
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!done()) {
    if (Date.now() > deadline) throw new Error('the group did not get there in time');
    await Promise.all(
      members.map(async (member, index) =>
        onValues(
          index,
          (await member.poll(options.pollMs ?? 100)).map((record) => record.value),
        ),
      ),
    );
  }
}

export function brokerFixture(name: string) {
  const bootstrap = inject('kafka').bootstrap.PLAINTEXT!;
  const pool = new ConnectionPool({ connection: { clientId: `sluice-${name}-setup` } });
  const metadata = new ClusterMetadata({ bootstrapServers: bootstrap, pool });
  const consumers: Array<KafkaConsumer<unknown, unknown>> = [];
  const encoder = new TextEncoder();

  afterAll(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.close({ timeoutMs: 5_000 }).catch(() => {})));
    metadata.close();
    pool.close();
  });

  return {
    bootstrap,
    pool,
    metadata,
    /** A new topic (`<prefix>-<random>`) with a leader for each partition. */
    async newTopic(partitions: number, prefix = name): Promise<string> {
      const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
      metadata.setTopics([...(metadata.snapshot?.topics.keys() ?? []), topic]);
      await createTopic(pool, metadata, topic, partitions);
      return topic;
    },
    /** `perPartition` records into each partition, keyed `k<partition>`, valued `<partition>/<index>`. */
    async fill(topic: string, partitions: readonly number[], perPartition: number, from = 0): Promise<void> {
      for (const partition of partitions) {
        const records = Array.from({ length: perPartition }, (_, index) => ({
          key: encoder.encode(`k${partition}`),
          value: encoder.encode(`${partition}/${from + index}`),
          timestamp: BigInt(Date.now()),
        }));
        await produce(pool, metadata, { topic, partition }, records);
      }
    },
    /**
     * A consumer of strings, from the earliest offset, with short timeouts; closed after the file. Under
     * `group.protocol=consumer` the broker sets the session and heartbeat times (the harness makes them short).
     */
    consumer(config: Record<string, unknown>): KafkaConsumer<string | null, string | null> {
      const classic = String(config['group.protocol'] ?? 'classic').toLowerCase() === 'classic';
      const created = new KafkaConsumer<string | null, string | null>({
        'bootstrap.servers': bootstrap,
        'key.deserializer': 'string',
        'value.deserializer': 'string',
        'auto.offset.reset': 'earliest',
        ...(classic ? { 'session.timeout.ms': 10_000, 'heartbeat.interval.ms': 500 } : {}),
        'fetch.max.wait.ms': 100,
        ...config,
      });
      consumers.push(created as KafkaConsumer<unknown, unknown>);
      return created;
    },
  };
}
