/**
 * The client side of a consumer (Kafka's ConsumerNetworkThread with its request managers): the connection pool,
 * the cluster metadata, the SubscriptionState, the fetch buffer and every request manager, driven by one
 * ClientLoop. The application side talks to it only through `submit` (application events, see
 * application-events.ts) and reads the errors it collects; on this thread, an event is handled when it is
 * submitted.
 *
 * The loop asks the managers in this order, each run: membership, commits, offsets, fetch, topic metadata, then
 * the two that react to what the others asked for in the same run (metadata interest, the coordinator lookup),
 * then the application's waits, which see the state every other manager left.
 */
import { type DeserializableRecord, FetchBuffer, FetchManager } from '@sluice/fetch';
import { ClassicMembershipManager, ConsumerMembership, CoordinatorManager, type Membership } from '@sluice/group';
import {
  ClusterMetadata,
  type ConnectionOptions,
  ConnectionPool,
  ReusableFrameBuffers,
  type SaslOptions,
} from '@sluice/net';
import { CommitManager, OffsetsManager } from '@sluice/offsets';
import {
  ClientLoop,
  type ManagerPoll,
  MetadataInterest,
  PoolSender,
  type RequestManager,
  SubscriptionState,
  subscriptionInterest,
  TopicMetadataManager,
} from '@sluice/runtime';
import type { ApplicationEvent, ApplicationEventResults, EventOf } from './application-events.ts';
import type { ConsumerConfig } from './config.ts';
import { InvalidGroupIdError } from './errors.ts';
import { PendingErrors } from './pending-errors.ts';

export class ConsumerRuntime {
  readonly config: ConsumerConfig;
  readonly pool: ConnectionPool;
  readonly metadata: ClusterMetadata;
  readonly subscriptions: SubscriptionState;
  readonly buffer: FetchBuffer;
  /** The group membership: classic (JoinGroup / SyncGroup) or KIP-848's (ConsumerGroupHeartbeat), by group.protocol. */
  readonly membership: Membership | null;
  readonly commits: CommitManager | null;
  readonly #offsets: OffsetsManager;
  readonly #topicMetadata: TopicMetadataManager;
  readonly #waits: ApplicationWaits;
  readonly #loop: ClientLoop;
  /** Errors met in the background; a wait wakes when `met` grows. */
  readonly #errors = new PendingErrors();
  readonly #unsubscribe: Array<() => void> = [];
  #closed = false;

  constructor(config: ConsumerConfig) {
    this.config = config;
    const c = config;
    // Fetch responses land in reused buffers, handed back by the fetch buffer (its lease rule).
    const frames = c.fetchBufferReuse ? new ReusableFrameBuffers() : null;
    this.pool = new ConnectionPool({
      connection: connectionOptions(c),
      ...(frames === null ? {} : { frameBuffersFor: { fetch: frames } }),
      reconnectBackoffMs: c.reconnectBackoffMs,
      reconnectBackoffMaxMs: c.reconnectBackoffMaxMs,
      connectTimeoutMaxMs: c.socketConnectionSetupTimeoutMaxMs,
      connectionsMaxIdleMs: c.connectionsMaxIdleMs < 0 ? Number.POSITIVE_INFINITY : c.connectionsMaxIdleMs,
    });
    this.metadata = new ClusterMetadata({
      bootstrapServers: c.bootstrapServers,
      pool: this.pool,
      topics: [],
      metadataMaxAgeMs: c.metadataMaxAgeMs,
      retryBackoffMs: c.retryBackoffMs,
      retryBackoffMaxMs: c.retryBackoffMaxMs,
      allowAutoTopicCreation: c.allowAutoCreateTopics,
      defaultApiTimeoutMs: c.defaultApiTimeoutMs,
    });
    this.subscriptions = new SubscriptionState({
      defaultResetStrategy: c.autoOffsetReset,
      excludeInternalTopics: c.excludeInternalTopics,
    });
    const onError = (error: Error) => this.#errors.add(error);
    this.buffer = new FetchBuffer({ maxBytes: c.fetchBufferMaxBytes, frames, onError });
    const backoff = { retryBackoffMs: c.retryBackoffMs, retryBackoffMaxMs: c.retryBackoffMaxMs };
    let coordinator: CoordinatorManager | null = null;
    if (c.groupId !== null) {
      coordinator = new CoordinatorManager({
        groupId: c.groupId,
        metadata: this.metadata,
        requestTimeoutMs: c.requestTimeoutMs,
        ...backoff,
      });
      const membership: Membership =
        c.groupProtocol === 'consumer'
          ? new ConsumerMembership({
              groupId: c.groupId,
              groupInstanceId: c.groupInstanceId,
              coordinator,
              subscriptions: this.subscriptions,
              metadata: this.metadata,
              remoteAssignor: c.groupRemoteAssignor,
              rackId: c.clientRack,
              rebalanceTimeoutMs: c.maxPollIntervalMs,
              requestTimeoutMs: c.requestTimeoutMs,
              onError,
              ...backoff,
            })
          : new ClassicMembershipManager({
              groupId: c.groupId,
              groupInstanceId: c.groupInstanceId,
              coordinator,
              subscriptions: this.subscriptions,
              metadata: this.metadata,
              assignors: c.partitionAssignmentStrategy,
              rackId: c.clientRack,
              sessionTimeoutMs: c.sessionTimeoutMs,
              rebalanceTimeoutMs: c.maxPollIntervalMs,
              heartbeatIntervalMs: c.heartbeatIntervalMs,
              requestTimeoutMs: c.requestTimeoutMs,
              ...backoff,
            });
      this.membership = membership;
      this.commits = new CommitManager({
        groupId: c.groupId,
        coordinator,
        permission: () => membership.commitPermission(),
        subscriptions: this.subscriptions,
        autoCommit: { enabled: c.enableAutoCommit, intervalMs: c.autoCommitIntervalMs },
        requestTimeoutMs: c.requestTimeoutMs,
        ...backoff,
      });
    } else {
      this.membership = null;
      this.commits = null;
    }
    this.#offsets = new OffsetsManager({
      subscriptions: this.subscriptions,
      metadata: this.metadata,
      commits: this.commits,
      isolationLevel: c.isolationLevel,
      requestTimeoutMs: c.requestTimeoutMs,
      onError,
      ...backoff,
    });
    const fetch = new FetchManager({
      subscriptions: this.subscriptions,
      buffer: this.buffer,
      metadata: this.metadata,
      fetchMinBytes: c.fetchMinBytes,
      fetchMaxBytes: c.fetchMaxBytes,
      maxPartitionFetchBytes: c.maxPartitionFetchBytes,
      fetchMaxWaitMs: c.fetchMaxWaitMs,
      isolationLevel: c.isolationLevel,
      checkCrcs: c.checkCrcs,
      clientRack: c.clientRack,
      metadataMaxAgeMs: c.metadataMaxAgeMs,
      requestTimeoutMs: c.requestTimeoutMs,
      retryBackoffMs: c.retryBackoffMs,
      onArrival: () => this.#loop.wake(),
      onError,
    });
    this.#topicMetadata = new TopicMetadataManager({
      requestTimeoutMs: c.requestTimeoutMs,
      allowAutoTopicCreation: c.allowAutoCreateTopics,
      excludeInternalTopics: c.excludeInternalTopics,
      ...backoff,
    });
    const interest = new MetadataInterest({
      metadata: this.metadata,
      sources: [subscriptionInterest(this.subscriptions), this.#offsets, ...(this.membership ? [this.membership] : [])],
    });
    this.#waits = new ApplicationWaits(() => ({
      arrivals: this.buffer.arrivals,
      changes: this.subscriptions.changes,
      errors: this.#errors.met,
      step: this.membership?.stepPending ?? false,
    }));
    const managers: RequestManager[] = [
      ...(this.membership ? [this.membership] : []),
      ...(this.commits ? [this.commits] : []),
      this.#offsets,
      fetch,
      this.#topicMetadata,
      interest,
      ...(coordinator ? [coordinator] : []),
      this.#waits,
    ];
    this.#loop = new ClientLoop({
      managers,
      sender: new PoolSender({ pool: this.pool, metadata: this.metadata }),
      onError,
    });
    this.#unsubscribe.push(
      this.metadata.onUpdate(() => this.#loop.wake()),
      // A refused login or an untrusted certificate reaches the application at once.
      this.metadata.onError((error) => {
        onError(error);
        this.#loop.wake();
      }),
    );
    this.#loop.wake();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Errors met since the last call (one of each), oldest first. */
  takeErrors(): Error[] {
    return this.#errors.take();
  }

  /** Handles an application event (at once, on this thread) and wakes the loop. */
  submit<Type extends ApplicationEvent['type']>(event: EventOf<Type>): ApplicationEventResults[Type] {
    const result = this.#handle(event as ApplicationEvent);
    this.#loop.wake();
    return result as ApplicationEventResults[Type];
  }

  /** Stops the loop and closes every connection; what is still pending fails with `error`. */
  close(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.commits?.failAll(error);
    this.#offsets.failAll(error);
    this.#topicMetadata.failAll(error);
    this.#waits.releaseAll();
    this.#loop.close();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.buffer.clear();
    this.metadata.close();
    this.pool.close();
  }

  #handle(event: ApplicationEvent): unknown {
    const now = Date.now();
    const subscriptions = this.subscriptions;
    switch (event.type) {
      case 'subscribe': {
        this.#requireGroup('subscribe');
        if (subscriptions.subscribe(event.topics)) {
          this.membership!.subscriptionChanged(now);
          this.buffer.retain(subscriptions);
        }
        return;
      }
      case 'subscribe-pattern':
        this.#requireGroup('subscribe');
        subscriptions.subscribePattern(event.pattern);
        this.membership!.subscriptionChanged(now);
        return;
      case 'subscribe-regex':
        this.#requireGroup('subscribe');
        if (subscriptions.subscribeRegex(event.regex)) this.membership!.subscriptionChanged(now);
        return;
      case 'assign':
        subscriptions.assignFromUser(event.partitions);
        this.buffer.retain(subscriptions);
        return;
      case 'unsubscribe':
        subscriptions.unsubscribe();
        this.buffer.clear();
        this.membership?.resetAfterLeave();
        return;
      case 'poll':
        this.membership?.onPoll(now);
        return;
      case 'collect':
        return this.buffer.collect(subscriptions, event.maxRecords) satisfies DeserializableRecord[];
      case 'seek':
        subscriptions.seek(event.partition, event.offset, event.leaderEpoch);
        return;
      case 'reset-offsets':
        subscriptions.requestReset(event.partitions, { kind: 'requested' }, { strategy: event.to });
        return;
      case 'pause':
        subscriptions.pause(event.partitions);
        return;
      case 'resume':
        subscriptions.resume(event.partitions);
        return;
      case 'commit':
        return this.#requireCommits().commit(event.offsets, { deadline: event.deadline, sync: event.sync });
      case 'fetch-committed':
        return this.#requireCommits().committed(event.partitions, event.deadline);
      case 'list-offsets':
        return this.#offsets.listOffsets(event.queries, event.deadline);
      case 'topic-metadata':
        return this.#topicMetadata.request(event.topics, event.deadline);
      case 'take-step':
        return this.membership?.takeStep(now) ?? null;
      case 'complete-step':
        this.membership?.completeStep(event.step, now);
        if (event.step.kind === 'assign') this.commits?.resetAutoCommitTimer(now);
        return;
      case 'begin-leave':
        return this.#requireMembership().beginLeave();
      case 'leave': {
        const membership = this.#requireMembership();
        membership.leave(event.reason, { ending: event.ending });
        return this.#waits.until(() => membership.left, Number.POSITIVE_INFINITY).then(() => {});
      }
      case 'enforce-rebalance':
        this.#requireMembership().enforceRebalance(event.reason);
        return;
      case 'wait': {
        const membership = event.inPoll ? this.membership : null;
        if (membership === null) return this.#waits.wait(event.deadline);
        const token = membership.beginPollWait(now);
        return this.#waits.wait(event.deadline).then(() => membership.endPollWait(Date.now(), token));
      }
      case 'poll-end':
        this.membership?.endPollWait(now);
        return;
      case 'deadline':
        return this.#waits.until(() => false, event.deadline).then(() => {});
      case 'commits-settled': {
        const commits = this.commits;
        return this.#waits.until(() => commits === null || commits.pending === 0, event.deadline);
      }
    }
  }

  #requireGroup(action: string): void {
    if (this.membership === null) {
      throw new InvalidGroupIdError(`${action} needs a group.id (use assign to read partitions without a group)`);
    }
  }

  #requireMembership(): Membership {
    if (this.membership === null) throw new InvalidGroupIdError('this needs a group.id');
    return this.membership;
  }

  #requireCommits(): CommitManager {
    if (this.commits === null) throw new InvalidGroupIdError('committed offsets need a group.id');
    return this.commits;
  }
}

interface Activity {
  readonly arrivals: number;
  readonly changes: number;
  readonly errors: number;
  readonly step: boolean;
}

interface Wait {
  readonly predicate: () => boolean;
  readonly deadline: number;
  readonly resolve: (met: boolean) => void;
}

/**
 * The application's waits (a poll waiting for records, `position` waiting for a position, `close` waiting for
 * LeaveGroup), as a manager of the loop: it runs after all the others, so it sees what they changed, and its
 * deadlines are the loop's timer, the only one.
 */
class ApplicationWaits implements RequestManager {
  readonly #activity: () => Activity;
  #waits: Wait[] = [];

  constructor(activity: () => Activity) {
    this.#activity = activity;
  }

  /**
   * Resolves when, since the call, records arrived, partition state changed, an error was met or a rebalance step
   * came to wait for the application; or at the deadline.
   */
  wait(deadline: number): Promise<void> {
    const before = this.#activity();
    return this.until(() => {
      const now = this.#activity();
      return (
        now.arrivals !== before.arrivals ||
        now.changes !== before.changes ||
        now.errors !== before.errors ||
        (now.step && !before.step)
      );
    }, deadline).then(() => {});
  }

  /** Resolves with true once `predicate` holds, or with false at the deadline. */
  until(predicate: () => boolean, deadline: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => this.#waits.push({ predicate, deadline, resolve }));
  }

  /** Resolves every wait (the consumer is closing). */
  releaseAll(): void {
    for (const wait of this.#waits.splice(0)) wait.resolve(false);
  }

  poll(now: number): ManagerPoll {
    let next = Number.POSITIVE_INFINITY;
    if (this.#waits.length === 0) return { requests: [], nextPollAt: next };
    const waiting: Wait[] = [];
    for (const wait of this.#waits) {
      if (wait.predicate()) wait.resolve(true);
      else if (now >= wait.deadline) wait.resolve(false);
      else {
        waiting.push(wait);
        next = Math.min(next, wait.deadline);
      }
    }
    this.#waits = waiting;
    return { requests: [], nextPollAt: next };
  }
}

function connectionOptions(c: ConsumerConfig): Omit<ConnectionOptions, 'host' | 'port'> {
  const tls = c.securityProtocol === 'SSL' || c.securityProtocol === 'SASL_SSL';
  const sasl = c.securityProtocol === 'SASL_PLAINTEXT' || c.securityProtocol === 'SASL_SSL';
  const saslOptions: SaslOptions | null = sasl
    ? { mechanism: c.saslMechanism, username: c.saslUsername!, password: c.saslPassword! }
    : null;
  return {
    clientId: c.clientId === '' ? null : c.clientId,
    requestTimeoutMs: c.requestTimeoutMs,
    connectTimeoutMs: c.socketConnectionSetupTimeoutMs,
    receiveBufferBytes: c.receiveBufferBytes,
    sendBufferBytes: c.sendBufferBytes,
    tls: tls
      ? {
          ...(c.sslCa ? { ca: c.sslCa } : {}),
          ...(c.sslCertificate ? { cert: c.sslCertificate } : {}),
          ...(c.sslKey ? { key: c.sslKey.reveal() } : {}),
          ...(c.sslEndpointIdentificationAlgorithm === '' ? { checkServerIdentity: () => undefined } : {}),
        }
      : null,
    sasl: saslOptions,
  };
}
