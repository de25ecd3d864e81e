// node benchmarks/src/profile-summary.ts <file.cpuprofile> [top] [under]
// Self time per function (and where it is) from a V8 CPU profile, as written by `node --cpu-prof` or the inspector's
// Profiler.stop. With `under`, only samples taken inside a function of that name count (e.g. `sluiceTally`: leaves
// out start-up and fixtures). `pnpm bench:consume --profile` prints the same summary through `summariseProfile`.
import { readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: readonly number[];
}
export interface CpuProfile {
  /** Microseconds on the monotonic clock that process.hrtime also reads. */
  readonly startTime?: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileLine {
  /** `name file:line`, or the bare name for V8's own nodes such as `(garbage collector)`. */
  readonly name: string;
  readonly milliseconds: number;
  /** Of all the samples counted. */
  readonly share: number;
}

export interface ProfileSummary {
  /** Milliseconds sampled (inside `under` if given). */
  readonly milliseconds: number;
  /** The hottest functions by self time, V8's `(idle)`, `(program)` and `(garbage collector)` among them. */
  readonly top: readonly ProfileLine[];
  /** The event loop waiting: V8's `(idle)` node. */
  readonly idle: number;
  /** V8's `(program)`: native code outside JavaScript that V8 cannot attribute (often Node's own C++ and idle time). */
  readonly program: number;
  readonly garbageCollector: number;
}

/**
 * Self time per function of a V8 CPU profile; `under` keeps only samples inside a function of that name, `window`
 * only samples taken between two process.hrtime readings (microseconds), e.g. the timed read alone.
 */
export function summariseProfile(
  profile: CpuProfile,
  options: { top?: number; under?: string; window?: readonly [number, number] } = {},
): ProfileSummary {
  const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const isUnder = (id: number): boolean => {
    if (options.under === undefined) return true;
    for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
      if (nodesById.get(current)!.callFrame.functionName === options.under) return true;
    }
    return false;
  };
  const selfMicroseconds = new Map<string, number>();
  let total = 0;
  let at = profile.startTime ?? 0;
  const window = profile.startTime === undefined ? undefined : options.window;
  for (let index = 0; index < profile.samples.length; index++) {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (window !== undefined && (at < window[0] || at > window[1])) continue;
    const node = nodesById.get(profile.samples[index]!)!;
    if (!isUnder(node.id)) continue;
    const frame = node.callFrame;
    const where = frame.url === '' ? '' : ` ${path.basename(frame.url)}:${frame.lineNumber + 1}`;
    const name = `${frame.functionName || '(anonymous)'}${where}`;
    selfMicroseconds.set(name, (selfMicroseconds.get(name) ?? 0) + delta);
    total += delta;
  }
  const share = (name: string) => (total > 0 ? (selfMicroseconds.get(name) ?? 0) / total : 0);
  return {
    milliseconds: total / 1000,
    top: [...selfMicroseconds]
      .sort((left, right) => right[1] - left[1])
      .slice(0, options.top ?? 25)
      .map(([name, microseconds]) => ({ name, milliseconds: microseconds / 1000, share: microseconds / total })),
    idle: share('(idle)'),
    program: share('(program)'),
    garbageCollector: share('(garbage collector)'),
  };
}

/** The summary's lines as printed: share, then the function and where it is. */
export function formatProfileLines(summary: ProfileSummary): string[] {
  return summary.top.map((line) => `${(line.share * 100).toFixed(1).padStart(5)} %  ${line.name}`);
}

const isMain = (() => {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
})();
if (isMain) {
  const [file, topText, under] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top] [under]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const summary = summariseProfile(profile, { top: Number(topText ?? 25), ...(under === undefined ? {} : { under }) });
  for (const line of formatProfileLines(summary)) process.stdout.write(`${line}\n`);
}
