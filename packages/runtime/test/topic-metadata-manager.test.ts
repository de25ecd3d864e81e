/** TopicMetadataManager (listTopics, partitionsFor), driven by a fake clock and scripted Metadata answers. */
import { ErrorCode, KafkaError } from '@sluice/net';
import {
  defaultMetadataResponse,
  type MetadataRequest,
  type MetadataResponse,
  type MetadataResponseTopic,
  metadataApi,
  ZERO_UUID,
} from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../src/errors.ts';
import type { UnsentRequest } from '../src/request-manager.ts';
import { TopicMetadataManager, type TopicMetadataManagerOptions } from '../src/topic-metadata-manager.ts';

type MetadataUnsent = UnsentRequest<MetadataRequest, MetadataResponse>;

const DEADLINE = 60_000;

/** A topic entry with `partitions` partitions led by broker 1 (leader epoch 0), or an error and no partitions. */
function topic(
  name: string,
  options: { errorCode?: number; isInternal?: boolean; partitions?: number } = {},
): MetadataResponseTopic {
  const errorCode = options.errorCode ?? ErrorCode.NONE;
  const count = options.partitions ?? (errorCode === ErrorCode.NONE ? 2 : 0);
  return {
    errorCode,
    name,
    topicId: ZERO_UUID,
    isInternal: options.isInternal ?? false,
    partitions: Array.from({ length: count }, (_, partitionIndex) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex,
      leaderId: 1,
      leaderEpoch: 0,
      replicaNodes: [1, 2],
      isrNodes: [1, 2],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: -2147483648,
  };
}

function response(topics: MetadataResponseTopic[]): MetadataResponse {
  return {
    ...defaultMetadataResponse(),
    clusterId: 'cluster',
    controllerId: 1,
    brokers: [
      { nodeId: 1, host: 'broker-1', port: 9092, rack: null },
      { nodeId: 2, host: 'broker-2', port: 9092, rack: 'rack-b' },
    ],
    topics,
  };
}

/** Where a promise stands, read after the microtasks it settles in. */
function watch<Value>(promise: Promise<Value>) {
  const outcome: { value?: Value; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(outcome, { value, settled: true }),
    (error: unknown) => Object.assign(outcome, { error, settled: true }),
  );
  return outcome;
}

const settle = async () => {
  for (let turn = 0; turn < 5; turn++) await Promise.resolve();
};

/**
 * A manager with retry.backoff.ms 100, retry.backoff.max.ms 1000 and no jitter (random 0.5); `sendOne` expects exactly
 * one request from a poll, `sendNothing` none; `answer` and `fail` settle a request as the loop would.
 */
function driver(options: Partial<TopicMetadataManagerOptions> = {}) {
  const manager = new TopicMetadataManager({
    requestTimeoutMs: 30_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1_000,
    allowAutoTopicCreation: true,
    excludeInternalTopics: true,
    random: () => 0.5,
    ...options,
  });
  const sendOne = (now: number) => {
    const poll = manager.poll(now);
    expect(poll.requests).toHaveLength(1);
    return poll.requests[0] as MetadataUnsent;
  };
  const sendNothing = (now: number) => {
    const poll = manager.poll(now);
    expect(poll.requests).toEqual([]);
    return poll.nextPollAt;
  };
  const answer = (request: MetadataUnsent, now: number, topics: MetadataResponseTopic[]) =>
    request.onResponse(response(topics), { version: 12, nodeId: 1, now });
  const fail = (request: MetadataUnsent, now: number, error: Error) => request.onFailure(error, now);
  return { manager, sendOne, sendNothing, answer, fail };
}

function retriable(message: string): Error {
  return Object.assign(new Error(message), { retriable: true });
}

describe('TopicMetadataManager: a request', () => {
  it('asks the least loaded broker for the topics, once, and wants to be asked again at the deadline', () => {
    const { manager, sendNothing } = driver();
    expect(sendNothing(0)).toBe(Number.POSITIVE_INFINITY);
    void manager.request(['orders', 'payments'], DEADLINE);
    const poll = manager.poll(0);
    expect(poll.requests).toHaveLength(1);
    expect(poll.nextPollAt).toBe(DEADLINE);
    const request = poll.requests[0] as MetadataUnsent;
    expect(request.target).toBe('least-loaded');
    expect(request.api).toBe(metadataApi);
    expect(request.versions).toEqual({ floor: 1 });
    expect(request.timeoutMs).toBe(30_000);
    expect(request.build(12)).toMatchObject({
      topics: [
        { topicId: ZERO_UUID, name: 'orders' },
        { topicId: ZERO_UUID, name: 'payments' },
      ],
      allowAutoTopicCreation: true,
    });
    // In flight: nothing more is sent for it.
    expect(sendNothing(10)).toBe(Number.POSITIVE_INFINITY);
  });

  it('does not create topics when allow.auto.create.topics is false', () => {
    const { manager, sendOne } = driver({ allowAutoTopicCreation: false });
    void manager.request(['orders'], DEADLINE);
    expect(sendOne(0).build(12).allowAutoTopicCreation).toBe(false);
  });

  it('resolves with the topics asked for and the brokers of the answer', async () => {
    const { manager, sendOne, sendNothing, answer } = driver();
    const result = manager.request(['orders'], DEADLINE);
    answer(sendOne(0), 5, [topic('orders', { partitions: 3 })]);
    const { topics, brokers } = await result;
    expect([...topics.keys()]).toEqual(['orders']);
    const orders = topics.get('orders')!;
    expect(orders).toMatchObject({ name: 'orders', topicId: ZERO_UUID, isInternal: false, error: null });
    expect(orders.partitions.map((partition) => partition.partition)).toEqual([0, 1, 2]);
    expect(orders.partitions[0]).toMatchObject({ leaderId: 1, leaderEpoch: 0, replicas: [1, 2], isr: [1, 2] });
    expect([...brokers.keys()]).toEqual([1, 2]);
    expect(brokers.get(2)).toEqual({ nodeId: 2, host: 'broker-2', port: 9092, rack: 'rack-b' });
    // Done: nothing more to send, no time to be asked at.
    expect(sendNothing(6)).toBe(Number.POSITIVE_INFINITY);
  });

  it('leaves out a topic that does not exist (UNKNOWN_TOPIC_OR_PARTITION)', async () => {
    const { manager, sendOne, answer } = driver();
    const result = manager.request(['orders', 'missing'], DEADLINE);
    answer(sendOne(0), 5, [topic('orders'), topic('missing', { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })]);
    const { topics } = await result;
    expect([...topics.keys()]).toEqual(['orders']);
  });

  it('serves several calls with a request each', async () => {
    const { manager, answer } = driver();
    const orders = manager.request(['orders'], DEADLINE);
    const payments = manager.request(['payments'], DEADLINE);
    const { requests } = manager.poll(0);
    expect(requests).toHaveLength(2);
    answer(requests[1] as MetadataUnsent, 3, [topic('payments')]);
    answer(requests[0] as MetadataUnsent, 4, [topic('orders')]);
    expect([...(await orders).topics.keys()]).toEqual(['orders']);
    expect([...(await payments).topics.keys()]).toEqual(['payments']);
  });

  it('fails every pending call with failAll', async () => {
    const { manager, sendNothing } = driver();
    const first = manager.request(['orders'], DEADLINE);
    const second = manager.request(null, DEADLINE);
    const closing = new Error('consumer closed');
    manager.failAll(closing);
    await expect(first).rejects.toBe(closing);
    await expect(second).rejects.toBe(closing);
    expect(sendNothing(0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('TopicMetadataManager: errors and retries', () => {
  it('asks again after a retriable topic error, with KIP-580 backoff, sending nothing before', async () => {
    const { manager, sendOne, sendNothing, answer } = driver();
    const outcome = watch(manager.request(['orders'], DEADLINE));
    const waits: number[] = [];
    let now = 0;
    let request = sendOne(now);
    for (let attempt = 0; attempt < 6; attempt++) {
      answer(request, now, [topic('orders', { errorCode: ErrorCode.LEADER_NOT_AVAILABLE })]);
      const retryAt = sendNothing(now);
      expect(sendNothing(retryAt - 1)).toBe(retryAt);
      waits.push(retryAt - now);
      now = retryAt;
      request = sendOne(now);
    }
    // retry.backoff.ms doubling per failure, capped at retry.backoff.max.ms.
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    await settle();
    expect(outcome.settled).toBe(false);
    answer(request, now, [topic('orders')]);
    await settle();
    expect(outcome.settled).toBe(true);
    expect([...outcome.value!.topics.keys()]).toEqual(['orders']);
  });

  it('fails with the KafkaError of a topic error that is not retriable (TOPIC_AUTHORIZATION_FAILED)', async () => {
    const { manager, sendOne, sendNothing, answer } = driver();
    const result = manager.request(['orders', 'secret'], DEADLINE);
    answer(sendOne(0), 5, [topic('orders'), topic('secret', { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })]);
    const error = await result.catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(KafkaError);
    expect(error).toMatchObject({ code: ErrorCode.TOPIC_AUTHORIZATION_FAILED, retriable: false });
    expect(sendNothing(10_000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('fails with a TimeoutError carrying the last error once the deadline passes', async () => {
    const { manager, sendOne, sendNothing, answer } = driver();
    const deadline = 250;
    const result = manager.request(['orders'], deadline);
    answer(sendOne(0), 0, [topic('orders', { errorCode: ErrorCode.LEADER_NOT_AVAILABLE })]);
    expect(sendNothing(0)).toBe(100);
    answer(sendOne(100), 100, [topic('orders', { errorCode: ErrorCode.LEADER_NOT_AVAILABLE })]);
    // The next attempt (at 300) would come after the deadline: the manager asks to be polled at the deadline.
    expect(sendNothing(100)).toBe(deadline);
    expect(sendNothing(deadline - 1)).toBe(deadline);
    sendNothing(deadline);
    const error = await result.catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(TimeoutError);
    const timeout = error as TimeoutError;
    expect(timeout.retriable).toBe(true);
    expect(timeout.cause).toBeInstanceOf(KafkaError);
    expect(timeout.cause).toMatchObject({ code: ErrorCode.LEADER_NOT_AVAILABLE });
    expect(timeout.message).toContain('LEADER_NOT_AVAILABLE');
    expect(sendNothing(deadline + 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('fails with a TimeoutError when the deadline has passed before anything was sent', async () => {
    const { manager, sendNothing } = driver();
    const result = manager.request(['orders'], 100);
    sendNothing(100);
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
  });

  it('retries a request failure that is retriable, after the backoff', async () => {
    const { manager, sendOne, sendNothing, fail, answer } = driver();
    const result = manager.request(['orders'], DEADLINE);
    fail(sendOne(0), 10, retriable('connection lost'));
    expect(sendNothing(10)).toBe(110);
    answer(sendOne(110), 115, [topic('orders')]);
    expect([...(await result).topics.keys()]).toEqual(['orders']);
  });

  it('carries a retriable request failure into the TimeoutError of the deadline', async () => {
    const { manager, sendOne, sendNothing, fail } = driver();
    const result = manager.request(['orders'], 50);
    const lost = retriable('connection lost');
    fail(sendOne(0), 10, lost);
    expect(sendNothing(10)).toBe(50);
    sendNothing(50);
    const error = await result.catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).cause).toBe(lost);
  });

  it('fails with a request failure that is not retriable', async () => {
    const { manager, sendOne, sendNothing, fail } = driver();
    const result = manager.request(['orders'], DEADLINE);
    const unsupported = new Error('no version in common');
    fail(sendOne(0), 10, unsupported);
    await expect(result).rejects.toBe(unsupported);
    expect(sendNothing(10_000)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('TopicMetadataManager: listing every topic', () => {
  const everyTopic = [
    topic('orders'),
    topic('__consumer_offsets', { isInternal: true }),
    topic('__transaction_state', { isInternal: true }),
    topic('payments'),
  ];

  it('asks for every topic (null), never creating one', () => {
    const { manager, sendOne } = driver({ allowAutoTopicCreation: true });
    void manager.request(null, DEADLINE);
    expect(sendOne(0).build(12)).toMatchObject({ topics: null, allowAutoTopicCreation: false });
  });

  it('drops internal topics when exclude.internal.topics is true', async () => {
    const { manager, sendOne, answer } = driver({ excludeInternalTopics: true });
    const result = manager.request(null, DEADLINE);
    answer(sendOne(0), 5, everyTopic);
    expect([...(await result).topics.keys()]).toEqual(['orders', 'payments']);
  });

  it('lists internal topics when exclude.internal.topics is false', async () => {
    const { manager, sendOne, answer } = driver({ excludeInternalTopics: false });
    const result = manager.request(null, DEADLINE);
    answer(sendOne(0), 5, everyTopic);
    expect([...(await result).topics.keys()]).toEqual([
      'orders',
      '__consumer_offsets',
      '__transaction_state',
      'payments',
    ]);
  });

  it('describes an internal topic asked for by name', async () => {
    const { manager, sendOne, answer } = driver({ excludeInternalTopics: true });
    const result = manager.request(['__consumer_offsets'], DEADLINE);
    answer(sendOne(0), 5, [topic('__consumer_offsets', { isInternal: true })]);
    expect([...(await result).topics.keys()]).toEqual(['__consumer_offsets']);
  });
});
