/**
 * The contract between the client loop and the request managers (Kafka's AsyncKafkaConsumer: RequestManager,
 * NetworkClientDelegate.UnsentRequest). A manager does no I/O and keeps no timer: the loop asks it, at any time,
 * what to send now and when it next wants to be asked; answers and failures come back through the request's own
 * callbacks, with the loop's clock. Everything a manager decides is therefore reproducible with a fake clock.
 */
import type { ConnectionPurpose } from '@sluice/net';
import type { ApiDescriptor } from '@sluice/protocol';

/** Where a request goes: a broker by node id, or the least loaded broker the metadata lists. */
export type RequestTarget = { readonly nodeId: number } | 'least-loaded';

export interface ResponseContext {
  /** The version the request was sent at (the highest both sides speak within the request's bounds). */
  readonly version: number;
  /** The broker that answered. */
  readonly nodeId: number;
  /** The loop's clock when the answer arrived. */
  readonly now: number;
}

export interface UnsentRequest<Request = unknown, Response = unknown> {
  readonly target: RequestTarget;
  /** Default `coordination`: group, offsets and metadata traffic never waits behind a long-polling Fetch. */
  readonly purpose?: ConnectionPurpose;
  readonly api: ApiDescriptor<Request, Response>;
  /** Version bounds: a floor the manager needs, a ceiling it understands. */
  readonly versions?: { readonly floor?: number; readonly ceiling?: number };
  /** `request.timeout.ms` for this request (a JoinGroup or a Fetch adds its own wait on the broker). */
  readonly timeoutMs: number;
  /** The request at the negotiated version. Throwing fails the request (`onFailure`) without sending it. */
  build(version: number): Request;
  /**
   * The answer. A returned promise (decompression, say) is waited for before the loop asks the managers again.
   * What it throws or rejects with is a bug, reported by the loop as a fatal error.
   */
  onResponse(response: Response, context: ResponseContext): void | Promise<void>;
  /** The request could not be sent or answered: a lost connection, a timeout, no version in common. */
  onFailure(error: Error, now: number): void;
}

export interface ManagerPoll {
  readonly requests: readonly UnsentRequest[];
  /** When the manager next wants to be asked, at the latest (Infinity: only when something happens). */
  readonly nextPollAt: number;
}

export interface RequestManager {
  poll(now: number): ManagerPoll;
}

/** A manager's answer when it has nothing to send and nothing timed. */
export const IDLE: ManagerPoll = Object.freeze({ requests: Object.freeze([]), nextPollAt: Number.POSITIVE_INFINITY });

/** A typed request as the loop takes it (the loop hands each request only the response of its own API). */
export function unsent<Request, Response>(request: UnsentRequest<Request, Response>): UnsentRequest {
  return request as unknown as UnsentRequest;
}
