import { type MetadataResponse, type Uuid, ZERO_UUID } from '@sluice/protocol';
import { KafkaError } from './kafka-error.ts';

/** A broker as the last Metadata response listed it. */
export interface BrokerInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

export interface PartitionInfo {
  readonly partition: number;
  /** -1 when the partition has no leader (or, after a stale response, none we trust: see `mergeMetadata`). */
  readonly leaderId: number;
  /** -1 when the broker did not say (Metadata before v7). */
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
  /** The partition's error (LEADER_NOT_AVAILABLE ...), or null. */
  readonly error: KafkaError | null;
}

export interface TopicInfo {
  readonly name: string;
  /** ZERO_UUID before Metadata v10. */
  readonly topicId: Uuid;
  readonly isInternal: boolean;
  /** Sorted by partition index. */
  readonly partitions: readonly PartitionInfo[];
  /** The topic's error (UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED ...), or null. */
  readonly error: KafkaError | null;
}

/** One immutable view of the cluster, replaced as a whole by every metadata update. */
export interface ClusterSnapshot {
  readonly clusterId: string | null;
  /** -1 when unknown. */
  readonly controllerId: number;
  readonly brokers: ReadonlyMap<number, BrokerInfo>;
  readonly topics: ReadonlyMap<string, TopicInfo>;
  readonly topicNamesById: ReadonlyMap<Uuid, string>;
  /** When the response this snapshot came from arrived (clock of the metadata state). */
  readonly updatedAt: number;
}

/** Leader epochs learnt elsewhere (fetch responses, OffsetsForLeaderEpoch), per topic, for the KIP-320 check. */
export interface KnownEpochs {
  readonly topicId: Uuid;
  readonly epochs: ReadonlyMap<number, number>;
}

export interface MergeResult {
  readonly snapshot: ClusterSnapshot;
  /** Some partition came back with an older leader epoch than known: its old data was kept, ask again later. */
  readonly staleEpochs: boolean;
}

/** The partition of a topic in a snapshot, if known. */
export function findPartition(snapshot: ClusterSnapshot, topic: string, partition: number): PartitionInfo | undefined {
  const partitions = snapshot.topics.get(topic)?.partitions;
  if (partitions === undefined) return undefined;
  // Partitions are sorted by index and, but for a broker's omissions, dense: the index is the position.
  const direct = partitions[partition];
  if (direct?.partition === partition) return direct;
  return partitions.find((info) => info.partition === partition);
}

/**
 * Builds the next snapshot from a Metadata response.
 *
 * KIP-320: a leader epoch never goes backwards. Brokers answer Metadata from their own (possibly lagging) view of
 * the cluster, so a response may name a leader older than the one we know, from an earlier snapshot or from a fetch
 * response. Such a partition keeps its previous data; if there is none, it is listed without a leader (-1) so
 * nobody sends to a deposed leader, and `staleEpochs` asks for another refresh. A topic whose id changed was
 * deleted and re-created: its epochs start over.
 */
export function mergeMetadata(options: {
  readonly previous: ClusterSnapshot | null;
  readonly response: MetadataResponse;
  readonly knownEpochs?: ReadonlyMap<string, KnownEpochs>;
  readonly now: number;
}): MergeResult {
  const { previous, response, now } = options;
  const brokers = new Map<number, BrokerInfo>();
  for (const broker of response.brokers) {
    brokers.set(
      broker.nodeId,
      Object.freeze({ nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack }),
    );
  }
  let staleEpochs = false;
  const topics = new Map<string, TopicInfo>();
  const topicNamesById = new Map<Uuid, string>();
  for (const topic of response.topics) {
    // Names are null only for topics requested by id (v12+), which this client does not do.
    if (topic.name === null) continue;
    const before = previous?.topics.get(topic.name);
    const sameTopic = before !== undefined && sameTopicId(before.topicId, topic.topicId);
    const known = options.knownEpochs?.get(topic.name);
    const knownEpochs = known && sameTopicId(known.topicId, topic.topicId) ? known.epochs : undefined;
    const partitions: PartitionInfo[] = [];
    for (const partition of [...topic.partitions].sort((left, right) => left.partitionIndex - right.partitionIndex)) {
      const previousInfo = sameTopic
        ? before.partitions.find((info) => info.partition === partition.partitionIndex)
        : undefined;
      const knownEpoch = Math.max(previousInfo?.leaderEpoch ?? -1, knownEpochs?.get(partition.partitionIndex) ?? -1);
      const info = partitionInfo(partition);
      if (info.leaderEpoch >= 0 && knownEpoch > info.leaderEpoch) {
        staleEpochs = true;
        partitions.push(
          previousInfo && previousInfo.leaderEpoch >= knownEpoch
            ? previousInfo
            : Object.freeze({ ...info, leaderId: -1, leaderEpoch: knownEpoch }),
        );
      } else {
        partitions.push(info);
      }
    }
    topics.set(
      topic.name,
      Object.freeze({
        name: topic.name,
        topicId: topic.topicId,
        isInternal: topic.isInternal,
        partitions: Object.freeze(partitions),
        error: topic.errorCode === 0 ? null : new KafkaError(topic.errorCode, { context: `Metadata of ${topic.name}` }),
      }),
    );
    if (topic.topicId !== ZERO_UUID) topicNamesById.set(topic.topicId, topic.name);
  }
  const snapshot: ClusterSnapshot = Object.freeze({
    clusterId: response.clusterId,
    controllerId: response.controllerId,
    brokers,
    topics,
    topicNamesById,
    updatedAt: now,
  });
  return { snapshot, staleEpochs };
}

function partitionInfo(partition: MetadataResponse['topics'][number]['partitions'][number]): PartitionInfo {
  return Object.freeze({
    partition: partition.partitionIndex,
    leaderId: partition.leaderId,
    leaderEpoch: partition.leaderEpoch,
    replicas: Object.freeze([...partition.replicaNodes]),
    isr: Object.freeze([...partition.isrNodes]),
    offlineReplicas: Object.freeze([...partition.offlineReplicas]),
    error: partition.errorCode === 0 ? null : new KafkaError(partition.errorCode, { context: 'Metadata' }),
  });
}

/** Before v10 there are no ids (ZERO_UUID): then a name is all we can compare. */
function sameTopicId(left: Uuid, right: Uuid): boolean {
  return left === right || left === ZERO_UUID || right === ZERO_UUID;
}
