/**
 * bench:rebalance: how long a group takes to settle when a member joins, leaves (close) and is killed (SIGKILL),
 * under the classic protocol (range, eager; cooperative-sticky) and KIP-848's consumer protocol (the broker's
 * uniform assignor), against one harness broker, in one run.
 *
 * Each round starts from member A alone owning every partition of a 12-partition topic, then:
 * - join: B subscribes; settled when A and B own 6 partitions each (each once);
 * - leave: B closes; settled when A owns all 12;
 * - kill: B, in a process of its own, is SIGKILLed; settled when A owns all 12.
 * Times run from the action to the moment A's (and B's) `assignment()` shows the settled state, polling with
 * `poll(100)`. Both protocols get the same liveness settings: a 10 s session and 1 s heartbeats
 * (`session.timeout.ms` / `heartbeat.interval.ms` for classic members, `group.consumer.*` on the harness broker
 * for consumer groups). The report gives the median and the slowest of `--rounds` rounds (default 5).
 *
 *   ./pnpmw bench:rebalance [--rounds N] [--json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KafkaConsumer } from '@sluice/consumer';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { createTopic } from '@sluice/tools-admin';
import { KafkaCluster } from '@sluice/tools-kafka';

const PARTITIONS = 12;

interface Protocol {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
}

const PROTOCOLS: readonly Protocol[] = [
  {
    name: 'classic, range (eager)',
    config: { 'session.timeout.ms': 10_000, 'heartbeat.interval.ms': 1_000, 'partition.assignment.strategy': 'range' },
  },
  {
    name: 'classic, cooperative-sticky',
    config: {
      'session.timeout.ms': 10_000,
      'heartbeat.interval.ms': 1_000,
      'partition.assignment.strategy': 'cooperative-sticky',
    },
  },
  { name: 'consumer (KIP-848), uniform', config: { 'group.protocol': 'consumer' } },
];

type Kind = 'join' | 'leave' | 'kill';

interface Row {
  readonly protocol: string;
  readonly kind: Kind;
  readonly samplesMs: readonly number[];
  readonly medianMs: number;
  readonly maxMs: number;
}

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a positive integer');
const progress = (line: string) => process.stderr.write(`[bench:rebalance] ${line}\n`);

const cluster = await KafkaCluster.start({ brokers: 1, log: progress });
const bootstrap = cluster.bootstrap();
const pool = new ConnectionPool({ connection: { clientId: 'sluice-bench-rebalance' } });
const metadata = new ClusterMetadata({ bootstrapServers: bootstrap, pool });
const children = new Set<ChildProcess>();
try {
  const rows: Row[] = [];
  for (const protocol of PROTOCOLS) {
    const samples: Record<Kind, number[]> = { join: [], leave: [], kill: [] };
    for (let round = 0; round < rounds; round++) {
      const topic = `rebalance-${randomUUID().slice(0, 8)}`;
      metadata.setTopics([topic]);
      await createTopic(pool, metadata, topic, PARTITIONS);
      const result = await measureRound(protocol, topic);
      for (const kind of ['join', 'leave', 'kill'] as const) samples[kind].push(result[kind]);
      progress(
        `${protocol.name}, round ${round + 1}: join ${result.join} ms, leave ${result.leave} ms, kill ${result.kill} ms`,
      );
    }
    for (const kind of ['join', 'leave', 'kill'] as const) {
      const sorted = [...samples[kind]].sort((a, b) => a - b);
      rows.push({
        protocol: protocol.name,
        kind,
        samplesMs: samples[kind],
        medianMs: sorted[Math.floor(sorted.length / 2)]!,
        maxMs: sorted.at(-1)!,
      });
    }
  }
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ kafka: cluster.version, rounds, partitions: PARTITIONS, rows }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(report(rows));
  }
} finally {
  for (const child of children) child.kill('SIGKILL');
  metadata.close();
  pool.close();
  await cluster.stop();
}

function report(rows: readonly Row[]): string {
  const lines = [
    `Kafka ${cluster.version}, 1 broker on loopback, ${PARTITIONS} partitions, ${rounds} rounds, Node ${process.version}`,
    '',
    '| protocol | join (median / max) | leave (median / max) | kill (median / max) |',
    '|---|---|---|---|',
  ];
  for (const protocol of PROTOCOLS) {
    const cell = (kind: Kind) => {
      const row = rows.find((entry) => entry.protocol === protocol.name && entry.kind === kind)!;
      return `${(row.medianMs / 1000).toFixed(2)} s / ${(row.maxMs / 1000).toFixed(2)} s`;
    };
    lines.push(`| ${protocol.name} | ${cell('join')} | ${cell('leave')} | ${cell('kill')} |`);
  }
  return `${lines.join('\n')}\n`;
}

async function measureRound(protocol: Protocol, topic: string): Promise<Record<Kind, number>> {
  const groupId = `rebalance-${randomUUID().slice(0, 8)}`;
  const config = { 'bootstrap.servers': bootstrap, 'group.id': groupId, ...protocol.config };
  const a = new KafkaConsumer(config);
  const members: KafkaConsumer[] = [a];
  try {
    a.subscribe([topic]);
    await until(members, () => a.assignment().length === PARTITIONS);

    const b = new KafkaConsumer(config);
    members.push(b);
    let started = performance.now();
    b.subscribe([topic]);
    await until(members, () => a.assignment().length === PARTITIONS / 2 && b.assignment().length === PARTITIONS / 2);
    const joinMs = performance.now() - started;

    started = performance.now();
    members.pop();
    await b.close();
    await until(members, () => a.assignment().length === PARTITIONS);
    const leaveMs = performance.now() - started;

    const victim = spawnMember(topic, config);
    await until(members, () => a.assignment().length === PARTITIONS / 2 && victim.owned() === PARTITIONS / 2);
    started = performance.now();
    victim.child.kill('SIGKILL');
    await until(members, () => a.assignment().length === PARTITIONS, 60_000);
    const killMs = performance.now() - started;
    return { join: Math.round(joinMs), leave: Math.round(leaveMs), kill: Math.round(killMs) };
  } finally {
    await Promise.all(members.map((member) => member.close({ timeoutMs: 5_000 }).catch(() => {})));
  }
}

/** Polls every member (as separate applications would) until `done` holds. */
async function until(members: readonly KafkaConsumer[], done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('the group did not settle in time');
    await Promise.all(members.map((member) => member.poll(100)));
  }
}

function spawnMember(topic: string, config: Record<string, unknown>): { child: ChildProcess; owned: () => number } {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@sluice/source',
      join(import.meta.dirname, 'rebalance-child.ts'),
      JSON.stringify({ bootstrap, topic, config }),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  let owned = 0;
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line.startsWith('{"owned"')) owned = (JSON.parse(line) as { owned: number }).owned;
    }
  });
  return { child, owned: () => owned };
}
