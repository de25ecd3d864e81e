#!/usr/bin/env node
/**
 * pnpm kafka up [--brokers 1|3] [--security sasl,tls] [--version X] [--client-auth required] [--consumer-protocol]
 *                [--dedicated-controller]
 * pnpm kafka status
 * pnpm kafka down
 * pnpm kafka fetch [--version X,Y] [--matrix]   resolve the jars into the cache (what CI does before the tests)
 */
import { parseArgs } from 'node:util';
import { type ClusterInfo, isHarnessBroker, KafkaCluster, stopDetached } from './cluster.ts';
import type { SecurityFeature } from './config.ts';
import { ensureKafkaInstall } from './jars.ts';
import { fetchMetadata } from './probe.ts';
import { clearState, readState, stateFile, writeState } from './state.ts';
import { DEFAULT_KAFKA_VERSION, MATRIX_KAFKA_VERSIONS, VERIFIED_KAFKA_VERSIONS } from './versions.ts';

const USAGE = `usage:
  pnpm kafka up [--brokers 1|3] [--security sasl,tls] [--version ${DEFAULT_KAFKA_VERSION}] [--client-auth none|required]
                [--consumer-protocol]   (3.9: turn on its early-access KIP-848 consumer groups)
                [--dedicated-controller]   (broker-only nodes and one controller-only node, id 100)
  pnpm kafka status
  pnpm kafka down
  pnpm kafka fetch [--version ${DEFAULT_KAFKA_VERSION}[,X...]] [--matrix]   (--matrix: also ${MATRIX_KAFKA_VERSIONS.join(', ')})
Verified Kafka versions: ${VERIFIED_KAFKA_VERSIONS.join(', ')}.`;

class UsageError extends Error {
  override name = 'UsageError';
}

function describe(info: ClusterInfo): string {
  const lines = [
    `Kafka ${info.version}, cluster ${info.clusterId}, ${info.nodeIds.length} broker(s), folder ${info.root}`,
  ];
  for (const listener of info.listeners) lines.push(`  ${listener.padEnd(15)} ${info.bootstrap[listener]}`);
  if (info.sasl) {
    lines.push(
      `  SASL user       ${info.sasl.username} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER unsecured); password in ${stateFile()}`,
    );
  }
  if (info.tls) lines.push(`  TLS CA file     ${info.tls.caFile}`);
  if (info.controller) {
    lines.push(
      `  controller      node ${info.controller.nodeId}, 127.0.0.1:${info.controller.controllerPort} (KRaft only)`,
    );
  }
  return lines.join('\n');
}

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      brokers: { type: 'string', default: '1' },
      security: { type: 'string', default: '' },
      version: { type: 'string', default: DEFAULT_KAFKA_VERSION },
      'client-auth': { type: 'string', default: 'none' },
      'consumer-protocol': { type: 'boolean', default: false },
      'dedicated-controller': { type: 'boolean', default: false },
    },
  });
  const brokers = Number(values.brokers);
  if (brokers !== 1 && brokers !== 3) throw new UsageError(`--brokers must be 1 or 3, not "${values.brokers}"`);
  const security = values.security
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  for (const item of security) {
    if (item !== 'sasl' && item !== 'tls') throw new UsageError(`--security takes sasl and/or tls, not "${item}"`);
  }
  const clientAuth = values['client-auth'];
  if (clientAuth !== 'none' && clientAuth !== 'required')
    throw new UsageError('--client-auth must be none or required');

  const existing = await readState();
  const existingNodes = [...(existing?.nodes ?? []), ...(existing?.controller ? [existing.controller] : [])];
  if (existing && existingNodes.some((node) => node.pid !== null && isHarnessBroker(node.pid, existing.root))) {
    throw new UsageError(`a cluster is already up (see "pnpm kafka status"); run "pnpm kafka down" first`);
  }
  const cluster = await KafkaCluster.start({
    version: values.version,
    brokers,
    security: security as SecurityFeature[],
    clientAuth,
    consumerProtocol: values['consumer-protocol'],
    dedicatedController: values['dedicated-controller'],
    tiedToProcess: false,
    log: (line) => console.error(line),
  });
  const info = cluster.info();
  await writeState(info);
  console.log(describe(info));
}

async function status(): Promise<number> {
  const info = await readState();
  if (!info) {
    console.log('no cluster is up (start one with "pnpm kafka up")');
    return 1;
  }
  console.log(describe(info));
  let healthy = true;
  for (const node of info.nodes) {
    const alive = node.pid !== null && isHarnessBroker(node.pid, info.root);
    let detail = 'not running';
    if (alive) {
      try {
        const metadata = await fetchMetadata('127.0.0.1', node.listenerPorts.PLAINTEXT!, 3000);
        detail = `serving; Metadata lists brokers [${metadata.brokers.map((broker) => broker.nodeId).join(', ')}], controller ${metadata.controllerId}`;
      } catch (error) {
        detail = `process ${node.pid} up but not answering: ${(error as Error).message}`;
        healthy = false;
      }
    } else {
      healthy = false;
    }
    console.log(`  broker ${node.nodeId}: pid ${node.pid ?? '-'}, ${detail}`);
  }
  if (info.controller) {
    const { nodeId, pid } = info.controller;
    const alive = pid !== null && isHarnessBroker(pid, info.root);
    if (!alive) healthy = false;
    console.log(`  controller ${nodeId}: pid ${pid ?? '-'}, ${alive ? 'running' : 'not running'}`);
  }
  return healthy ? 0 : 1;
}

async function down(): Promise<void> {
  const info = await readState();
  if (!info) {
    console.log('no cluster is up');
    return;
  }
  const pids = await stopDetached(info);
  await clearState();
  console.log(`stopped ${pids.length} Kafka process(es) and removed ${info.root}`);
}

async function fetch(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      version: { type: 'string', default: DEFAULT_KAFKA_VERSION },
      matrix: { type: 'boolean', default: false },
    },
  });
  const versions = values.version
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (values.matrix) versions.push(...MATRIX_KAFKA_VERSIONS);
  // One after another: Maven shares its local repository, and the machine has two cores.
  for (const version of new Set(versions)) {
    const install = await ensureKafkaInstall(version, (line) => console.error(line));
    console.log(`Kafka ${install.version} jars in ${install.libsDir}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      await up(rest);
      return 0;
    case 'status':
      return status();
    case 'down':
      await down();
      return 0;
    case 'fetch':
      await fetch(rest);
      return 0;
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : `${error.name}: ${error.message}`);
    process.exitCode = 1;
  },
);
