/**
 * Issue 3, item 4b: against the real broker, for every API x version that both the broker and this codec speak, a
 * request encoded by Sluice gets a response that Sluice decodes, with the right correlation id and without a
 * disconnect. An error code in the response is fine; where a version-independent outcome is known (the topic is
 * listed, the produced records come back, the committed offset is read back ...) each version asserts it too.
 *
 * The requests make sense to the broker, so it parses them all the way: a topic is created and written first, the
 * group requests run against a group that really exists, the transaction requests against an open transaction.
 * Every case is independent of the others' order (shared state is built on first use), except that the fixture
 * topics come from beforeAll.
 *
 * APIs the broker does not list are skipped and named in the summary; cells excluded for codec bugs are listed in
 * broker/conformance-matrix.ts (KNOWN_CODEC_BUGS). With KAFKA_BOOTSTRAP (an external cluster), only the SASL
 * cases are skipped: they need the harness's SASL_PLAINTEXT listener and its test user.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  type ApiDescriptor,
  addOffsetsToTxnApi,
  addPartitionsToTxnApi,
  allApis,
  alterUserScramCredentialsApi,
  apiVersionsApi,
  consumerGroupDescribeApi,
  consumerGroupHeartbeatApi,
  createPartitionsApi,
  createTopicsApi,
  decodeRecords,
  defaultAddOffsetsToTxnRequest,
  defaultAddPartitionsToTxnRequest,
  defaultAlterUserScramCredentialsRequest,
  defaultApiVersionsRequest,
  defaultConsumerGroupDescribeRequest,
  defaultConsumerGroupHeartbeatRequest,
  defaultCreatePartitionsRequest,
  defaultCreateTopicsRequest,
  defaultDeleteRecordsRequest,
  defaultDeleteTopicsRequest,
  defaultDescribeConfigsRequest,
  defaultDescribeGroupsRequest,
  defaultEndTxnRequest,
  defaultFetchRequest,
  defaultFindCoordinatorRequest,
  defaultHeartbeatRequest,
  defaultInitProducerIdRequest,
  defaultJoinGroupRequest,
  defaultLeaveGroupRequest,
  defaultListGroupsRequest,
  defaultListOffsetsRequest,
  defaultMetadataRequest,
  defaultOffsetCommitRequest,
  defaultOffsetFetchRequest,
  defaultOffsetForLeaderEpochRequest,
  defaultProduceRequest,
  defaultSaslAuthenticateRequest,
  defaultSaslHandshakeRequest,
  defaultShareAcknowledgeRequest,
  defaultShareFetchRequest,
  defaultShareGroupHeartbeatRequest,
  defaultSyncGroupRequest,
  defaultTxnOffsetCommitRequest,
  deleteRecordsApi,
  deleteTopicsApi,
  describeConfigsApi,
  describeGroupsApi,
  encodeRecordBatch,
  endTxnApi,
  fetchApi,
  findCoordinatorApi,
  heartbeatApi,
  initProducerIdApi,
  type JoinGroupRequest,
  joinGroupApi,
  type KafkaRecord,
  leaveGroupApi,
  listGroupsApi,
  listOffsetsApi,
  type MetadataResponse,
  metadataApi,
  offsetCommitApi,
  offsetFetchApi,
  offsetForLeaderEpochApi,
  produceApi,
  saslAuthenticateApi,
  saslHandshakeApi,
  shareAcknowledgeApi,
  shareFetchApi,
  shareGroupHeartbeatApi,
  syncGroupApi,
  txnOffsetCommitApi,
  type Uuid,
  uuidFromBytes,
  ZERO_UUID,
} from '@sluice/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConformanceMatrix, KNOWN_CODEC_BUGS, knownCodecBug } from './broker/conformance-matrix.ts';
import { BrokerConnection, ConnectionClosedError } from './broker/connection.ts';
import { BrokerSession, ErrorCode } from './broker/session.ts';

const kafka = inject('kafka');

function firstAddress(bootstrap: string | undefined): { host: string; port: number } {
  const [host, port] = (bootstrap ?? '').split(',')[0]!.split(':');
  return { host: host!, port: Number(port) };
}

const brokerLogFile = kafka.external || kafka.nodes[0] === undefined ? null : join(kafka.nodes[0].dir, 'server.log');
const saslUser = kafka.external ? null : kafka.sasl;
const saslBootstrap = kafka.bootstrap.SASL_PLAINTEXT;

// Opened at collection time: the versions to test (one `it` per version) come from the broker's ApiVersions.
const session = await BrokerSession.open({ ...firstAddress(kafka.bootstrap.PLAINTEXT), brokerLogFile });
const matrix = new ConformanceMatrix();

const runId = `${process.pid}-${Date.now().toString(36)}`;
const prefix = `sluice-conformance-${runId}`;
const names = {
  topic: `${prefix}-main`,
  scratchTopic: `${prefix}-scratch`,
  classicGroup: `${prefix}-classic`,
  offsetsGroup: `${prefix}-offsets`,
  consumerGroup: `${prefix}-consumer`,
  shareGroup: `${prefix}-share`,
  transactionalId: `${prefix}-txn`,
  scramUser: `${prefix}-scram`,
} as const;
const topicRetentionMs = '86400000';
const classicProtocolType = 'sluice-conformance';
const classicProtocolName = 'sluice-conformance-protocol';

const text = (value: string) => new TextEncoder().encode(value);
const readText = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString('utf8'));
const randomUuid = (): Uuid => uuidFromBytes(randomBytes(16));
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** Memoizes an async step so that whichever case needs it first builds it, once. */
function once<Value>(build: () => Promise<Value>): () => Promise<Value> {
  let promise: Promise<Value> | undefined;
  return () => {
    promise ??= build();
    return promise;
  };
}

/** The record values the fixture writes to the main topic first, at offsets 0-2. */
const fixtureRecords = [
  { key: 'key-0', value: 'value-0' },
  { key: 'key-1', value: 'value-1' },
  { key: 'key-2', value: 'value-2' },
];

interface Fixture {
  readonly nodeId: number;
  readonly topicId: Uuid;
  readonly scratchTopicId: Uuid;
  readonly leaderEpoch: number;
}

let fixture: Fixture;
/** Topics to delete at the end (the DeleteTopics cases delete their own). */
const createdTopics = new Set<string>();

function fetchedRecords(
  records: Uint8Array | null,
): Array<{ offset: bigint; key: string | null; value: string | null }> {
  if (records === null) return [];
  const result: Array<{ offset: bigint; key: string | null; value: string | null }> = [];
  for (const batch of decodeRecords(records).batches) {
    for (const record of batch as Iterable<KafkaRecord>) {
      result.push({ offset: record.offset, key: readText(record.key), value: readText(record.value) });
    }
  }
  return result;
}

async function recordBatch(records: ReadonlyArray<{ key: string; value: string }>): Promise<Uint8Array> {
  const timestamp = BigInt(Date.now());
  return encodeRecordBatch({
    records: records.map((record) => ({
      key: text(record.key),
      value: text(record.value),
      headers: [{ key: 'source', value: text('sluice-conformance') }],
      timestamp,
    })),
  });
}

async function createTopic(name: string, version = session.highest(createTopicsApi), partitions = 1) {
  const exchange = await session.send(createTopicsApi, version, {
    ...defaultCreateTopicsRequest(),
    timeoutMs: 30_000,
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: [{ name: 'retention.ms', value: topicRetentionMs }],
      },
    ],
  });
  createdTopics.add(name);
  return exchange;
}

async function metadataFor(topics: readonly string[]): Promise<MetadataResponse> {
  const exchange = await session.send(metadataApi, session.highest(metadataApi), {
    ...defaultMetadataRequest(),
    topics: topics.map((name) => ({ name, topicId: ZERO_UUID })),
    allowAutoTopicCreation: false,
  });
  return exchange.response;
}

/** Waits until every topic has a leader for every partition: CreateTopics returns before the broker knows it. */
async function waitForLeaders(topics: readonly string[]): Promise<MetadataResponse> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const metadata = await metadataFor(topics);
    const ready = metadata.topics.every(
      (topic) =>
        topic.errorCode === ErrorCode.NONE &&
        topic.partitions.length > 0 &&
        topic.partitions.every((partition) => partition.errorCode === ErrorCode.NONE && partition.leaderId >= 0),
    );
    if (ready && metadata.topics.length === topics.length) return metadata;
    if (Date.now() > deadline) throw new Error(`topics without leaders: ${JSON.stringify(metadata.topics)}`);
    await sleep(100);
  }
}

async function produce(topic: string, topicId: Uuid, records: ReadonlyArray<{ key: string; value: string }>) {
  const exchange = await session.send(produceApi, session.highest(produceApi), {
    ...defaultProduceRequest(),
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, topicId, partitionData: [{ index: 0, records: await recordBatch(records) }] }],
  });
  const partition = exchange.response.responses[0]?.partitionResponses[0];
  expect(partition?.errorCode, `produce to ${topic}`).toBe(ErrorCode.NONE);
  return partition!;
}

/** Key and key type (0 group, 1 transaction); v4+ batches keys (KIP-699) and has no single key field. */
function findCoordinatorRequest(version: number, key: string, keyType: 0 | 1) {
  return version >= 4
    ? { ...defaultFindCoordinatorRequest(), keyType, coordinatorKeys: [key] }
    : { ...defaultFindCoordinatorRequest(), key, keyType };
}

/** Asks FindCoordinator until the coordinator for `key` is up: the first ask creates its internal topic. */
async function waitForCoordinator(key: string, keyType: 0 | 1): Promise<void> {
  const version = session.highest(findCoordinatorApi);
  const exchange = await session.sendUntilSettled(
    findCoordinatorApi,
    version,
    findCoordinatorRequest(version, key, keyType),
    (response) => (version >= 4 ? (response.coordinators[0]?.errorCode ?? -1) : response.errorCode),
    { timeoutMs: 30_000 },
  );
  const errorCode = version >= 4 ? exchange.response.coordinators[0]?.errorCode : exchange.response.errorCode;
  expect(errorCode, `FindCoordinator for ${key}`).toBe(ErrorCode.NONE);
}

/**
 * One `describe` per API with one `it` per version both sides speak. Cells listed in KNOWN_CODEC_BUGS are skipped
 * with their reason; an API the broker does not list gets a skipped case saying so.
 */
function conformance<Request, Response>(
  api: ApiDescriptor<Request, Response>,
  body: (version: number, versions: readonly number[]) => Promise<void>,
  options: { skipReason?: string | null } = {},
): void {
  const descriptor = api as ApiDescriptor<unknown, unknown>;
  matrix.register(descriptor);
  const versions = session.commonVersions(descriptor);
  describe(`${api.name} (key ${api.apiKey})`, () => {
    const listed = session.negotiation.response.apiKeys.find((entry) => entry.apiKey === api.apiKey);
    if (listed === undefined) {
      const reason = `the broker does not list API key ${api.apiKey} in ApiVersions (a feature it has not enabled)`;
      matrix.skip(descriptor, `v${api.minVersion}-v${api.maxVersion}`, reason);
      it.skip(`all versions: ${reason}`, () => {});
      return;
    }
    if (versions.length === 0) {
      const reason = `no version in common (codec v${api.minVersion}-v${api.maxVersion}, broker v${listed.minVersion}-v${listed.maxVersion})`;
      matrix.skip(descriptor, 'all', reason);
      it.skip(reason, () => {});
      return;
    }
    if (options.skipReason) {
      matrix.skip(descriptor, `v${versions[0]}-v${versions.at(-1)}`, options.skipReason);
      it.skip(`all versions: ${options.skipReason}`, () => {});
      return;
    }
    for (const version of versions) {
      const bug = knownCodecBug(descriptor, version);
      if (bug) {
        matrix.skip(descriptor, `v${version}`, `known codec bug: ${bug.reason}`);
        it.skip(`v${version}: known codec bug: ${bug.reason}`, () => {});
        continue;
      }
      it(`v${version}`, async () => {
        await body(version, versions);
        matrix.pass(descriptor, version);
      });
    }
  });
}

beforeAll(async () => {
  const created = await Promise.all([createTopic(names.topic), createTopic(names.scratchTopic)]);
  for (const exchange of created) expect(exchange.response.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  const metadata = await waitForLeaders([names.topic, names.scratchTopic]);
  const topic = metadata.topics.find((entry) => entry.name === names.topic)!;
  const scratch = metadata.topics.find((entry) => entry.name === names.scratchTopic)!;
  fixture = {
    nodeId: metadata.brokers[0]!.nodeId,
    topicId: topic.topicId,
    scratchTopicId: scratch.topicId,
    leaderEpoch: topic.partitions[0]!.leaderEpoch,
  };
  const first = await produce(names.topic, fixture.topicId, fixtureRecords);
  expect(first.baseOffset).toBe(0n);
  const scratchRecords = Array.from({ length: 10 }, (_, index) => ({ key: `scratch-${index}`, value: `${index}` }));
  await produce(names.scratchTopic, fixture.scratchTopicId, scratchRecords);
  await waitForCoordinator(names.classicGroup, 0);
  await waitForCoordinator(names.transactionalId, 1);
});

afterAll(async () => {
  try {
    await cleanUp();
  } finally {
    session.close();
    console.log(matrix.summary(allApis, session.brokerVersions));
    if (session.reconnects > 0) console.log(`the broker closed the connection ${session.reconnects} time(s)`);
  }
});

/** Best effort: members leave their groups, topics are deleted. Nothing here may fail the run. */
async function cleanUp(): Promise<void> {
  const steps: Array<Promise<unknown>> = [];
  for (const member of consumerMembers.values()) {
    steps.push(
      session.send(consumerGroupHeartbeatApi, session.highest(consumerGroupHeartbeatApi), {
        ...defaultConsumerGroupHeartbeatRequest(),
        groupId: member.groupId,
        memberId: member.memberId,
        memberEpoch: -1,
      }),
    );
  }
  if (createdTopics.size > 0) {
    const version = session.highest(deleteTopicsApi);
    steps.push(
      session.send(deleteTopicsApi, version, {
        ...defaultDeleteTopicsRequest(),
        timeoutMs: 30_000,
        ...(version >= 6
          ? { topics: [...createdTopics].map((name) => ({ name, topicId: ZERO_UUID })) }
          : { topicNames: [...createdTopics] }),
      }),
    );
  }
  const results = await Promise.allSettled(steps);
  for (const result of results) if (result.status === 'rejected') console.warn(`clean-up: ${result.reason}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Connection and cluster metadata

conformance(apiVersionsApi, async (version) => {
  const exchange = await session.send(apiVersionsApi, version, {
    ...defaultApiVersionsRequest(),
    clientSoftwareName: 'sluice-conformance',
    clientSoftwareVersion: '0.0.0',
  });
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
  const metadata = exchange.response.apiKeys.find((entry) => entry.apiKey === metadataApi.apiKey);
  expect(metadata?.maxVersion).toBeGreaterThanOrEqual(12);
  if (version >= 3)
    expect(exchange.response.finalizedFeatures.map((feature) => feature.name)).toContain('metadata.version');
});

// A version the codec speaks but the broker does not list: Kafka closes the connection rather than answer it, which
// proves that this test's "no disconnect" check can fail.
const beyondBroker = allApis
  .map((api) => ({ api, broker: session.brokerVersions.get(api.apiKey) }))
  .find(
    ({ api, broker }) => api.apiKey !== apiVersionsApi.apiKey && broker !== undefined && api.maxVersion > broker.max,
  );

describe('the connection helper', () => {
  it.skipIf(beyondBroker === undefined)(
    `reports the disconnect when a request uses a version the broker does not list (${beyondBroker?.api.name} v${beyondBroker?.api.maxVersion})`,
    async () => {
      const { api } = beyondBroker!;
      const connection = await BrokerConnection.open(firstAddress(kafka.bootstrap.PLAINTEXT));
      try {
        await connection.negotiateApiVersions();
        const refused = connection.send(api, api.maxVersion, api.request.createDefault());
        await expect(refused).rejects.toBeInstanceOf(ConnectionClosedError);
        expect(connection.closeReason).toBeInstanceOf(ConnectionClosedError);
      } finally {
        connection.close();
      }
    },
  );
});

describe('ApiVersions downgrade rule (KIP-511)', () => {
  it('answers a version it does not know with UNSUPPORTED_VERSION in v0 format, then the common highest', async () => {
    const connection = await BrokerConnection.open(firstAddress(kafka.bootstrap.PLAINTEXT));
    try {
      const negotiation = await connection.negotiateApiVersions(0x7fff);
      const brokerMax = session.negotiation.response.apiKeys.find((entry) => entry.apiKey === apiVersionsApi.apiKey)!;
      expect(negotiation.attempts).toEqual([
        { version: 0x7fff, errorCode: ErrorCode.UNSUPPORTED_VERSION },
        { version: Math.min(brokerMax.maxVersion, apiVersionsApi.maxVersion), errorCode: ErrorCode.NONE },
      ]);
      expect(connection.brokerVersions.get(metadataApi.apiKey)).toBeDefined();
    } finally {
      connection.close();
    }
  });
});

conformance(metadataApi, async (version) => {
  const exchange = await session.send(metadataApi, version, {
    ...defaultMetadataRequest(),
    topics: [{ name: names.topic, topicId: ZERO_UUID }],
    // v0-v3 cannot say "do not create" (the broker never auto-creates here: the topic exists).
    allowAutoTopicCreation: version < 4,
  });
  const { response } = exchange;
  expect(response.brokers.map((broker) => broker.nodeId)).toContain(fixture.nodeId);
  const topic = response.topics.find((entry) => entry.name === names.topic);
  expect(topic?.errorCode).toBe(ErrorCode.NONE);
  expect(topic?.partitions.map((partition) => partition.partitionIndex)).toEqual([0]);
  expect(topic?.partitions[0]?.leaderId).toBe(fixture.nodeId);
  if (version >= 10) expect(topic?.topicId).toBe(fixture.topicId);
  if (version >= 2 && !kafka.external) expect(response.clusterId).toBe(kafka.clusterId);
});

// ---------------------------------------------------------------------------------------------------------------
// Data plane

let lastProducedOffset = -1n;

conformance(produceApi, async (version) => {
  const records = [{ key: `produce-v${version}`, value: `produced with Produce v${version}` }];
  const exchange = await session.send(produceApi, version, {
    ...defaultProduceRequest(),
    acks: -1,
    timeoutMs: 10_000,
    topicData: [
      {
        name: names.topic,
        topicId: fixture.topicId,
        partitionData: [{ index: 0, records: await recordBatch(records) }],
      },
    ],
  });
  const topic = exchange.response.responses[0];
  if (version >= 13) expect(topic?.topicId).toBe(fixture.topicId);
  else expect(topic?.name).toBe(names.topic);
  const partition = topic?.partitionResponses[0];
  expect(partition?.errorCode).toBe(ErrorCode.NONE);
  // Offsets 0-2 hold the fixture's records; each version appends one more.
  expect(partition?.baseOffset).toBeGreaterThanOrEqual(BigInt(fixtureRecords.length));
  expect(partition?.baseOffset).toBeGreaterThan(lastProducedOffset);
  lastProducedOffset = partition!.baseOffset;
  if (version >= 5) expect(partition?.logStartOffset).toBe(0n);
});

conformance(fetchApi, async (version) => {
  const exchange = await session.send(fetchApi, version, {
    ...defaultFetchRequest(),
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [
      {
        topic: names.topic,
        topicId: fixture.topicId,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: 9223372036854775807n,
          },
        ],
      },
    ],
  });
  const { response } = exchange;
  expect(response.errorCode).toBe(ErrorCode.NONE);
  const topic = response.responses[0];
  if (version >= 13) expect(topic?.topicId).toBe(fixture.topicId);
  else expect(topic?.topic).toBe(names.topic);
  const partition = topic?.partitions[0];
  expect(partition?.errorCode).toBe(ErrorCode.NONE);
  expect(partition?.highWatermark).toBeGreaterThanOrEqual(BigInt(fixtureRecords.length));
  const records = fetchedRecords(partition?.records ?? null);
  expect(records.slice(0, fixtureRecords.length)).toEqual(
    fixtureRecords.map((record, index) => ({ offset: BigInt(index), ...record })),
  );
});

conformance(listOffsetsApi, async (version) => {
  const exchange = await session.send(listOffsetsApi, version, {
    ...defaultListOffsetsRequest(),
    replicaId: -1,
    timeoutMs: 10_000,
    topics: [{ name: names.topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }],
  });
  const partition = exchange.response.topics[0]?.partitions[0];
  expect(exchange.response.topics[0]?.name).toBe(names.topic);
  expect(partition?.errorCode).toBe(ErrorCode.NONE);
  // Timestamp -1 asks for the log end offset.
  expect(partition?.offset).toBeGreaterThanOrEqual(BigInt(fixtureRecords.length));
});

conformance(offsetForLeaderEpochApi, async (version) => {
  const exchange = await session.send(offsetForLeaderEpochApi, version, {
    ...defaultOffsetForLeaderEpochRequest(),
    topics: [
      {
        topic: names.topic,
        partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: fixture.leaderEpoch }],
      },
    ],
  });
  const partition = exchange.response.topics[0]?.partitions[0];
  expect(partition?.errorCode).toBe(ErrorCode.NONE);
  expect(partition?.leaderEpoch).toBe(fixture.leaderEpoch);
  // The current epoch's end offset is the log end offset.
  expect(partition?.endOffset).toBeGreaterThanOrEqual(BigInt(fixtureRecords.length));
});

// ---------------------------------------------------------------------------------------------------------------
// Topic administration

conformance(createTopicsApi, async (version) => {
  const name = `${prefix}-created-v${version}`;
  const exchange = await createTopic(name, version);
  const topic = exchange.response.topics[0];
  expect(topic?.name).toBe(name);
  expect(topic?.errorCode).toBe(ErrorCode.NONE);
  if (version >= 5) {
    expect(topic?.numPartitions).toBe(1);
    expect(topic?.configs?.find((config) => config.name === 'retention.ms')?.value).toBe(topicRetentionMs);
  }
  if (version >= 7) expect(topic?.topicId).not.toBe(ZERO_UUID);
});

conformance(describeConfigsApi, async (version) => {
  const exchange = await session.send(describeConfigsApi, version, {
    ...defaultDescribeConfigsRequest(),
    // Resource type 2 is TOPIC.
    resources: [{ resourceType: 2, resourceName: names.topic, configurationKeys: ['retention.ms'] }],
    includeSynonyms: true,
  });
  const result = exchange.response.results[0];
  expect(result?.errorCode).toBe(ErrorCode.NONE);
  expect(result?.resourceName).toBe(names.topic);
  const retention = result?.configs.find((config) => config.name === 'retention.ms');
  expect(retention?.value).toBe(topicRetentionMs);
});

conformance(createPartitionsApi, async (version, versions) => {
  // The scratch topic starts with one partition; each version adds one.
  const count = 2 + versions.indexOf(version);
  const exchange = await session.send(createPartitionsApi, version, {
    ...defaultCreatePartitionsRequest(),
    timeoutMs: 30_000,
    topics: [{ name: names.scratchTopic, count, assignments: null }],
  });
  const result = exchange.response.results[0];
  expect(result?.name).toBe(names.scratchTopic);
  expect(result?.errorCode).toBe(ErrorCode.NONE);
});

conformance(deleteRecordsApi, async (version, versions) => {
  // The scratch topic holds ten records; each version moves the log start one further.
  const offset = BigInt(1 + versions.indexOf(version));
  const exchange = await session.send(deleteRecordsApi, version, {
    ...defaultDeleteRecordsRequest(),
    timeoutMs: 10_000,
    topics: [{ name: names.scratchTopic, partitions: [{ partitionIndex: 0, offset }] }],
  });
  const partition = exchange.response.topics[0]?.partitions[0];
  expect(partition?.errorCode).toBe(ErrorCode.NONE);
  expect(partition?.lowWatermark).toBe(offset);
});

conformance(deleteTopicsApi, async (version) => {
  const name = `${prefix}-deleted-v${version}`;
  const created = await createTopic(name);
  expect(created.response.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  let topicId = created.response.topics[0]!.topicId;
  if (topicId === ZERO_UUID) topicId = (await waitForLeaders([name])).topics[0]!.topicId;
  // v6 deletes by topic id, earlier versions by name.
  const exchange = await session.send(deleteTopicsApi, version, {
    ...defaultDeleteTopicsRequest(),
    timeoutMs: 30_000,
    ...(version >= 6 ? { topics: [{ name: null, topicId }] } : { topicNames: [name] }),
  });
  const result = exchange.response.responses[0];
  expect(result?.errorCode).toBe(ErrorCode.NONE);
  if (version >= 6) expect(result?.topicId).toBe(topicId);
  else expect(result?.name).toBe(name);
  createdTopics.delete(name);
});

conformance(alterUserScramCredentialsApi, async (version) => {
  const salt = randomBytes(16);
  const exchange = await session.send(alterUserScramCredentialsApi, version, {
    ...defaultAlterUserScramCredentialsRequest(),
    upsertions: [
      {
        name: `${names.scramUser}-v${version}`,
        // Mechanism 1 is SCRAM-SHA-256.
        mechanism: 1,
        iterations: 4096,
        salt,
        saltedPassword: pbkdf2Sync('conformance-password', salt, 4096, 32, 'sha256'),
      },
    ],
  });
  expect(exchange.response.results).toEqual([
    { user: `${names.scramUser}-v${version}`, errorCode: ErrorCode.NONE, errorMessage: null, unknownTaggedFields: [] },
  ]);
});

// ---------------------------------------------------------------------------------------------------------------
// Classic groups

conformance(findCoordinatorApi, async (version) => {
  const exchange = await session.send(
    findCoordinatorApi,
    version,
    findCoordinatorRequest(version, names.classicGroup, 0),
  );
  const { response } = exchange;
  if (version >= 4) {
    expect(response.coordinators).toHaveLength(1);
    expect(response.coordinators[0]).toMatchObject({ key: names.classicGroup, errorCode: 0, nodeId: fixture.nodeId });
  } else {
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.nodeId).toBe(fixture.nodeId);
  }
});

function joinRequest(groupId: string, memberId: string): JoinGroupRequest {
  return {
    ...defaultJoinGroupRequest(),
    groupId,
    memberId,
    sessionTimeoutMs: 45_000,
    rebalanceTimeoutMs: 60_000,
    protocolType: classicProtocolType,
    protocols: [{ name: classicProtocolName, metadata: text('subscription') }],
    reason: 'conformance',
  };
}

/** Joins a new classic group as its only member (answering MEMBER_ID_REQUIRED from v4 on, KIP-394). */
async function joinClassicGroup(groupId: string, version = session.highest(joinGroupApi)) {
  const errorCodeOf = (response: { errorCode: number }) => response.errorCode;
  const first = await session.sendUntilSettled(joinGroupApi, version, joinRequest(groupId, ''), errorCodeOf);
  if (version >= 4) expect(first.response.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  if (first.response.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) return first;
  return session.sendUntilSettled(joinGroupApi, version, joinRequest(groupId, first.response.memberId), errorCodeOf);
}

const assignment = text('assignment: partition 0');

/** A stable classic group with one member, joined and synced at the highest versions. */
const classicMember = once(async () => {
  const joined = await joinClassicGroup(names.classicGroup);
  expect(joined.response.errorCode).toBe(ErrorCode.NONE);
  const { memberId, generationId } = joined.response;
  const synced = await session.send(syncGroupApi, session.highest(syncGroupApi), {
    ...defaultSyncGroupRequest(),
    groupId: names.classicGroup,
    generationId,
    memberId,
    protocolType: classicProtocolType,
    protocolName: classicProtocolName,
    assignments: [{ memberId, assignment }],
  });
  expect(synced.response.errorCode).toBe(ErrorCode.NONE);
  return { groupId: names.classicGroup, memberId, generationId };
});

conformance(joinGroupApi, async (version) => {
  const exchange = await joinClassicGroup(`${prefix}-join-v${version}`, version);
  const { response } = exchange;
  expect(response.errorCode).toBe(ErrorCode.NONE);
  expect(response.generationId).toBeGreaterThanOrEqual(1);
  expect(response.leader).toBe(response.memberId);
  expect(response.protocolName).toBe(classicProtocolName);
  expect(response.members.map((member) => [member.memberId, readText(member.metadata)])).toEqual([
    [response.memberId, 'subscription'],
  ]);
});

conformance(syncGroupApi, async (version) => {
  const member = await classicMember();
  const exchange = await session.send(syncGroupApi, version, {
    ...defaultSyncGroupRequest(),
    groupId: member.groupId,
    generationId: member.generationId,
    memberId: member.memberId,
    protocolType: classicProtocolType,
    protocolName: classicProtocolName,
    assignments: [{ memberId: member.memberId, assignment }],
  });
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
  expect(exchange.response.assignment).toEqual(assignment);
  if (version >= 5) expect(exchange.response.protocolName).toBe(classicProtocolName);
});

conformance(heartbeatApi, async (version) => {
  const member = await classicMember();
  const exchange = await session.send(heartbeatApi, version, {
    ...defaultHeartbeatRequest(),
    groupId: member.groupId,
    generationId: member.generationId,
    memberId: member.memberId,
  });
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
});

conformance(describeGroupsApi, async (version) => {
  const member = await classicMember();
  const exchange = await session.send(describeGroupsApi, version, {
    ...defaultDescribeGroupsRequest(),
    groups: [member.groupId],
  });
  const group = exchange.response.groups[0];
  expect(group).toMatchObject({
    errorCode: 0,
    groupId: member.groupId,
    groupState: 'Stable',
    protocolType: classicProtocolType,
    protocolData: classicProtocolName,
  });
  expect(group?.members.map((entry) => [entry.memberId, readText(entry.memberAssignment)])).toEqual([
    [member.memberId, readText(assignment)],
  ]);
});

conformance(listGroupsApi, async (version) => {
  const member = await classicMember();
  const exchange = await session.send(listGroupsApi, version, defaultListGroupsRequest());
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
  const group = exchange.response.groups.find((entry) => entry.groupId === member.groupId);
  expect(group?.protocolType).toBe(classicProtocolType);
  if (version >= 4) expect(group?.groupState).toBe('Stable');
  if (version >= 5) expect(group?.groupType).toBe('classic');
});

/** The offset each OffsetCommit version commits: distinct, so OffsetFetch can tell which one it reads. */
const committedOffset = (version: number) => BigInt(100 + version);
let lastCommittedOffset: bigint | null = null;

conformance(offsetCommitApi, async (version) => {
  const member = await classicMember();
  const exchange = await session.send(offsetCommitApi, version, {
    ...defaultOffsetCommitRequest(),
    groupId: member.groupId,
    generationIdOrMemberEpoch: member.generationId,
    memberId: member.memberId,
    topics: [
      {
        name: names.topic,
        topicId: fixture.topicId,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: committedOffset(version),
            committedLeaderEpoch: fixture.leaderEpoch,
            committedMetadata: `v${version}`,
          },
        ],
      },
    ],
  });
  const topic = exchange.response.topics[0];
  if (version >= 10) expect(topic?.topicId).toBe(fixture.topicId);
  else expect(topic?.name).toBe(names.topic);
  expect(topic?.partitions).toEqual([{ partitionIndex: 0, errorCode: 0, unknownTaggedFields: [] }]);
  lastCommittedOffset = committedOffset(version);
});

conformance(offsetFetchApi, async (version) => {
  const member = await classicMember();
  const topics = [{ name: names.topic, topicId: fixture.topicId, partitionIndexes: [0] }];
  // v8 batches groups (KIP-709); before it, one group per request.
  const exchange = await session.send(offsetFetchApi, version, {
    ...defaultOffsetFetchRequest(),
    ...(version >= 8
      ? { groups: [{ groupId: member.groupId, memberId: null, memberEpoch: -1, topics }] }
      : { groupId: member.groupId, topics }),
    requireStable: version >= 7,
  });
  const { response } = exchange;
  // From v2 (before v8) the response has a top-level error code; from v8 one per group.
  if (version >= 8) expect(response.groups[0]?.errorCode).toBe(ErrorCode.NONE);
  else if (version >= 2) expect(response.errorCode).toBe(ErrorCode.NONE);
  const partition = version >= 8 ? response.groups[0]?.topics[0]?.partitions[0] : response.topics[0]?.partitions[0];
  expect(partition?.errorCode).toBe(ErrorCode.NONE);
  // What the OffsetCommit cases committed last (or nothing yet, -1, when run alone).
  expect(partition?.committedOffset).toBe(lastCommittedOffset ?? -1n);
});

conformance(leaveGroupApi, async (version) => {
  const joined = await joinClassicGroup(`${prefix}-leave-v${version}`);
  expect(joined.response.errorCode).toBe(ErrorCode.NONE);
  const { memberId } = joined.response;
  const groupId = `${prefix}-leave-v${version}`;
  // v3 batches members (KIP-345); before it, the one leaving member.
  const exchange = await session.send(leaveGroupApi, version, {
    ...defaultLeaveGroupRequest(),
    groupId,
    ...(version >= 3 ? { members: [{ memberId, groupInstanceId: null, reason: 'conformance' }] } : { memberId }),
  });
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
  if (version >= 3)
    expect(exchange.response.members.map((entry) => [entry.memberId, entry.errorCode])).toEqual([[memberId, 0]]);
});

// ---------------------------------------------------------------------------------------------------------------
// Consumer groups (KIP-848)

const consumerMembers = new Map<number, { groupId: string; memberId: string; memberEpoch: number }>();

conformance(consumerGroupHeartbeatApi, async (version) => {
  const groupId = `${names.consumerGroup}-v${version}`;
  // From v1 the client picks its member id (KIP-1082); v0 lets the coordinator pick.
  const memberId = version >= 1 ? randomUuid() : '';
  const exchange = await session.sendUntilSettled(
    consumerGroupHeartbeatApi,
    version,
    {
      ...defaultConsumerGroupHeartbeatRequest(),
      groupId,
      memberId,
      memberEpoch: 0,
      rebalanceTimeoutMs: 60_000,
      subscribedTopicNames: [names.topic],
      topicPartitions: [],
    },
    (response) => response.errorCode,
  );
  const { response } = exchange;
  expect(response.errorCode, response.errorMessage ?? '').toBe(ErrorCode.NONE);
  expect(response.memberEpoch).toBeGreaterThanOrEqual(1);
  expect(response.heartbeatIntervalMs).toBeGreaterThan(0);
  if (version >= 1) expect(response.memberId).toBe(memberId);
  else expect(response.memberId).toMatch(/.+/);
  consumerMembers.set(version, { groupId, memberId: response.memberId!, memberEpoch: response.memberEpoch });
});

conformance(consumerGroupDescribeApi, async (version) => {
  const highest = session.highest(consumerGroupHeartbeatApi);
  const member = consumerMembers.get(highest);
  const groupId = member?.groupId ?? `${names.consumerGroup}-v${highest}`;
  const exchange = await session.send(consumerGroupDescribeApi, version, {
    ...defaultConsumerGroupDescribeRequest(),
    groupIds: [groupId],
  });
  const group = exchange.response.groups[0];
  expect(group?.groupId).toBe(groupId);
  if (member === undefined) return; // run alone: the group does not exist, and the error code says so
  expect(group?.errorCode).toBe(ErrorCode.NONE);
  const described = group?.members.find((entry) => entry.memberId === member.memberId);
  expect(described?.subscribedTopicNames).toEqual([names.topic]);
  expect(described?.clientId).toBe('sluice-conformance');
});

// ---------------------------------------------------------------------------------------------------------------
// Producers and transactions

conformance(initProducerIdApi, async (version) => {
  // No transactional id: an idempotent producer, which every version can ask for.
  const exchange = await session.sendUntilSettled(
    initProducerIdApi,
    version,
    { ...defaultInitProducerIdRequest(), transactionalId: null, transactionTimeoutMs: 60_000 },
    (response) => response.errorCode,
  );
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
  expect(exchange.response.producerId).toBeGreaterThanOrEqual(0n);
  expect(exchange.response.producerEpoch).toBe(0);
});

/** The transactional producer: id and epoch (the epoch moves when EndTxn v5+ ends a transaction, KIP-890). */
const producer = { producerId: -1n, producerEpoch: -1 };
const transactionalProducer = once(async () => {
  const exchange = await session.sendUntilSettled(
    initProducerIdApi,
    session.highest(initProducerIdApi),
    { ...defaultInitProducerIdRequest(), transactionalId: names.transactionalId, transactionTimeoutMs: 60_000 },
    (response) => response.errorCode,
    { timeoutMs: 30_000 },
  );
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
  producer.producerId = exchange.response.producerId;
  producer.producerEpoch = exchange.response.producerEpoch;
  return producer;
});

const addPartitionsErrors = (response: {
  errorCode: number;
  resultsByTransaction: Array<{ topicResults: Array<{ resultsByPartition: Array<{ partitionErrorCode: number }> }> }>;
  resultsByTopicV3AndBelow: Array<{ resultsByPartition: Array<{ partitionErrorCode: number }> }>;
}): number[] => [
  response.errorCode,
  ...[...response.resultsByTransaction.flatMap((result) => result.topicResults), ...response.resultsByTopicV3AndBelow]
    .flatMap((topic) => topic.resultsByPartition)
    .map((partition) => partition.partitionErrorCode),
];

/** Adds the main topic's partition 0 to the transaction, which starts one when none is open. */
function addPartitionsRequest(version: number) {
  const topics = [{ name: names.topic, partitions: [0] }];
  return version >= 4
    ? {
        ...defaultAddPartitionsToTxnRequest(),
        transactions: [
          {
            transactionalId: names.transactionalId,
            producerId: producer.producerId,
            producerEpoch: producer.producerEpoch,
            verifyOnly: false,
            topics,
          },
        ],
      }
    : {
        ...defaultAddPartitionsToTxnRequest(),
        v3AndBelowTransactionalId: names.transactionalId,
        v3AndBelowProducerId: producer.producerId,
        v3AndBelowProducerEpoch: producer.producerEpoch,
        v3AndBelowTopics: topics,
      };
}

async function beginTransaction(): Promise<void> {
  await transactionalProducer();
  const clientVersions = session.commonVersions(addPartitionsToTxnApi).filter((version) => version <= 3);
  const version = clientVersions.at(-1) ?? session.highest(addPartitionsToTxnApi);
  const exchange = await session.sendUntilSettled(
    addPartitionsToTxnApi,
    version,
    () => addPartitionsRequest(version),
    (response) => Math.max(...addPartitionsErrors(response)),
  );
  expect(addPartitionsErrors(exchange.response).every((errorCode) => errorCode === ErrorCode.NONE)).toBe(true);
}

conformance(addPartitionsToTxnApi, async (version) => {
  await transactionalProducer();
  const exchange = await session.sendUntilSettled(
    addPartitionsToTxnApi,
    version,
    () => addPartitionsRequest(version),
    (response) => Math.max(...addPartitionsErrors(response)),
  );
  const { response } = exchange;
  if (version >= 4) {
    expect(response.resultsByTransaction.map((result) => result.transactionalId)).toEqual([names.transactionalId]);
  } else {
    expect(response.resultsByTopicV3AndBelow.map((topic) => topic.name)).toEqual([names.topic]);
  }
  expect(addPartitionsErrors(response).every((errorCode) => errorCode === ErrorCode.NONE)).toBe(true);
});

conformance(addOffsetsToTxnApi, async (version) => {
  await beginTransaction();
  const exchange = await session.sendUntilSettled(
    addOffsetsToTxnApi,
    version,
    () => ({
      ...defaultAddOffsetsToTxnRequest(),
      transactionalId: names.transactionalId,
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      groupId: names.offsetsGroup,
    }),
    (response) => response.errorCode,
  );
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
});

conformance(txnOffsetCommitApi, async (version) => {
  await beginTransaction();
  const added = await session.sendUntilSettled(
    addOffsetsToTxnApi,
    session.highest(addOffsetsToTxnApi),
    () => ({
      ...defaultAddOffsetsToTxnRequest(),
      transactionalId: names.transactionalId,
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      groupId: names.offsetsGroup,
    }),
    (response) => response.errorCode,
  );
  expect(added.response.errorCode).toBe(ErrorCode.NONE);
  const exchange = await session.sendUntilSettled(
    txnOffsetCommitApi,
    version,
    () => ({
      ...defaultTxnOffsetCommitRequest(),
      transactionalId: names.transactionalId,
      groupId: names.offsetsGroup,
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      topics: [
        {
          name: names.topic,
          topicId: fixture.topicId,
          partitions: [
            { partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: `v${version}` },
          ],
        },
      ],
    }),
    (response) => Math.max(...response.topics.flatMap((topic) => topic.partitions.map((entry) => entry.errorCode))),
  );
  const topic = exchange.response.topics[0];
  if (version >= 6) expect(topic?.topicId).toBe(fixture.topicId);
  else expect(topic?.name).toBe(names.topic);
  expect(topic?.partitions.map((partition) => partition.errorCode)).toEqual([ErrorCode.NONE]);
});

conformance(endTxnApi, async (version) => {
  await beginTransaction();
  const exchange = await session.sendUntilSettled(
    endTxnApi,
    version,
    () => ({
      ...defaultEndTxnRequest(),
      transactionalId: names.transactionalId,
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      committed: true,
    }),
    (response) => response.errorCode,
  );
  expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
  if (version >= 5) {
    // Transactions V2 (KIP-890): the coordinator bumps the epoch at the end of each transaction.
    expect(exchange.response.producerId).toBe(producer.producerId);
    expect(exchange.response.producerEpoch).toBeGreaterThan(producer.producerEpoch);
    producer.producerEpoch = exchange.response.producerEpoch;
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Share groups (KIP-932)

/** A share group member that holds the main topic's partition 0 (the only member, so it gets every partition). */
const shareMember = once(async () => {
  const memberId = randomUuid();
  const version = session.highest(shareGroupHeartbeatApi);
  const heartbeat = (memberEpoch: number) =>
    session.sendUntilSettled(
      shareGroupHeartbeatApi,
      version,
      {
        ...defaultShareGroupHeartbeatRequest(),
        groupId: names.shareGroup,
        memberId,
        memberEpoch,
        subscribedTopicNames: memberEpoch === 0 ? [names.topic] : null,
      },
      (response) => response.errorCode,
    );
  const joined = await heartbeat(0);
  // The assignment follows in a later heartbeat once the coordinator has computed it.
  let latest = joined;
  const deadline = Date.now() + 15_000;
  const assigned = () =>
    latest.response.assignment?.topicPartitions.some(
      (entry) => entry.topicId === fixture.topicId && entry.partitions.includes(0),
    ) === true;
  while (latest.response.errorCode === ErrorCode.NONE && !assigned() && Date.now() < deadline) {
    await sleep(200);
    latest = await heartbeat(latest.response.memberEpoch);
  }
  expect(assigned(), `share assignment: ${JSON.stringify(latest.response.assignment)}`).toBe(true);
  return { memberId, joined };
});

interface ShareFetchOptions {
  readonly memberId: string;
  readonly shareSessionEpoch: number;
  readonly maxWaitMs: number;
}

/** Epoch 0 opens a share session on partition 0 of the main topic; later epochs fetch in it. */
function shareFetch(version: number, options: ShareFetchOptions) {
  return session.send(shareFetchApi, version, {
    ...defaultShareFetchRequest(),
    groupId: names.shareGroup,
    memberId: options.memberId,
    shareSessionEpoch: options.shareSessionEpoch,
    maxWaitMs: options.maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    maxRecords: 100,
    batchSize: 100,
    topics:
      options.shareSessionEpoch === 0
        ? [
            {
              topicId: fixture.topicId,
              partitions: [{ partitionIndex: 0, partitionMaxBytes: 0, acknowledgementBatches: [] }],
            },
          ]
        : [],
  });
}

/**
 * Opens a share session, writes a record, and fetches until the member has acquired it. The share partition
 * starts at the log end (share.auto.offset.reset=latest) once the broker has initialised it, which may be after
 * our first record on a loaded machine: so while nothing is acquired, another record is written each round, and
 * any of them counts.
 */
async function acquireSharedRecord(version: number, key: string) {
  const { memberId } = await shareMember();
  const opened = await shareFetch(version, { memberId, shareSessionEpoch: 0, maxWaitMs: 0 });
  expect(opened.response.errorCode, opened.response.errorMessage ?? '').toBe(ErrorCode.NONE);
  const produced = new Map<string, bigint>();
  const write = async () => {
    const attemptKey = `${key}#${produced.size}`;
    produced.set(
      attemptKey,
      (await produce(names.topic, fixture.topicId, [{ key: attemptKey, value: `shared ${key}` }])).baseOffset,
    );
  };
  await write();
  const deadline = Date.now() + 30_000;
  for (let epoch = 1; ; epoch++) {
    const exchange = await shareFetch(version, { memberId, shareSessionEpoch: epoch, maxWaitMs: 500 });
    expect(exchange.response.errorCode, exchange.response.errorMessage ?? '').toBe(ErrorCode.NONE);
    const partition = exchange.response.responses.find((topic) => topic.topicId === fixture.topicId)?.partitions[0];
    expect(partition?.errorCode ?? ErrorCode.NONE, partition?.errorMessage ?? '').toBe(ErrorCode.NONE);
    const records = fetchedRecords(partition?.records ?? null);
    const record = records.find((entry) => entry.key !== null && produced.has(entry.key));
    if (record !== undefined) {
      expect(record.offset).toBe(produced.get(record.key!));
      const acquired = partition!.acquiredRecords.find(
        (range) => range.firstOffset <= record.offset && record.offset <= range.lastOffset,
      );
      expect(acquired?.deliveryCount).toBe(1);
      return { memberId, offset: record.offset, nextEpoch: epoch + 1, exchange };
    }
    if (Date.now() > deadline)
      throw new Error(`none of ${[...produced.keys()].join(', ')} was acquired: ${JSON.stringify(records)}`);
    if (records.length === 0) await write();
  }
}

conformance(shareGroupHeartbeatApi, async () => {
  const { memberId, joined } = await shareMember();
  expect(joined.response.errorCode, joined.response.errorMessage ?? '').toBe(ErrorCode.NONE);
  expect(joined.response.memberId).toBe(memberId);
  expect(joined.response.memberEpoch).toBeGreaterThanOrEqual(1);
});

conformance(shareFetchApi, async (version) => {
  const acquired = await acquireSharedRecord(version, `share-fetch-v${version}`);
  expect(acquired.exchange.response.acquisitionLockTimeoutMs).toBeGreaterThan(0);
});

conformance(shareAcknowledgeApi, async (version) => {
  const acquired = await acquireSharedRecord(session.highest(shareFetchApi), `share-acknowledge-v${version}`);
  const exchange = await session.send(shareAcknowledgeApi, version, {
    ...defaultShareAcknowledgeRequest(),
    groupId: names.shareGroup,
    memberId: acquired.memberId,
    shareSessionEpoch: acquired.nextEpoch,
    topics: [
      {
        topicId: fixture.topicId,
        partitions: [
          {
            partitionIndex: 0,
            // Acknowledge type 1 is ACCEPT.
            acknowledgementBatches: [
              { firstOffset: acquired.offset, lastOffset: acquired.offset, acknowledgeTypes: [1] },
            ],
          },
        ],
      },
    ],
  });
  expect(exchange.response.errorCode, exchange.response.errorMessage ?? '').toBe(ErrorCode.NONE);
  const partition = exchange.response.responses[0]?.partitions[0];
  expect(exchange.response.responses[0]?.topicId).toBe(fixture.topicId);
  expect(partition?.errorCode, partition?.errorMessage ?? '').toBe(ErrorCode.NONE);
});

// ---------------------------------------------------------------------------------------------------------------
// SASL, on the harness's SASL_PLAINTEXT listener

const saslSkipReason = kafka.external
  ? 'needs the harness SASL_PLAINTEXT listener and test user (KAFKA_BOOTSTRAP gives PLAINTEXT only)'
  : saslBootstrap === undefined || saslUser === null
    ? 'the harness started no SASL_PLAINTEXT listener'
    : null;

async function withSaslSession(body: (sasl: BrokerSession) => Promise<void>): Promise<void> {
  const sasl = await BrokerSession.open({ ...firstAddress(saslBootstrap), brokerLogFile });
  try {
    await body(sasl);
  } finally {
    sasl.close();
  }
}

const plainToken = (username: string, password: string) => text(`\0${username}\0${password}`);

conformance(
  saslHandshakeApi,
  async (version) => {
    // v0 hands the connection over to raw SASL tokens after the handshake, so this case ends there.
    await withSaslSession(async (sasl) => {
      const exchange = await sasl.send(saslHandshakeApi, version, {
        ...defaultSaslHandshakeRequest(),
        mechanism: 'PLAIN',
      });
      expect(exchange.response.errorCode).toBe(ErrorCode.NONE);
      expect(exchange.response.mechanisms).toEqual(expect.arrayContaining(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']));
    });
  },
  { skipReason: saslSkipReason },
);

conformance(
  saslAuthenticateApi,
  async (version) => {
    await withSaslSession(async (sasl) => {
      const handshake = await sasl.send(saslHandshakeApi, 1, { ...defaultSaslHandshakeRequest(), mechanism: 'PLAIN' });
      expect(handshake.response.errorCode).toBe(ErrorCode.NONE);
      const exchange = await sasl.send(saslAuthenticateApi, version, {
        ...defaultSaslAuthenticateRequest(),
        authBytes: plainToken(saslUser!.username, saslUser!.password),
      });
      expect(exchange.response.errorCode, exchange.response.errorMessage ?? '').toBe(ErrorCode.NONE);
      // Authenticated: the listener now serves ordinary requests.
      const metadata = await sasl.send(metadataApi, sasl.highest(metadataApi), {
        ...defaultMetadataRequest(),
        topics: [],
        allowAutoTopicCreation: false,
      });
      expect(metadata.response.brokers.map((broker) => broker.nodeId)).toContain(fixture.nodeId);
    });
    await withSaslSession(async (sasl) => {
      await sasl.send(saslHandshakeApi, 1, { ...defaultSaslHandshakeRequest(), mechanism: 'PLAIN' });
      const refused = await sasl.send(saslAuthenticateApi, version, {
        ...defaultSaslAuthenticateRequest(),
        authBytes: plainToken(saslUser!.username, 'not-the-password'),
      });
      expect(refused.response.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
      expect(refused.response.errorMessage).toMatch(/authentication failed/i);
    });
  },
  { skipReason: saslSkipReason },
);

// ---------------------------------------------------------------------------------------------------------------
// Coverage: every API of the codec that the broker lists has a case, and every shared version passed.

describe('coverage', () => {
  it('has a conformance case for every API in allApis', () => {
    expect(allApis.filter((api) => !matrix.isRegistered(api)).map((api) => api.name)).toEqual([]);
  });

  it('passed every version the broker and the codec share (but the documented exclusions)', () => {
    const missing: string[] = [];
    for (const api of allApis) {
      const skippedWholly = (api === saslHandshakeApi || api === saslAuthenticateApi) && saslSkipReason !== null;
      if (skippedWholly) continue;
      const expected = session
        .commonVersions(api)
        .filter((version) => !KNOWN_CODEC_BUGS.some((bug) => bug.apiName === api.name && bug.version === version));
      const passed = new Set(matrix.passedVersions(api));
      for (const version of expected) if (!passed.has(version)) missing.push(`${api.name} v${version}`);
    }
    expect(missing).toEqual([]);
  });
});
