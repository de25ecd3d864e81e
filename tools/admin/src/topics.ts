/**
 * Topics and records on a real broker for tests and tools: CreateTopics, CreatePartitions, DeleteTopics, Produce
 * (acks=all), FindCoordinator.
 */
import { type ClusterMetadata, type ConnectionPool, KafkaError, throwIfKafkaError } from '@sluice/net';
import {
  type CompressionType,
  createPartitionsApi,
  createTopicsApi,
  defaultCreatePartitionsRequest,
  defaultCreateTopicsRequest,
  defaultDeleteTopicsRequest,
  defaultFindCoordinatorRequest,
  defaultProduceRequest,
  deleteTopicsApi,
  encodeRecordBatchSync,
  findCoordinatorApi,
  produceApi,
  type RecordInput,
  ZERO_UUID,
} from '@sluice/protocol';

/** Creates the topic and waits until metadata names a leader for each partition. */
export async function createTopic(
  pool: ConnectionPool,
  metadata: ClusterMetadata,
  topic: string,
  partitions: number,
  options: { replicationFactor?: number; configs?: Record<string, string> } = {},
): Promise<void> {
  let snapshot = await metadata.ready();
  const created = await (await pool.get({ nodeId: [...snapshot.brokers.keys()][0]! })).request(createTopicsApi, {
    ...defaultCreateTopicsRequest(),
    timeoutMs: 30_000,
    topics: [
      {
        name: topic,
        numPartitions: partitions,
        replicationFactor: options.replicationFactor ?? 1,
        assignments: [],
        configs: Object.entries(options.configs ?? {}).map(([name, value]) => ({ name, value })),
      },
    ],
  });
  throwIfKafkaError(created.topics[0]!.errorCode, { context: `CreateTopics ${topic}` });
  for (;;) {
    snapshot = await metadata.refresh();
    const known = snapshot.topics.get(topic)?.partitions ?? [];
    if (known.length === partitions && known.every((partition) => partition.leaderId >= 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Grows the topic to `total` partitions and waits until metadata names a leader for each. */
export async function addPartitions(
  pool: ConnectionPool,
  metadata: ClusterMetadata,
  topic: string,
  total: number,
): Promise<void> {
  const snapshot = await metadata.ready();
  const response = await (await pool.get({ nodeId: [...snapshot.brokers.keys()][0]! })).request(createPartitionsApi, {
    ...defaultCreatePartitionsRequest(),
    timeoutMs: 30_000,
    topics: [{ name: topic, count: total, assignments: null }],
  });
  throwIfKafkaError(response.results[0]!.errorCode, { context: `CreatePartitions ${topic}` });
  for (;;) {
    const known = (await metadata.refresh()).topics.get(topic)?.partitions ?? [];
    if (known.length === total && known.every((partition) => partition.leaderId >= 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deletes the topic (by name: DeleteTopics sends both the name and, from v6, a zero topic id) and waits until metadata no longer lists it. */
export async function deleteTopic(pool: ConnectionPool, metadata: ClusterMetadata, topic: string): Promise<void> {
  const snapshot = await metadata.ready();
  const connection = await pool.get({ nodeId: [...snapshot.brokers.keys()][0]! });
  const response = await connection.request(deleteTopicsApi, {
    ...defaultDeleteTopicsRequest(),
    timeoutMs: 30_000,
    topicNames: [topic],
    topics: [{ name: topic, topicId: ZERO_UUID }],
  });
  throwIfKafkaError(response.responses[0]!.errorCode, { context: `DeleteTopics ${topic}` });
  for (;;) {
    // Gone: not listed, or listed as unknown (a topic that was asked for by name).
    const info = (await metadata.refresh()).topics.get(topic);
    if (info === undefined || info.error?.code === 3) return;
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

/** The node that coordinates the group now (FindCoordinator through any broker, asked again until it answers). */
export async function coordinatorOf(pool: ConnectionPool, metadata: ClusterMetadata, groupId: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const snapshot = attempt === 0 ? await metadata.ready() : await metadata.refresh();
    const broker = [...snapshot.brokers.keys()][attempt % snapshot.brokers.size]!;
    const nodeId = await findCoordinator(pool, broker, groupId).catch(() => -1);
    if (nodeId >= 0) return nodeId;
    if (attempt >= 100) throw new Error(`no coordinator found for group ${groupId}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function findCoordinator(pool: ConnectionPool, broker: number, groupId: string): Promise<number> {
  const connection = await pool.get({ nodeId: broker });
  const version = connection.versionFor(findCoordinatorApi);
  const request =
    version >= 4
      ? { ...defaultFindCoordinatorRequest(), keyType: 0, coordinatorKeys: [groupId] }
      : { ...defaultFindCoordinatorRequest(), keyType: 0, key: groupId };
  const response = await connection.send(findCoordinatorApi, version, request);
  if (version < 4) return response.errorCode === 0 ? response.nodeId : -1;
  const entry = response.coordinators.find((coordinator) => coordinator.key === groupId);
  return entry?.errorCode === 0 ? entry.nodeId : -1;
}
