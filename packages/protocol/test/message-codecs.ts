// Every message codec @sluice/protocol has, by message name: the request and response of every API, both headers,
// and the consumer protocol's data messages. The suites that walk the generated declarations look codecs up here.
import {
  type ApiDescriptor,
  allApis,
  allDataMessages,
  type MessageCodec,
  requestHeader,
  responseHeader,
} from '../src/index.ts';

export interface CodecEntry {
  readonly codec: MessageCodec<unknown>;
  /** The API whose response this is (for whole response frames); null for everything else. */
  readonly responseOf: ApiDescriptor<unknown, unknown> | null;
}

export function messageCodecs(): Map<string, CodecEntry> {
  const codecs = new Map<string, CodecEntry>();
  for (const api of allApis) {
    codecs.set(api.request.name, { codec: api.request, responseOf: null });
    codecs.set(api.response.name, { codec: api.response, responseOf: api });
  }
  codecs.set(requestHeader.name, { codec: requestHeader as MessageCodec<unknown>, responseOf: null });
  codecs.set(responseHeader.name, { codec: responseHeader as MessageCodec<unknown>, responseOf: null });
  for (const codec of allDataMessages) codecs.set(codec.name, { codec, responseOf: null });
  return codecs;
}
