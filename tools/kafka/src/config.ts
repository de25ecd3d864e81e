import type { TlsMaterial } from './tls.ts';
import type { KafkaLine } from './versions.ts';

/**
 * The client listeners. PROXIED is a plaintext listener that brokers advertise at another port, where a fault proxy
 * of the test's own listens and forwards to the broker (tools/reliability's FaultProxy): clients that bootstrap from
 * it reach every broker through the proxy, while replication and the controllers keep their direct listeners.
 */
export type ListenerName = 'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL' | 'PROXIED';
export type SecurityFeature = 'sasl' | 'tls' | 'proxy';

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** The test user that every SASL mechanism of a harness cluster accepts. Test-only credentials. */
export interface SaslUser {
  readonly username: string;
  readonly password: string;
}

/**
 * What a node of a harness cluster is (`process.roles`): `combined` is broker and controller in one (the default
 * layout, every node a voter); with a dedicated controller, the brokers are `broker` only and one `controller`-only
 * node is the whole KRaft quorum.
 */
export type NodeRole = 'combined' | 'broker' | 'controller';

export interface NodeLayout {
  readonly nodeId: number;
  /** Folder of this node: server.properties, its log, and data/ (log.dirs). */
  readonly dir: string;
  /** Port of the CONTROLLER listener; null on a broker-only node, which has none. */
  readonly controllerPort: number | null;
  /** The client listeners' ports; empty on a controller-only node. */
  readonly listenerPorts: Readonly<Partial<Record<ListenerName, number>>>;
  /** Where a listener is advertised when that is not its own port (PROXIED: the proxy's port). */
  readonly advertisedPorts?: Readonly<Partial<Record<ListenerName, number>>>;
}

/** The listeners a cluster with these security features has; PLAINTEXT always comes first. */
export function listenersFor(security: ReadonlySet<SecurityFeature>): ListenerName[] {
  const listeners: ListenerName[] = ['PLAINTEXT'];
  if (security.has('sasl')) listeners.push('SASL_PLAINTEXT');
  if (security.has('tls')) listeners.push('SSL');
  if (security.has('sasl') && security.has('tls')) listeners.push('SASL_SSL');
  if (security.has('proxy')) listeners.push('PROXIED');
  return listeners;
}

export interface ServerConfigInput {
  readonly line: KafkaLine;
  readonly node: NodeLayout;
  /** `combined` (default), `broker` (broker only) or `controller` (controller only). */
  readonly role?: NodeRole;
  /** The KRaft controller quorum (static voters): every node when combined, else the dedicated controller. */
  readonly voters: readonly NodeLayout[];
  /** How many brokers the cluster has (internal topics' replication factors). */
  readonly brokerCount: number;
  readonly sasl?: SaslUser;
  readonly tls?: TlsMaterial;
  readonly clientAuth?: 'none' | 'required';
  /**
   * 3.9: turn on KIP-848's consumer group protocol, early access there. 4.x serves it by default; this adds nothing.
   */
  readonly consumerProtocol?: boolean;
  /** Extra or overriding broker properties, applied last. */
  readonly overrides?: Readonly<Record<string, string | number | boolean>>;
}

const JAAS_LOGIN_MODULES: Record<SaslMechanism, string> = {
  PLAIN: 'org.apache.kafka.common.security.plain.PlainLoginModule',
  'SCRAM-SHA-256': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  'SCRAM-SHA-512': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  OAUTHBEARER: 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule',
};

function jaasConfig(mechanism: SaslMechanism, user: SaslUser): string {
  const module = JAAS_LOGIN_MODULES[mechanism];
  if (mechanism === 'PLAIN') return `${module} required user_${user.username}="${user.password}";`;
  // OAUTHBEARER: the broker's default unsecured-JWS validator accepts unsigned tokens (tests only).
  if (mechanism === 'OAUTHBEARER') return `${module} required unsecuredLoginStringClaim_sub="${user.username}";`;
  return `${module} required;`;
}

const PROCESS_ROLES: Record<NodeRole, string> = {
  combined: 'broker,controller',
  broker: 'broker',
  controller: 'controller',
};

/**
 * Renders one node's server.properties (KRaft with static voters): a combined broker+controller node, a broker-only
 * node, or a controller-only node. A controller-only node listens on CONTROLLER alone and advertises nothing
 * (Kafka refuses advertised.listeners and non-controller listeners there); it still gets the cluster-wide settings
 * and the overrides, since the controller applies its own static config as the cluster's defaults (partitions and
 * replication factor of CreateTopics without them, unclean.leader.election.enable, min.insync.replicas for ELR,
 * broker.session.timeout.ms for fencing).
 */
export function renderServerProperties(input: ServerConfigInput): string {
  const { node, voters, brokerCount, line } = input;
  const role = input.role ?? 'combined';
  const replication = Math.min(3, brokerCount);
  const minIsr = replication > 1 ? 2 : 1;
  const listenerNames = role === 'controller' ? [] : (Object.keys(node.listenerPorts) as ListenerName[]);
  if (role !== 'broker' && node.controllerPort === null)
    throw new Error(`node ${node.nodeId} (${role}) needs a controller port`);
  if (role !== 'controller' && !listenerNames.includes('PLAINTEXT'))
    throw new Error(`node ${node.nodeId} (${role}) needs a PLAINTEXT listener`);
  const properties = new Map<string, string>();
  const set = (key: string, value: string | number | boolean) => properties.set(key, String(value));

  set('process.roles', PROCESS_ROLES[role]);
  set('node.id', node.nodeId);
  set(
    'controller.quorum.voters',
    voters
      .map((voter) => {
        if (voter.controllerPort === null) throw new Error(`voter ${voter.nodeId} has no controller port`);
        return `${voter.nodeId}@127.0.0.1:${voter.controllerPort}`;
      })
      .join(','),
  );
  set(
    'listeners',
    [
      ...listenerNames.map((name) => `${name}://127.0.0.1:${node.listenerPorts[name]}`),
      ...(role === 'broker' ? [] : [`CONTROLLER://127.0.0.1:${node.controllerPort}`]),
    ].join(','),
  );
  if (role !== 'controller') {
    set(
      'advertised.listeners',
      listenerNames
        .map((name) => `${name}://127.0.0.1:${node.advertisedPorts?.[name] ?? node.listenerPorts[name]}`)
        .join(','),
    );
  }
  // A broker-only node needs the name too: it tells which listener of the voters' addresses to speak to.
  set('controller.listener.names', 'CONTROLLER');
  if (role !== 'controller') set('inter.broker.listener.name', 'PLAINTEXT');
  set(
    'listener.security.protocol.map',
    'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,PROXIED:PLAINTEXT',
  );
  set('log.dirs', `${node.dir}/data`);
  set('num.partitions', 1);
  set('offsets.topic.replication.factor', replication);
  set('offsets.topic.num.partitions', 10);
  set('transaction.state.log.replication.factor', replication);
  set('transaction.state.log.min.isr', minIsr);
  set('transaction.state.log.num.partitions', 10);
  if (line === '4.x') {
    set('share.coordinator.state.topic.replication.factor', replication);
    set('share.coordinator.state.topic.min.isr', minIsr);
  }
  set('group.initial.rebalance.delay.ms', 0);
  if (line === '3.9' && input.consumerProtocol) {
    // Early access in 3.9: this alone enables ConsumerGroupHeartbeat v0 (the broker gives the member id) and moves
    // every group, classic ones too, to the new group coordinator. 3.9 has no group.version feature to finalize
    // (its GV_1 needs metadata.version 4.0-IV0) and needs no unstable.api.versions.enable.
    set('group.coordinator.rebalance.protocols', 'classic,consumer');
  }
  // KIP-848 consumer groups: the broker sets their session and heartbeat times. Kafka's 45 s / 5 s would make a
  // killed member's partitions wait 45 s in every test; 10 s / 1 s is what the classic tests' members use.
  set('group.consumer.min.session.timeout.ms', 6000);
  set('group.consumer.session.timeout.ms', 10000);
  set('group.consumer.min.heartbeat.interval.ms', 500);
  set('group.consumer.heartbeat.interval.ms', 1000);
  // Heartbeats every 1 s instead of 2 s; the session timeout stays Kafka's 9 s, so a broker starved of CPU on a
  // loaded test machine is not fenced (and its leaderships moved) by accident.
  set('broker.heartbeat.interval.ms', 1000);
  set('broker.session.timeout.ms', 9000);

  const sasl = input.sasl;
  if (sasl && listenerNames.some((name) => name.startsWith('SASL_'))) {
    set('sasl.enabled.mechanisms', SASL_MECHANISMS.join(','));
    for (const listener of listenerNames.filter((name) => name.startsWith('SASL_'))) {
      for (const mechanism of SASL_MECHANISMS) {
        set(
          `listener.name.${listener.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`,
          jaasConfig(mechanism, sasl),
        );
      }
    }
  }
  const tls = input.tls;
  if (tls && listenerNames.some((name) => name.endsWith('SSL'))) {
    set('ssl.keystore.type', 'PKCS12');
    set('ssl.keystore.location', tls.brokerKeystore);
    set('ssl.keystore.password', tls.brokerKeystorePassword);
    set('ssl.truststore.type', 'PEM');
    set('ssl.truststore.location', tls.caFile);
    set('ssl.client.auth', input.clientAuth ?? 'none');
  }
  for (const [key, value] of Object.entries(input.overrides ?? {})) set(key, value);

  return `${[...properties].map(([key, value]) => `${key}=${value}`).join('\n')}\n`;
}

/** log4j2 (4.x) or log4j 1 / reload4j (3.9) configuration: everything to stdout, which the harness writes to a file. */
export function renderLogConfig(line: KafkaLine): {
  fileName: string;
  text: string;
  systemProperty: (path: string) => string;
} {
  if (line === '3.9') {
    return {
      fileName: 'log4j.properties',
      text: [
        'log4j.rootLogger=INFO, stdout',
        'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
        'log4j.logger.kafka.request.logger=WARN',
        'log4j.logger.org.apache.kafka.controller=INFO',
        '',
      ].join('\n'),
      systemProperty: (path) => `-Dlog4j.configuration=file:${path}`,
    };
  }
  return {
    fileName: 'log4j2.properties',
    text: [
      'appender.stdout.type=Console',
      'appender.stdout.name=STDOUT',
      'appender.stdout.layout.type=PatternLayout',
      'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
      'rootLogger.level=INFO',
      'rootLogger.appenderRef.stdout.ref=STDOUT',
      'logger.request.name=kafka.request.logger',
      'logger.request.level=WARN',
      '',
    ].join('\n'),
    systemProperty: (path) => `-Dlog4j2.configurationFile=${path}`,
  };
}
