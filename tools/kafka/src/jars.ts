import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { kafkaCacheDir } from './paths.ts';
import { brokerArtifacts, kafkaLine, type MavenArtifact } from './versions.ts';

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

function pom(id: string, artifacts: readonly MavenArtifact[]): string {
  const dependencies = artifacts
    .map(
      (artifact) =>
        `    <dependency><groupId>${artifact.groupId}</groupId><artifactId>${artifact.artifactId}</artifactId><version>${artifact.version}</version></dependency>`,
    )
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.harness</groupId>
  <artifactId>${id}</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
${dependencies}
  </dependencies>
</project>
`;
}

export interface MavenJars {
  /** Folder under the Kafka cache (`~/.cache/sluice/kafka/<folder>`); the jars land in its `libs`. */
  readonly folder: string;
  readonly artifacts: readonly MavenArtifact[];
  /** Names what is resolved, in messages. */
  readonly what: string;
  /** A jar the resolution must contain (checked by name). */
  readonly expectJar: (name: string) => boolean;
}

/**
 * Resolves artifacts and their runtime dependencies through Maven once, into the cache outside the repo, and
 * returns the folder of jars. A folder marked complete is used as it is: a second call needs no network. The
 * resolution writes into a `.partial` folder renamed only when whole.
 */
export async function ensureMavenJars(jars: MavenJars, log: (line: string) => void = () => {}): Promise<string> {
  const dir = join(kafkaCacheDir(), jars.folder);
  const libsDir = join(dir, 'libs');
  if (existsSync(join(dir, COMPLETE_MARKER))) return libsDir;

  const work = `${dir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'pom.xml'), pom(jars.folder.replaceAll('/', '-'), jars.artifacts));
  log(`resolving ${jars.what} from Maven Central into ${dir}`);
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
    throw new KafkaSetupError(`Maven could not resolve ${jars.what}:\n${tail}`);
  }
  const names = await readdir(join(work, 'libs'));
  if (!names.some(jars.expectJar)) {
    throw new KafkaSetupError(`Maven resolved ${jars.what} but the expected jar is missing from ${work}/libs`);
  }
  await writeFile(join(work, COMPLETE_MARKER), `${names.length} jars\n`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  await rename(work, dir);
  return libsDir;
}

/**
 * Resolves a Kafka version's jars through Maven once, into the cache outside the repo.
 * A version whose folder is complete is used as it is: a second start needs no network.
 */
export async function ensureKafkaJars(version: string, log: (line: string) => void = () => {}): Promise<string> {
  kafkaLine(version);
  return ensureMavenJars(
    {
      folder: `versions/${version}`,
      artifacts: brokerArtifacts(version),
      what: `Kafka ${version} jars`,
      expectJar: (name) => name.startsWith('kafka_2.13-'),
    },
    log,
  );
}

/**
 * Compiles one Java source once per content (keyed by its hash) with the JDK's javac, into
 * `~/.cache/sluice/kafka/<folder>/<hash>`, and returns that folder (the classpath entry).
 */
export async function ensureCompiledJava(
  source: string,
  options: { readonly folder: string; readonly classpath?: string },
): Promise<string> {
  const text = await readFile(source);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = join(kafkaCacheDir(), options.folder, hash);
  const className = `${source
    .split('/')
    .at(-1)!
    .replace(/\.java$/, '')}.class`;
  if (existsSync(join(dir, className))) return dir;
  const work = `${dir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const classpath = options.classpath === undefined ? [] : ['-cp', options.classpath];
    await run('javac', ['--release', '17', ...classpath, '-d', work, source]);
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message?: string };
    const text = `${output.stdout ?? ''}${output.stderr ?? ''}`.trim() || (output.message ?? String(error));
    await rm(work, { recursive: true, force: true });
    throw new KafkaSetupError(`javac could not compile ${source}: ${text}`);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(work, dir);
  return dir;
}

/** Compiles the broker launcher once per source version. */
export function ensureLauncher(): Promise<string> {
  return ensureCompiledJava(LAUNCHER_SOURCE, { folder: 'launcher' });
}

export async function ensureKafkaInstall(version: string, log?: (line: string) => void): Promise<KafkaInstall> {
  const [libsDir, launcherDir] = await Promise.all([ensureKafkaJars(version, log), ensureLauncher()]);
  return { version, libsDir, launcherDir };
}
