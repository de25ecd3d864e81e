// @sluice/fetch: the fetch pipeline (offset lookups so far).

export {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type OffsetAndTimestamp,
  OffsetLookup,
  type OffsetLookupOptions,
  type TopicPartition,
} from './offset-lookup.ts';
