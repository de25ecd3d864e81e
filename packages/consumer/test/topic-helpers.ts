/** Topics and records for the consumer integration tests: CreateTopics, CreatePartitions and Produce (acks=all). */
import { type ClusterMetadata, type ConnectionPool, KafkaError, throwIfKafkaError } from '@sluice/net';
import {
  type CompressionType,
  createTopicsApi,
  defaultCreateTopicsRequest,
  defaultProduceRequest,
  encodeRecordBatchSync,
  produceApi,
  type RecordInput,
} from '@sluice/protocol';

/** Creates the topic and waits until metadata names a leader for each partition. */
export async function createTopic(
  pool: ConnectionPool,
  metadata: ClusterMetadata,
  topic: string,
  partitions: number,
): Promise<void> {
  let snapshot = await metadata.ready();
  const created = await (await pool.get({ nodeId: [...snapshot.brokers.keys()][0]! })).request(createTopicsApi, {
    ...defaultCreateTopicsRequest(),
    timeoutMs: 30_000,
    topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
  });
  throwIfKafkaError(created.topics[0]!.errorCode, { context: `CreateTopics ${topic}` });
  for (;;) {
    snapshot = await metadata.refresh();
    const known = snapshot.topics.get(topic)?.partitions ?? [];
    if (known.length === partitions && known.every((partition) => partition.leaderId >= 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Produces one batch to the partition's leader (acks=all). Right after CreateTopics the new leader may not serve
 * yet (NOT_LEADER_OR_FOLLOWER): it asks again with fresh metadata, as a producer would.
 */
export async function produce(
  pool: ConnectionPool,
  metadata: ClusterMetadata,
  target: { topic: string; partition: number },
  records: readonly RecordInput[],
  compression: CompressionType = 'none',
): Promise<void> {
  const batch = encodeRecordBatchSync({ records, compression });
  for (let attempt = 0; ; attempt++) {
    const snapshot = attempt === 0 ? await metadata.ready() : await metadata.refresh();
    const info = snapshot.topics.get(target.topic)!;
    const leader = info.partitions[target.partition]!.leaderId;
    const response = await (await pool.get({ nodeId: leader })).request(produceApi, {
      ...defaultProduceRequest(),
      acks: -1,
      timeoutMs: 30_000,
      topicData: [
        { name: target.topic, topicId: info.topicId, partitionData: [{ index: target.partition, records: batch }] },
      ],
    });
    const code = response.responses[0]!.partitionResponses[0]!.errorCode;
    if (code === 0) return;
    if (attempt >= 50 || !new KafkaError(code).retriable) throwIfKafkaError(code, { context: 'Produce' });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
