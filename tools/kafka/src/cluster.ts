import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type ListenerName,
  listenersFor,
  type NodeLayout,
  type NodeRole,
  renderLogConfig,
  renderServerProperties,
  type SaslUser,
  type SecurityFeature,
} from './config.ts';
import { ensureKafkaInstall, type KafkaInstall } from './jars.ts';
import { freePorts } from './ports.ts';
import { type ClusterMetadata, fetchMetadata } from './probe.ts';
import { createTlsMaterial, type TlsMaterial } from './tls.ts';
import { DEFAULT_KAFKA_VERSION, kafkaLine } from './versions.ts';

const run = promisify(execFile);

export class KafkaHarnessError extends Error {
  override name = 'KafkaHarnessError';
}

/**
 * Node id of the dedicated KRaft controller (`dedicatedController: true`). Far from the broker ids (1..3), so that
 * it reads as what it is in logs, and the same whatever the broker count.
 */
export const DEDICATED_CONTROLLER_ID = 100;

export interface StartOptions {
  /** Kafka version from Maven Central; default: the newest 4.x release. */
  readonly version?: string;
  /** 1 (one combined node) or 3 (three combined nodes forming the controller quorum). */
  readonly brokers?: 1 | 3;
  /**
   * true: the brokers are broker-only nodes (`process.roles=broker`, ids 1..brokers), and one more node, id
   * DEDICATED_CONTROLLER_ID (100), is the whole KRaft quorum (`process.roles=controller`, a CONTROLLER listener
   * only). Brokers can then all be down at once without the quorum going: the controller keeps fencing them,
   * shrinking ISRs and electing leaders. The controller is never a target of kill, stopBroker or restart, and is
   * not in nodeIds, bootstrap or Metadata; `controllerNodeId` and `info().controller` name it. brokerConfig applies
   * to it too (a KRaft controller takes cluster defaults from its own config); nodeConfig only to brokers.
   * Default false: every node is combined broker+controller.
   */
  readonly dedicatedController?: boolean;
  /**
   * Extra listeners: `sasl` adds SASL_PLAINTEXT, `tls` adds SSL, both add SASL_SSL too; `proxy` adds PROXIED, which
   * brokers advertise at the ports of `proxyRoutes()`, where the test runs a proxy.
   */
  readonly security?: readonly SecurityFeature[];
  /** `required` makes SSL listeners demand a client certificate signed by the cluster CA. */
  readonly clientAuth?: 'none' | 'required';
  /**
   * 3.9.x: turn on KIP-848's consumer group protocol, early access there (`group.coordinator.rebalance.protocols=
   * classic,consumer`, which also moves classic groups to the new group coordinator). 4.x serves it by default.
   */
  readonly consumerProtocol?: boolean;
  /** Broker properties applied on top of the harness's own. */
  readonly brokerConfig?: Readonly<Record<string, string | number | boolean>>;
  /** Properties of one node, applied last (`broker.rack` per node, for example). */
  readonly nodeConfig?: (nodeId: number) => Readonly<Record<string, string | number | boolean>>;
  /** How long to wait for every broker to appear in Metadata. */
  readonly startTimeoutMs?: number;
  /**
   * true (tests): each broker ends itself when this process dies (it watches a pipe to us) and deletes its data.
   * false (`pnpm kafka up`): brokers run detached and outlive this process; `down` ends them.
   */
  readonly tiedToProcess?: boolean;
  readonly log?: (line: string) => void;
}

export type BrokerState = 'running' | 'stopped';

/** Everything a client needs to reach a harness cluster; serialisable (the CLI stores it as JSON). */
export interface ClusterInfo {
  readonly version: string;
  readonly root: string;
  readonly clusterId: string;
  readonly nodeIds: number[];
  /** `host:port,host:port` per listener. */
  readonly bootstrap: Readonly<Partial<Record<ListenerName, string>>>;
  readonly listeners: ListenerName[];
  /** Test credentials accepted by PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (and the OAUTHBEARER sub claim). */
  readonly sasl: SaslUser | null;
  readonly tls: Omit<TlsMaterial, 'brokerKeystorePassword'> | null;
  /** The brokers (combined broker+controller nodes, or broker-only ones with a dedicated controller). */
  readonly nodes: Array<{
    nodeId: number;
    dir: string;
    /** null on a broker-only node (dedicated controller). */
    controllerPort: number | null;
    listenerPorts: NodeLayout['listenerPorts'];
    pid: number | null;
  }>;
  /** The dedicated controller-only node; null (or absent, in older state files) when every node is combined. */
  readonly controller?: { nodeId: number; dir: string; controllerPort: number; pid: number | null } | null;
}

interface NodeRuntime {
  readonly role: NodeRole;
  readonly layout: NodeLayout;
  readonly propertiesFile: string;
  readonly logFile: string;
  process: ChildProcess | null;
  pid: number | null;
  exited: Promise<void> | null;
}

const OWNER_FILE = 'owner.json';
const ROOT_PREFIX = 'sluice-kafka-';

/** Reads a process's command line; null when no such process exists (or it is a zombie). */
function commandLine(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return text.length === 0 ? null : text.replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** True when `pid` is a Kafka JVM (broker or dedicated controller) this harness started for the cluster at `root`. */
export function isHarnessBroker(pid: number, root: string): boolean {
  return commandLine(pid)?.includes(`-Dsluice.cluster=${root} `) ?? false;
}

function processAlive(pid: number): boolean {
  return commandLine(pid) !== null;
}

async function tail(file: string, lines = 40): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A Kafka cluster id: 16 random bytes (a UUID) in URL-safe base64 without padding. Like Kafka's Uuid.randomUuid,
 * never one that starts with '-', which command-line parsers (StorageTool's -t) take for an option.
 */
export function randomClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Removes harness folders in the temp directory left by runs that died before cleaning up:
 * those whose owning process is gone and none of whose brokers still runs.
 */
export async function sweepStaleClusters(base: string = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(base).catch(() => [])) {
    if (!name.startsWith(ROOT_PREFIX)) continue;
    const root = join(base, name);
    let owner: { pid?: number; nodes?: number[] } = {};
    try {
      owner = JSON.parse(await readFile(join(root, OWNER_FILE), 'utf8'));
    } catch {
      // no owner file yet: a start in progress, or a folder from a run that died at once; judge by age below
    }
    const ownerAlive = typeof owner.pid === 'number' && processAlive(owner.pid);
    const brokersAlive = (owner.nodes ?? []).some((pid) => isHarnessBroker(pid, root));
    if (ownerAlive || brokersAlive) continue;
    if (owner.pid === undefined) {
      const { mtimeMs } = await stat(root);
      if (Date.now() - mtimeMs < 10 * 60_000) continue;
    }
    await rm(root, { recursive: true, force: true });
    removed.push(root);
  }
  return removed;
}

export class KafkaCluster {
  readonly version: string;
  readonly root: string;
  readonly clusterId: string;
  readonly listeners: ListenerName[];
  readonly sasl: SaslUser | null;
  readonly tls: TlsMaterial | null;
  readonly #install: KafkaInstall;
  /** The brokers, by node id. */
  readonly #nodes: Map<number, NodeRuntime>;
  /** The dedicated controller-only node, if any. */
  readonly #controller: NodeRuntime | null;
  readonly #tiedToProcess: boolean;
  readonly #startTimeoutMs: number;
  readonly #log: (line: string) => void;
  #stopped = false;

  private constructor(init: {
    version: string;
    root: string;
    clusterId: string;
    listeners: ListenerName[];
    sasl: SaslUser | null;
    tls: TlsMaterial | null;
    install: KafkaInstall;
    nodes: Map<number, NodeRuntime>;
    controller: NodeRuntime | null;
    tiedToProcess: boolean;
    startTimeoutMs: number;
    log: (line: string) => void;
  }) {
    this.version = init.version;
    this.root = init.root;
    this.clusterId = init.clusterId;
    this.listeners = init.listeners;
    this.sasl = init.sasl;
    this.tls = init.tls;
    this.#install = init.install;
    this.#nodes = init.nodes;
    this.#controller = init.controller;
    this.#tiedToProcess = init.tiedToProcess;
    this.#startTimeoutMs = init.startTimeoutMs;
    this.#log = init.log;
  }

  /** Resolves the jars (once), lays out and formats every node, starts them, and waits until Metadata lists all. */
  static async start(options: StartOptions = {}): Promise<KafkaCluster> {
    const version = options.version ?? DEFAULT_KAFKA_VERSION;
    const line = kafkaLine(version);
    const brokerCount = options.brokers ?? 1;
    if (brokerCount !== 1 && brokerCount !== 3)
      throw new KafkaHarnessError(`brokers must be 1 or 3, not ${brokerCount}`);
    const dedicated = options.dedicatedController ?? false;
    const security = new Set(options.security ?? []);
    for (const feature of security) {
      if (feature !== 'sasl' && feature !== 'tls' && feature !== 'proxy')
        throw new KafkaHarnessError(`unknown security feature "${feature}" (use sasl, tls, proxy)`);
    }
    const log = options.log ?? (() => {});
    await sweepStaleClusters();
    const install = await ensureKafkaInstall(version, log);

    const root = await mkdtemp(join(tmpdir(), ROOT_PREFIX));
    const tiedToProcess = options.tiedToProcess ?? true;
    await writeFile(join(root, OWNER_FILE), JSON.stringify({ pid: tiedToProcess ? process.pid : null, nodes: [] }));
    try {
      const listeners = listenersFor(security);
      const tls = security.has('tls') ? await createTlsMaterial(join(root, 'tls')) : null;
      const sasl: SaslUser | null = security.has('sasl') ? { username: 'alice', password: 'alice-secret' } : null;
      // Per broker: the controller's port (combined nodes only), one per listener, and the proxy's port for
      // PROXIED; a dedicated controller has one port, its CONTROLLER listener's, last.
      const ownController = dedicated ? 0 : 1;
      const perNode = listeners.length + ownController + (security.has('proxy') ? 1 : 0);
      const ports = await freePorts(brokerCount * perNode + (dedicated ? 1 : 0));
      const layouts: NodeLayout[] = [];
      for (let index = 0; index < brokerCount; index++) {
        const base = index * perNode;
        const listenerPorts: Partial<Record<ListenerName, number>> = {};
        listeners.forEach((name, offset) => {
          listenerPorts[name] = ports[base + ownController + offset]!;
        });
        layouts.push({
          nodeId: index + 1,
          dir: join(root, `node-${index + 1}`),
          controllerPort: dedicated ? null : ports[base]!,
          listenerPorts,
          ...(security.has('proxy') ? { advertisedPorts: { PROXIED: ports[base + perNode - 1]! } } : {}),
        });
      }
      const controllerLayout: NodeLayout | null = dedicated
        ? {
            nodeId: DEDICATED_CONTROLLER_ID,
            dir: join(root, `controller-${DEDICATED_CONTROLLER_ID}`),
            controllerPort: ports[brokerCount * perNode]!,
            listenerPorts: {},
          }
        : null;
      const voters = controllerLayout ? [controllerLayout] : layouts;

      const logConfig = renderLogConfig(line);
      const logConfigFile = join(root, logConfig.fileName);
      await writeFile(logConfigFile, logConfig.text);
      const clusterId = randomClusterId();
      const prepare = async (layout: NodeLayout, role: NodeRole): Promise<NodeRuntime> => {
        await mkdir(join(layout.dir, 'data'), { recursive: true });
        const propertiesFile = join(layout.dir, 'server.properties');
        await writeFile(
          propertiesFile,
          renderServerProperties({
            line,
            node: layout,
            role,
            voters,
            brokerCount,
            ...(sasl ? { sasl } : {}),
            ...(tls ? { tls } : {}),
            clientAuth: options.clientAuth ?? 'none',
            consumerProtocol: options.consumerProtocol ?? false,
            overrides:
              role === 'controller'
                ? { ...options.brokerConfig }
                : { ...options.brokerConfig, ...options.nodeConfig?.(layout.nodeId) },
          }),
        );
        return {
          role,
          layout,
          propertiesFile,
          logFile: join(layout.dir, 'server.log'),
          process: null,
          pid: null,
          exited: null,
        };
      };
      const nodes = new Map<number, NodeRuntime>();
      for (const layout of layouts) nodes.set(layout.nodeId, await prepare(layout, dedicated ? 'broker' : 'combined'));
      const controller = controllerLayout ? await prepare(controllerLayout, 'controller') : null;
      const cluster = new KafkaCluster({
        version,
        root,
        clusterId,
        listeners,
        sasl,
        tls,
        install,
        nodes,
        controller,
        tiedToProcess,
        startTimeoutMs: options.startTimeoutMs ?? 120_000,
        log,
      });
      // Every node is formatted, the controller too (static voters: no --standalone / --initial-controllers).
      await Promise.all(cluster.#allNodes().map((node) => cluster.#format(node, sasl, logConfigFile)));
      // The controller first: brokers register with it as soon as they are up.
      for (const node of [...(controller ? [controller] : []), ...nodes.values()]) cluster.#spawn(node, logConfigFile);
      await cluster.#writeOwner();
      log(
        `started ${brokerCount} Kafka ${version} ${dedicated ? `broker(s) and controller ${DEDICATED_CONTROLLER_ID}` : 'node(s)'} in ${root}; waiting for Metadata to list them`,
      );
      // Brokers are listed in Metadata only once the controller has registered and unfenced them: that is the
      // controller's readiness too (it is no broker and answers no Metadata).
      await cluster.waitForBrokers([...nodes.keys()]);
      return cluster;
    } catch (error) {
      // Kill whatever started, then remove the folder: a failed start leaves nothing behind.
      await KafkaCluster.#killAll(root);
      await rm(root, { recursive: true, force: true });
      throw error;
    }
  }

  static async #killAll(root: string): Promise<void> {
    try {
      const owner = JSON.parse(await readFile(join(root, OWNER_FILE), 'utf8')) as { nodes?: number[] };
      for (const pid of owner.nodes ?? []) {
        if (isHarnessBroker(pid, root)) process.kill(pid, 'SIGKILL');
      }
    } catch {
      // nothing recorded
    }
  }

  #javaArgs(logConfigFile: string, node: NodeRuntime): string[] {
    const logConfig = renderLogConfig(kafkaLine(this.version));
    return [
      '-Xms256m',
      '-Xmx512m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      logConfig.systemProperty(logConfigFile),
      `-Dsluice.cluster=${this.root}`,
      `-Dsluice.node=${node.layout.nodeId}`,
      `-Dsluice.watchStdin=${this.#tiedToProcess}`,
      `-Dsluice.cleanupDir=${this.#tiedToProcess ? this.root : ''}`,
      '-cp',
      `${this.#install.launcherDir}:${this.#install.libsDir}/*`,
    ];
  }

  async #format(node: NodeRuntime, sasl: SaslUser | null, logConfigFile: string): Promise<void> {
    const args = [
      ...this.#javaArgs(logConfigFile, node).filter((arg) => !arg.startsWith('-Dsluice.')),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      this.clusterId,
      '-c',
      node.propertiesFile,
    ];
    // SCRAM credentials are bootstrap metadata records, read by controllers; a broker-only node has no use for them.
    if (sasl && node.role !== 'broker') {
      for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
        args.push('--add-scram', `${mechanism}=[name=${sasl.username},password=${sasl.password}]`);
      }
    }
    try {
      await run('java', args, { maxBuffer: 4 * 1024 * 1024 });
    } catch (error) {
      const failure = error as { stdout?: string; stderr?: string; message: string };
      const output = `${failure.stdout ?? ''}${failure.stderr ?? ''}`.trim() || failure.message;
      // The output may echo the command line; the test password is no secret, but keep errors free of it anyway.
      throw new KafkaHarnessError(
        `formatting ${node.role === 'controller' ? 'controller' : 'node'} ${node.layout.nodeId} failed:\n${sasl ? output.replaceAll(sasl.password, '***') : output}`,
      );
    }
  }

  #spawn(node: NodeRuntime, logConfigFile = join(this.root, renderLogConfig(kafkaLine(this.version)).fileName)): void {
    const logFd = openSync(node.logFile, 'a');
    const child = spawn('java', [...this.#javaArgs(logConfigFile, node), 'SluiceKafkaLauncher', node.propertiesFile], {
      stdio: [this.#tiedToProcess ? 'pipe' : 'ignore', logFd, logFd],
      detached: !this.#tiedToProcess,
    });
    closeSync(logFd);
    if (!this.#tiedToProcess) child.unref();
    // Our end of the stdin pipe must not keep the event loop alive, and must never be written.
    if (child.stdin) (child.stdin as unknown as { unref?: () => void }).unref?.();
    node.process = child;
    node.pid = child.pid ?? null;
    node.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    child.once('exit', () => {
      if (node.process === child) {
        node.process = null;
        node.pid = null;
      }
    });
  }

  /** Brokers and the dedicated controller: every process of the cluster. */
  #allNodes(): NodeRuntime[] {
    return [...this.#nodes.values(), ...(this.#controller ? [this.#controller] : [])];
  }

  async #writeOwner(): Promise<void> {
    const pids = this.#allNodes().flatMap((node) => (node.pid === null ? [] : [node.pid]));
    await writeFile(
      join(this.root, OWNER_FILE),
      JSON.stringify({ pid: this.#tiedToProcess ? process.pid : null, nodes: pids }),
    );
  }

  /** The brokers' node ids (never the dedicated controller's). */
  get nodeIds(): number[] {
    return [...this.#nodes.keys()];
  }

  /** Node id of the dedicated controller (DEDICATED_CONTROLLER_ID); null when every node is combined. */
  get controllerNodeId(): number | null {
    return this.#controller?.layout.nodeId ?? null;
  }

  brokerState(nodeId: number): BrokerState {
    return this.#node(nodeId).process ? 'running' : 'stopped';
  }

  /** The dedicated controller's process state; throws when the cluster has none. */
  controllerState(): BrokerState {
    if (!this.#controller) throw new KafkaHarnessError('this cluster has no dedicated controller');
    return this.#controller.process ? 'running' : 'stopped';
  }

  #node(nodeId: number): NodeRuntime {
    const node = this.#nodes.get(nodeId);
    if (node) return node;
    if (this.#controller && nodeId === this.#controller.layout.nodeId) {
      throw new KafkaHarnessError(
        `node ${nodeId} is the dedicated KRaft controller, not a broker: kill, stopBroker, restart, brokerState and address take broker ids (${this.nodeIds.join(', ')})`,
      );
    }
    throw new KafkaHarnessError(`no broker with id ${nodeId} (have ${this.nodeIds.join(', ')})`);
  }

  /** `host:port,...` of the brokers on one listener, as they advertise it (PROXIED: the proxy's ports). */
  bootstrap(listener: ListenerName = 'PLAINTEXT'): string {
    if (!this.listeners.includes(listener)) throw new KafkaHarnessError(`this cluster has no ${listener} listener`);
    return [...this.#nodes.values()]
      .map((node) => `127.0.0.1:${node.layout.advertisedPorts?.[listener] ?? node.layout.listenerPorts[listener]}`)
      .join(',');
  }

  /**
   * For a cluster started with the `proxy` feature: per broker, the port its PROXIED listener is advertised at (where
   * the proxy must listen) and the port the broker itself listens on (where the proxy forwards to).
   */
  proxyRoutes(): Array<{ nodeId: number; listenPort: number; brokerPort: number }> {
    if (!this.listeners.includes('PROXIED')) throw new KafkaHarnessError('this cluster has no PROXIED listener');
    return [...this.#nodes.values()].map((node) => ({
      nodeId: node.layout.nodeId,
      listenPort: node.layout.advertisedPorts!.PROXIED!,
      brokerPort: node.layout.listenerPorts.PROXIED!,
    }));
  }

  /** Address of one broker on one listener. */
  address(nodeId: number, listener: ListenerName = 'PLAINTEXT'): { host: string; port: number } {
    const port = this.#node(nodeId).layout.listenerPorts[listener];
    if (port === undefined) throw new KafkaHarnessError(`this cluster has no ${listener} listener`);
    return { host: '127.0.0.1', port };
  }

  /** A broker's log file, or the dedicated controller's (by its node id). */
  logFile(nodeId: number): string {
    if (this.#controller && nodeId === this.#controller.layout.nodeId) return this.#controller.logFile;
    return this.#node(nodeId).logFile;
  }

  info(): ClusterInfo {
    const bootstrap: Partial<Record<ListenerName, string>> = {};
    for (const listener of this.listeners) bootstrap[listener] = this.bootstrap(listener);
    let tls: ClusterInfo['tls'] = null;
    if (this.tls) {
      const { brokerKeystorePassword: _password, ...files } = this.tls;
      tls = files;
    }
    return {
      version: this.version,
      root: this.root,
      clusterId: this.clusterId,
      nodeIds: this.nodeIds,
      bootstrap,
      listeners: this.listeners,
      sasl: this.sasl,
      tls,
      nodes: [...this.#nodes.values()].map((node) => ({
        nodeId: node.layout.nodeId,
        dir: node.layout.dir,
        controllerPort: node.layout.controllerPort,
        listenerPorts: node.layout.listenerPorts,
        pid: node.pid,
      })),
      controller: this.#controller
        ? {
            nodeId: this.#controller.layout.nodeId,
            dir: this.#controller.layout.dir,
            controllerPort: this.#controller.layout.controllerPort!,
            pid: this.#controller.pid,
          }
        : null,
    };
  }

  /** Metadata from the first running broker that answers. */
  async metadata(): Promise<ClusterMetadata> {
    let lastError: unknown = new KafkaHarnessError('no broker is running');
    for (const node of this.#nodes.values()) {
      if (!node.process) continue;
      try {
        return await fetchMetadata('127.0.0.1', node.layout.listenerPorts.PLAINTEXT!, 3000);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /**
   * Waits until Metadata, asked of each of `nodeIds`, lists exactly the running brokers. Fails with the last
   * log lines of a broker that exited or did not come up in time.
   */
  async waitForBrokers(nodeIds: number[] = this.nodeIds, timeoutMs = this.#startTimeoutMs): Promise<ClusterMetadata> {
    const deadline = Date.now() + timeoutMs;
    const expected = this.nodeIds.filter((id) => this.#node(id).process !== null);
    let lastProblem = 'no answer yet';
    const controller = this.#controller;
    while (Date.now() < deadline) {
      if (controller && !controller.process) {
        throw new KafkaHarnessError(
          `controller ${controller.layout.nodeId} is not running (it exited); its last log lines:\n${await tail(controller.logFile)}`,
        );
      }
      for (const id of nodeIds) {
        const node = this.#node(id);
        if (!node.process) {
          throw new KafkaHarnessError(
            `broker ${id} exited while starting; its last log lines:\n${await tail(node.logFile)}`,
          );
        }
      }
      try {
        let metadata: ClusterMetadata | null = null;
        for (const id of nodeIds) {
          const { port } = this.address(id);
          metadata = await fetchMetadata('127.0.0.1', port, 3000);
          const listed = metadata.brokers.map((broker) => broker.nodeId);
          if (listed.join(',') !== expected.join(',')) {
            throw new Error(`broker ${id} lists brokers [${listed.join(', ')}], expected [${expected.join(', ')}]`);
          }
        }
        if (metadata) return metadata;
      } catch (error) {
        lastProblem = (error as Error).message;
      }
      await sleep(250);
    }
    const logs = await Promise.all(
      nodeIds.map(async (id) => `--- broker ${id} (${this.logFile(id)})\n${await tail(this.logFile(id))}`),
    );
    if (controller) {
      logs.push(
        `--- controller ${controller.layout.nodeId} (${controller.logFile})\n${await tail(controller.logFile)}`,
      );
    }
    throw new KafkaHarnessError(
      `brokers [${nodeIds.join(', ')}] not ready within ${timeoutMs} ms (${lastProblem})\n${logs.join('\n')}`,
    );
  }

  /** Waits until Metadata from the running brokers no longer lists `nodeId` (the controller fenced it). */
  async waitForBrokerGone(nodeId: number, timeoutMs = 60_000): Promise<ClusterMetadata> {
    const deadline = Date.now() + timeoutMs;
    let lastProblem = 'no answer yet';
    while (Date.now() < deadline) {
      try {
        const metadata = await this.metadata();
        if (!metadata.brokers.some((broker) => broker.nodeId === nodeId)) return metadata;
        lastProblem = `still listed: [${metadata.brokers.map((broker) => broker.nodeId).join(', ')}]`;
      } catch (error) {
        lastProblem = (error as Error).message;
      }
      await sleep(250);
    }
    throw new KafkaHarnessError(`broker ${nodeId} still in Metadata after ${timeoutMs} ms (${lastProblem})`);
  }

  /** SIGKILL: the broker dies at once, as in a crash. Resolves when the process is gone. */
  async kill(nodeId: number): Promise<void> {
    await this.#signal(this.#node(nodeId), 'SIGKILL', 0);
  }

  /** SIGTERM (controlled shutdown); SIGKILL after `graceMs`. Resolves when the process is gone. */
  async stopBroker(nodeId: number, graceMs = 30_000): Promise<void> {
    await this.#signal(this.#node(nodeId), 'SIGTERM', graceMs);
  }

  /** Starts a stopped or killed broker again with its data, and waits until Metadata lists it. */
  async restart(nodeId: number): Promise<ClusterMetadata> {
    const node = this.#node(nodeId);
    if (this.#stopped) throw new KafkaHarnessError('the cluster has been stopped');
    if (node.process) throw new KafkaHarnessError(`broker ${nodeId} is still running`);
    if (this.#controller && !this.#controller.process) {
      throw new KafkaHarnessError(
        `controller ${this.#controller.layout.nodeId} is not running, so broker ${nodeId} could not register`,
      );
    }
    this.#spawn(node);
    await this.#writeOwner();
    return this.waitForBrokers([nodeId]);
  }

  async #signal(node: NodeRuntime, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = node.process;
    if (!child || !node.exited) return;
    child.kill(signal);
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await node.exited;
      clearTimeout(timer);
    }
    await node.exited;
    await this.#writeOwner();
  }

  /**
   * Ends every broker (and the dedicated controller) this cluster started, only those, and removes the cluster's
   * folder. `graceful` sends SIGTERM first and waits up to `graceMs`; otherwise SIGKILL at once.
   */
  async stop(options: { graceful?: boolean; graceMs?: number } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const graceful = options.graceful ?? false;
    const end = (node: NodeRuntime) => this.#signal(node, graceful ? 'SIGTERM' : 'SIGKILL', options.graceMs ?? 10_000);
    // Brokers first: their controlled shutdown asks the controller, which must still be there.
    await Promise.all([...this.#nodes.values()].map(end));
    if (this.#controller) await end(this.#controller);
    await rm(this.root, { recursive: true, force: true });
  }
}

/**
 * Stops a detached cluster described by its info (the CLI's `down`): signals only processes whose command
 * line names this cluster's folder, waits for them to exit, then removes the folder. Brokers go first, then a
 * dedicated controller (the brokers' controlled shutdown needs it).
 */
export async function stopDetached(info: ClusterInfo, graceMs = 10_000): Promise<number[]> {
  const harnessPids = (nodes: ReadonlyArray<{ pid: number | null }>) =>
    nodes.flatMap((node) => (node.pid !== null && isHarnessBroker(node.pid, info.root) ? [node.pid] : []));
  const phases = [harnessPids(info.nodes), harnessPids(info.controller ? [info.controller] : [])];
  const deadline = Date.now() + graceMs;
  for (const pids of phases) {
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    while (pids.some((pid) => isHarnessBroker(pid, info.root)) && Date.now() < deadline) await sleep(100);
    for (const pid of pids) if (isHarnessBroker(pid, info.root)) process.kill(pid, 'SIGKILL');
    while (pids.some((pid) => isHarnessBroker(pid, info.root))) await sleep(50);
  }
  if (existsSync(info.root)) await rm(info.root, { recursive: true, force: true });
  return phases.flat();
}
