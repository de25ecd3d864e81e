/**
 * A metadata snapshot for the request managers' fake-clock tests (fetch, offsets): brokers 1 and 2, and topics
 * whose partitions have the given leaders (leader epoch 5), topic ids and topic errors.
 */
import type { ClusterSnapshot, KafkaError, PartitionInfo } from '@sluice/net';
import { type TopicPartition, type Uuid, ZERO_UUID } from '@sluice/protocol';

export function partitionInfo(partition: number, leaderId: number): PartitionInfo {
  return {
    partition,
    leaderId,
    leaderEpoch: 5,
    replicas: [leaderId],
    isr: [leaderId],
    offlineReplicas: [],
    error: null,
  };
}

export function fakeCluster(options: {
  readonly leaders: ReadonlyArray<readonly [TopicPartition, number]>;
  readonly topicIds?: ReadonlyMap<string, Uuid>;
  readonly topicErrors?: ReadonlyMap<string, KafkaError>;
}): ClusterSnapshot {
  const ids = options.topicIds ?? new Map<string, Uuid>();
  const topics = new Map<string, PartitionInfo[]>();
  for (const [tp, leaderId] of options.leaders) {
    topics.set(tp.topic, [...(topics.get(tp.topic) ?? []), partitionInfo(tp.partition, leaderId)]);
  }
  return {
    clusterId: 'cluster',
    controllerId: 1,
    brokers: new Map(
      [1, 2].map((nodeId) => [nodeId, { nodeId, host: `broker-${nodeId}`, port: 9092, rack: null }] as const),
    ),
    topics: new Map(
      [...topics].map(([name, partitions]) => [
        name,
        {
          name,
          topicId: ids.get(name) ?? ZERO_UUID,
          isInternal: false,
          partitions: partitions.sort((a, b) => a.partition - b.partition),
          error: options.topicErrors?.get(name) ?? null,
        },
      ]),
    ),
    topicNamesById: new Map([...ids].filter(([, id]) => id !== ZERO_UUID).map(([name, id]) => [id, name])),
    updatedAt: 0,
  };
}
