/**
 * One consumer of a fault scenario, as a process of its own: `node --conditions=@sluice/source member.ts <json>`.
 * It polls, logs every record it gets, "processes" the batch (waits `processingMs`), commits exactly what it
 * processed (commitSync with explicit offsets, with what a failed commit left behind) and logs the commit; rebalance callbacks are logged, and
 * onPartitionsRevoked commits what was processed and not committed yet. SIGTERM closes it cleanly; SIGKILL is the
 * scenario's crash. It logs its RSS every second, and the group generation with every rebalance callback. A value's
 * padding (from the first `|` on) is neither decoded nor logged. Everything it knows goes to its log; the checker reads nothing
 * else.
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
  /** More topics to subscribe to, whose records are logged apart (`others`). */
  readonly otherTopics?: readonly string[];
  /** Once, after this many batches, processing one batch takes `ms` (a consumer stuck past max.poll.interval.ms). */
  readonly slow?: { readonly afterBatches: number; readonly ms: number };
}

async function main(options: MemberOptions): Promise<void> {
  const log = new JsonLinesLog<MemberEntry>(options.logFile);
  log.write({ t: 'start', ts: Date.now(), pid: process.pid });
  // Values stay bytes: only what comes before a padding `|` is decoded, so the member's own garbage does not hide
  // the consumer's memory (the memory-bound scenario reads 160 MiB of padded values).
  const consumer = new KafkaConsumer<Uint8Array | null, Uint8Array | null>({
    'bootstrap.servers': options.bootstrap,
    'group.id': options.groupId,
    'client.id': `reliability-${process.pid}`,
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
  const logRss = () => log.write({ t: 'rss', ts: Date.now(), rss: process.memoryUsage.rss() });
  logRss();
  const rss = setInterval(logRss, 1_000);
  rss.unref();
  const callback = (t: 'assigned' | 'revoked' | 'lost', partitions: readonly TopicPartition[]) => {
    const ours = partitions.filter((tp) => tp.topic === options.topic);
    const others = partitions.filter((tp) => tp.topic !== options.topic).map((tp) => `${tp.topic}-${tp.partition}`);
    log.write({
      t,
      ts: Date.now(),
      partitions: ours.map((tp) => tp.partition),
      ...(others.length > 0 ? { others } : {}),
      generation: consumer.groupMetadata().generationId,
    });
  };
  consumer.subscribe([options.topic, ...(options.otherTopics ?? [])], {
    onPartitionsAssigned: (partitions) => callback('assigned', partitions),
    onPartitionsRevoked: async (partitions) => {
      const revoked = new Map(
        [...uncommitted].filter(([partition]) =>
          partitions.some((tp) => tp.topic === options.topic && tp.partition === partition),
        ),
      );
      await commit(revoked);
      // Whether or not that commit landed, these are someone else's now: never commit them again.
      for (const partition of revoked.keys()) uncommitted.delete(partition);
      callback('revoked', partitions);
    },
    onPartitionsLost: (partitions) => {
      for (const tp of partitions) if (tp.topic === options.topic) uncommitted.delete(tp.partition);
      callback('lost', partitions);
    },
  });
  const decoder = new TextDecoder();
  const logged = (value: Uint8Array | null) => {
    if (value === null) return '';
    const cut = value.indexOf(0x7c);
    return decoder.decode(cut < 0 ? value : value.subarray(0, cut));
  };
  let batches = 0;
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    consumer.wakeup();
  });
  while (!stopping) {
    try {
      const records = await consumer.poll(500);
      if (records.length === 0) continue;
      const ours = records.filter((record) => record.topic === options.topic);
      const others = records.filter((record) => record.topic !== options.topic);
      log.write({
        t: 'batch',
        ts: Date.now(),
        records: ours.map((record) => [record.partition, String(record.offset), logged(record.value)] as const),
        ...(others.length > 0
          ? {
              others: others.map(
                (record) => [record.topic, record.partition, String(record.offset), logged(record.value)] as const,
              ),
            }
          : {}),
      });
      const processed = new Map<number, bigint>();
      for (const record of ours) processed.set(record.partition, record.offset + 1n);
      for (const [partition, offset] of processed) uncommitted.set(partition, offset);
      batches++;
      const slow = options.slow !== undefined && batches === options.slow.afterBatches;
      await new Promise((resolve) => setTimeout(resolve, slow ? options.slow!.ms : options.processingMs));
      // What this batch processed, and what earlier commits that failed left uncommitted.
      await commit(new Map(uncommitted));
    } catch (error) {
      if (error instanceof WakeupError) continue;
      log.write({ t: 'poll-failed', ts: Date.now(), error: (error as Error).message, name: (error as Error).name });
    }
  }
  await consumer.close();
  log.write({ t: 'closed', ts: Date.now() });
}

// The driver is gone (it died without stopping us): nobody reads our log any more.
process.on('disconnect', () => process.exit(1));

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
