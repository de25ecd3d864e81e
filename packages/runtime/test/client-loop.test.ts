/** The client loop, driven by vitest's fake timers, scripted managers and a sender whose answers the test gives. */
import { type ClusterSnapshot, type ConnectionPool, type ConnectionStatus, NetworkError } from '@sluice/net';
import { metadataApi } from '@sluice/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientLoop, PoolSender, type RequestSender } from '../src/client-loop.ts';
import { deferred } from '../src/deferred.ts';
import { IDLE, type ManagerPoll, type RequestManager, type UnsentRequest } from '../src/request-manager.ts';

const START = 1_000_000;

/** A request whose handlers are mocks. */
function request(name: string, handlers: Partial<Pick<UnsentRequest, 'onResponse' | 'onFailure'>> = {}) {
  return {
    name,
    target: 'least-loaded',
    api: metadataApi,
    timeoutMs: 30_000,
    build: vi.fn(() => ({})),
    onResponse: vi.fn(handlers.onResponse ?? (() => {})),
    onFailure: vi.fn(handlers.onFailure ?? (() => {})),
  } satisfies UnsentRequest & { name: string };
}

interface SentRequest {
  readonly request: UnsentRequest;
  answer(response: unknown, version?: number, nodeId?: number): void;
  fail(error: unknown): void;
}

/** A sender that keeps every request until the test answers or fails it. */
function fakeSender() {
  const sent: SentRequest[] = [];
  const sender: RequestSender = {
    send(unsentRequest) {
      return new Promise((resolve, reject) => {
        sent.push({
          request: unsentRequest,
          answer: (response, version = 1, nodeId = 1) => resolve({ response, version, nodeId }),
          fail: reject,
        });
      });
    },
  };
  return { sender, sent };
}

/** A manager answering each poll with `script(now)` (IDLE by default), remembering when it was polled. */
function manager(script: (now: number) => ManagerPoll = () => IDLE) {
  const polls: number[] = [];
  const poll = vi.fn((now: number) => {
    polls.push(now);
    return script(now);
  });
  return { poll, polls } satisfies RequestManager & { polls: number[] };
}

/** A manager that returns `requests` from its first poll, then nothing. */
function sendingOnce(...requests: UnsentRequest[]) {
  let pending = requests;
  return manager(() => {
    const sending = pending;
    pending = [];
    return { requests: sending, nextPollAt: Number.POSITIVE_INFINITY };
  });
}

/** Runs the microtasks queued so far (the loop's coalesced runs, promise callbacks); fake timers leave them real. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await Promise.resolve();
}

/** The loops a test made, closed after it. */
const loops: ClientLoop[] = [];

/** A loop over `managers` on the fake clock, with a fake sender; the errors it reports are collected. */
function loopWith(managers: RequestManager[]) {
  const { sender, sent } = fakeSender();
  const errors: Error[] = [];
  const loop = new ClientLoop({
    managers,
    sender,
    onError: (error) => errors.push(error),
    now: () => Date.now(),
  });
  loops.push(loop);
  return { loop, sent, errors };
}

beforeEach(() => {
  vi.useFakeTimers({ now: START });
});

afterEach(() => {
  for (const loop of loops.splice(0)) loop.close();
  vi.useRealTimers();
});

describe('ClientLoop: runs', () => {
  it('coalesces several wakes in one turn into one run', async () => {
    const only = manager();
    const { loop } = loopWith([only]);
    loop.wake();
    loop.wake();
    loop.wake();
    expect(only.poll).not.toHaveBeenCalled();
    await settle();
    expect(only.poll).toHaveBeenCalledTimes(1);
    loop.wake();
    await settle();
    expect(only.poll).toHaveBeenCalledTimes(2);
  });

  it('polls the managers in the given order every run, with the same clock', async () => {
    const order: string[] = [];
    const named = (name: string) =>
      manager(() => {
        order.push(name);
        return IDLE;
      });
    const [first, second, third] = [named('first'), named('second'), named('third')];
    const { loop } = loopWith([first, second, third]);
    loop.wake();
    await settle();
    vi.setSystemTime(START + 5);
    loop.wake();
    await settle();
    expect(order).toEqual(['first', 'second', 'third', 'first', 'second', 'third']);
    expect([first.polls, second.polls, third.polls]).toEqual([
      [START, START + 5],
      [START, START + 5],
      [START, START + 5],
    ]);
  });

  it('reports a manager that throws, and still polls the others', async () => {
    const bug = new Error('manager bug');
    const broken = manager(() => {
      throw bug;
    });
    const next = request('after the broken one');
    const healthy = manager(() => ({ requests: [next], nextPollAt: Number.POSITIVE_INFINITY }));
    const { loop, sent, errors } = loopWith([broken, healthy]);
    loop.wake();
    await settle();
    expect(errors).toEqual([bug]);
    expect(healthy.poll).toHaveBeenCalledTimes(1);
    expect(sent.map((entry) => entry.request)).toEqual([next]);
    // The loop goes on: the next run polls both again.
    loop.wake();
    await settle();
    expect(broken.poll).toHaveBeenCalledTimes(2);
    expect(healthy.poll).toHaveBeenCalledTimes(2);
  });
});

describe('ClientLoop: requests and answers', () => {
  it('sends the requests the managers return, in order', async () => {
    const [a, b, c] = [request('a'), request('b'), request('c')];
    const { loop, sent } = loopWith([sendingOnce(a, b), sendingOnce(c)]);
    loop.wake();
    await settle();
    expect(sent.map((entry) => entry.request)).toEqual([a, b, c]);
    expect(loop.inFlight).toBe(3);
  });

  it('hands the answer to its request with version, node and the clock, then runs again', async () => {
    const asked = request('metadata');
    const only = sendingOnce(asked);
    const { loop, sent } = loopWith([only]);
    loop.wake();
    await settle();
    expect(only.poll).toHaveBeenCalledTimes(1);
    vi.setSystemTime(START + 40);
    const response = { topics: [] };
    sent[0]!.answer(response, 12, 3);
    await settle();
    expect(asked.onResponse).toHaveBeenCalledTimes(1);
    expect(asked.onResponse).toHaveBeenCalledWith(response, { version: 12, nodeId: 3, now: START + 40 });
    expect(asked.onFailure).not.toHaveBeenCalled();
    expect(only.polls).toEqual([START, START + 40]);
    expect(loop.inFlight).toBe(0);
  });

  it('hands a send failure to the request, then runs again', async () => {
    const asked = request('metadata');
    const only = sendingOnce(asked);
    const { loop, sent } = loopWith([only]);
    loop.wake();
    await settle();
    vi.setSystemTime(START + 7);
    const lost = new NetworkError('connection lost', { broker: 'broker-1' });
    sent[0]!.fail(lost);
    await settle();
    expect(asked.onFailure).toHaveBeenCalledWith(lost, START + 7);
    expect(asked.onResponse).not.toHaveBeenCalled();
    expect(only.polls).toEqual([START, START + 7]);
    expect(loop.inFlight).toBe(0);
  });

  it('turns a rejection that is not an Error into one', async () => {
    const asked = request('metadata');
    const only = sendingOnce(asked);
    const { loop, sent } = loopWith([only]);
    loop.wake();
    await settle();
    sent[0]!.fail('socket hang up');
    await settle();
    const [error] = asked.onFailure.mock.calls[0]!;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('socket hang up');
  });

  it('runs again only after the promise a response handler returned has settled', async () => {
    const decompressed = deferred<void>();
    const asked = request('fetch', { onResponse: () => decompressed.promise });
    const only = sendingOnce(asked);
    const { loop, sent } = loopWith([only]);
    loop.wake();
    await settle();
    sent[0]!.answer({});
    await settle();
    expect(asked.onResponse).toHaveBeenCalledTimes(1);
    expect(only.poll).toHaveBeenCalledTimes(1);
    decompressed.resolve();
    await settle();
    expect(only.poll).toHaveBeenCalledTimes(2);
  });

  it('reports a response handler that throws or rejects, and runs again', async () => {
    const thrown = new Error('handler bug');
    const rejected = new Error('decompression bug');
    const throwing = request('throws', {
      onResponse: () => {
        throw thrown;
      },
    });
    const rejecting = request('rejects', { onResponse: () => Promise.reject(rejected) });
    const only = sendingOnce(throwing, rejecting);
    const { loop, sent, errors } = loopWith([only]);
    loop.wake();
    await settle();
    sent[0]!.answer({});
    await settle();
    expect(errors).toEqual([thrown]);
    expect(only.poll).toHaveBeenCalledTimes(2);
    sent[1]!.answer({});
    await settle();
    expect(errors).toEqual([thrown, rejected]);
    expect(only.poll).toHaveBeenCalledTimes(3);
  });
});

describe('ClientLoop: the timer', () => {
  it('arms one timer for the earliest time a manager asked for, and runs when it fires, not sooner', async () => {
    const later = manager(() => ({ requests: [], nextPollAt: START + 500 }));
    const sooner = manager((now) => ({
      requests: [],
      nextPollAt: now < START + 200 ? START + 200 : Number.POSITIVE_INFINITY,
    }));
    const { loop } = loopWith([later, sooner]);
    loop.wake();
    await settle();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(199);
    expect(later.polls).toEqual([START]);
    vi.advanceTimersByTime(1);
    expect(later.polls).toEqual([START, START + 200]);
    // Now only `later` wants a time: one timer, for START + 500.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(299);
    expect(later.polls).toEqual([START, START + 200]);
    vi.advanceTimersByTime(1);
    expect(later.polls).toEqual([START, START + 200, START + 500]);
  });

  it('keeps one timer however many runs ask for the same time', async () => {
    const timed = manager(() => ({ requests: [], nextPollAt: START + 1_000 }));
    const { loop } = loopWith([timed]);
    for (let run = 0; run < 3; run++) {
      if (run > 0) vi.advanceTimersByTime(100);
      loop.wake();
      await settle();
    }
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(799);
    expect(timed.polls).toEqual([START, START + 100, START + 200]);
    vi.advanceTimersByTime(1);
    expect(timed.polls).toEqual([START, START + 100, START + 200, START + 1_000]);
  });

  it('arms no timer when no manager asked for a time, and disarms one no longer asked for', async () => {
    let nextPollAt = START + 100;
    const timed = manager(() => ({ requests: [], nextPollAt }));
    const { loop } = loopWith([timed]);
    loop.wake();
    await settle();
    expect(vi.getTimerCount()).toBe(1);
    nextPollAt = Number.POSITIVE_INFINITY;
    loop.wake();
    await settle();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(timed.poll).toHaveBeenCalledTimes(2);
  });

  it('does not spin on a time already past: at least 1 ms between runs', async () => {
    const overdue = manager(() => ({ requests: [], nextPollAt: START - 1_000 }));
    const { loop } = loopWith([overdue]);
    loop.wake();
    await settle();
    expect(overdue.poll).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10);
    const runs = overdue.polls;
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.length).toBeLessThanOrEqual(11);
    for (let index = 1; index < runs.length; index++) {
      expect(runs[index]! - runs[index - 1]!).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('ClientLoop: close', () => {
  it('stops running and sending', async () => {
    const asked = request('metadata');
    const only = manager(() => ({ requests: [asked], nextPollAt: START + 100 }));
    const { loop, sent } = loopWith([only]);
    loop.wake();
    await settle();
    expect(sent).toHaveLength(1);
    loop.close();
    expect(loop.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    loop.wake();
    await settle();
    vi.advanceTimersByTime(1_000);
    expect(only.poll).toHaveBeenCalledTimes(1);
    expect(sent).toHaveLength(1);
  });

  it('stops a run already woken', async () => {
    const only = manager();
    const { loop } = loopWith([only]);
    loop.wake();
    loop.close();
    await settle();
    expect(only.poll).not.toHaveBeenCalled();
  });

  it('drops answers and failures that arrive after close', async () => {
    const answered = request('answered');
    const failed = request('failed');
    const only = sendingOnce(answered, failed);
    const { loop, sent, errors } = loopWith([only]);
    loop.wake();
    await settle();
    loop.close();
    sent[0]!.answer({});
    sent[1]!.fail(new Error('connection closed'));
    await settle();
    expect(answered.onResponse).not.toHaveBeenCalled();
    expect(failed.onFailure).not.toHaveBeenCalled();
    expect(errors).toEqual([]);
    expect(only.poll).toHaveBeenCalledTimes(1);
    expect(loop.inFlight).toBe(0);
  });
});

describe('PoolSender', () => {
  const BROKERS = [1, 2, 3];
  const SNAPSHOT = {
    brokers: new Map(BROKERS.map((nodeId) => [nodeId, { nodeId, host: `broker-${nodeId}`, port: 9092, rack: null }])),
  } as unknown as ClusterSnapshot;

  /** A pool whose connections answer `response` at version 9, and whose brokers have the statuses given. */
  function fakePool(statuses: Record<number, ConnectionStatus> = {}) {
    const response = { answered: true };
    const connection = {
      versionFor: vi.fn(() => 9),
      send: vi.fn(async () => response),
    };
    const pool = {
      get: vi.fn(async () => connection),
      status: vi.fn(
        ({ nodeId }: { nodeId: number }) => statuses[nodeId] ?? { state: 'disconnected', inFlight: 0, readyAt: 0 },
      ),
    };
    return { pool: pool as unknown as ConnectionPool, calls: pool, connection, response };
  }

  it('sends to the node asked for, at the version both sides speak, on a coordination connection by default', async () => {
    const { pool, calls, connection, response } = fakePool();
    const sender = new PoolSender({ pool, metadata: { snapshot: SNAPSHOT } });
    const asked = { ...request('metadata'), target: { nodeId: 2 }, versions: { floor: 1, ceiling: 12 } };
    const result = await sender.send(asked);
    expect(result).toEqual({ response, version: 9, nodeId: 2 });
    expect(calls.get).toHaveBeenCalledWith({ nodeId: 2 }, { purpose: 'coordination' });
    expect(connection.versionFor).toHaveBeenCalledWith(metadataApi, { floor: 1, ceiling: 12 });
    expect(asked.build).toHaveBeenCalledWith(9);
    expect(connection.send).toHaveBeenCalledWith(metadataApi, 9, {}, { timeoutMs: 30_000 });
  });

  it('uses the connection of the purpose the request names', async () => {
    const { pool, calls } = fakePool();
    const sender = new PoolSender({ pool, metadata: { snapshot: SNAPSHOT } });
    await sender.send({ ...request('fetch'), target: { nodeId: 1 }, purpose: 'fetch' });
    expect(calls.get).toHaveBeenCalledWith({ nodeId: 1 }, { purpose: 'fetch' });
  });

  it('sends a least-loaded request to a connected broker with the fewest requests in flight', async () => {
    const { pool } = fakePool({
      1: { state: 'connected', inFlight: 3, readyAt: 0 },
      2: { state: 'connected', inFlight: 1, readyAt: 0 },
      3: { state: 'disconnected', inFlight: 0, readyAt: 0 },
    });
    const sender = new PoolSender({ pool, metadata: { snapshot: SNAPSHOT }, random: () => 0 });
    const { nodeId } = await sender.send(request('metadata'));
    expect(nodeId).toBe(2);
  });

  it('asks the first broker when every broker backs off', async () => {
    const backoff: ConnectionStatus = { state: 'backoff', inFlight: 0, readyAt: START + 50 };
    const { pool } = fakePool({ 1: backoff, 2: backoff, 3: backoff });
    const sender = new PoolSender({ pool, metadata: { snapshot: SNAPSHOT }, random: () => 0.9 });
    const { nodeId } = await sender.send(request('metadata'));
    expect(nodeId).toBe(1);
  });

  it('fails a least-loaded request while no broker is known', async () => {
    const { pool, calls } = fakePool();
    const sender = new PoolSender({ pool, metadata: { snapshot: null } });
    await expect(sender.send(request('metadata'))).rejects.toBeInstanceOf(NetworkError);
    expect(calls.get).not.toHaveBeenCalled();
  });

  it('fails, without sending, a request whose build throws', async () => {
    const { pool, connection } = fakePool();
    const sender = new PoolSender({ pool, metadata: { snapshot: SNAPSHOT } });
    const broken = new Error('cannot build');
    const asked = {
      ...request('metadata'),
      target: { nodeId: 1 },
      build: () => {
        throw broken;
      },
    };
    await expect(sender.send(asked)).rejects.toBe(broken);
    expect(connection.send).not.toHaveBeenCalled();
  });
});
