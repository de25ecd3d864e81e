/**
 * `pnpm reliability [--quick] [--minutes N] [--only NAME[,NAME]] [--json] [--keep-logs]`: runs the fault scenarios
 * on one 3-broker cluster of the harness (replication factor 3, min.insync.replicas 2, a SASL listener whose
 * sessions expire every few seconds, a PROXIED listener behind the fault proxy), one after another, prints a table
 * of the checker's figures, and exits 1 when any scenario's guarantee did not hold. Logs go to a folder of their
 * own, kept when something failed (or with --keep-logs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClusterMetadata, ConnectionPool } from '@sluice/net';
import { KafkaCluster } from '@sluice/tools-kafka';
import { FaultProxy } from './fault-proxy.ts';
import { type Row, renderTable } from './report.ts';
import { type GroupProtocol, type Scenario, scenarioContext } from './scenario.ts';
import { SCENARIOS } from './scenarios/index.ts';
import { REAUTH_MS } from './scenarios/reauth.ts';

const USAGE = `usage: pnpm reliability [--quick] [--minutes N] [--only NAME[,NAME...]] [--group-protocol P] [--json] [--keep-logs]
  --quick      the short version (CI): fewer rounds of each fault, a 1-minute soak
  --group-protocol  the members' group.protocol: classic (default) or consumer (KIP-848)
  --minutes N  the soak's length (default: 30, or 1 with --quick)
  --only       run only these scenarios: ${SCENARIOS.map((scenario) => scenario.name).join(', ')}
  --json       print the results as JSON (the table goes to stderr)
  --keep-logs  keep the logs folder even when everything held`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      minutes: { type: 'string' },
      only: { type: 'string' },
      'group-protocol': { type: 'string', default: 'classic' },
      json: { type: 'boolean', default: false },
      'keep-logs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick ?? false;
  const soakMinutes = values.minutes === undefined ? (quick ? 1 : 30) : Number(values.minutes);
  if (!(soakMinutes > 0)) throw new UsageError(`--minutes must be a positive number, not ${values.minutes}`);
  const protocolName = values['group-protocol'];
  if (protocolName !== 'classic' && protocolName !== 'consumer') {
    throw new UsageError(`--group-protocol is classic or consumer, not ${protocolName}`);
  }
  const groupProtocol: GroupProtocol = protocolName;
  const wanted = values.only?.split(',').map((name) => name.trim());
  for (const name of wanted ?? []) {
    if (!SCENARIOS.some((scenario) => scenario.name === name))
      throw new UsageError(`no scenario named ${name} (have ${SCENARIOS.map((scenario) => scenario.name).join(', ')})`);
  }
  const scenarios = SCENARIOS.filter((scenario) => wanted === undefined || wanted.includes(scenario.name));
  const say = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

  const logs = mkdtempSync(join(tmpdir(), 'sluice-reliability-'));
  say(`logs in ${logs}`);
  const cluster = await KafkaCluster.start({
    brokers: 3,
    security: ['sasl', 'proxy'],
    brokerConfig: { 'min.insync.replicas': 2, 'connections.max.reauth.ms': REAUTH_MS },
    log: say,
  });
  const proxy = await FaultProxy.start(cluster.proxyRoutes());
  const pool = new ConnectionPool({ connection: { clientId: 'sluice-reliability' } });
  const metadata = new ClusterMetadata({ bootstrapServers: cluster.bootstrap('PLAINTEXT'), pool });
  const rows: Row[] = [];
  const started = Date.now();
  try {
    for (const scenario of scenarios) rows.push(await runOne(scenario));
  } finally {
    metadata.close();
    pool.close();
    await proxy.close();
    await cluster.stop();
  }

  const failed = rows.filter((row) => row.violations.length > 0);
  const summary = {
    date: new Date().toISOString(),
    kafka: cluster.version,
    node: process.version,
    quick,
    soakMinutes,
    groupProtocol,
    durationMs: Date.now() - started,
    scenarios: rows,
  };
  writeFileSync(join(logs, 'results.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const table = renderTable(rows);
  if (values.json) {
    console.error(table);
    console.log(JSON.stringify(summary, null, 2));
  } else {
    console.log(table);
  }
  for (const row of failed) {
    console.error(`\n${row.name}: ${row.guarantee} did NOT hold:`);
    for (const line of row.violations) console.error(`  ${line}`);
  }
  console.error(
    `\n${rows.length - failed.length} of ${rows.length} scenarios held, in ${Math.round((Date.now() - started) / 1000)} s (Kafka ${cluster.version}, group.protocol=${groupProtocol})`,
  );
  if (failed.length > 0 || values['keep-logs']) console.error(`the logs are kept in ${logs}`);
  else rmSync(logs, { recursive: true, force: true });
  return failed.length > 0 ? 1 : 0;

  async function runOne(scenario: Scenario): Promise<Row> {
    say(`--- ${scenario.name}: ${scenario.title}`);
    const directory = join(logs, scenario.name);
    const context = scenarioContext({
      cluster,
      proxy,
      pool,
      metadata,
      quick,
      soakMinutes,
      groupProtocol,
      directory,
      scenario: scenario.name,
      say,
    });
    const began = Date.now();
    let row: Row;
    try {
      const outcome = await scenario.run(context);
      row = {
        name: scenario.name,
        title: scenario.title,
        guarantee: scenario.guarantee,
        durationMs: Date.now() - began,
        violations: [...outcome.violations],
        notes: [...outcome.notes],
        ...(outcome.report ? { report: { ...outcome.report, examples: [...outcome.report.examples] } } : {}),
      };
    } catch (error) {
      row = {
        name: scenario.name,
        title: scenario.title,
        guarantee: scenario.guarantee,
        durationMs: Date.now() - began,
        violations: [`the scenario failed: ${(error as Error).stack ?? String(error)}`],
        notes: [],
      };
    }
    await restore();
    say(
      `${scenario.name}: ${row.violations.length === 0 ? 'held' : 'DID NOT HOLD'} in ${Math.round(row.durationMs / 1000)} s`,
    );
    for (const line of [...row.notes, ...row.violations]) say(`  ${line}`);
    return row;
  }

  /** Undoes whatever a scenario left behind: the network healed, no rewriting, every broker up and in sync. */
  async function restore(): Promise<void> {
    for (const nodeId of cluster.nodeIds) {
      proxy.heal(nodeId);
      if (cluster.brokerState(nodeId) === 'stopped') await cluster.restart(nodeId);
    }
    proxy.rewriteResponses('all', null);
  }
}

class UsageError extends Error {
  override name = 'UsageError';
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
