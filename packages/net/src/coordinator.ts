/**
 * FindCoordinator: which broker coordinates a consumer group (or a transactional id). Asked of any broker the
 * cluster metadata lists, at the version the connection negotiated: v4+ takes a batch of keys and answers per key;
 * older versions take one key and answer at the top level.
 */
import { defaultFindCoordinatorRequest, findCoordinatorApi } from '@sluice/protocol';
import type { ClusterMetadata } from './cluster-metadata.ts';
import type { ConnectionPool } from './pool.ts';

/** The coordinator's node id, or the error code the broker answered with (COORDINATOR_NOT_AVAILABLE ...). */
export type CoordinatorResult =
  | { readonly nodeId: number }
  | { readonly errorCode: number; readonly message: string | null };

const KEY_TYPES = { group: 0, transaction: 1 } as const;

/**
 * Asks one broker (chosen at random among those the metadata lists, on its coordination connection) for the
 * coordinator of `key`. Network failures reject (the caller backs off and asks again); broker errors resolve.
 */
export async function findCoordinator(
  pool: ConnectionPool,
  metadata: ClusterMetadata,
  options: { key: string; keyType?: keyof typeof KEY_TYPES; timeoutMs?: number; random?: () => number },
): Promise<CoordinatorResult> {
  const snapshot = metadata.snapshot ?? (await metadata.ready());
  const brokers = [...snapshot.brokers.keys()];
  if (brokers.length === 0) throw new Error('the cluster metadata lists no broker');
  const random = options.random ?? Math.random;
  const connection = await pool.get({ nodeId: brokers[Math.floor(random() * brokers.length)]! });
  const version = connection.versionFor(findCoordinatorApi);
  const keyType = KEY_TYPES[options.keyType ?? 'group'];
  const request =
    version >= 4
      ? { ...defaultFindCoordinatorRequest(), keyType, coordinatorKeys: [options.key] }
      : { ...defaultFindCoordinatorRequest(), key: options.key, keyType };
  const sendOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  const response = await connection.send(findCoordinatorApi, version, request, sendOptions);
  if (version < 4) {
    return response.errorCode === 0
      ? { nodeId: response.nodeId }
      : { errorCode: response.errorCode, message: response.errorMessage };
  }
  const entry = response.coordinators.find((coordinator) => coordinator.key === options.key);
  if (entry === undefined) throw new Error(`FindCoordinator answered without the key ${options.key}`);
  return entry.errorCode === 0 ? { nodeId: entry.nodeId } : { errorCode: entry.errorCode, message: entry.errorMessage };
}
