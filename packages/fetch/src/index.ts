// @sluice/fetch: the fetch pipeline.

export { type CompletedFetch, FetchBuffer } from './fetch-buffer.ts';
export { FetchManager, type FetchManagerOptions, PREFETCH_RECORDS } from './fetch-manager.ts';
export {
  type AbortedTransactionRange,
  type ConsumerRecord,
  type PartitionRecords,
  type PartitionRecordsOptions,
  partitionRecords,
} from './partition-records.ts';
