import { describe, expect, it } from 'vitest';
import {
  apiVersionsApi,
  consumerGroupHeartbeatApi,
  decodeRequest,
  decodeResponse,
  decodeResponseFrame,
  encodeRequest,
  encodeRequestFrame,
  encodeResponse,
  fetchApi,
  findApi,
  metadataApi,
  ProtocolError,
  Reader,
  requestHeader,
  requestHeaderVersion,
  responseHeader,
  responseHeaderVersion,
  Writer,
  ZERO_UUID,
} from '../src/index.ts';

function reasonOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof ProtocolError) return error.reason;
    throw error;
  }
  return 'no error';
}

describe('generated codecs', () => {
  it('encode an ApiVersions v3 request as Kafka does', () => {
    const request = {
      ...apiVersionsApi.request.createDefault(),
      clientSoftwareName: 'sluice',
      clientSoftwareVersion: '0.1',
    };
    const bytes = encodeRequest(apiVersionsApi, 3, request);
    // compact strings: length + 1, then an empty tagged-field section
    expect(Buffer.from(bytes).toString('hex')).toBe(`07${Buffer.from('sluice').toString('hex')}04302e3100`);
    expect(decodeRequest(apiVersionsApi, 3, bytes)).toMatchObject(request);
    expect(encodeRequest(18, 3, request)).toEqual(bytes);
  });

  it('fill fields a version lacks with their defaults on decode', () => {
    const response = decodeResponse(metadataApi, 0, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0));
    expect(response.controllerId).toBe(-1);
    expect(response.clusterId).toBeNull();
    expect(response.clusterAuthorizedOperations).toBe(-2147483648);
    expect(response.brokers).toEqual([]);
  });

  it('refuse a non-default value in a field the version lacks, unless the field is ignorable', () => {
    const request = fetchApi.request.createDefault();
    // ReplicaId exists up to v14 only and is not ignorable.
    expect(reasonOf(() => encodeRequest(fetchApi, 15, { ...request, replicaId: 3 }))).toBe('unsupported-version');
    expect(() => encodeRequest(fetchApi, 14, { ...request, replicaId: 3 })).not.toThrow();
    // RackId (v11+) is ignorable: dropped silently from older versions, as Kafka's Java does.
    expect(() => encodeRequest(fetchApi, 10, { ...request, rackId: 'rack-a' })).not.toThrow();
    // Unknown tagged fields cannot be carried by a version without tagged fields.
    const tagged = { ...request, unknownTaggedFields: [{ tag: 9, data: Uint8Array.of(1) }] };
    expect(reasonOf(() => encodeRequest(fetchApi, 11, tagged))).toBe('unsupported-version');
  });

  it('write tagged fields only when they differ from their default, and keep unknown ones', () => {
    const request = fetchApi.request.createDefault();
    const plain = encodeRequest(fetchApi, 17, request);
    const withCluster = encodeRequest(fetchApi, 17, { ...request, clusterId: 'c' });
    expect(withCluster.length).toBe(plain.length + 4 /* tag, size, compact string 'c' (length + 1, then the byte) */);
    const unknown = [{ tag: 40, data: Uint8Array.of(1, 2, 3) }];
    const decoded = decodeRequest(
      fetchApi,
      17,
      encodeRequest(fetchApi, 17, { ...request, unknownTaggedFields: unknown }),
    );
    expect(decoded.unknownTaggedFields).toEqual(unknown);
  });

  it('encode nullable structs with a -1/1 marker byte', () => {
    const response = consumerGroupHeartbeatApi.response.createDefault();
    expect(response.assignment).toBeNull();
    const withAssignment = {
      ...response,
      assignment: { topicPartitions: [{ topicId: ZERO_UUID, partitions: [0, 1] }] },
    };
    const decoded = decodeResponse(
      consumerGroupHeartbeatApi,
      1,
      encodeResponse(consumerGroupHeartbeatApi, 1, withAssignment),
    );
    expect(decoded.assignment?.topicPartitions[0]?.partitions).toEqual([0, 1]);
    const bytes = encodeResponse(consumerGroupHeartbeatApi, 1, response);
    expect(bytes[bytes.length - 2]).toBe(0xff);
  });

  it('refuse trailing bytes after a message', () => {
    const bytes = encodeRequest(apiVersionsApi, 0, apiVersionsApi.request.createDefault());
    expect(reasonOf(() => decodeRequest(apiVersionsApi, 0, Uint8Array.of(...bytes, 0)))).toBe('invalid-value');
  });

  it('do not throw on Kafka error codes: decoding and error policy are separate', () => {
    const response = { ...apiVersionsApi.response.createDefault(), errorCode: 35 };
    expect(decodeResponse(apiVersionsApi, 3, encodeResponse(apiVersionsApi, 3, response)).errorCode).toBe(35);
  });

  it('refuse API keys and versions they do not speak', () => {
    expect(findApi(3)).toBe(metadataApi);
    expect(findApi(1000)).toBeUndefined();
    expect(reasonOf(() => encodeRequest(1000, 0, {}))).toBe('unsupported-version');
    expect(reasonOf(() => encodeRequest(fetchApi, 3, fetchApi.request.createDefault()))).toBe('unsupported-version');
  });
});

describe('headers', () => {
  it('use v2 requests and v1 responses for flexible versions, and v0 for every ApiVersions response', () => {
    expect(requestHeaderVersion(3, 8)).toBe(1);
    expect(requestHeaderVersion(3, 9)).toBe(2);
    expect(responseHeaderVersion(3, 8)).toBe(0);
    expect(responseHeaderVersion(3, 9)).toBe(1);
    expect(requestHeaderVersion(18, 3)).toBe(2);
    expect(responseHeaderVersion(18, 3)).toBe(0);
    expect(responseHeaderVersion(18, 0)).toBe(0);
    expect(reasonOf(() => requestHeaderVersion(3, 99))).toBe('unsupported-version');
  });

  it('keep the client id as a classic nullable string even in header v2', () => {
    const writer = new Writer();
    requestHeader.write(writer, 2, {
      requestApiKey: 3,
      requestApiVersion: 12,
      correlationId: 7,
      clientId: 'ab',
      unknownTaggedFields: [],
    });
    expect(Buffer.from(writer.finish()).toString('hex')).toBe('0003000c00000007000261620' + '0');
    const response = responseHeader.read(new Reader(Uint8Array.of(0, 0, 0, 9, 0)), 1);
    expect(response.correlationId).toBe(9);
    const v0 = new Writer();
    requestHeader.write(v0, 0, { ...requestHeader.createDefault(), correlationId: 1 });
    expect(v0.finish().length).toBe(8);
  });
});

describe('frames', () => {
  it('put size, header and body in one buffer', () => {
    const request = { ...metadataApi.request.createDefault(), topics: null };
    const frame = encodeRequestFrame({ api: metadataApi, version: 12, correlationId: 5, clientId: 'c', request });
    const reader = new Reader(frame);
    expect(reader.int32('size')).toBe(frame.length - 4);
    const header = requestHeader.read(reader, 2);
    expect(header).toMatchObject({ requestApiKey: 3, requestApiVersion: 12, correlationId: 5, clientId: 'c' });
    expect(metadataApi.request.read(reader, 12)).toMatchObject({ topics: null });
    expect(reader.remaining).toBe(0);
  });

  it('decode a response frame with the header version the API and version call for', () => {
    const body = encodeResponse(apiVersionsApi, 3, apiVersionsApi.response.createDefault());
    // ApiVersions responses use header v0 (no tagged fields) even at flexible versions.
    const frame = Uint8Array.of(0, 0, 0, 9, ...body);
    const decoded = decodeResponseFrame(apiVersionsApi, 3, frame);
    expect(decoded.header.correlationId).toBe(9);
    expect(decoded.response.errorCode).toBe(0);
    const metadataBody = encodeResponse(metadataApi, 12, metadataApi.response.createDefault());
    const metadataFrame = Uint8Array.of(0, 0, 0, 10, 0, ...metadataBody);
    expect(decodeResponseFrame(metadataApi, 12, metadataFrame).header.correlationId).toBe(10);
  });
});
