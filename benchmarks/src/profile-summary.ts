// node benchmarks/src/profile-summary.ts <file.cpuprofile> [top] [under]
// Self time per function (and where it is) from a V8 CPU profile, as written by `node --cpu-prof`. With `under`,
// only samples taken inside a function of that name count (e.g. `sluiceTally`: leaves out start-up and fixtures).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, topText, under] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

function isUnder(id: number): boolean {
  if (under === undefined) return true;
  for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
    if (nodesById.get(current)!.callFrame.functionName === under) return true;
  }
  return false;
}
const selfMicroseconds = new Map<string, number>();
let total = 0;
for (let index = 0; index < profile.samples.length; index++) {
  const node = nodesById.get(profile.samples[index]!)!;
  if (!isUnder(node.id)) continue;
  const delta = profile.timeDeltas[index] ?? 0;
  const frame = node.callFrame;
  const where = frame.url === '' ? '' : ` ${path.basename(frame.url)}:${frame.lineNumber + 1}`;
  const name = `${frame.functionName || '(anonymous)'}${where}`;
  selfMicroseconds.set(name, (selfMicroseconds.get(name) ?? 0) + delta);
  total += delta;
}
const top = [...selfMicroseconds].sort((left, right) => right[1] - left[1]).slice(0, Number(topText ?? 25));
for (const [name, microseconds] of top) {
  process.stdout.write(`${((microseconds / total) * 100).toFixed(1).padStart(5)} %  ${name}\n`);
}
