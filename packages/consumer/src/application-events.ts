/**
 * The boundary between the application side (KafkaConsumer) and the client loop (ConsumerRuntime): what the
 * application asks, as messages, and what each answers. Results that need the brokers are promises; the others
 * are answered at once. Nothing crosses but these messages, their answers, records out of the fetch buffer and
 * errors, so the loop can move to a worker thread without its managers changing.
 */
import type { DeserializableRecord } from '@sluice/fetch';
import type { RebalanceStep } from '@sluice/group';
import type { CommittedOffset, OffsetAndTimestamp, OffsetQuery, OffsetToCommit } from '@sluice/offsets';
import type { TopicMetadata, TopicPartition, TopicPartitionMap } from '@sluice/runtime';

export type ApplicationEvent =
  | { readonly type: 'subscribe'; readonly topics: readonly string[] }
  | { readonly type: 'subscribe-pattern'; readonly pattern: RegExp }
  /** A KIP-848 SubscriptionPattern: the coordinator resolves it. */
  | { readonly type: 'subscribe-regex'; readonly regex: string }
  | { readonly type: 'assign'; readonly partitions: readonly TopicPartition[] }
  /** Drops the subscription and assignment (after the membership left). */
  | { readonly type: 'unsubscribe' }
  /** The application polled: liveness, and rebalances that waited for a poll may start. */
  | { readonly type: 'poll' }
  /** Records for the application, at most `maxRecords`; positions move past them. */
  | { readonly type: 'collect'; readonly maxRecords: number }
  | { readonly type: 'seek'; readonly partition: TopicPartition; readonly offset: bigint; readonly leaderEpoch: number }
  | {
      readonly type: 'reset-offsets';
      readonly partitions: readonly TopicPartition[];
      readonly to: 'earliest' | 'latest';
    }
  | { readonly type: 'pause'; readonly partitions: readonly TopicPartition[] }
  | { readonly type: 'resume'; readonly partitions: readonly TopicPartition[] }
  | {
      readonly type: 'commit';
      readonly offsets: readonly OffsetToCommit[];
      readonly sync: boolean;
      readonly deadline: number;
    }
  | { readonly type: 'fetch-committed'; readonly partitions: readonly TopicPartition[]; readonly deadline: number }
  | { readonly type: 'list-offsets'; readonly queries: readonly OffsetQuery[]; readonly deadline: number }
  /** Topic metadata (null: every topic). */
  | { readonly type: 'topic-metadata'; readonly topics: readonly string[] | null; readonly deadline: number }
  | { readonly type: 'take-step' }
  | { readonly type: 'complete-step'; readonly step: RebalanceStep }
  /** Ends every rebalance in progress; says how the assignment ends (revoked or lost). */
  | { readonly type: 'begin-leave' }
  /** Leaves the group; settles when the LeaveGroup is answered, failed, or was not needed. */
  | { readonly type: 'leave'; readonly reason: string; readonly ending: 'closed' | 'unjoined' }
  | { readonly type: 'enforce-rebalance'; readonly reason: string }
  /**
   * Waits until something the application may be waiting for happened (records, a step, an error), or `deadline`.
   * `inPoll`: the wait is poll's, so the application counts as polling while it lasts.
   */
  | { readonly type: 'wait'; readonly deadline: number; readonly inPoll?: boolean }
  /** poll returns: `max.poll.interval.ms` counts from now. */
  | { readonly type: 'poll-end' }
  /** Resolves at `deadline` (a bound for close and unsubscribe, on the loop's timer). */
  | { readonly type: 'deadline'; readonly deadline: number }
  /** Resolves (true) when no commit is in flight any more, or (false) at `deadline`. */
  | { readonly type: 'commits-settled'; readonly deadline: number };

/** What each event answers. */
export interface ApplicationEventResults {
  subscribe: undefined;
  'subscribe-pattern': undefined;
  'subscribe-regex': undefined;
  assign: undefined;
  unsubscribe: undefined;
  poll: undefined;
  'poll-end': undefined;
  collect: DeserializableRecord[];
  seek: undefined;
  'reset-offsets': undefined;
  pause: undefined;
  resume: undefined;
  commit: Promise<void>;
  'fetch-committed': Promise<TopicPartitionMap<CommittedOffset | null>>;
  'list-offsets': Promise<Array<OffsetAndTimestamp | null>>;
  'topic-metadata': Promise<TopicMetadata>;
  'take-step': RebalanceStep | null;
  'complete-step': undefined;
  'begin-leave': RebalanceStep;
  leave: Promise<void>;
  'enforce-rebalance': undefined;
  wait: Promise<void>;
  deadline: Promise<void>;
  'commits-settled': Promise<boolean>;
}

export type EventOf<Type extends ApplicationEvent['type']> = Extract<ApplicationEvent, { type: Type }>;
