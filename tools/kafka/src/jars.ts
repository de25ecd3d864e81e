import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { kafkaCacheDir } from './paths.ts';
import { brokerArtifacts, kafkaLine } from './versions.ts';

const run = promisify(execFile);

export class KafkaSetupError extends Error {
  override name = 'KafkaSetupError';
}

export interface KafkaInstall {
  readonly version: string;
  /** Folder of jars: the broker's classpath is `<libsDir>/*`. */
  readonly libsDir: string;
  /** Folder holding the compiled SluiceKafkaLauncher class. */
  readonly launcherDir: string;
}

const LAUNCHER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'java', 'SluiceKafkaLauncher.java');
const COMPLETE_MARKER = '.complete';

function pom(version: string): string {
  const dependencies = brokerArtifacts(version)
    .map(
      (artifact) =>
        `    <dependency><groupId>${artifact.groupId}</groupId><artifactId>${artifact.artifactId}</artifactId><version>${artifact.version}</version></dependency>`,
    )
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.harness</groupId>
  <artifactId>kafka-${version}</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
${dependencies}
  </dependencies>
</project>
`;
}

/**
 * Resolves a Kafka version's jars through Maven once, into the cache outside the repo.
 * A version whose folder is complete is used as it is: a second start needs no network.
 */
export async function ensureKafkaJars(version: string, log: (line: string) => void = () => {}): Promise<string> {
  kafkaLine(version);
  const versionDir = join(kafkaCacheDir(), 'versions', version);
  const libsDir = join(versionDir, 'libs');
  if (existsSync(join(versionDir, COMPLETE_MARKER))) return libsDir;

  const work = `${versionDir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'pom.xml'), pom(version));
  log(`resolving Kafka ${version} jars from Maven Central into ${versionDir}`);
  try {
    await run(
      'mvn',
      [
        '-B',
        '-q',
        'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies',
        '-DoutputDirectory=libs',
        '-DincludeScope=runtime',
      ],
      { cwd: work, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    const tail = `${output.stdout ?? ''}${output.stderr ?? ''}`.split('\n').slice(-30).join('\n');
    await rm(work, { recursive: true, force: true });
    throw new KafkaSetupError(`Maven could not resolve Kafka ${version}:\n${tail}`);
  }
  const jars = await readdir(join(work, 'libs'));
  if (!jars.some((name) => name.startsWith('kafka_2.13-'))) {
    throw new KafkaSetupError(`Maven resolved Kafka ${version} but the broker jar is missing from ${work}/libs`);
  }
  await writeFile(join(work, COMPLETE_MARKER), `${jars.length} jars\n`);
  await rm(versionDir, { recursive: true, force: true });
  await mkdir(dirname(versionDir), { recursive: true });
  await rename(work, versionDir);
  return libsDir;
}

/** Compiles the launcher once per source version (keyed by its hash) with the JDK's javac. */
export async function ensureLauncher(): Promise<string> {
  const source = await readFile(LAUNCHER_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(kafkaCacheDir(), 'launcher', hash);
  if (existsSync(join(dir, 'SluiceKafkaLauncher.class'))) return dir;
  const work = `${dir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    await run('javac', ['--release', '17', '-d', work, LAUNCHER_SOURCE]);
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw new KafkaSetupError(`javac could not compile the broker launcher: ${(error as Error).message}`);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(work, dir);
  return dir;
}

export async function ensureKafkaInstall(version: string, log?: (line: string) => void): Promise<KafkaInstall> {
  const [libsDir, launcherDir] = await Promise.all([ensureKafkaJars(version, log), ensureLauncher()]);
  return { version, libsDir, launcherDir };
}
