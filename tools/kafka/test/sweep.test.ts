import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepStaleClusters } from '../src/cluster.ts';

describe('sweepStaleClusters', () => {
  it('removes folders whose owner and brokers are gone, keeps those whose owner lives', async () => {
    const stale = join(tmpdir(), `sluice-kafka-test-stale-${process.pid}`);
    const live = join(tmpdir(), `sluice-kafka-test-live-${process.pid}`);
    await mkdir(stale, { recursive: true });
    await mkdir(live, { recursive: true });
    // pid 2^22+ is above Linux's pid_max default: no such process.
    await writeFile(join(stale, 'owner.json'), JSON.stringify({ pid: 4_194_999, nodes: [4_194_998] }));
    await writeFile(join(live, 'owner.json'), JSON.stringify({ pid: process.pid, nodes: [] }));
    const removed = await sweepStaleClusters();
    expect(removed).toContain(stale);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    await import('node:fs/promises').then((fs) => fs.rm(live, { recursive: true }));
  });
});
