/**
 * The oracle's JSON-lines protocol, as TypeScript types. Requests and answers are one JSON object per line;
 * answers come in request order. See README.md for the full description.
 */

/** An int64 going to Java: a bigint (sent as a raw JSON number), a safe integer, or a decimal string. */
export type Int64Input = bigint | number | string;

/** Bytes going to Java: a Uint8Array (sent as base64) or base64 text. */
export type BytesInput = Uint8Array | string;

export type CompressionCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** How int64 values come back: decimal strings (the default) or JSON numbers (bigints in TypeScript when large). */
export type Int64Output = 'string' | 'number';

interface RequestBase {
  /** Echoed in the answer; useful by hand, not needed by the client (answers come in order). */
  readonly id?: string | number;
  readonly int64?: Int64Output;
}

export interface PingRequest extends RequestBase {
  readonly op: 'ping';
}

export interface EncodeRequest extends RequestBase {
  readonly op: 'encode';
  /** Kafka's message name: MetadataRequest, FetchResponse, RequestHeader, ... */
  readonly message: string;
  readonly version: number;
  /** The message as Kafka's <Message>DataJsonConverter reads it (camelCase field names). */
  readonly json: Record<string, unknown>;
}

export interface DecodeRequest extends RequestBase {
  readonly op: 'decode';
  readonly message: string;
  readonly version: number;
  readonly bytes: BytesInput;
}

export interface RandomRequest extends RequestBase {
  readonly op: 'random';
  readonly message: string;
  readonly version: number;
  readonly seed?: Int64Input;
  /** Arrays get 0 to this many elements (default 3). */
  readonly maxArrayLength?: number;
}

export interface RecordHeaderInput {
  readonly key: string;
  readonly value: BytesInput | null;
}

export interface RecordInput {
  /** Absent: -1 (no timestamp). Ignored for magic 0. */
  readonly timestamp?: Int64Input;
  readonly key?: BytesInput | null;
  readonly value?: BytesInput | null;
  /** Magic 2 only. */
  readonly headers?: readonly RecordHeaderInput[];
  /** An explicit offset (must increase); absent: the next one after baseOffset. */
  readonly offset?: Int64Input;
}

export interface EndTransactionInput {
  readonly type: 'commit' | 'abort';
  readonly coordinatorEpoch?: number;
}

export interface BuildRecordsOptions {
  readonly codec?: CompressionCodec;
  /** The codec's level (gzip, lz4, zstd); absent: Kafka's default. */
  readonly level?: number;
  readonly magic?: 0 | 1 | 2;
  readonly baseOffset?: Int64Input;
  readonly records?: readonly RecordInput[];
  readonly timestampType?: 'create' | 'log-append';
  readonly logAppendTime?: Int64Input;
  readonly producerId?: Int64Input;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly transactional?: boolean;
  readonly partitionLeaderEpoch?: number;
  /** A control batch with one end-transaction marker instead of `records` (magic 2, uncompressed). */
  readonly control?: EndTransactionInput;
  /** The control record's timestamp (default 0). */
  readonly timestamp?: Int64Input;
}

export interface RecordsBuildRequest extends RequestBase, BuildRecordsOptions {
  readonly op: 'records-build';
}

export interface RecordsReadRequest extends RequestBase {
  readonly op: 'records-read';
  readonly bytes: BytesInput;
}

export interface ErrorsRequest extends RequestBase {
  readonly op: 'errors';
}

/** One row of Kafka's error-code table (org.apache.kafka.common.protocol.Errors). */
export interface KafkaErrorEntry {
  readonly code: number;
  readonly name: string;
  readonly retriable: boolean;
  /** The exception extends InvalidMetadataException: the client's metadata is stale and must be refreshed. */
  readonly invalidMetadata: boolean;
  readonly message: string;
  readonly exception: string | null;
}

/** Kafka's client-side partition assignors, by the names their `partition.assignment.strategy` classes answer to. */
export type OracleAssignorName = 'range' | 'roundrobin' | 'sticky' | 'cooperative-sticky';

export interface OracleTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A topic of the cluster the assignor sees. */
export interface OracleAssignTopic {
  readonly name: string;
  readonly partitions: number;
  /**
   * Per partition (one entry for each), the racks of its replicas, in order (the first leads). Each distinct rack
   * becomes one broker; a partition with no racks lives on a broker without a rack.
   */
  readonly partitionRacks?: ReadonlyArray<ReadonlyArray<string>>;
}

/** A group member's subscription (Kafka's ConsumerPartitionAssignor.Subscription). */
export interface OracleAssignMember {
  readonly memberId: string;
  readonly topics: readonly string[];
  /** Default []. The eager sticky assignor ignores these and reads its user data instead. */
  readonly ownedPartitions?: readonly OracleTopicPartition[];
  /** Default -1. */
  readonly generationId?: number;
  readonly rackId?: string | null;
  /** The member's group.instance.id (static membership), or null. */
  readonly groupInstanceId?: string | null;
  /** The assignor's subscription user data (see assignorUserData). */
  readonly userData?: Uint8Array | null;
}

export interface OracleAssignInput {
  readonly assignor: OracleAssignorName;
  readonly topics: ReadonlyArray<OracleAssignTopic>;
  readonly members: ReadonlyArray<OracleAssignMember>;
}

/** One member's share, partitions in the order Java's assignor listed them. */
export interface OracleMemberAssignment {
  readonly partitions: OracleTopicPartition[];
  readonly userData: Uint8Array | null;
}

export interface OracleAssignorUserDataInput {
  readonly assignor: OracleAssignorName;
  /** The member's current assignment, given to the assignor's onAssignment. */
  readonly partitions: readonly OracleTopicPartition[];
  readonly generationId: number;
  /** The topics passed to subscriptionUserData. */
  readonly topics: readonly string[];
  /** Default "member". */
  readonly memberId?: string;
  /** Default "group". */
  readonly groupId?: string;
}

export interface AssignRequest extends RequestBase, OracleAssignInput {
  readonly op: 'assign';
}

export interface AssignorUserDataRequest extends RequestBase, OracleAssignorUserDataInput {
  readonly op: 'assignor-user-data';
}

/** Transactions written by Kafka's own transactional producer: each transaction's values, then commit or abort. */
export interface OracleTransactionsInput {
  readonly bootstrap: string;
  readonly topic: string;
  readonly partition: number;
  readonly transactions: ReadonlyArray<{ readonly values: readonly string[]; readonly commit: boolean }>;
}

export interface ProduceTransactionsRequest extends RequestBase, OracleTransactionsInput {
  readonly op: 'produce-transactions';
}

export type OracleRequest =
  | ProduceTransactionsRequest
  | AssignRequest
  | AssignorUserDataRequest
  | ErrorsRequest
  | PingRequest
  | EncodeRequest
  | DecodeRequest
  | RandomRequest
  | RecordsBuildRequest
  | RecordsReadRequest;

/** One answer line as parsed: whatever Java sent, `{ error }` included. */
export type OracleAnswer = Record<string, unknown> & { readonly error?: string };

export interface DecodeResult {
  /** The message as Kafka's converter writes it, with records fields filled in as base64. */
  readonly json: Record<string, unknown>;
  readonly consumed: number;
  readonly remaining: number;
  readonly consumedAll: boolean;
}

export interface RandomResult {
  readonly json: Record<string, unknown>;
  readonly bytes: Uint8Array;
}

export interface RecordHeaderReadout {
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface RecordReadout {
  readonly offset: bigint;
  readonly sequence: number;
  readonly timestamp: bigint;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly RecordHeaderReadout[];
  /** Control batches only: the control record's type ("commit", "abort", ...). */
  readonly controlType?: string;
  readonly coordinatorEpoch?: number;
}

export interface BatchReadout {
  /** Where the batch starts in the bytes read. */
  readonly position: number;
  readonly sizeInBytes: number;
  readonly magic: number;
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly codec: CompressionCodec;
  /** The raw attributes: int16 for magic 2, the wrapper's int8 for magic 0 and 1. */
  readonly attributes: number;
  readonly crc: number;
  readonly valid: boolean;
  readonly invalidReason?: string;
  readonly timestampType: 'create' | 'log-append' | 'none';
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastSequence: number;
  readonly partitionLeaderEpoch: number;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly count: number | null;
  readonly deleteHorizonMs?: bigint;
  readonly records: readonly RecordReadout[];
  /** Set when Java could not iterate the records (the records read before the failure are listed). */
  readonly recordsError?: string;
}

export interface RecordsReadout {
  readonly batches: readonly BatchReadout[];
  readonly size: number;
  /** Bytes after the last whole batch. */
  readonly trailing: number;
}
