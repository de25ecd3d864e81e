/** The README's demo runs against the test broker and reads every record once. */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const examples = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('the demo', () => {
  it('shares a topic between two consumers of a group and reads every record once', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=@sluice/source', 'src/demo.ts'], {
      cwd: examples,
      env: { ...process.env, KAFKA_BOOTSTRAP: inject('kafka').bootstrap.PLAINTEXT! },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/alice: assigned/);
    expect(stdout).toMatch(/bob: assigned/);
    expect(stdout).toMatch(/done: 30 records, each read once/);
  }, 150_000);
});
