import { describe, expect, it } from 'vitest';
import { listenersFor, type NodeLayout, renderLogConfig, renderServerProperties } from '../src/config.ts';

function parse(text: string): Map<string, string> {
  return new Map(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const at = line.indexOf('=');
        return [line.slice(0, at), line.slice(at + 1)] as const;
      }),
  );
}

const nodes: NodeLayout[] = [1, 2, 3].map((nodeId) => ({
  nodeId,
  dir: `/tmp/cluster/node-${nodeId}`,
  controllerPort: 9000 + nodeId,
  listenerPorts: {
    PLAINTEXT: 9100 + nodeId,
    SASL_PLAINTEXT: 9200 + nodeId,
    SSL: 9300 + nodeId,
    SASL_SSL: 9400 + nodeId,
  },
}));

describe('listenersFor', () => {
  it('always has PLAINTEXT, and SASL_SSL only with both features', () => {
    expect(listenersFor(new Set())).toEqual(['PLAINTEXT']);
    expect(listenersFor(new Set(['sasl']))).toEqual(['PLAINTEXT', 'SASL_PLAINTEXT']);
    expect(listenersFor(new Set(['tls']))).toEqual(['PLAINTEXT', 'SSL']);
    expect(listenersFor(new Set(['sasl', 'tls']))).toEqual(['PLAINTEXT', 'SASL_PLAINTEXT', 'SSL', 'SASL_SSL']);
    expect(listenersFor(new Set(['proxy']))).toEqual(['PLAINTEXT', 'PROXIED']);
  });
});

describe('renderServerProperties', () => {
  it('makes a KRaft combined node that names every voter and advertises loopback listeners', () => {
    const properties = parse(renderServerProperties({ line: '4.x', node: nodes[1]!, voters: nodes, brokerCount: 3 }));
    expect(properties.get('process.roles')).toBe('broker,controller');
    expect(properties.get('node.id')).toBe('2');
    expect(
      renderServerProperties({ line: '4.x', node: nodes[1]!, role: 'combined', voters: nodes, brokerCount: 3 }),
    ).toBe(renderServerProperties({ line: '4.x', node: nodes[1]!, voters: nodes, brokerCount: 3 }));
    expect(properties.get('controller.quorum.voters')).toBe('1@127.0.0.1:9001,2@127.0.0.1:9002,3@127.0.0.1:9003');
    expect(properties.get('listeners')).toBe(
      'PLAINTEXT://127.0.0.1:9102,SASL_PLAINTEXT://127.0.0.1:9202,SSL://127.0.0.1:9302,SASL_SSL://127.0.0.1:9402,CONTROLLER://127.0.0.1:9002',
    );
    expect(properties.get('advertised.listeners')).not.toContain('CONTROLLER');
    expect(properties.get('inter.broker.listener.name')).toBe('PLAINTEXT');
    expect(properties.get('log.dirs')).toBe('/tmp/cluster/node-2/data');
    expect(properties.get('offsets.topic.replication.factor')).toBe('3');
    expect(properties.get('transaction.state.log.min.isr')).toBe('2');
    expect(properties.get('share.coordinator.state.topic.replication.factor')).toBe('3');
  });

  it('advertises PROXIED at the proxy port, binds it on its own, and keeps replication on PLAINTEXT', () => {
    const node: NodeLayout = {
      ...nodes[0]!,
      listenerPorts: { PLAINTEXT: 9101, PROXIED: 9501 },
      advertisedPorts: { PROXIED: 9601 },
    };
    const properties = parse(renderServerProperties({ line: '4.x', node, voters: [node], brokerCount: 1 }));
    expect(properties.get('listeners')).toBe(
      'PLAINTEXT://127.0.0.1:9101,PROXIED://127.0.0.1:9501,CONTROLLER://127.0.0.1:9001',
    );
    expect(properties.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9101,PROXIED://127.0.0.1:9601');
    expect(properties.get('listener.security.protocol.map')).toContain('PROXIED:PLAINTEXT');
    expect(properties.get('inter.broker.listener.name')).toBe('PLAINTEXT');
  });

  it('uses replication factor 1 for one node and leaves share-coordinator settings out of 3.9', () => {
    const single = { ...nodes[0]!, listenerPorts: { PLAINTEXT: 9101 } };
    const properties = parse(renderServerProperties({ line: '3.9', node: single, voters: [single], brokerCount: 1 }));
    expect(properties.get('offsets.topic.replication.factor')).toBe('1');
    expect(properties.get('transaction.state.log.min.isr')).toBe('1');
    expect(properties.has('share.coordinator.state.topic.replication.factor')).toBe(false);
    expect(properties.has('sasl.enabled.mechanisms')).toBe(false);
    expect(properties.has('ssl.keystore.location')).toBe(false);
  });

  it('configures every SASL mechanism on every SASL listener, and TLS from the generated material', () => {
    const properties = parse(
      renderServerProperties({
        line: '4.x',
        node: nodes[0]!,
        voters: [nodes[0]!],
        brokerCount: 1,
        sasl: { username: 'alice', password: 'alice-secret' },
        tls: {
          caFile: '/tls/ca.pem',
          brokerKeystore: '/tls/broker.p12',
          brokerKeystorePassword: 'pw',
          clientCertFile: '/tls/client.pem',
          clientKeyFile: '/tls/client.key',
        },
        clientAuth: 'required',
      }),
    );
    expect(properties.get('sasl.enabled.mechanisms')).toBe('PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER');
    for (const listener of ['sasl_plaintext', 'sasl_ssl']) {
      expect(properties.get(`listener.name.${listener}.plain.sasl.jaas.config`)).toContain('user_alice="alice-secret"');
      expect(properties.get(`listener.name.${listener}.scram-sha-512.sasl.jaas.config`)).toContain('ScramLoginModule');
    }
    expect(properties.get('ssl.keystore.location')).toBe('/tls/broker.p12');
    expect(properties.get('ssl.truststore.type')).toBe('PEM');
    expect(properties.get('ssl.client.auth')).toBe('required');
  });

  it('turns on the early-access consumer group protocol of 3.9 only when asked; 4.x has it by default', () => {
    const single = { ...nodes[0]!, listenerPorts: { PLAINTEXT: 9101 } };
    const render = (line: '3.9' | '4.x', consumerProtocol?: boolean) =>
      parse(renderServerProperties({ line, node: single, voters: [single], brokerCount: 1, consumerProtocol }));
    expect(render('3.9').has('group.coordinator.rebalance.protocols')).toBe(false);
    expect(render('3.9', true).get('group.coordinator.rebalance.protocols')).toBe('classic,consumer');
    expect(render('4.x', true).has('group.coordinator.rebalance.protocols')).toBe(false);
  });

  describe('with a dedicated controller', () => {
    const controller: NodeLayout = {
      nodeId: 100,
      dir: '/tmp/cluster/controller-100',
      controllerPort: 9100,
      listenerPorts: {},
    };
    const broker = (nodeId: number): NodeLayout => ({
      nodeId,
      dir: `/tmp/cluster/node-${nodeId}`,
      controllerPort: null,
      listenerPorts: { PLAINTEXT: 9110 + nodeId, SASL_PLAINTEXT: 9120 + nodeId },
    });
    const sasl = { username: 'alice', password: 'alice-secret' };

    for (const line of ['3.9', '4.x'] as const) {
      it(`makes a controller-only node that listens on CONTROLLER alone and is the only voter (${line})`, () => {
        const properties = parse(
          renderServerProperties({
            line,
            node: controller,
            role: 'controller',
            voters: [controller],
            brokerCount: 3,
            sasl,
            overrides: { 'unclean.leader.election.enable': true },
          }),
        );
        expect(properties.get('process.roles')).toBe('controller');
        expect(properties.get('node.id')).toBe('100');
        expect(properties.get('controller.quorum.voters')).toBe('100@127.0.0.1:9100');
        expect(properties.get('listeners')).toBe('CONTROLLER://127.0.0.1:9100');
        expect(properties.get('controller.listener.names')).toBe('CONTROLLER');
        expect(properties.get('listener.security.protocol.map')).toContain('CONTROLLER:PLAINTEXT');
        // Kafka refuses these on a controller-only node.
        expect(properties.has('advertised.listeners')).toBe(false);
        expect(properties.has('inter.broker.listener.name')).toBe(false);
        // No client listeners, so no SASL or TLS settings for them.
        expect(properties.has('sasl.enabled.mechanisms')).toBe(false);
        expect([...properties.keys()].some((key) => key.startsWith('listener.name.'))).toBe(false);
        expect(properties.get('log.dirs')).toBe('/tmp/cluster/controller-100/data');
        // The cluster defaults the controller applies itself: fencing, partitions, overrides.
        expect(properties.get('broker.session.timeout.ms')).toBe('9000');
        expect(properties.get('num.partitions')).toBe('1');
        expect(properties.get('unclean.leader.election.enable')).toBe('true');
      });

      it(`makes a broker-only node with no CONTROLLER listener that names the controller as voter (${line})`, () => {
        const properties = parse(
          renderServerProperties({ line, node: broker(2), role: 'broker', voters: [controller], brokerCount: 3, sasl }),
        );
        expect(properties.get('process.roles')).toBe('broker');
        expect(properties.get('node.id')).toBe('2');
        expect(properties.get('controller.quorum.voters')).toBe('100@127.0.0.1:9100');
        expect(properties.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9112,SASL_PLAINTEXT://127.0.0.1:9122');
        expect(properties.get('advertised.listeners')).toBe(
          'PLAINTEXT://127.0.0.1:9112,SASL_PLAINTEXT://127.0.0.1:9122',
        );
        expect(properties.get('controller.listener.names')).toBe('CONTROLLER');
        expect(properties.get('listener.security.protocol.map')).toContain('CONTROLLER:PLAINTEXT');
        expect(properties.get('inter.broker.listener.name')).toBe('PLAINTEXT');
        expect(properties.get('offsets.topic.replication.factor')).toBe('3');
        expect(properties.get('listener.name.sasl_plaintext.plain.sasl.jaas.config')).toContain('user_alice=');
      });
    }

    it('refuses a layout that does not fit the role', () => {
      expect(() =>
        renderServerProperties({
          line: '4.x',
          node: broker(1),
          role: 'combined',
          voters: [controller],
          brokerCount: 1,
        }),
      ).toThrow(/needs a controller port/);
      expect(() =>
        renderServerProperties({
          line: '4.x',
          node: broker(1),
          role: 'controller',
          voters: [controller],
          brokerCount: 1,
        }),
      ).toThrow(/needs a controller port/);
      expect(() =>
        renderServerProperties({ line: '4.x', node: controller, role: 'broker', voters: [controller], brokerCount: 1 }),
      ).toThrow(/needs a PLAINTEXT listener/);
      expect(() =>
        renderServerProperties({ line: '4.x', node: broker(1), role: 'broker', voters: [broker(2)], brokerCount: 1 }),
      ).toThrow(/voter 2 has no controller port/);
    });
  });

  it('applies overrides last', () => {
    const properties = parse(
      renderServerProperties({
        line: '4.x',
        node: nodes[0]!,
        voters: [nodes[0]!],
        brokerCount: 1,
        overrides: { 'num.partitions': 6, 'auto.create.topics.enable': false },
      }),
    );
    expect(properties.get('num.partitions')).toBe('6');
    expect(properties.get('auto.create.topics.enable')).toBe('false');
  });
});

describe('renderLogConfig', () => {
  it('uses log4j2 for 4.x and log4j 1 for 3.9', () => {
    expect(renderLogConfig('4.x').systemProperty('/x')).toBe('-Dlog4j2.configurationFile=/x');
    expect(renderLogConfig('3.9').systemProperty('/x')).toBe('-Dlog4j.configuration=file:/x');
    expect(renderLogConfig('3.9').text).toContain('log4j.rootLogger=INFO, stdout');
  });
});
