/** Fake brokers that answer Metadata, built on the scripted server of fake-broker.ts. */
import { defaultMetadataResponse, encodeResponse, type MetadataResponse, metadataApi } from '@sluice/protocol';
import { type FakeBroker, type Handler, responseFrame, startFakeBroker, withApiVersions } from './fake-broker.ts';

/** Writes `response` as the answer to a Metadata request, in the request's version (header v1 from v9). */
export function answerMetadata(request: Parameters<Handler>[0], response: MetadataResponse): void {
  const body = encodeResponse(metadataApi, request.apiVersion, response);
  request.socket.write(responseFrame(request.correlationId, body, request.apiVersion >= 9 ? 1 : 0));
}

export interface FakeMetadataBroker extends FakeBroker {
  /** Metadata requests answered so far. */
  readonly metadataRequests: () => number;
}

/**
 * A fake broker answering every Metadata request with `respond()` (called per request, so tests can change the
 * cluster between requests); other requests go to `other`, or are never answered.
 */
export async function startMetadataBroker(
  respond: (port: number) => MetadataResponse,
  other: Handler = () => {},
): Promise<FakeMetadataBroker> {
  let count = 0;
  let port = 0;
  const broker = await startFakeBroker(
    withApiVersions((request) => {
      if (request.apiKey !== metadataApi.apiKey) return other(request);
      count++;
      answerMetadata(request, respond(port));
    }),
  );
  port = broker.port;
  return Object.assign(broker, { metadataRequests: () => count });
}

/** A Metadata response listing `brokers` (node id -> port on 127.0.0.1) and one topic led by `leader`. */
export function clusterResponse(options: {
  brokers: ReadonlyMap<number, number>;
  topic?: string;
  leader?: number;
  leaderEpoch?: number;
}): MetadataResponse {
  const nodeIds = [...options.brokers.keys()];
  return {
    ...defaultMetadataResponse(),
    clusterId: 'fake-cluster',
    controllerId: nodeIds[0] ?? -1,
    brokers: [...options.brokers].map(([nodeId, port]) => ({ nodeId, host: '127.0.0.1', port, rack: null })),
    topics:
      options.topic === undefined
        ? []
        : [
            {
              errorCode: 0,
              name: options.topic,
              topicId: 'AAAAAAAAAAAAAAAAAAAAAQ',
              isInternal: false,
              topicAuthorizedOperations: -2147483648,
              partitions: [
                {
                  errorCode: 0,
                  partitionIndex: 0,
                  leaderId: options.leader ?? nodeIds[0] ?? -1,
                  leaderEpoch: options.leaderEpoch ?? 0,
                  replicaNodes: nodeIds,
                  isrNodes: nodeIds,
                  offlineReplicas: [],
                },
              ],
            },
          ],
  };
}
