/** Requests the integration tests of the pool and metadata need: create a topic, hold a fetch on the broker. */
import { randomUUID } from 'node:crypto';
import {
  createTopicsApi,
  defaultCreateTopicsRequest,
  defaultFetchRequest,
  type FetchResponse,
  fetchApi,
  type Uuid,
  ZERO_UUID,
} from '@sluice/protocol';
import type { Connection } from '../src/connection.ts';
import { throwIfKafkaError } from '../src/kafka-error.ts';

export function uniqueTopic(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** CreateTopics through one connection (any broker forwards it to the controller); returns the topic id. */
export async function createTopic(
  connection: Connection,
  options: { name: string; partitions: number; replicationFactor: number },
): Promise<Uuid> {
  const response = await connection.request(createTopicsApi, {
    ...defaultCreateTopicsRequest(),
    timeoutMs: 30_000,
    topics: [
      {
        name: options.name,
        numPartitions: options.partitions,
        replicationFactor: options.replicationFactor,
        assignments: [],
        configs: [],
      },
    ],
  });
  const result = response.topics[0]!;
  throwIfKafkaError(result.errorCode, { context: `CreateTopics ${options.name}`, brokerMessage: result.errorMessage });
  return result.topicId;
}

/**
 * A Fetch of an empty partition with `fetch.min.bytes` 1: the broker holds it for `maxWaitMs` (a long poll),
 * which is what keeps a fetch connection busy. Sent to the partition's leader.
 */
export function longFetch(
  connection: Connection,
  options: { topic: string; topicId: Uuid; partition: number; maxWaitMs: number },
): Promise<FetchResponse> {
  const version = connection.versionFor(fetchApi);
  return connection.send(
    fetchApi,
    version,
    {
      ...defaultFetchRequest(),
      maxWaitMs: options.maxWaitMs,
      minBytes: 1,
      maxBytes: 1024 * 1024,
      topics: [
        {
          topic: version >= 13 ? '' : options.topic,
          topicId: version >= 13 ? options.topicId : ZERO_UUID,
          partitions: [
            {
              partition: options.partition,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 1024 * 1024,
              replicaDirectoryId: ZERO_UUID,
              highWatermark: 9223372036854775807n,
            },
          ],
        },
      ],
    },
    { timeoutMs: options.maxWaitMs + 30_000 },
  );
}
