import { ProtocolError } from '../errors.ts';
import { VarintReader } from './varint-reader.ts';

export interface RecordHeader {
  readonly key: string;
  /** A view into the batch's bytes; null when the header value is null. */
  readonly value: Uint8Array | null;
}

// Like Kafka's Java client, malformed UTF-8 in a header key becomes U+FFFD rather than an error.
const utf8 = new TextDecoder('utf-8');

/**
 * Decodes the headers array that ends a record: `[start, end)` spans the headers count through the record's end.
 * Runs only when the caller asks for headers, and checks that they fill the record exactly.
 */
export function decodeRecordHeaders(data: Uint8Array, start: number, end: number): RecordHeader[] {
  const reader = new VarintReader(data, start, end);
  const count = reader.readVarint('RecordBatch.records[].headers.length');
  if (count < 0) {
    throw new ProtocolError(`negative headers count ${count}`, {
      reason: 'negative-length',
      field: 'RecordBatch.records[].headers.length',
      offset: start,
    });
  }
  // Each header takes at least two bytes (two varint lengths), so a count past that is a lie.
  if (count * 2 > end - reader.position) {
    throw new ProtocolError(`headers count ${count} exceeds the record's remaining bytes`, {
      reason: 'length-too-large',
      field: 'RecordBatch.records[].headers.length',
      offset: start,
    });
  }
  const headers: RecordHeader[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const keyStart = reader.position;
    const keyLength = reader.readVarint('RecordBatch.records[].headers[].keyLength');
    // Header keys are strings that may not be null.
    checkLength(keyLength, 0, reader, 'RecordBatch.records[].headers[].keyLength', keyStart);
    const key = utf8.decode(data.subarray(reader.position, reader.position + keyLength));
    reader.position += keyLength;
    const valueStart = reader.position;
    const valueLength = reader.readVarint('RecordBatch.records[].headers[].valueLength');
    checkLength(valueLength, -1, reader, 'RecordBatch.records[].headers[].valueLength', valueStart);
    let value: Uint8Array | null = null;
    if (valueLength >= 0) {
      value = data.subarray(reader.position, reader.position + valueLength);
      reader.position += valueLength;
    }
    headers[index] = { key, value };
  }
  if (reader.position !== end) {
    throw new ProtocolError(`record has ${end - reader.position} bytes after its headers`, {
      reason: 'invalid-value',
      field: 'RecordBatch.records[].length',
      offset: reader.position,
    });
  }
  return headers;
}

function checkLength(length: number, smallest: number, reader: VarintReader, field: string, offset: number): void {
  if (length < smallest) {
    throw new ProtocolError(`length ${length} is not allowed`, { reason: 'negative-length', field, offset });
  }
  if (length > reader.limit - reader.position) {
    throw new ProtocolError(`length ${length} exceeds the ${reader.limit - reader.position} bytes left in the record`, {
      reason: 'length-too-large',
      field,
      offset,
    });
  }
}
