/**
 * One broker's KIP-227 fetch session, the client's half (Kafka's FetchSessionHandler), as a pure state machine:
 * what the broker believes the session holds, and which partitions the next Fetch must name.
 *
 * Invariants:
 * - A new session starts with a full fetch (epoch 0, every partition named); the broker answers with a session id,
 *   and later fetches are incremental (epoch 1, 2, ... wrapping to 1 after 2^31-1): they name only the partitions
 *   that were added or whose fetch parameters changed, and list the partitions to forget.
 * - The epoch moves on only when an answer was handled; a Fetch that failed (a lost connection, a timeout) or an
 *   error answer makes the next Fetch a full one: a new session under the same id (epoch 0, which closes the old
 *   one on the broker) after INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR or a failure, and a new
 *   session without an id after FETCH_SESSION_ID_NOT_FOUND.
 * - Below Fetch v7 there are no sessions: every Fetch is full and sessionless (id 0, epoch -1). A broker that
 *   answers a full fetch with session id 0 does not keep a session (its cache is full, or it has sessions off):
 *   the next Fetch is full again.
 * - Topics are named by id from Fetch v13 on and by name below it; a change between the two, or a partition whose
 *   topic id changed (the topic was deleted and created again), is forgotten under the old id and added under the
 *   new one.
 */
import type { Uuid } from '@sluice/protocol';
import { type TopicPartition, TopicPartitionMap } from '@sluice/runtime';

/** A partition as a Fetch names it. */
export interface SessionPartition {
  readonly tp: TopicPartition;
  readonly topicId: Uuid;
  readonly fetchOffset: bigint;
  readonly currentLeaderEpoch: number;
  readonly lastFetchedEpoch: number;
  readonly maxBytes: number;
}

/** What one Fetch carries, from `FetchSession.build`. */
export interface SessionRequest {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  /** Whether the Fetch names every partition (a new session, or none). */
  readonly full: boolean;
  /** Partitions named in the Fetch, in order. */
  readonly toSend: readonly SessionPartition[];
  /** Partitions the broker drops from the session (incremental fetches only). */
  readonly toForget: readonly Pick<SessionPartition, 'tp' | 'topicId'>[];
  /** Every partition the session holds once the Fetch is answered: what its answer may speak of. */
  readonly partitions: TopicPartitionMap<SessionPartition>;
  /** The Fetch version the request was built for. */
  readonly version: number;
}

/** Epoch 0 starts a session; -1 asks for none (and ends one). */
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;
export const INVALID_SESSION_ID = 0;

/** The three session errors of KIP-227 and KIP-516. */
const FETCH_SESSION_ID_NOT_FOUND = 70;
const INVALID_FETCH_SESSION_EPOCH = 71;
const FETCH_SESSION_TOPIC_ID_ERROR = 106;

export function isSessionError(code: number): boolean {
  return (
    code === FETCH_SESSION_ID_NOT_FOUND || code === INVALID_FETCH_SESSION_EPOCH || code === FETCH_SESSION_TOPIC_ID_ERROR
  );
}

export class FetchSession {
  /** The session id the broker gave, or 0. */
  #sessionId = INVALID_SESSION_ID;
  /** The epoch of the next Fetch. */
  #epoch = INITIAL_EPOCH;
  /** What the broker's session holds (after the last answered Fetch), in the order it was told. */
  #partitions = new TopicPartitionMap<SessionPartition>();
  /** Whether the session's partitions were named by topic id (Fetch v13+). */
  #usesTopicIds = false;
  /** Full fetches and incremental ones sent, for tests and metrics. */
  fullFetches = 0;
  incrementalFetches = 0;

  get sessionId(): number {
    return this.#sessionId;
  }

  /** The epoch the next Fetch carries. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Partitions in the broker's session as far as this side knows. */
  get size(): number {
    return this.#partitions.size;
  }

  /**
   * The next Fetch for the partitions in `next` (the order is the order they are named in a full fetch). Call
   * `handleResponse` or `handleFailure` with its result before building another.
   */
  build(next: readonly SessionPartition[], version: number): SessionRequest {
    const usesTopicIds = version >= 13;
    const all = new TopicPartitionMap<SessionPartition>();
    for (const partition of next) all.set(partition.tp, partition);
    if (version < 7) {
      return {
        sessionId: INVALID_SESSION_ID,
        sessionEpoch: FINAL_EPOCH,
        full: true,
        toSend: next,
        toForget: [],
        partitions: all,
        version,
      };
    }
    if (this.#epoch === INITIAL_EPOCH || usesTopicIds !== this.#usesTopicIds) {
      return {
        sessionId: this.#sessionId,
        sessionEpoch: INITIAL_EPOCH,
        full: true,
        toSend: next,
        toForget: [],
        partitions: all,
        version,
      };
    }
    const toSend: SessionPartition[] = [];
    const toForget: Array<Pick<SessionPartition, 'tp' | 'topicId'>> = [];
    for (const [tp, previous] of this.#partitions) {
      const wanted = all.get(tp);
      if (wanted === undefined || (usesTopicIds && wanted.topicId !== previous.topicId)) {
        toForget.push({ tp: previous.tp, topicId: previous.topicId });
      }
    }
    for (const partition of next) {
      const previous = this.#partitions.get(partition.tp);
      if (previous === undefined || !samePartition(previous, partition, usesTopicIds)) toSend.push(partition);
    }
    return {
      sessionId: this.#sessionId,
      sessionEpoch: this.#epoch,
      full: false,
      toSend,
      toForget,
      partitions: all,
      version,
    };
  }

  /**
   * The broker answered `request` (top-level `errorCode` and `sessionId`). Returns false when the answer cannot be
   * used (a session error): the next Fetch is full, and the caller fetches again without waiting.
   */
  handleResponse(
    request: SessionRequest,
    response: { readonly errorCode: number; readonly sessionId: number },
  ): boolean {
    if (response.errorCode !== 0) {
      if (response.errorCode === FETCH_SESSION_ID_NOT_FOUND) this.#startOver();
      else this.#closeExisting();
      return !isSessionError(response.errorCode);
    }
    if (request.version < 7) {
      this.#partitions = new TopicPartitionMap();
      return true;
    }
    this.#partitions = request.partitions;
    this.#usesTopicIds = request.version >= 13;
    if (request.full) {
      this.fullFetches++;
      if (response.sessionId === INVALID_SESSION_ID) {
        // The broker keeps no session for us: every Fetch stays full.
        this.#startOver();
      } else {
        this.#sessionId = response.sessionId;
        this.#epoch = 1;
      }
    } else {
      this.incrementalFetches++;
      if (response.sessionId === INVALID_SESSION_ID) {
        // The broker closed the session.
        this.#startOver();
      } else {
        this.#epoch = nextEpoch(this.#epoch);
      }
    }
    return true;
  }

  /** The Fetch got no answer (a lost connection, a timeout, a request that could not be built). */
  handleFailure(): void {
    this.#closeExisting();
  }

  /** A new session without an id. */
  #startOver(): void {
    this.#sessionId = INVALID_SESSION_ID;
    this.#epoch = INITIAL_EPOCH;
    this.#partitions = new TopicPartitionMap();
  }

  /** A new session under the same id: epoch 0 closes the broker's old one. */
  #closeExisting(): void {
    this.#epoch = INITIAL_EPOCH;
    this.#partitions = new TopicPartitionMap();
  }
}

/** The epoch after `epoch` in a session: 1, 2, ... 2^31-1, then 1 again (0 and -1 are never reused). */
export function nextEpoch(epoch: number): number {
  return epoch >= 0x7fffffff ? 1 : epoch + 1;
}

function samePartition(a: SessionPartition, b: SessionPartition, usesTopicIds: boolean): boolean {
  return (
    a.fetchOffset === b.fetchOffset &&
    a.currentLeaderEpoch === b.currentLeaderEpoch &&
    a.lastFetchedEpoch === b.lastFetchedEpoch &&
    a.maxBytes === b.maxBytes &&
    (!usesTopicIds || a.topicId === b.topicId)
  );
}
