/**
 * Deserializers turn a record's key or value bytes into what the application gets. They receive a view into the
 * fetched response: a deserializer that keeps the bytes beyond the call must copy them (the built-in `bytes` one
 * returns the view, which stays valid as long as the record is referenced).
 */
import type { RecordHeader } from '@sluice/protocol';

export interface DeserializerContext {
  readonly topic: string;
  readonly partition: number;
  readonly headers: readonly RecordHeader[];
}

export type Deserializer<T> = (data: Uint8Array | null, context: DeserializerContext) => T;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export const deserializers = {
  /** The bytes as they are (Kafka's ByteArrayDeserializer), null for null. */
  bytes: ((data) => data) as Deserializer<Uint8Array | null>,
  /** UTF-8 text (Kafka's StringDeserializer); invalid UTF-8 is an error, null stays null. */
  string: ((data) => (data === null ? null : utf8.decode(data))) as Deserializer<string | null>,
  /** UTF-8 JSON, parsed; null stays null. */
  json: ((data) => (data === null ? null : JSON.parse(utf8.decode(data)))) as Deserializer<unknown>,
};
