import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepStaleClusters } from '../src/cluster.ts';

describe('sweepStaleClusters', () => {
  it('removes folders whose owner and brokers are gone, keeps those whose owner lives', async () => {
    // A private base folder, so that clusters starting in parallel (and sweeping) do not touch these.
    const base = await mkdtemp(join(tmpdir(), 'sweep-test-'));
    const stale = join(base, 'sluice-kafka-stale');
    const live = join(base, 'sluice-kafka-live');
    await mkdir(stale, { recursive: true });
    await mkdir(live, { recursive: true });
    // pid 2^22+ is above Linux's pid_max default: no such process.
    await writeFile(join(stale, 'owner.json'), JSON.stringify({ pid: 4_194_999, nodes: [4_194_998] }));
    await writeFile(join(live, 'owner.json'), JSON.stringify({ pid: process.pid, nodes: [] }));
    const removed = await sweepStaleClusters(base);
    expect(removed).toContain(stale);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    await rm(base, { recursive: true });
  });
});
