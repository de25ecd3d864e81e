import { ProtocolError } from './errors.ts';
import type { ApiDescriptor, MessageCodec } from './message-codec.ts';
import { type RequestHeader, type ResponseHeader, requestHeader, responseHeader } from './messages/header.generated.ts';
import { allApis } from './messages/index.generated.ts';
import { Reader } from './primitives/reader.ts';
import { NO_TAGGED_FIELDS } from './primitives/tagged-fields.ts';
import { Writer } from './primitives/writer.ts';

const apisByKey = new Map<number, ApiDescriptor<unknown, unknown>>(allApis.map((api) => [api.apiKey, api]));

/** The API with this key, or undefined when this codec does not speak it. */
export function findApi(apiKey: number): ApiDescriptor<unknown, unknown> | undefined {
  return apisByKey.get(apiKey);
}

function resolve<Request, Response>(api: ApiDescriptor<Request, Response> | number): ApiDescriptor<Request, Response> {
  if (typeof api !== 'number') return api;
  const found = apisByKey.get(api);
  if (found === undefined) {
    throw new ProtocolError(`API key ${api} is not one this codec speaks`, {
      reason: 'unsupported-version',
      field: `apiKey ${api}`,
      offset: -1,
    });
  }
  return found as ApiDescriptor<Request, Response>;
}

/** Encodes a message body (no size prefix, no header) into fresh bytes. */
export function encodeMessage<Value>(codec: MessageCodec<Value>, version: number, value: Value): Uint8Array {
  const writer = new Writer();
  codec.write(writer, version, value);
  return writer.finish();
}

/**
 * Decodes a message body that fills `bytes` exactly: bytes left over mean the version or the frame is wrong, and
 * are refused rather than ignored.
 */
export function decodeMessage<Value>(codec: MessageCodec<Value>, version: number, bytes: Uint8Array): Value {
  const reader = new Reader(bytes);
  const value = codec.read(reader, version);
  if (reader.remaining !== 0) {
    throw new ProtocolError(`${reader.remaining} bytes left after the message`, {
      reason: 'invalid-value',
      field: codec.name,
      offset: reader.offset,
    });
  }
  return value;
}

export function encodeRequest<Request>(
  api: ApiDescriptor<Request, unknown>,
  version: number,
  value: Request,
): Uint8Array;
export function encodeRequest(apiKey: number, version: number, value: unknown): Uint8Array;
export function encodeRequest(
  api: ApiDescriptor<unknown, unknown> | number,
  version: number,
  value: unknown,
): Uint8Array {
  return encodeMessage(resolve(api).request, version, value);
}

export function decodeRequest<Request>(
  api: ApiDescriptor<Request, unknown>,
  version: number,
  bytes: Uint8Array,
): Request;
export function decodeRequest(apiKey: number, version: number, bytes: Uint8Array): unknown;
export function decodeRequest(
  api: ApiDescriptor<unknown, unknown> | number,
  version: number,
  bytes: Uint8Array,
): unknown {
  return decodeMessage(resolve(api).request, version, bytes);
}

export function encodeResponse<Response>(
  api: ApiDescriptor<unknown, Response>,
  version: number,
  value: Response,
): Uint8Array;
export function encodeResponse(apiKey: number, version: number, value: unknown): Uint8Array;
export function encodeResponse(
  api: ApiDescriptor<unknown, unknown> | number,
  version: number,
  value: unknown,
): Uint8Array {
  return encodeMessage(resolve(api).response, version, value);
}

export function decodeResponse<Response>(
  api: ApiDescriptor<unknown, Response>,
  version: number,
  bytes: Uint8Array,
): Response;
export function decodeResponse(apiKey: number, version: number, bytes: Uint8Array): unknown;
export function decodeResponse(
  api: ApiDescriptor<unknown, unknown> | number,
  version: number,
  bytes: Uint8Array,
): unknown {
  return decodeMessage(resolve(api).response, version, bytes);
}

const API_VERSIONS_KEY = 18;

export interface RequestFrameOptions<Request> {
  readonly api: ApiDescriptor<Request, unknown>;
  readonly version: number;
  readonly correlationId: number;
  /** Kafka's `client.id`; null sends none. */
  readonly clientId: string | null;
  readonly request: Request;
}

/**
 * A whole request as it goes on the wire, in one buffer: the int32 size, the request header (v1, or v2 for
 * flexible versions), then the body.
 */
export function encodeRequestFrame<Request>(options: RequestFrameOptions<Request>): Uint8Array {
  const { api, version } = options;
  const writer = new Writer();
  const sizePosition = writer.reserveInt32();
  const header: RequestHeader = {
    requestApiKey: api.apiKey,
    requestApiVersion: version,
    correlationId: options.correlationId,
    clientId: options.clientId,
    unknownTaggedFields: NO_TAGGED_FIELDS,
  };
  requestHeader.write(writer, requestHeaderVersion(api.apiKey, version), header);
  api.request.write(writer, version, options.request);
  writer.fillInt32(sizePosition, writer.offset - 4, `${api.request.name} frame size`);
  return writer.finish();
}

export interface ResponseFrame<Response> {
  readonly header: ResponseHeader;
  readonly response: Response;
}

/**
 * Decodes a response frame (the bytes after its int32 size): the response header for the API and version, then the
 * body, which must fill the rest exactly. The correlation ID is the frame's first int32 in every header version, so
 * a connection can read it (`new Reader(frame).int32(...)`) to find the request before calling this.
 */
export function decodeResponseFrame<Response>(
  api: ApiDescriptor<unknown, Response>,
  version: number,
  frame: Uint8Array,
): ResponseFrame<Response> {
  const reader = new Reader(frame);
  const header = responseHeader.read(reader, responseHeaderVersion(api.apiKey, version));
  const response = api.response.read(reader, version);
  if (reader.remaining !== 0) {
    throw new ProtocolError(`${reader.remaining} bytes left after the message`, {
      reason: 'invalid-value',
      field: api.response.name,
      offset: reader.offset,
    });
  }
  return { header, response };
}

function flexible(apiKey: number, apiVersion: number): boolean {
  const api = resolve(apiKey);
  if (!(Number.isInteger(apiVersion) && apiVersion >= api.minVersion && apiVersion <= api.maxVersion)) {
    throw new ProtocolError(`version ${apiVersion} is outside ${api.minVersion}-${api.maxVersion}`, {
      reason: 'unsupported-version',
      field: api.name,
      offset: -1,
    });
  }
  return api.firstFlexibleVersion !== null && apiVersion >= api.firstFlexibleVersion;
}

/** The request header version for a request: 2 for flexible versions, 1 otherwise. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  return flexible(apiKey, apiVersion) ? 2 : 1;
}

/**
 * The response header version for a response: 1 for flexible versions, 0 otherwise, except that ApiVersions
 * responses always use v0, because a client must be able to read them before it knows which versions the broker
 * speaks (KIP-511).
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === API_VERSIONS_KEY) {
    flexible(apiKey, apiVersion);
    return 0;
  }
  return flexible(apiKey, apiVersion) ? 1 : 0;
}
