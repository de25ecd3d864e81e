// One read of the whole topic by each client of `pnpm bench:consume`: a fresh consumer group, from the earliest
// offset, no offset commits, until every produced record has been seen; the consumer is closed afterwards (untimed).
// Kafka's Java consumer is described here too, but it reads in a JVM of its own (consume-java.ts).
//
// Each client's library is imported when it first reads, not here: a sample's process then holds only its own
// client's code (peak RSS compares clients, not all of them loaded at once), and a native binary that does not load,
// or a package that is missing, fails that client's samples with the reason rather than every client's.
import { parseAddress } from './net-raw-socket.ts';

export interface FetchSettings {
  /** fetch.max.bytes: per Fetch response. */
  readonly maxBytes: number;
  /** max.partition.fetch.bytes. */
  readonly partitionMaxBytes: number;
  /** fetch.max.wait.ms. */
  readonly maxWaitMs: number;
  readonly minBytes: number;
}

export interface ReadTask {
  readonly bootstrap: string;
  readonly topic: string;
  readonly groupId: string;
  readonly expectedRecords: number;
  readonly expectedBytes: number;
  readonly fetch: FetchSettings;
  /** Sluice's max.poll.records. */
  readonly maxPollRecords: number;
  /** A read that has not seen every record by then fails. */
  readonly timeoutMs: number;
}

export interface ReadResult {
  readonly records: number;
  /** Key + value bytes counted. */
  readonly bytes: number;
  /** From the first call that talks to the broker to the last record. */
  readonly seconds: number;
  /** From that call to the first record: bootstrap, group join, offset lookup, first Fetch. */
  readonly secondsToFirstRecord: number;
  /** From the first record to the last. */
  readonly steadySeconds: number;
}

export type ClientId = 'sluice' | 'sluiceNoCrc' | 'kafkajs' | 'platformatic' | 'crab' | 'kafkaTs' | 'java' | 'bare';

/** What the tables say about a client. */
export interface ClientInfo {
  readonly id: ClientId;
  readonly label: string;
  /** What the client is configured with, in its own option names. */
  describe(task: Pick<ReadTask, 'fetch' | 'maxPollRecords'>): string;
}

/** A client that reads in a Node process (consume-child.ts). */
export interface Client extends ClientInfo {
  read(task: ReadTask): Promise<ReadResult>;
}

/** Counts records and checks the total; `finish` is called once, when every record has been seen. */
class Tally {
  records = 0;
  bytes = 0;
  readonly start = performance.now();
  firstAt = -1;
  endAt = -1;

  readonly name: string;
  readonly task: ReadTask;

  constructor(name: string, task: ReadTask) {
    this.name = name;
    this.task = task;
  }

  add(records: number, bytes: number): boolean {
    if (this.firstAt < 0 && records > 0) this.firstAt = performance.now();
    this.records += records;
    this.bytes += bytes;
    if (this.records >= this.task.expectedRecords && this.endAt < 0) {
      this.endAt = performance.now();
      return true;
    }
    return false;
  }

  overdue(): boolean {
    return performance.now() - this.start > this.task.timeoutMs;
  }

  timeoutError(): Error {
    return new Error(
      `${this.name}: read ${this.records} of ${this.task.expectedRecords} records in ${this.task.timeoutMs} ms (timed out)`,
    );
  }

  /** The result, once the read is over; throws when the counts are not exactly what was produced. */
  result(): ReadResult {
    if (this.records !== this.task.expectedRecords || this.bytes !== this.task.expectedBytes) {
      throw new Error(
        `${this.name}: read ${this.records} records / ${this.bytes} key+value bytes, ` +
          `expected exactly ${this.task.expectedRecords} / ${this.task.expectedBytes}`,
      );
    }
    return {
      records: this.records,
      bytes: this.bytes,
      seconds: (this.endAt - this.start) / 1000,
      secondsToFirstRecord: (this.firstAt - this.start) / 1000,
      steadySeconds: (this.endAt - this.firstAt) / 1000,
    };
  }
}

const length = (data: { length: number } | null | undefined) => data?.length ?? 0;

function sluiceClient(checkCrcs: boolean): Client {
  return {
    id: checkCrcs ? 'sluice' : 'sluiceNoCrc',
    label: checkCrcs ? 'Sluice KafkaConsumer (poll loop)' : 'Sluice KafkaConsumer, check.crcs=false',
    describe: ({ fetch, maxPollRecords }) =>
      `fetch.max.bytes=${fetch.maxBytes} max.partition.fetch.bytes=${fetch.partitionMaxBytes} ` +
      `fetch.max.wait.ms=${fetch.maxWaitMs} fetch.min.bytes=${fetch.minBytes} max.poll.records=${maxPollRecords} ` +
      `check.crcs=${checkCrcs}${checkCrcs ? ' (default)' : ''} isolation.level=read_uncommitted (default), poll(1000)`,
    async read(task) {
      const { KafkaConsumer } = await import('@sluice/consumer');
      const consumer = new KafkaConsumer({
        'bootstrap.servers': task.bootstrap,
        'group.id': task.groupId,
        'client.id': 'sluice-bench-consume',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': false,
        'max.poll.records': task.maxPollRecords,
        'fetch.max.bytes': task.fetch.maxBytes,
        'max.partition.fetch.bytes': task.fetch.partitionMaxBytes,
        'fetch.max.wait.ms': task.fetch.maxWaitMs,
        'fetch.min.bytes': task.fetch.minBytes,
        'check.crcs': checkCrcs,
      });
      try {
        consumer.subscribe([task.topic]);
        const tally = new Tally(checkCrcs ? 'Sluice' : 'Sluice (check.crcs=false)', task);
        for (;;) {
          const polled = await consumer.poll(1000);
          let bytes = 0;
          for (const record of polled) bytes += length(record.key) + length(record.value);
          if (tally.add(polled.length, bytes)) break;
          if (tally.overdue()) throw tally.timeoutError();
        }
        return tally.result();
      } finally {
        await consumer.close();
      }
    },
  };
}

export const sluice = sluiceClient(true);
/** Not in the default set: neither peer checks CRCs, so this one does the same work as they do. */
export const sluiceNoCrc = sluiceClient(false);

export const kafkajs: Client = {
  id: 'kafkajs',
  label: 'KafkaJS 2.2.4 (run + eachBatch)',
  describe: ({ fetch }) =>
    `maxBytes=${fetch.maxBytes} maxBytesPerPartition=${fetch.partitionMaxBytes} maxWaitTimeInMs=${fetch.maxWaitMs} ` +
    `minBytes=${fetch.minBytes} readUncommitted=true, run({ autoCommit: false, eachBatch }), ` +
    'partitionsConsumedConcurrently=1 (default); lz4 / zstd / snappy through CompressionCodecs over lz4-napi, ' +
    'node:zlib and snappy (KafkaJS reads only gzip by itself); timed from connect()',
  async read(task) {
    const [{ Kafka, logLevel }, { registerKafkajsCodecs }] = await Promise.all([
      import('kafkajs'),
      import('./decoders/kafkajs.ts'),
    ]);
    registerKafkajsCodecs();
    const kafka = new Kafka({
      clientId: 'kafkajs-bench-consume',
      brokers: [task.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    const consumer = kafka.consumer({
      groupId: task.groupId,
      maxBytes: task.fetch.maxBytes,
      maxBytesPerPartition: task.fetch.partitionMaxBytes,
      maxWaitTimeInMs: task.fetch.maxWaitMs,
      minBytes: task.fetch.minBytes,
      readUncommitted: true,
    });
    try {
      const tally = new Tally('KafkaJS', task);
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(tally.timeoutError()), task.timeoutMs);
        consumer.on(consumer.events.CRASH, (event) => {
          clearTimeout(timer);
          reject(event.payload.error);
        });
        consumer
          .connect()
          .then(() => consumer.subscribe({ topic: task.topic, fromBeginning: true }))
          .then(() =>
            consumer.run({
              autoCommit: false,
              eachBatch: async ({ batch }) => {
                let bytes = 0;
                for (const message of batch.messages) bytes += length(message.key) + length(message.value);
                if (tally.add(batch.messages.length, bytes)) {
                  clearTimeout(timer);
                  resolve();
                }
              },
            }),
          )
          .catch((error: unknown) => {
            clearTimeout(timer);
            reject(error);
          });
      });
      await done;
      return tally.result();
    } finally {
      await consumer.disconnect();
    }
  },
};

export const platformatic: Client = {
  id: 'platformatic',
  label: '@platformatic/kafka 2.12.1 (consume stream)',
  describe: ({ fetch }) =>
    `maxBytes=${fetch.maxBytes} maxBytesPerPartition=${fetch.partitionMaxBytes} maxWaitTime=${fetch.maxWaitMs} ` +
    `minBytes=${fetch.minBytes} isolationLevel=READ_UNCOMMITTED, consume({ mode: 'earliest', autocommit: false }), ` +
    "highWaterMark=1024 (default), 'data' events; timed from consume()",
  async read(task) {
    const { Consumer: PlatformaticConsumer } = await import('@platformatic/kafka');
    const consumer = new PlatformaticConsumer({
      groupId: task.groupId,
      clientId: 'platformatic-bench-consume',
      bootstrapBrokers: [task.bootstrap],
      autocommit: false,
      maxBytes: task.fetch.maxBytes,
      maxBytesPerPartition: task.fetch.partitionMaxBytes,
      maxWaitTime: task.fetch.maxWaitMs,
      minBytes: task.fetch.minBytes,
      isolationLevel: 0,
    });
    let stream: Awaited<ReturnType<typeof consumer.consume>> | null = null;
    try {
      const tally = new Tally('@platformatic/kafka', task);
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(tally.timeoutError()), task.timeoutMs);
        consumer
          .consume({ topics: [task.topic], mode: 'earliest', autocommit: false })
          .then((opened) => {
            stream = opened;
            opened.on('error', (error) => {
              clearTimeout(timer);
              reject(error);
            });
            opened.on('data', (message) => {
              if (tally.add(1, length(message.key) + length(message.value))) {
                clearTimeout(timer);
                resolve();
              }
            });
          })
          .catch((error: unknown) => {
            clearTimeout(timer);
            reject(error);
          });
      });
      await done;
      return tally.result();
    } finally {
      const opened = stream as { close(): Promise<void> } | null;
      if (opened) await opened.close().catch(() => {});
      await consumer.close(true);
    }
  },
};

/** Web Stream batches of this many messages, collected for at most this long: the README's high-throughput pair. */
const crabBatchSize = 4096;
const crabBatchTimeoutMs = 2;

export const crab: Client = {
  id: 'crab',
  label: 'kafka-crab-js 5.0.0 (librdkafka, Web Stream batches)',
  describe: ({ fetch }) =>
    `fetch.max.bytes=${fetch.maxBytes} max.partition.fetch.bytes=${fetch.partitionMaxBytes} ` +
    `fetch.wait.max.ms=${fetch.maxWaitMs} fetch.min.bytes=${fetch.minBytes} enable.auto.commit=false ` +
    'check.crcs=false (librdkafka default), other librdkafka settings default (queued.min.messages=100000, ' +
    `queued.max.messages.kbytes=65536); createWebStreamConsumer({ batchSize: ${crabBatchSize}, ` +
    `batchTimeout: ${crabBatchTimeoutMs} }) (the README's throughput setting), diagnostics off; ` +
    'timed from createWebStreamConsumer() (librdkafka connects as the handle is created)',
  async read(task) {
    const { KafkaClient } = await import('kafka-crab-js');
    const client = new KafkaClient({
      brokers: task.bootstrap,
      clientId: 'crab-bench-consume',
      logLevel: 'error',
      diagnostics: false,
    });
    const tally = new Tally('kafka-crab-js', task);
    const { consumer, stream } = client.createWebStreamConsumer({
      groupId: task.groupId,
      enableAutoCommit: false,
      batchSize: crabBatchSize,
      batchTimeout: crabBatchTimeoutMs,
      configuration: {
        'auto.offset.reset': 'earliest',
        'enable.auto.offset.store': false,
        'fetch.max.bytes': task.fetch.maxBytes,
        'max.partition.fetch.bytes': task.fetch.partitionMaxBytes,
        'fetch.wait.max.ms': task.fetch.maxWaitMs,
        'fetch.min.bytes': task.fetch.minBytes,
      },
    });
    const reader = stream.getReader();
    // A read that stalls is cancelled, which ends the pending reader.read() with done.
    const timer = setTimeout(() => void reader.cancel('timed out').catch(() => {}), task.timeoutMs);
    try {
      await consumer.subscribe(task.topic);
      for (;;) {
        const { value: messages, done } = await reader.read();
        if (done) throw tally.timeoutError();
        let bytes = 0;
        for (const message of messages) bytes += length(message.key) + length(message.payload);
        if (tally.add(messages.length, bytes)) break;
      }
      return tally.result();
    } finally {
      clearTimeout(timer);
      await reader.cancel().catch(() => {});
      await consumer.disconnect().catch(() => {});
    }
  },
};

export const kafkaTs: Client = {
  id: 'kafkaTs',
  label: 'kafka-ts 1.5.0 (startConsumer + onBatch)',
  describe: ({ fetch }) =>
    `maxBytes=${fetch.maxBytes} partitionMaxBytes=${fetch.partitionMaxBytes} maxWaitMs=${fetch.maxWaitMs} ` +
    `minBytes=${fetch.minBytes} isolationLevel=READ_UNCOMMITTED (default), fromBeginning=true, its own lz4 and ` +
    'node:zlib zstd; it commits offsets after every batch (asynchronously; it has no option to turn that off); ' +
    'logger silenced; timed from startConsumer()',
  async read(task) {
    const { createKafkaClient, setLogger } = await import('kafka-ts');
    const silent = () => {};
    setLogger({ debug: silent, info: silent, warn: silent, error: silent });
    const kafka = createKafkaClient({
      clientId: 'kafka-ts-bench-consume',
      bootstrapServers: [parseAddress(task.bootstrap)],
    });
    const tally = new Tally('kafka-ts', task);
    let starting: ReturnType<typeof kafka.startConsumer> | null = null;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(tally.timeoutError()), task.timeoutMs);
        starting = kafka.startConsumer({
          groupId: task.groupId,
          topics: [task.topic],
          fromBeginning: true,
          maxBytes: task.fetch.maxBytes,
          partitionMaxBytes: task.fetch.partitionMaxBytes,
          maxWaitMs: task.fetch.maxWaitMs,
          minBytes: task.fetch.minBytes,
          onBatch: (messages) => {
            let bytes = 0;
            for (const message of messages) bytes += length(message.key) + length(message.value);
            if (tally.add(messages.length, bytes)) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
        starting.catch((error: unknown) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      return tally.result();
    } finally {
      // The last batch may arrive before startConsumer() resolves: wait for it, so that no consumer outlives its read.
      const started = await (starting as ReturnType<typeof kafka.startConsumer> | null)?.catch(() => null);
      await started?.close(true).catch(() => {});
    }
  },
};

export const bare: Client = {
  id: 'bare',
  label: 'ceiling: bare Fetch loop (Sluice Connection, batch headers only)',
  describe: ({ fetch }) =>
    `maxBytes=${fetch.maxBytes} partitionMaxBytes=${fetch.partitionMaxBytes} maxWaitMs=${fetch.maxWaitMs} ` +
    `minBytes=${fetch.minBytes}, full fetches (no session), one Fetch in flight per leader, records counted from ` +
    'the batch headers (nothing decompressed or decoded, no CRC), key + value bytes taken from the fill; no group: ' +
    'timed from the bootstrap connect (Metadata, then Fetch from offset 0)',
  read: async (task) => (await import('./consume-bare.ts')).bareRead(task),
};

export const clients: readonly Client[] = [sluice, sluiceNoCrc, kafkajs, platformatic, crab, kafkaTs, bare];
