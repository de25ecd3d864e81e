import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ClusterInfo } from './cluster.ts';
import { kafkaCacheDir } from './paths.ts';

/** Where `pnpm kafka up` records the cluster it started, for `status` and `down`. */
export function stateFile(): string {
  return process.env.SLUICE_KAFKA_STATE ?? join(kafkaCacheDir(), 'up.json');
}

export async function readState(): Promise<ClusterInfo | null> {
  const file = stateFile();
  if (!existsSync(file)) return null;
  return JSON.parse(await readFile(file, 'utf8')) as ClusterInfo;
}

export async function writeState(info: ClusterInfo): Promise<void> {
  const file = stateFile();
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export async function clearState(): Promise<void> {
  await rm(stateFile(), { force: true });
}
