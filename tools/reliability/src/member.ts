/**
 * One consumer of a fault scenario, as a process of its own: `node --conditions=@sluice/source member.ts <json>`.
 * It polls, logs every record it gets, "processes" the batch (waits `processingMs`), commits exactly what it
 * processed (commitSync with explicit offsets) and logs the commit; rebalance callbacks are logged, and
 * onPartitionsRevoked commits what was processed and not committed yet. SIGTERM closes it cleanly; SIGKILL is the
 * scenario's crash. Everything it knows goes to its log; the checker reads nothing else.
 */
import { KafkaConsumer, type TopicPartition, WakeupError } from '@sluice/consumer';
import { JsonLinesLog, type MemberEntry } from './log.ts';

export interface MemberOptions {
  readonly bootstrap: string;
  readonly topic: string;
  readonly groupId: string;
  readonly logFile: string;
  /** How long "processing" a batch takes. */
  readonly processingMs: number;
  /** Consumer properties on top of the member's own. */
  readonly config?: Readonly<Record<string, unknown>>;
}

async function main(options: MemberOptions): Promise<void> {
  const log = new JsonLinesLog<MemberEntry>(options.logFile);
  log.write({ t: 'start', ts: Date.now(), pid: process.pid });
  const consumer = new KafkaConsumer<Uint8Array | null, string | null>({
    'bootstrap.servers': options.bootstrap,
    'group.id': options.groupId,
    'client.id': `reliability-${process.pid}`,
    'value.deserializer': 'string',
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': false,
    ...options.config,
  });
  /** Processed and not committed yet (a commit that failed): partition -> next offset. */
  const uncommitted = new Map<number, bigint>();
  const commit = async (offsets: Map<number, bigint>) => {
    if (offsets.size === 0) return true;
    const entries = [...offsets].map(([partition, offset]) => ({ topic: options.topic, partition, offset }));
    try {
      await consumer.commitSync(entries);
      log.write({
        t: 'committed',
        ts: Date.now(),
        offsets: Object.fromEntries(entries.map((entry) => [String(entry.partition), String(entry.offset)])),
      });
      for (const entry of entries)
        if (uncommitted.get(entry.partition) === entry.offset) uncommitted.delete(entry.partition);
      return true;
    } catch (error) {
      log.write({ t: 'commit-failed', ts: Date.now(), error: (error as Error).message, name: (error as Error).name });
      return false;
    }
  };
  const numbers = (partitions: readonly TopicPartition[]) => partitions.map((tp) => tp.partition);
  consumer.subscribe([options.topic], {
    onPartitionsAssigned: (partitions) => log.write({ t: 'assigned', ts: Date.now(), partitions: numbers(partitions) }),
    onPartitionsRevoked: async (partitions) => {
      const revoked = new Map(
        [...uncommitted].filter(([partition]) => partitions.some((tp) => tp.partition === partition)),
      );
      await commit(revoked);
      log.write({ t: 'revoked', ts: Date.now(), partitions: numbers(partitions) });
    },
    onPartitionsLost: (partitions) => log.write({ t: 'lost', ts: Date.now(), partitions: numbers(partitions) }),
  });
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    consumer.wakeup();
  });
  while (!stopping) {
    try {
      const records = await consumer.poll(500);
      if (records.length === 0) continue;
      log.write({
        t: 'batch',
        ts: Date.now(),
        records: records.map((record) => [record.partition, String(record.offset), record.value ?? ''] as const),
      });
      const processed = new Map<number, bigint>();
      for (const record of records) processed.set(record.partition, record.offset + 1n);
      for (const [partition, offset] of processed) uncommitted.set(partition, offset);
      await new Promise((resolve) => setTimeout(resolve, options.processingMs));
      await commit(processed);
    } catch (error) {
      if (error instanceof WakeupError) continue;
      log.write({ t: 'poll-failed', ts: Date.now(), error: (error as Error).message, name: (error as Error).name });
    }
  }
  await consumer.close();
  log.write({ t: 'closed', ts: Date.now() });
}

const input = process.argv[2];
if (input === undefined) {
  console.error('usage: member.ts <options as JSON>');
  process.exit(2);
}
main(JSON.parse(input) as MemberOptions).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
