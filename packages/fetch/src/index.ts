// @sluice/fetch: the fetch pipeline.

export { Fetcher, type FetcherOptions } from './fetcher.ts';

export {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type OffsetAndTimestamp,
  OffsetLookup,
  type OffsetLookupOptions,
  type TopicPartition,
} from './offset-lookup.ts';
export {
  type AbortedTransactionRange,
  type ConsumerRecord,
  type PartitionRecords,
  type PartitionRecordsOptions,
  partitionRecords,
} from './partition-records.ts';
