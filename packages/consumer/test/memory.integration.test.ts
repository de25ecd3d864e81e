/**
 * The buffered-bytes cap bounds memory: a slow application reads a topic 20x larger than `fetch.buffer.max.bytes`
 * and the consumer's resident memory stays within a stated bound over the process's baseline. Measured in a child
 * process of its own (fixtures/memory-child.ts), from the operating system's resident set size, not a timing.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { produce } from '@sluice/tools-admin';
import { beforeAll, describe, expect, it } from 'vitest';
import { brokerFixture } from './broker-fixture.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const CAP = 8 * MiB;
const PARTITIONS = 8;
const RECORD_BYTES = 1000;
/** 20x the cap. */
const RECORDS = Math.ceil((20 * CAP) / RECORD_BYTES / PARTITIONS) * PARTITIONS;
/**
 * The stated bound on peak RSS over the baseline: the cap, one response in flight (fetch.max.bytes, also 8 MiB),
 * the frame buffers kept for reuse, and the heap's own growth, with room to spare. Measured on the 2-core VM:
 * 27 MiB with the cap, 140 MiB with a cap of 1 GB (a consumer that ignored the cap).
 */
const BOUND = 64 * MiB;

describe('memory under the buffered-bytes cap', () => {
  const broker = brokerFixture('memory');
  let topic: string;

  beforeAll(async () => {
    topic = await broker.newTopic(PARTITIONS);
    const value = new Uint8Array(RECORD_BYTES).fill(120);
    const jobs: Promise<void>[] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (let sent = 0; sent < RECORDS / PARTITIONS; sent += 500) {
        const count = Math.min(500, RECORDS / PARTITIONS - sent);
        jobs.push(
          produce(
            broker.pool,
            broker.metadata,
            { topic, partition },
            Array.from({ length: count }, () => ({ value })),
          ),
        );
        if (jobs.length >= 8) await Promise.all(jobs.splice(0));
      }
    }
    await Promise.all(jobs);
  });

  it(`reads a topic 20x larger than fetch.buffer.max.bytes within ${BOUND / MiB} MiB over its baseline`, async () => {
    const child = join(import.meta.dirname, 'fixtures', 'memory-child.ts');
    const { stdout } = await run(
      process.execPath,
      [
        '--conditions=@sluice/source',
        child,
        JSON.stringify({
          bootstrap: broker.bootstrap,
          topic,
          records: RECORDS,
          config: {
            'fetch.buffer.max.bytes': CAP,
            'fetch.max.bytes': CAP,
            'max.partition.fetch.bytes': MiB,
          },
        }),
      ],
      { timeout: 120_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      count: number;
      bytes: number;
      baselineRss: number;
      peakRss: number;
    };
    expect(result.count).toBe(RECORDS);
    expect(result.bytes).toBe(RECORDS * RECORD_BYTES);
    expect(result.peakRss - result.baselineRss).toBeLessThan(BOUND);
  });
});
