export type { OracleClasses } from './classes.ts';
export { ensureOracleClasses } from './classes.ts';
export { fromBase64, parseLine, stringifyLine, toBase64 } from './json-lines.ts';
export type { OracleOptions } from './oracle.ts';
export { Oracle, startOracle } from './oracle.ts';
export { OracleError } from './oracle-error.ts';
export type {
  AssignorUserDataRequest,
  AssignRequest,
  BatchReadout,
  BuildRecordsOptions,
  BytesInput,
  CompressionCodec,
  DecodeRequest,
  DecodeResult,
  EncodeRequest,
  EndTransactionInput,
  ErrorsRequest,
  Int64Input,
  Int64Output,
  KafkaErrorEntry,
  OracleAnswer,
  OracleAssignInput,
  OracleAssignMember,
  OracleAssignorName,
  OracleAssignorUserDataInput,
  OracleAssignTopic,
  OracleMemberAssignment,
  OracleRequest,
  OracleTopicPartition,
  OracleTransactionsInput,
  PingRequest,
  ProduceTransactionsRequest,
  RandomRequest,
  RandomResult,
  RecordHeaderInput,
  RecordHeaderReadout,
  RecordInput,
  RecordReadout,
  RecordsBuildRequest,
  RecordsReadout,
  RecordsReadRequest,
} from './protocol.ts';
