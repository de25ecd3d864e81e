// @sluice/fetch: the fetch pipeline.

export {
  type AbortedTransactionRange,
  CompletedFetch,
  type CompletedFetchOptions,
} from './completed-fetch.ts';
export { DecompressionPipeline, type DecompressionPipelineOptions } from './decompression-pipeline.ts';
export { CorruptRecordError } from './errors.ts';
export { FetchBuffer, type FetchBufferOptions, type FrameRelease, ResponseLease } from './fetch-buffer.ts';
export { FetchManager, type FetchManagerOptions } from './fetch-manager.ts';
export { FetchSession, type SessionPartition, type SessionRequest } from './fetch-session.ts';
export {
  type ConsumerRecord,
  type DeserializableRecord,
  FetchedRecord,
  PlainRecord,
  type TimestampType,
} from './fetched-record.ts';
