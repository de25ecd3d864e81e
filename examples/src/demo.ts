// The consumer demo: a local Kafka broker (or KAFKA_BOOTSTRAP), a topic of 3 partitions with 30 records, and a
// group of two consumers that share it: each polls, prints what it got, commits, and closes (leaving the group at
// once). Run with `./pnpmw demo`.
import { randomUUID } from 'node:crypto';
import { KafkaConsumer } from '@sluice/consumer';
import { ClusterMetadata, ConnectionPool, throwIfKafkaError } from '@sluice/net';
import {
  createTopicsApi,
  defaultCreateTopicsRequest,
  defaultProduceRequest,
  encodeRecordBatchSync,
  produceApi,
} from '@sluice/protocol';
import { KafkaCluster } from '@sluice/tools-kafka';

const PARTITIONS = 3;
const RECORDS_PER_PARTITION = 10;

async function main(): Promise<void> {
  let cluster: KafkaCluster | null = null;
  let bootstrap = process.env.KAFKA_BOOTSTRAP;
  if (!bootstrap) {
    console.log('starting a local Kafka broker (jars from Maven Central on first use)...');
    cluster = await KafkaCluster.start({ brokers: 1 });
    bootstrap = cluster.bootstrap();
  }
  try {
    const topic = `demo-${randomUUID().slice(0, 8)}`;
    const setup = await Setup.open(bootstrap, topic);

    const groupId = `demo-group-${randomUUID().slice(0, 8)}`;
    const members = ['alice', 'bob'].map((name) => {
      const consumer = new KafkaConsumer<string | null, string | null>({
        'bootstrap.servers': bootstrap,
        'group.id': groupId,
        'client.id': `demo-${name}`,
        'key.deserializer': 'string',
        'value.deserializer': 'string',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': false,
      });
      consumer.subscribe([topic], {
        onPartitionsAssigned: (partitions) =>
          console.log(`${name}: assigned ${partitions.map((tp) => `${tp.topic}-${tp.partition}`).join(', ')}`),
        onPartitionsRevoked: (partitions) =>
          console.log(`${name}: revoked ${partitions.map((tp) => `${tp.topic}-${tp.partition}`).join(', ')}`),
      });
      return { name, consumer, count: 0 };
    });

    // Both poll (the first poll joins the group) until the group has settled with both in it.
    const deadline = Date.now() + 60_000;
    const owned = () => members.map((member) => member.consumer.assignment().length);
    while ((owned().includes(0) || owned().reduce((sum, count) => sum + count) < PARTITIONS) && Date.now() < deadline) {
      await Promise.all(members.map((member) => member.consumer.poll(200)));
    }
    await setup.fill();
    console.log(`produced ${PARTITIONS * RECORDS_PER_PARTITION} records into ${topic}`);

    // The poll loop of each member.
    const total = PARTITIONS * RECORDS_PER_PARTITION;
    while (members.reduce((sum, member) => sum + member.count, 0) < total && Date.now() < deadline) {
      await Promise.all(
        members.map(async (member) => {
          const records = await member.consumer.poll(500);
          for (const record of records) {
            console.log(
              `${member.name}: ${record.topic}-${record.partition}@${record.offset} ${record.key} = ${record.value}`,
            );
          }
          member.count += records.length;
          if (records.length > 0) await member.consumer.commitSync();
        }),
      );
    }
    for (const member of members) {
      console.log(
        `${member.name}: read ${member.count} records, owns ${member.consumer.assignment().length} partitions`,
      );
      await member.consumer.close();
    }
    const read = members.reduce((sum, member) => sum + member.count, 0);
    console.log(
      read === total ? `done: ${read} records, each read once` : `read ${read} records for ${total} produced`,
    );
    if (read !== total) process.exitCode = 1;
  } finally {
    await cluster?.stop();
  }
}

/** Creates the topic, then produces the demo records (a tiny producer: Sluice is a consumer). */
class Setup {
  readonly #pool: ConnectionPool;
  readonly #metadata: ClusterMetadata;
  readonly #topic: string;

  private constructor(pool: ConnectionPool, metadata: ClusterMetadata, topic: string) {
    this.#pool = pool;
    this.#metadata = metadata;
    this.#topic = topic;
  }

  static async open(bootstrap: string, topic: string): Promise<Setup> {
    const pool = new ConnectionPool({ connection: { clientId: 'demo-setup' } });
    const metadata = new ClusterMetadata({ bootstrapServers: bootstrap, pool, topics: [topic] });
    const snapshot = await metadata.ready();
    const created = await (await pool.get({ nodeId: [...snapshot.brokers.keys()][0]! })).request(createTopicsApi, {
      ...defaultCreateTopicsRequest(),
      timeoutMs: 30_000,
      topics: [{ name: topic, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
    });
    throwIfKafkaError(created.topics[0]!.errorCode, { context: `CreateTopics ${topic}` });
    console.log(`created topic ${topic} with ${PARTITIONS} partitions`);
    return new Setup(pool, metadata, topic);
  }

  async fill(): Promise<void> {
    try {
      for (let partition = 0; partition < PARTITIONS; partition++) await this.#produce(partition);
    } finally {
      this.#metadata.close();
      this.#pool.close();
    }
  }

  async #produce(partition: number): Promise<void> {
    const records = Array.from({ length: RECORDS_PER_PARTITION }, (_, index) => ({
      key: new TextEncoder().encode(`key-${partition}`),
      value: new TextEncoder().encode(`message ${index} of partition ${partition}`),
      timestamp: BigInt(Date.now()),
    }));
    for (let attempt = 0; ; attempt++) {
      const snapshot = await this.#metadata.refresh();
      const info = snapshot.topics.get(this.#topic);
      const leader = info?.partitions[partition]?.leaderId ?? -1;
      if (info === undefined || leader < 0) {
        if (attempt >= 100) throw new Error(`no leader for ${this.#topic}-${partition}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const response = await (await this.#pool.get({ nodeId: leader })).request(produceApi, {
        ...defaultProduceRequest(),
        acks: -1,
        timeoutMs: 30_000,
        topicData: [
          {
            name: this.#topic,
            topicId: info.topicId,
            partitionData: [{ index: partition, records: encodeRecordBatchSync({ records }) }],
          },
        ],
      });
      const code = response.responses[0]!.partitionResponses[0]!.errorCode;
      if (code === 0) return;
      // A new partition's leader may need a moment before it accepts records.
      if (attempt >= 100) throwIfKafkaError(code, { context: 'Produce' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

await main();
