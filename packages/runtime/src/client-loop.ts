/**
 * The client loop: the one place that performs I/O and keeps a timer (Kafka's ConsumerNetworkThread.runOnce).
 *
 * A run asks every manager, in order, what to send (`poll(now)`), sends it through the sender, and sleeps until the
 * earliest time a manager asked to be asked again, or until something happens: an answer arrives, the application
 * submits an event, the cluster metadata changes. Runs are coalesced: however many things wake the loop in one
 * turn of the event loop, it runs once, in a microtask.
 *
 * Answers are handed to the request that asked; a promise a handler returns (decompression) is waited for before
 * the next run, so the managers always see the outcome. After `close()` nothing is sent and late answers are
 * dropped.
 */
import { type ClusterMetadata, type ConnectionPool, leastLoaded, NetworkError } from '@sluice/net';
import type { ApiDescriptor } from '@sluice/protocol';
import type { RequestManager, UnsentRequest } from './request-manager.ts';

/** Sends one request: the loop's only way out to the brokers. */
export interface RequestSender {
  send(request: UnsentRequest): Promise<{ response: unknown; version: number; nodeId: number }>;
}

export interface ClientLoopOptions {
  readonly managers: readonly RequestManager[];
  readonly sender: RequestSender;
  /** A manager threw, or a response handler failed: a bug, which the application must hear of. */
  readonly onError: (error: Error) => void;
  readonly now?: () => number;
}

export class ClientLoop {
  readonly #managers: readonly RequestManager[];
  readonly #sender: RequestSender;
  readonly #onError: (error: Error) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;
  #scheduled = false;
  #closed = false;
  #inFlight = 0;

  constructor(options: ClientLoopOptions) {
    this.#managers = options.managers;
    this.#sender = options.sender;
    this.#onError = options.onError;
    this.#now = options.now ?? Date.now;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Requests sent and not yet answered (or failed). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Runs soon (once, however many callers woke it in this turn). */
  wake(): void {
    if (this.#closed || this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  /** Stops: no more runs, nothing more sent; answers still to come are dropped. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #run(): void {
    if (this.#closed) return;
    const now = this.#now();
    let next = Number.POSITIVE_INFINITY;
    for (const manager of this.#managers) {
      // A manager or an error handler may close the loop in the middle of a run.
      if (this.#closed) return;
      let poll: ReturnType<RequestManager['poll']>;
      try {
        poll = manager.poll(now);
      } catch (error) {
        this.#onError(error as Error);
        continue;
      }
      for (const request of poll.requests) this.#send(request);
      if (poll.nextPollAt < next) next = poll.nextPollAt;
    }
    this.#arm(next, now);
  }

  #arm(at: number, now: number): void {
    if (this.#closed) return;
    if (!Number.isFinite(at)) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.#timer && this.#timerAt === at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    // At least 1 ms: a manager whose deadline has passed but that sent nothing must not spin the loop.
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#run();
      },
      Math.max(1, at - now),
    );
    // The connections keep the process alive while they are open; the loop's timer alone must not.
    this.#timer.unref();
  }

  #send(request: UnsentRequest): void {
    this.#inFlight++;
    this.#sender.send(request).then(
      ({ response, version, nodeId }) => {
        this.#inFlight--;
        if (this.#closed) return;
        let handled: void | Promise<void>;
        try {
          handled = request.onResponse(response, { version, nodeId, now: this.#now() });
        } catch (error) {
          this.#onError(error as Error);
          this.wake();
          return;
        }
        if (handled instanceof Promise) {
          handled.then(
            () => this.wake(),
            (error: unknown) => {
              this.#onError(error as Error);
              this.wake();
            },
          );
        } else {
          this.wake();
        }
      },
      (error: unknown) => {
        this.#inFlight--;
        if (this.#closed) return;
        try {
          request.onFailure(error instanceof Error ? error : new Error(String(error)), this.#now());
        } catch (bug) {
          this.#onError(bug as Error);
        }
        this.wake();
      },
    );
  }
}

/**
 * Sends through a connection pool: a node's connection of the request's purpose, or the least loaded broker of the
 * latest metadata (a connected one with the fewest requests in flight, else one being connected, else one that may
 * be dialled), at the highest version both sides speak within the request's bounds.
 */
export class PoolSender implements RequestSender {
  readonly #pool: ConnectionPool;
  readonly #metadata: Pick<ClusterMetadata, 'snapshot'>;
  readonly #random: () => number;

  constructor(options: { pool: ConnectionPool; metadata: Pick<ClusterMetadata, 'snapshot'>; random?: () => number }) {
    this.#pool = options.pool;
    this.#metadata = options.metadata;
    this.#random = options.random ?? Math.random;
  }

  async send(request: UnsentRequest): Promise<{ response: unknown; version: number; nodeId: number }> {
    const nodeId = request.target === 'least-loaded' ? this.#leastLoaded() : request.target.nodeId;
    const purpose = request.purpose ?? 'coordination';
    const connection = await this.#pool.get({ nodeId }, { purpose });
    const api = request.api as ApiDescriptor<unknown, unknown>;
    const version = connection.versionFor(api, request.versions ?? {});
    const body = request.build(version);
    const response = await connection.send(api, version, body, { timeoutMs: request.timeoutMs });
    return { response, version, nodeId };
  }

  #leastLoaded(): number {
    const snapshot = this.#metadata.snapshot;
    const candidates = snapshot === null ? [] : [...snapshot.brokers.keys()].map((nodeId) => ({ nodeId }));
    if (candidates.length === 0) throw new NetworkError('no broker is known yet', { broker: 'cluster' });
    const choice = leastLoaded(candidates, (target) => this.#pool.status(target, 'coordination'), this.#random);
    if ('target' in choice && 'nodeId' in choice.target) return choice.target.nodeId;
    // Every broker is backing off: ask the first anyway; the pool waits out its backoff.
    return candidates[0]!.nodeId;
  }
}
