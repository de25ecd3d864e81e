/**
 * Nothing the harness starts outlives the process that started it: a test runner that is SIGKILLed
 * (no teardown, no exit handlers) still takes its brokers and their folders with it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isHarnessBroker, KafkaCluster, KafkaHarnessError } from '../src/cluster.ts';

/** Harness folders owned by this process (other processes on the machine may be starting clusters too). */
async function harnessFolders(): Promise<string[]> {
  const mine: string[] = [];
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith('sluice-kafka-')) continue;
    try {
      const owner = JSON.parse(await readFile(join(tmpdir(), name, 'owner.json'), 'utf8')) as { pid?: number };
      if (owner.pid === process.pid) mine.push(name);
    } catch {
      // no owner file: not one of ours, or already gone
    }
  }
  return mine.sort();
}

const STARTER = fileURLToPath(new URL('./fixtures/start-and-wait.ts', import.meta.url));

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

describe('harness lifecycle', () => {
  async function startKillAndWatch(args: string[], nodes: number): Promise<void> {
    const child = spawn(process.execPath, [STARTER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ root: string; pids: number[] }>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const line = output.split('\n').find((candidate) => candidate.startsWith('{'));
        if (line) resolve(JSON.parse(line));
      });
      child.once('exit', (code) => reject(new Error(`starter exited with ${code} before the cluster was up`)));
    });
    expect(started.pids).toHaveLength(nodes);
    for (const pid of started.pids) expect(isHarnessBroker(pid, started.root)).toBe(true);

    child.kill('SIGKILL');
    const brokersGone = await waitFor(() => started.pids.every((pid) => !isHarnessBroker(pid, started.root)), 30_000);
    expect(brokersGone).toBe(true);
    expect(await waitFor(() => !existsSync(started.root), 10_000)).toBe(true);
  }

  it('brokers end, and their folder goes, when the starting process is SIGKILLed', async () => {
    await startKillAndWatch([], 1);
  });

  // Every node deletes the same folder as it goes: none may trip over another's deletions and stay up.
  it('a dedicated controller ends with its broker when the starting process is SIGKILLed', async () => {
    await startKillAndWatch(['--dedicated-controller'], 2);
  });

  it('fails a broker that exits while starting with its last log lines, and leaves nothing behind', async () => {
    const before = await harnessFolders();
    const attempt = KafkaCluster.start({ brokerConfig: { 'authorizer.class.name': 'org.example.NoSuchAuthorizer' } });
    await expect(attempt).rejects.toThrow(KafkaHarnessError);
    await expect(attempt).rejects.toThrow(/broker 1 exited while starting; its last log lines:[\s\S]*NoSuchAuthorizer/);
    expect(await harnessFolders()).toEqual(before);
  });

  it('fails a start that is not ready in time with each broker log, and kills what it started', async () => {
    const before = await harnessFolders();
    const attempt = KafkaCluster.start({ startTimeoutMs: 300 });
    await expect(attempt).rejects.toThrow(/brokers \[1\] not ready within 300 ms[\s\S]*--- broker 1/);
    expect(await harnessFolders()).toEqual(before);
  });
});
