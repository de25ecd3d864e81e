/**
 * One thing to time: `run` performs one whole operation (here: decode one Fetch response). It may return a Promise
 * (work in libuv's thread pool, say): the operation then lasts until the Promise settles, and the next one starts only
 * after that, so an asynchronous candidate is timed from its start to its last record, like a synchronous one.
 */
export interface Candidate {
  readonly id: string;
  readonly run: () => unknown;
  /** Called with the result of every timed run, after the clock stops; throws when the work was not done. */
  readonly check: (result: unknown) => void;
}

export interface HarnessOptions {
  /** Warm-up time per candidate before any sample is taken. */
  readonly warmupMs: number;
  /** Samples per candidate; the reported figure is their median. */
  readonly samples: number;
  /** Each sample repeats the operation until it lasts about this long. */
  readonly sampleMs: number;
}

export interface Measurement {
  /** Median over the samples of the elapsed nanoseconds per operation. */
  readonly medianNs: number;
  /**
   * The fastest sample's nanoseconds per operation. A sample spans several operations, so the candidate's own
   * garbage collection stays inside it; what it leaves out is time lost to other processes on a shared machine.
   */
  readonly bestNs: number;
  /** Interquartile range over the median: how noisy the samples were. */
  readonly spread: number;
  /**
   * Median over the samples of the CPU time (user + system, every thread of the process: the event loop and libuv's
   * pool) per operation, in nanoseconds. Above `medianNs` when work ran on several cores at once.
   */
  readonly medianCpuNs: number;
  readonly operations: number;
}

const collectGarbage = (globalThis as { gc?: () => void }).gc;

interface Sample {
  /** Elapsed nanoseconds per operation (process.hrtime.bigint). */
  readonly elapsedNs: number;
  /** CPU nanoseconds per operation, all threads (process.cpuUsage). */
  readonly cpuNs: number;
}

/** Runs `count` operations one after another; a synchronous result is not awaited, so it costs no microtask. */
async function sample(candidate: Candidate, count: number): Promise<Sample> {
  const results: unknown[] = new Array(count);
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let index = 0; index < count; index++) {
    const result = candidate.run();
    results[index] = result instanceof Promise ? await result : result;
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuStart);
  for (const result of results) candidate.check(result);
  return { elapsedNs: elapsed / count, cpuNs: ((cpu.user + cpu.system) * 1000) / count };
}

function quantile(sorted: readonly number[], fraction: number): number {
  const position = (sorted.length - 1) * fraction;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/**
 * Warms every candidate up, then takes samples round-robin (the order rotates each round) so that drift in the
 * machine's load spreads over all candidates alike. When Node runs with --expose-gc, a full collection and one untimed
 * operation precede each sample, so no candidate pays for the garbage of the one before it; its own collections stay
 * inside its time.
 */
export async function measure(
  candidates: readonly Candidate[],
  options: HarnessOptions,
): Promise<Map<string, Measurement>> {
  const repeats = new Map<string, number>();
  for (const candidate of candidates) {
    const times: number[] = [];
    const deadline = performance.now() + options.warmupMs;
    while (times.length < 3 || performance.now() < deadline) times.push((await sample(candidate, 1)).elapsedNs);
    const typical = Math.max(
      quantile(
        times.sort((left, right) => left - right),
        0.5,
      ),
      1,
    );
    repeats.set(candidate.id, Math.max(1, Math.round((options.sampleMs * 1e6) / typical)));
  }
  const samples = new Map<string, Sample[]>(candidates.map((candidate) => [candidate.id, []]));
  for (let round = 0; round < options.samples; round++) {
    for (let turn = 0; turn < candidates.length; turn++) {
      const candidate = candidates[(round + turn) % candidates.length]!;
      if (collectGarbage !== undefined) {
        collectGarbage();
        // A full collection hands pages back to the system; the first operation after it faults them in again,
        // which costs more than the operation itself on some virtual machines. That one is not timed.
        await sample(candidate, 1);
      }
      samples.get(candidate.id)!.push(await sample(candidate, repeats.get(candidate.id)!));
    }
  }
  const measurements = new Map<string, Measurement>();
  for (const candidate of candidates) {
    const taken = samples.get(candidate.id)!;
    const sorted = taken.map((one) => one.elapsedNs).sort((left, right) => left - right);
    const cpuSorted = taken.map((one) => one.cpuNs).sort((left, right) => left - right);
    const medianNs = quantile(sorted, 0.5);
    measurements.set(candidate.id, {
      medianNs,
      bestNs: sorted[0]!,
      spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / medianNs,
      medianCpuNs: quantile(cpuSorted, 0.5),
      operations: sorted.length * repeats.get(candidate.id)!,
    });
  }
  return measurements;
}
