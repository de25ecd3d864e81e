import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureKafkaJars } from '../../kafka/src/jars.ts';
import { cacheDir } from '../../kafka/src/paths.ts';
import { OracleError } from './oracle-error.ts';

const run = promisify(execFile);

const JAVA_SOURCES = join(dirname(fileURLToPath(import.meta.url)), '..', 'java');
const MAIN_CLASS = 'SluiceOracle';

/**
 * The jars the oracle needs from a Kafka install: the clients jar (messages, records, compression), Jackson, the
 * three compression libraries, and SLF4J's API. Leaving log4j out keeps log lines away from the answers.
 */
const JAR_PREFIXES = ['kafka-clients-', 'jackson-', 'lz4-java-', 'snappy-java-', 'zstd-jni-', 'slf4j-api-'];

export interface OracleClasses {
  readonly kafkaVersion: string;
  /** The JVM's -cp: the compiled oracle first, then Kafka's jars. */
  readonly classpath: string;
  readonly mainClass: string;
}

async function kafkaJars(libsDir: string): Promise<string[]> {
  const names = (await readdir(libsDir)).filter((name) => JAR_PREFIXES.some((prefix) => name.startsWith(prefix)));
  if (!names.some((name) => name.startsWith('kafka-clients-'))) {
    throw new OracleError(`no kafka-clients jar in ${libsDir}`);
  }
  return names.sort().map((name) => join(libsDir, name));
}

/**
 * Resolves Kafka's jars (once, through tools/kafka) and compiles the oracle's Java sources with javac once per
 * source version and Kafka version, keyed by a hash of both, into the machine-wide cache.
 */
export async function ensureOracleClasses(
  kafkaVersion: string,
  log: (line: string) => void = () => {},
): Promise<OracleClasses> {
  const jars = await kafkaJars(await ensureKafkaJars(kafkaVersion, log));
  const sources = (await readdir(JAVA_SOURCES)).filter((name) => name.endsWith('.java')).sort();
  const hash = createHash('sha256').update(kafkaVersion);
  for (const name of sources) {
    hash.update(`\0${name}\0`).update(await readFile(join(JAVA_SOURCES, name)));
  }
  const dir = join(cacheDir(), 'oracle', `${kafkaVersion}-${hash.digest('hex').slice(0, 16)}`);
  const classpath = [dir, ...jars].join(delimiter);
  const marker = join(dir, `${MAIN_CLASS}.class`);
  if (existsSync(marker)) return { kafkaVersion, classpath, mainClass: MAIN_CLASS };

  const work = `${dir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  log(`compiling the oracle against Kafka ${kafkaVersion} into ${dir}`);
  try {
    await run('javac', [
      '--release',
      '17',
      '-encoding',
      'UTF-8',
      '-cp',
      jars.join(delimiter),
      '-d',
      work,
      ...sources.map((name) => join(JAVA_SOURCES, name)),
    ]);
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    const output = error as { stderr?: string; message: string };
    throw new OracleError(`javac could not compile the oracle: ${output.stderr || output.message}`);
  }
  try {
    await rename(work, dir);
  } catch (error) {
    // Another process compiled the same sources first: its classes are as good as ours.
    await rm(work, { recursive: true, force: true });
    if (!existsSync(marker)) throw error;
  }
  return { kafkaVersion, classpath, mainClass: MAIN_CLASS };
}
