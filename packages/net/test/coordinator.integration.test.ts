/** FindCoordinator against the real broker. */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ClusterMetadata } from '../src/cluster-metadata.ts';
import { findCoordinator } from '../src/coordinator.ts';
import { ConnectionPool } from '../src/pool.ts';

const kafka = inject('kafka');
const pool = new ConnectionPool({ connection: { clientId: 'sluice-coordinator-test' } });
const metadata = new ClusterMetadata({ bootstrapServers: kafka.bootstrap.PLAINTEXT!, pool });

afterAll(() => {
  metadata.close();
  pool.close();
});

describe('findCoordinator', () => {
  it("names a broker of the cluster as a group's coordinator", async () => {
    const snapshot = await metadata.ready();
    // Right after the cluster starts, the offsets topic may still be loading: ask again, as a member would.
    let result = await findCoordinator(pool, metadata, { key: 'coordinator-test-group' });
    for (let attempt = 0; attempt < 50 && !('nodeId' in result); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      result = await findCoordinator(pool, metadata, { key: 'coordinator-test-group' });
    }
    expect(result).toHaveProperty('nodeId');
    expect(snapshot.brokers.has((result as { nodeId: number }).nodeId)).toBe(true);
  });
});
