/**
 * Truncation detection (KIP-320), the validating half of Kafka's OffsetsRequestManager: positions whose log may have
 * been truncated under them are checked against the leader's log before they are fetched from, with
 * OffsetForLeaderEpoch (or with the diverging epoch a Fetch answer already carried).
 *
 * - When a position needs checking: the metadata names a newer leader epoch than the one the position was checked
 *   under (a leader change, Java's maybeValidatePositionForCurrentLeader); a position with a leader epoch was set
 *   but never checked (a committed offset, a seek with an epoch: Java's seekUnvalidated); a Fetch answered with a
 *   diverging epoch (the fetch manager hands the answer over through the SubscriptionState). A position without an
 *   epoch (nothing read yet) is only bound to the current leader epoch. The loop polls this (inside the offsets
 *   manager) before the fetch manager, so a position is marked before a Fetch could name it; and a Fetch that names
 *   a position carries its epoch (`lastFetchedEpoch`), which makes the broker check the same thing.
 * - OffsetForLeaderEpoch v3+ (the consumer's form) to each partition's leader, with the position's epoch and the
 *   leader epoch the metadata knows. A broker without v3 (Kafka before 2.3), a partition answered with
 *   UNSUPPORTED_VERSION, or a leader epoch the metadata does not give: validation is skipped, as Java's consumer
 *   skips it. Errors that fresh metadata or time fix (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
 *   UNKNOWN_LEADER_EPOCH, a lost connection ...) ask for a metadata update and ask again after a KIP-580 backoff;
 *   TOPIC_AUTHORIZATION_FAILED and other final failures go to the application and are asked again after it. A
 *   newer leader epoch seen while a request is in flight restarts the validation (the answer is dropped).
 * - Outcomes (SubscriptionState.completeValidation): the position is valid; or truncated, and then with a reset
 *   strategy it moves back to the first offset known to diverge, or, where the leader knows no end for its epoch,
 *   waits for a reset to `auto.offset.reset`, each with a LogTruncationWarning (a process warning by default); with
 *   `auto.offset.reset=none` the partition stays stopped with its `truncation`, neither fetched nor asked about
 *   again, until a seek. The application side throws LogTruncationError from that state at every poll, as it throws
 *   NoOffsetForPartitionError, so nothing is reported from here (a report handed over just before a seek would be
 *   thrown after it).
 */
import {
  backoffMs,
  type ClusterMetadata,
  type ClusterSnapshot,
  ErrorCode,
  findPartition,
  KafkaError,
  NetworkError,
  RequestTimeoutError,
  UnsupportedVersionError,
} from '@sluice/net';
import {
  defaultOffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
  type OffsetForLeaderTopic,
  offsetForLeaderEpochApi,
} from '@sluice/protocol';
import {
  describePartition,
  type FetchPosition,
  type LogTruncation,
  type ManagerPoll,
  type PartitionView,
  type RequestManager,
  type SubscriptionState,
  type TopicPartition,
  TopicPartitionMap,
  type UnsentRequest,
  unsent,
  type ValidationResult,
} from '@sluice/runtime';
import { LogTruncationWarning } from './errors.ts';

/** OffsetForLeaderEpoch v3 is the first a consumer may use (it names the replica and checks topic permission). */
const CONSUMER_MIN_VERSION = 3;

export interface PositionValidatorOptions {
  readonly subscriptions: SubscriptionState;
  readonly metadata: Pick<ClusterMetadata, 'snapshot' | 'requestUpdate' | 'reportError'>;
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  /** An error the application must hear of (thrown from its next poll). */
  readonly onError: (error: Error) => void;
  /** A truncation repaired by `auto.offset.reset`. Default: `process.emitWarning`. */
  readonly onWarning?: (warning: LogTruncationWarning) => void;
  readonly random?: () => number;
}

/** One partition asked about: the position checked, at its version, under that leader epoch. */
interface Asked {
  readonly tp: TopicPartition;
  readonly version: number;
  readonly position: FetchPosition;
  readonly currentLeaderEpoch: number;
}

export class PositionValidator implements RequestManager {
  readonly #options: PositionValidatorOptions;
  readonly #subscriptions: SubscriptionState;
  readonly #random: () => number;
  /** Partitions with an OffsetForLeaderEpoch in flight, with what was asked. */
  readonly #inFlight = new TopicPartitionMap<Asked>();
  #failures = 0;
  #checkedSnapshot: ClusterSnapshot | null = null;
  #checkedChanges = -1;

  constructor(options: PositionValidatorOptions) {
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.#random = options.random ?? Math.random;
  }

  poll(now: number): ManagerPoll {
    const subscriptions = this.#subscriptions;
    const snapshot = this.#options.metadata.snapshot;
    if (snapshot !== null && (snapshot !== this.#checkedSnapshot || subscriptions.changes !== this.#checkedChanges)) {
      this.#checkLeaders(snapshot);
      this.#checkedSnapshot = snapshot;
      this.#checkedChanges = subscriptions.changes;
    }
    let next = Number.POSITIVE_INFINITY;
    let stale = false;
    const answered: Array<{ state: PartitionView; epochEnd: PartitionView['divergingEpoch']; epoch: number }> = [];
    const toAsk = new Map<number, Asked[]>();
    for (const state of subscriptions.partitions()) {
      if (state.fetchState !== 'awaiting-validation' || state.position === null) continue;
      // Stopped by a truncation under auto.offset.reset=none: the application throws it until it seeks.
      if (state.truncation !== null) continue;
      if (state.divergingEpoch !== null) {
        // A Fetch answer already said where the position's epoch ends: the same answer OffsetForLeaderEpoch gives.
        answered.push({ state, epochEnd: state.divergingEpoch, epoch: state.currentLeaderEpoch });
        continue;
      }
      if (this.#inFlight.get(state.tp)?.version === state.version) continue;
      if (now < state.retryAt) {
        next = Math.min(next, state.retryAt);
        continue;
      }
      const info = snapshot === null ? undefined : findPartition(snapshot, state.tp.topic, state.tp.partition);
      if (info === undefined || info.leaderId < 0) {
        stale = true;
        const until = now + this.#options.retryBackoffMs;
        subscriptions.backOff([state.tp], until);
        next = Math.min(next, until);
        continue;
      }
      if (info.leaderEpoch < 0 || state.position.leaderEpoch < 0) {
        // Nothing to compare (a broker without leader epochs, a position without one): taken as it is, as in Java.
        answered.push({ state, epochEnd: null, epoch: info.leaderEpoch });
        continue;
      }
      const asked: Asked = {
        tp: state.tp,
        version: state.version,
        position: state.position,
        currentLeaderEpoch: info.leaderEpoch,
      };
      const list = toAsk.get(info.leaderId);
      if (list === undefined) toAsk.set(info.leaderId, [asked]);
      else list.push(asked);
    }
    if (stale) this.#options.metadata.requestUpdate();
    if (answered.length > 0) {
      this.#report(
        answered.map(({ state, epochEnd, epoch }) =>
          this.#subscriptions.completeValidation(state.tp, state.version, epochEnd, epoch),
        ),
      );
    }
    const requests: UnsentRequest[] = [];
    for (const [leader, list] of toAsk) {
      for (const asked of list) this.#inFlight.set(asked.tp, asked);
      requests.push(this.#request(leader, list));
    }
    return { requests, nextPollAt: next };
  }

  /**
   * Compares every position with the leader epoch of the metadata (on a new snapshot or a change of positions):
   * a position with an epoch that was never checked, or checked under an older leader epoch, awaits validation; a
   * position without an epoch is bound to the current one. A newer epoch while a validation is in flight restarts it.
   */
  #checkLeaders(snapshot: ClusterSnapshot): void {
    const subscriptions = this.#subscriptions;
    for (const state of subscriptions.partitions()) {
      if (state.position === null) continue;
      if (state.fetchState !== 'fetching' && state.fetchState !== 'awaiting-validation') continue;
      const info = findPartition(snapshot, state.tp.topic, state.tp.partition);
      const epoch = info === undefined || info.leaderId < 0 ? -1 : info.leaderEpoch;
      if (epoch < 0) continue;
      if (state.fetchState === 'fetching') {
        if (state.position.leaderEpoch < 0) {
          subscriptions.bindLeaderEpoch(state.tp, epoch);
        } else if (state.currentLeaderEpoch < 0 || epoch > state.currentLeaderEpoch) {
          subscriptions.requestValidation(state.tp, state.version, { currentLeaderEpoch: epoch });
        }
        continue;
      }
      const asked = this.#inFlight.get(state.tp);
      if (asked !== undefined && asked.version === state.version && epoch > asked.currentLeaderEpoch) {
        // The leader asked is not the leader any more: its answer no longer settles anything.
        subscriptions.requestValidation(state.tp, state.version, { currentLeaderEpoch: epoch });
      }
    }
  }

  #request(leader: number, list: readonly Asked[]): UnsentRequest {
    const options = this.#options;
    const topics = new Map<string, OffsetForLeaderTopic>();
    for (const asked of list) {
      let topic = topics.get(asked.tp.topic);
      if (topic === undefined) {
        topic = { topic: asked.tp.topic, partitions: [] };
        topics.set(asked.tp.topic, topic);
      }
      topic.partitions.push({
        partition: asked.tp.partition,
        currentLeaderEpoch: asked.currentLeaderEpoch,
        leaderEpoch: asked.position.leaderEpoch,
      });
    }
    return unsent({
      target: { nodeId: leader },
      api: offsetForLeaderEpochApi,
      versions: { floor: CONSUMER_MIN_VERSION },
      timeoutMs: options.requestTimeoutMs,
      build: () => ({ ...defaultOffsetForLeaderEpochRequest(), replicaId: -1, topics: [...topics.values()] }),
      onResponse: (response, { now }) => this.#answered(list, response, now),
      onFailure: (error, now) => {
        this.#done(list);
        if (error instanceof UnsupportedVersionError) {
          // A broker older than Kafka 2.3: no validation, as Java's consumer (hasUsableOffsetForLeaderEpochVersion).
          this.#report(list.map((asked) => this.#unchecked(asked)));
          return;
        }
        if (error instanceof NetworkError || error instanceof RequestTimeoutError) {
          options.metadata.reportError(error, { nodeId: leader });
        } else if ((error as { retriable?: boolean }).retriable === false) {
          options.onError(error);
        } else {
          options.metadata.requestUpdate();
        }
        this.#retry(list, now);
      },
    });
  }

  #answered(list: readonly Asked[], response: OffsetForLeaderEpochResponse, now: number): void {
    this.#done(list);
    const byPartition = new TopicPartitionMap<Asked>(list.map((asked) => [asked.tp, asked]));
    const results: ValidationResult[] = [];
    const retry: Asked[] = [];
    const answered = new TopicPartitionMap<true>();
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        const tp = { topic: topic.topic, partition: partition.partition };
        const asked = byPartition.get(tp);
        if (asked === undefined || answered.has(tp)) continue;
        answered.set(tp, true);
        const code = partition.errorCode;
        if (code === ErrorCode.NONE) {
          results.push(
            this.#subscriptions.completeValidation(
              asked.tp,
              asked.version,
              { leaderEpoch: partition.leaderEpoch, endOffset: partition.endOffset },
              asked.currentLeaderEpoch,
            ),
          );
        } else if (code === ErrorCode.UNSUPPORTED_VERSION) {
          results.push(this.#unchecked(asked));
        } else {
          if (code === ErrorCode.TOPIC_AUTHORIZATION_FAILED) {
            this.#options.onError(
              new KafkaError(code, { context: `OffsetForLeaderEpoch for ${describePartition(asked.tp)}` }),
            );
          }
          // NOT_LEADER_OR_FOLLOWER, FENCED / UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION ...: fresher metadata.
          retry.push(asked);
        }
      }
    }
    for (const asked of list) if (!answered.has(asked.tp)) retry.push(asked);
    if (retry.length === 0) this.#failures = 0;
    else {
      this.#options.metadata.requestUpdate();
      this.#retry(retry, now);
    }
    this.#report(results);
  }

  /** The position is taken without a check (the leader cannot be asked). */
  #unchecked(asked: Asked): ValidationResult {
    return this.#subscriptions.completeValidation(asked.tp, asked.version, null, asked.currentLeaderEpoch);
  }

  #done(list: readonly Asked[]): void {
    for (const asked of list) {
      if (this.#inFlight.get(asked.tp) === asked) this.#inFlight.delete(asked.tp);
    }
  }

  #retry(list: readonly Asked[], now: number): void {
    const until =
      now +
      backoffMs(this.#failures++, {
        initialMs: this.#options.retryBackoffMs,
        maxMs: this.#options.retryBackoffMaxMs,
        random: this.#random,
      });
    // Only partitions still at the version asked: a newer question is asked at once.
    const still = list.filter((asked) => this.#subscriptions.partition(asked.tp)?.version === asked.version);
    this.#subscriptions.backOff(
      still.map((asked) => asked.tp),
      until,
    );
  }

  /** Tells of the truncations repaired: a warning for each kind (those stopped stay in the partitions' state). */
  #report(results: readonly ValidationResult[]): void {
    const moved: LogTruncation[] = [];
    const reset: LogTruncation[] = [];
    for (const result of results) {
      if (result.kind === 'moved') moved.push(result.truncation);
      else if (result.kind === 'reset') reset.push(result.truncation);
    }
    const strategy = this.#subscriptions.defaultResetStrategy;
    if (moved.length > 0) this.#warn(new LogTruncationWarning(moved, 'moved', strategy));
    if (reset.length > 0) this.#warn(new LogTruncationWarning(reset, 'reset', strategy));
  }

  #warn(warning: LogTruncationWarning): void {
    if (this.#options.onWarning !== undefined) this.#options.onWarning(warning);
    else process.emitWarning(warning);
  }
}
