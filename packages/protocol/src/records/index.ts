// Record batches (magic 2) and legacy message sets (magic 0 and 1): lazy, zero-copy decoding, and encoding.
export { BatchRecord } from './batch-record.ts';
export { crc32c } from './checksums.ts';
export {
  type ControlRecordKey,
  type ControlRecordType,
  decodeControlRecordKey,
  encodeControlRecordKey,
} from './control-record.ts';
export {
  type DecodedBatch,
  type DecodedRecords,
  type DecodeRecordsOptions,
  decodeRecords,
} from './decode-records.ts';
export {
  encodeRecordBatch,
  encodeRecordBatchSync,
  type RecordBatchInput,
  type RecordHeaderInput,
  type RecordInput,
} from './encode-record-batch.ts';
export type { KafkaRecord } from './kafka-record.ts';
export { LegacyRecord, LegacyRecordBatch, type LegacyTimestampType } from './legacy-message-set.ts';
export { RecordBatch, type RecordBatchHeader, type TimestampType } from './record-batch.ts';
export { RecordCursor } from './record-cursor.ts';
export { decodeRecordHeaders, type RecordHeader } from './record-headers.ts';
