/**
 * Topic metadata the application asks for (`listTopics`, `partitionsFor`): a Metadata request of its own to the
 * least loaded broker, not a change of what the cluster metadata describes (Kafka's TopicMetadataRequestManager).
 * Retried with KIP-580 backoff on retriable topic errors until the call's deadline; a topic that does not exist is
 * absent from the answer; an authorization error fails the call. Partitions without a leader are listed as such.
 */
import { type BrokerInfo, type ClusterSnapshot, type KafkaError, mergeMetadata, type TopicInfo } from '@sluice/net';
import { defaultMetadataRequest, metadataApi, ZERO_UUID } from '@sluice/protocol';
import { Attempts } from './attempts.ts';
import { type Deferred, deferred } from './deferred.ts';
import { type ManagerPoll, type RequestManager, type UnsentRequest, unsent } from './request-manager.ts';

export interface TopicMetadataManagerOptions {
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  /** `allow.auto.create.topics`, for `partitionsFor` (never for `listTopics`). */
  readonly allowAutoTopicCreation: boolean;
  /** Whether `listTopics` lists internal topics: not when `exclude.internal.topics` is true. */
  readonly excludeInternalTopics: boolean;
  readonly random?: () => number;
}

/** The topics asked for (those that exist), and the brokers the same response listed. */
export interface TopicMetadata {
  readonly topics: ReadonlyMap<string, TopicInfo>;
  readonly brokers: ReadonlyMap<number, BrokerInfo>;
}

interface Pending {
  /** null: every topic. */
  readonly topics: readonly string[] | null;
  readonly attempts: Attempts;
  readonly result: Deferred<TopicMetadata>;
  inFlight: boolean;
}

const UNKNOWN_TOPIC = 3;

export class TopicMetadataManager implements RequestManager {
  readonly #options: TopicMetadataManagerOptions;
  #pending: Pending[] = [];

  constructor(options: TopicMetadataManagerOptions) {
    this.#options = options;
  }

  /** The topics (null: all of them, internal ones unless excluded) and their partitions. */
  request(topics: readonly string[] | null, deadline: number): Promise<TopicMetadata> {
    const pending: Pending = {
      topics,
      attempts: new Attempts(deadline, this.#options),
      result: deferred(),
      inFlight: false,
    };
    this.#pending.push(pending);
    return pending.result.promise;
  }

  /** Fails what is still pending (the consumer is closing). */
  failAll(error: Error): void {
    for (const pending of this.#pending) pending.result.reject(error);
    this.#pending = [];
  }

  poll(now: number): ManagerPoll {
    const requests: UnsentRequest[] = [];
    let next = Number.POSITIVE_INFINITY;
    this.#pending = this.#pending.filter((pending) => !pending.result.settled);
    for (const pending of this.#pending) {
      if (pending.inFlight) continue;
      const attempts = pending.attempts;
      if (attempts.expired(now)) {
        pending.result.reject(attempts.timeout('the topic metadata lookup'));
        continue;
      }
      next = Math.min(next, attempts.deadline);
      if (!attempts.due(now)) {
        next = Math.min(next, attempts.notBefore);
        continue;
      }
      pending.inFlight = true;
      requests.push(this.#request(pending));
    }
    return { requests, nextPollAt: next };
  }

  #request(pending: Pending): UnsentRequest {
    const options = this.#options;
    return unsent({
      target: 'least-loaded',
      api: metadataApi,
      versions: { floor: 1 },
      timeoutMs: options.requestTimeoutMs,
      build: () => ({
        ...defaultMetadataRequest(),
        topics: pending.topics === null ? null : pending.topics.map((name) => ({ topicId: ZERO_UUID, name })),
        allowAutoTopicCreation: pending.topics !== null && options.allowAutoTopicCreation,
      }),
      onResponse: (response, { now }) => {
        pending.inFlight = false;
        const { snapshot } = mergeMetadata({ previous: null, response, now });
        const outcome = this.#outcome(pending, snapshot);
        if (outcome instanceof Map) pending.result.resolve({ topics: outcome, brokers: snapshot.brokers });
        else if (outcome.retriable) pending.attempts.failed(outcome, now);
        else pending.result.reject(outcome);
      },
      onFailure: (error, now) => {
        pending.inFlight = false;
        if ((error as { retriable?: boolean }).retriable === true) pending.attempts.failed(error, now);
        else pending.result.reject(error);
      },
    });
  }

  /** The answer, or the error that stops it (retriable or not). */
  #outcome(pending: Pending, snapshot: ClusterSnapshot): Map<string, TopicInfo> | KafkaError {
    const result = new Map<string, TopicInfo>();
    for (const topic of snapshot.topics.values()) {
      if (pending.topics === null && topic.isInternal && this.#options.excludeInternalTopics) continue;
      if (topic.error !== null) {
        if (topic.error.code === UNKNOWN_TOPIC) continue;
        return topic.error;
      }
      result.set(topic.name, topic);
    }
    return result;
  }
}
