import { homedir } from 'node:os';
import { join } from 'node:path';

/** The machine-wide cache shared by every clone: toolchain, Kafka jars, the launcher, the CLI's state. */
export function cacheDir(): string {
  return process.env.SLUICE_CACHE_DIR ?? join(homedir(), '.cache', 'sluice');
}

export function kafkaCacheDir(): string {
  return join(cacheDir(), 'kafka');
}
