/**
 * Group members in processes of their own, for the group tests: a Sluice consumer (fixtures/group-member-child.ts)
 * or Kafka's own Java consumer (fixtures/JavaGroupMember.java, on the kafka-clients jar of the harness's Kafka
 * version). Each prints its assignment whenever it changes; the test reads the latest, waits for one, stops the
 * member (stdin closes: it closes and leaves the group) or SIGKILLs it (no leave, no commit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_KAFKA_VERSION, ensureCompiledJava, ensureMavenJars } from '@sluice/tools-kafka';
import { afterAll } from 'vitest';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const SLF4J_VERSION = '2.0.17';

export interface MemberProcess {
  /** The partitions it last said it owns ([] before it said anything). */
  readonly assigned: () => readonly number[];
  /** Resolves once its assignment satisfies `predicate`; rejects after `timeoutMs` or if it exits first. */
  waitFor(predicate: (assigned: readonly number[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Closes it (it leaves the group) and waits for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL: gone without a word to the group. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

let javaClasspath: Promise<string> | null = null;

/** The Java member's classpath: kafka-clients (with slf4j so that its warnings reach stderr) and the program. */
function javaMemberClasspath(): Promise<string> {
  javaClasspath ??= (async () => {
    const version = process.env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION;
    const libsDir = await ensureMavenJars({
      folder: `clients/${version}`,
      artifacts: [
        { groupId: 'org.apache.kafka', artifactId: 'kafka-clients', version },
        { groupId: 'org.slf4j', artifactId: 'slf4j-api', version: SLF4J_VERSION },
        { groupId: 'org.slf4j', artifactId: 'slf4j-simple', version: SLF4J_VERSION },
      ],
      what: `org.apache.kafka:kafka-clients:${version} with slf4j-simple`,
      expectJar: (name) => name === `kafka-clients-${version}.jar`,
    });
    const jars = join(libsDir, '*');
    const program = await ensureCompiledJava(join(FIXTURES, 'JavaGroupMember.java'), {
      folder: 'test-java-group-member',
      classpath: jars,
    });
    return `${program}:${jars}`;
  })();
  return javaClasspath;
}

/** A Sluice consumer in a process of its own, with this configuration (group.id included). */
export function sluiceMember(bootstrap: string, topic: string, config: Record<string, unknown>): MemberProcess {
  return watch(
    spawn(
      process.execPath,
      [
        '--conditions=@sluice/source',
        join(FIXTURES, 'group-member-child.ts'),
        JSON.stringify({ bootstrap, topic, config }),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
}

/** Kafka's own Java consumer in the group, with this group.protocol. */
export async function javaMember(
  bootstrap: string,
  topic: string,
  groupId: string,
  protocol: 'classic' | 'consumer',
): Promise<MemberProcess> {
  const classpath = await javaMemberClasspath();
  return watch(
    spawn(
      'java',
      [
        '-Xmx128m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-cp',
        classpath,
        'JavaGroupMember',
        bootstrap,
        topic,
        groupId,
        protocol,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
}

function watch(child: ChildProcess): MemberProcess {
  running.add(child);
  let assigned: readonly number[] = [];
  let buffered = '';
  const listeners = new Set<() => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      running.delete(child);
      for (const listener of listeners) listener();
      resolve();
    });
  });
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      if (!line.startsWith('{"assigned"')) continue;
      assigned = (JSON.parse(line) as { assigned: number[] }).assigned;
      for (const listener of listeners) listener();
    }
  });
  return {
    assigned: () => assigned,
    waitFor(predicate, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate(assigned)) done(resolve);
          else if (exited) done(() => reject(new Error(`the member exited while owning [${assigned}]`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`the member still owns [${assigned}] after ${timeoutMs} ms`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      child.stdin!.end();
      await exit;
    },
    async kill() {
      child.kill('SIGKILL');
      await exit;
    },
  };
}
