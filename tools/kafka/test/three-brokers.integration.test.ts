/**
 * A 3-broker cluster (three combined nodes forming the controller quorum) from the harness:
 * a killed broker is reported dead by the others' Metadata, and once restarted it serves again.
 * With a dedicated controller (three broker-only nodes and controller-only node 100), two brokers can be down at
 * once: the controller keeps the quorum and fences them.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEDICATED_CONTROLLER_ID, isHarnessBroker, KafkaCluster, KafkaHarnessError } from '../src/cluster.ts';
import { fetchMetadata, ProbeError } from '../src/probe.ts';

describe('three brokers', () => {
  let cluster: KafkaCluster;

  beforeAll(async () => {
    cluster = await KafkaCluster.start({ brokers: 3 });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const brokerIds = (metadata: { brokers: Array<{ nodeId: number }> }) =>
    metadata.brokers.map((broker) => broker.nodeId);

  it('lists all three brokers from each of them, with one controller', async () => {
    for (const id of cluster.nodeIds) {
      const metadata = await fetchMetadata('127.0.0.1', cluster.address(id).port);
      expect(brokerIds(metadata)).toEqual([1, 2, 3]);
      expect(metadata.clusterId).toBe(cluster.clusterId);
      expect([1, 2, 3]).toContain(metadata.controllerId);
    }
  });

  it('reports a killed broker dead, and serves from it again after a restart', async () => {
    const pid = cluster.info().nodes.find((node) => node.nodeId === 2)!.pid!;
    await cluster.kill(2);
    expect(cluster.brokerState(2)).toBe('stopped');
    expect(isHarnessBroker(pid, cluster.root)).toBe(false);
    await expect(fetchMetadata('127.0.0.1', cluster.address(2).port, 1000)).rejects.toBeInstanceOf(ProbeError);

    const afterKill = await cluster.waitForBrokerGone(2);
    expect(brokerIds(afterKill)).toEqual([1, 3]);
    for (const id of [1, 3]) {
      expect(brokerIds(await fetchMetadata('127.0.0.1', cluster.address(id).port))).toEqual([1, 3]);
    }

    await cluster.restart(2);
    expect(cluster.brokerState(2)).toBe('running');
    const fromRestarted = await fetchMetadata('127.0.0.1', cluster.address(2).port);
    expect(brokerIds(fromRestarted)).toEqual([1, 2, 3]);
    expect(fromRestarted.clusterId).toBe(cluster.clusterId);
  });

  it('stops one broker gracefully and brings it back', async () => {
    await cluster.stopBroker(3);
    expect(brokerIds(await cluster.waitForBrokerGone(3))).toEqual([1, 2]);
    await cluster.restart(3);
    expect(brokerIds(await fetchMetadata('127.0.0.1', cluster.address(3).port))).toEqual([1, 2, 3]);
  });

  it('stop ends every broker process it started and removes the folder', async () => {
    const pids = cluster.info().nodes.map((node) => node.pid!);
    await cluster.stop();
    for (const pid of pids) expect(isHarnessBroker(pid, cluster.root)).toBe(false);
    expect(existsSync(cluster.root)).toBe(false);
  });
});

describe('three brokers and a dedicated controller', () => {
  let cluster: KafkaCluster;

  beforeAll(async () => {
    cluster = await KafkaCluster.start({ brokers: 3, dedicatedController: true });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const brokerIds = (metadata: { brokers: Array<{ nodeId: number }> }) =>
    metadata.brokers.map((broker) => broker.nodeId);

  it('keeps the controller out of the brokers, and two brokers can go down and come back', async () => {
    expect(cluster.nodeIds).toEqual([1, 2, 3]);
    expect(cluster.controllerNodeId).toBe(DEDICATED_CONTROLLER_ID);
    expect(cluster.controllerState()).toBe('running');
    const info = cluster.info();
    expect(info.nodes.map((node) => node.nodeId)).toEqual([1, 2, 3]);
    expect(info.nodes.every((node) => node.controllerPort === null)).toBe(true);
    expect(info.controller?.nodeId).toBe(DEDICATED_CONTROLLER_ID);
    expect(isHarnessBroker(info.controller!.pid!, cluster.root)).toBe(true);
    for (const id of cluster.nodeIds) {
      const metadata = await fetchMetadata('127.0.0.1', cluster.address(id).port);
      expect(brokerIds(metadata)).toEqual([1, 2, 3]);
      expect(metadata.clusterId).toBe(cluster.clusterId);
    }
    for (const action of [
      () => cluster.kill(DEDICATED_CONTROLLER_ID),
      () => cluster.stopBroker(DEDICATED_CONTROLLER_ID),
      () => cluster.restart(DEDICATED_CONTROLLER_ID),
    ]) {
      await expect(action()).rejects.toThrow(KafkaHarnessError);
      await expect(action()).rejects.toThrow(/node 100 is the dedicated KRaft controller, not a broker/);
    }
    expect(() => cluster.address(DEDICATED_CONTROLLER_ID)).toThrow(/dedicated KRaft controller/);

    // Two of three brokers down: with combined nodes that would lose the quorum; here the controller fences both.
    await Promise.all([cluster.kill(2), cluster.kill(3)]);
    await cluster.waitForBrokerGone(2);
    expect(brokerIds(await cluster.waitForBrokerGone(3))).toEqual([1]);
    await Promise.all([cluster.restart(2), cluster.restart(3)]);
    for (const id of cluster.nodeIds) {
      expect(brokerIds(await fetchMetadata('127.0.0.1', cluster.address(id).port))).toEqual([1, 2, 3]);
    }

    const pids = [...cluster.info().nodes.map((node) => node.pid!), cluster.info().controller!.pid!];
    await cluster.stop();
    for (const pid of pids) expect(isHarnessBroker(pid, cluster.root)).toBe(false);
    expect(existsSync(cluster.root)).toBe(false);
  }, 60_000);
});
