/**
 * Hostile input: Fetch responses whose record data is corrupted on its way from a real broker, by the fault proxy
 * (bad CRCs under check.crcs, a batch cut short with nothing whole before it, absurd lengths, decompression bombs).
 * The consumer must deliver every record before the bad batch, then throw a typed CorruptRecordError at the first
 * record it could not deliver, from every poll, without moving its position past it, hanging, crashing or growing
 * its memory without bound; once the data is sound again and the application seeks there, every record comes
 * exactly once, in order.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { CorruptRecordError, KafkaConsumer } from '@sluice/consumer';
import { produce } from '@sluice/tools-admin';
import { FetchCorrupter, type FetchCorrupterOptions } from '../corrupt-fetch.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';

const MiB = 1024 * 1024;
const RECORDS = 100;
const PER_BATCH = 10;
/** The first record of the corrupted batch: 30 records come before it. */
const BAD_OFFSET = 30n;
/** How long each corruption lasts. */
const CORRUPT_MS = 4_000;
/** A poll(200) that takes longer than this is a hang. */
const HANG_MS = 10_000;
/**
 * The bound on the process's RSS growth while one corruption lasts: the consumer caps a batch's decompressed output
 * at 64 MiB, and its buffers at fetch.buffer.max.bytes.
 */
const MEMORY_BOUND = 160 * MiB;

type Corruption = Omit<FetchCorrupterOptions, 'topic' | 'partition' | 'atOffset' | 'log'> & { readonly label: string };

const CORRUPTIONS: readonly Corruption[] = [
  { label: 'bad CRC', kind: 'badCrc' },
  { label: 'no whole batch', kind: 'truncated' },
  { label: 'absurd batch length', kind: 'absurdLength' },
  { label: 'absurd record length', kind: 'absurdRecordLength', recordLength: 0x7ffffff0 },
  { label: 'negative record length', kind: 'absurdRecordLength', recordLength: -1000 },
  { label: 'gzip bomb (320 MiB)', kind: 'bomb', bomb: { codec: 'gzip', decompressedBytes: 320 * MiB } },
  { label: 'zstd bomb (1 GiB)', kind: 'bomb', bomb: { codec: 'zstd', decompressedBytes: 1024 * MiB } },
];

export const hostileInput: Scenario = {
  name: 'hostile-input',
  title: 'Corrupt record data in Fetch responses: bad CRCs, cut batches, absurd lengths, decompression bombs',
  guarantee:
    'records before the bad batch delivered, then a CorruptRecordError at its offset from every poll; the position never passes it; no hang, crash or unbounded memory; after a seek, every record exactly once, in order',
  run: async (context) => {
    const topic = await context.newTopic(1);
    for (let first = 0; first < RECORDS; first += PER_BATCH) {
      await produce(
        context.pool,
        context.metadata,
        { topic, partition: 0 },
        Array.from({ length: PER_BATCH }, (_, index) => ({ value: new TextEncoder().encode(`0:${first + index}`) })),
      );
    }
    const violations: string[] = [];
    const notes: string[] = [];
    let unhandled = 0;
    const onUnhandled = () => {
      unhandled++;
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const corruption of CORRUPTIONS) {
        const found = await corrupt(context, topic, corruption);
        notes.push(`${corruption.label}: ${found.note}`);
        violations.push(...found.violations.map((line) => `${corruption.label}: ${line}`));
      }
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    if (unhandled > 0) violations.push(`${unhandled} unhandled promise rejections`);
    return { violations, notes };
  },
};

async function corrupt(
  context: ScenarioContext,
  topic: string,
  corruption: Corruption,
): Promise<{ note: string; violations: string[] }> {
  const tp = { topic, partition: 0 };
  const found: string[] = [];
  const consumer = new KafkaConsumer({
    'bootstrap.servers': context.cluster.bootstrap('PROXIED'),
    'check.crcs': true,
    'fetch.max.wait.ms': 100,
  });
  const corrupter = await FetchCorrupter.create({ ...corruption, topic, partition: 0, atOffset: BAD_OFFSET });
  const delivered: bigint[] = [];
  const errors: Error[] = [];
  const poll = async () => {
    const outcome = await Promise.race([
      consumer.poll(200).then(
        (records) => ({ records }),
        (error: Error) => ({ error }),
      ),
      sleep(HANG_MS).then(() => 'hang' as const),
    ]);
    if (outcome === 'hang') throw new Error(`poll(200) did not return within ${HANG_MS} ms`);
    if ('error' in outcome) errors.push(outcome.error);
    else for (const record of outcome.records) delivered.push(record.offset);
  };
  try {
    consumer.assign([tp]);
    consumer.seek(tp, 0n);
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    context.proxy.rewriteResponses('all', corrupter.rewrite);
    const until = Date.now() + CORRUPT_MS;
    while (Date.now() < until) {
      await poll();
      peak = Math.max(peak, process.memoryUsage.rss());
    }
    const position = await consumer.position(tp);
    context.proxy.rewriteResponses('all', null);
    corrupter.stop();

    const before = delivered.map(Number);
    const expectedBefore = Array.from({ length: Number(BAD_OFFSET) }, (_, index) => index);
    if (corrupter.corrupted === 0) found.push('the proxy corrupted no response: the scenario proved nothing');
    if (JSON.stringify(before) !== JSON.stringify(expectedBefore))
      found.push(
        `delivered ${before.length} records while corrupt (${before.slice(0, 3).join(', ')}...${before.slice(-3).join(', ')}), not 0-${BAD_OFFSET - 1n}`,
      );
    const typed = errors.filter(
      (error) => error instanceof CorruptRecordError && error.partition === 0 && error.offset === BAD_OFFSET,
    );
    if (typed.length < 2)
      found.push(
        `poll threw ${typed.length} CorruptRecordError at offset ${BAD_OFFSET} (want one from every poll, at least 2): ${errors.map((error) => error.name).join(', ') || 'nothing'}`,
      );
    const other = errors.filter((error) => !typed.includes(error));
    if (other.length > 0)
      found.push(`poll threw other errors: ${other.map((error) => `${error.name}: ${error.message}`).join('; ')}`);
    if (position !== BAD_OFFSET) found.push(`the position is ${position}, not ${BAD_OFFSET}`);
    if (peak - baseline > MEMORY_BOUND)
      found.push(`RSS grew ${((peak - baseline) / MiB).toFixed(0)} MiB, past ${MEMORY_BOUND / MiB} MiB`);

    // The data is sound again; the application decides to read the same offset once more.
    consumer.seek(tp, BAD_OFFSET);
    const deadline = Date.now() + 30_000;
    while (delivered.length < RECORDS && Date.now() < deadline) await poll();
    const all = delivered.map(Number);
    if (JSON.stringify(all) !== JSON.stringify(Array.from({ length: RECORDS }, (_, index) => index)))
      found.push(`after the seek: ${all.length} records delivered, not 0-${RECORDS - 1} once each in order`);
    const sample = typed[0]?.message.replace(/^record data of \S+ at offset \d+ cannot be read: /, '') ?? '-';
    return {
      note: `${corrupter.corrupted} responses corrupted; ${typed.length} CorruptRecordError at offset ${BAD_OFFSET} (${sample.slice(0, 90)}); RSS +${((peak - baseline) / MiB).toFixed(0)} MiB; then ${all.length} of ${RECORDS} records in order`,
      violations: found,
    };
  } finally {
    context.proxy.rewriteResponses('all', null);
    corrupter.stop();
    await consumer.close();
  }
}
