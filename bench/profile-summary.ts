/**
 * Summarises V8 CPU profiles (`.cpuprofile`, as written by `node --cpu-prof`, e.g. through
 * `npm run bench -- --cpu-prof DIR`): time by category (Berth's code, node_modules, Node's
 * internals, GC, idle), then the top functions by self time and by total time.
 *
 * Usage: node dist/bench/profile-summary.js [--top N] FILE.cpuprofile...
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

/** The parts of a V8 CPU profile this reads. */
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** Node id of each sample. */
  readonly samples: readonly number[];
  /** Microseconds since the previous sample, one per sample. */
  readonly timeDeltas: readonly number[];
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

/** A function's share of a profile. */
export interface FunctionTime {
  /** `name (file:line)`. */
  readonly key: string;
  readonly category: string;
  /** Microseconds spent in the function itself. */
  selfUs: number;
  /** Microseconds spent in it and everything it called (recursion counted once). */
  totalUs: number;
}

/** Everything summarised from one or more profiles. */
export interface ProfileSummary {
  readonly totalUs: number;
  readonly byCategory: ReadonlyMap<string, number>;
  readonly functions: readonly FunctionTime[];
}

function isProfile(value: unknown): value is CpuProfile {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Array.isArray(v['nodes']) && Array.isArray(v['samples']) && Array.isArray(v['timeDeltas']);
}

/** Which part of the process a frame belongs to. */
export function categoryOf(functionName: string, url: string): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url.includes('/node_modules/')) return `node_modules/${/\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'}`;
  if (url.includes('/dist/src/')) return 'berth';
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return 'native';
  return 'other';
}

function shortUrl(url: string): string {
  const i = url.indexOf('/dist/src/');
  if (i >= 0) return url.slice(i + '/dist/'.length);
  const m = /\/node_modules\/(.*)$/.exec(url);
  return m?.[1] ?? url;
}

/** Adds one profile's times into `functions` (by key); returns its total microseconds. */
function addProfile(profile: CpuProfile, functions: Map<string, FunctionTime>): number {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  });
  const keyOf = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    return url === '' ? name : `${name} (${shortUrl(url)}:${lineNumber + 1})`;
  };
  const entry = (n: ProfileNode): FunctionTime => {
    const key = keyOf(n);
    let f = functions.get(key);
    if (f === undefined) {
      f = { key, category: categoryOf(n.callFrame.functionName, n.callFrame.url), selfUs: 0, totalUs: 0 };
      functions.set(key, f);
    }
    return f;
  };
  // Depth-first from the root: a node's total is its self time plus its children's totals;
  // a function already on the stack above (recursion) does not count the same time twice.
  const visit = (id: number, onStack: ReadonlySet<string>): number => {
    const node = byId.get(id);
    if (node === undefined) return 0;
    const f = entry(node);
    const self = selfUs.get(id) ?? 0;
    f.selfUs += self;
    const stack = new Set(onStack).add(f.key);
    let sum = self;
    for (const child of node.children ?? []) sum += visit(child, stack);
    if (!onStack.has(f.key)) f.totalUs += sum;
    return sum;
  };
  const root = profile.nodes[0];
  if (root !== undefined) visit(root.id, new Set());
  return total;
}

/** Reads and summarises profiles. Rejects when a file is not a V8 CPU profile. */
export async function summarise(files: readonly string[]): Promise<ProfileSummary> {
  const functions = new Map<string, FunctionTime>();
  let totalUs = 0;
  for (const file of files) {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (!isProfile(parsed)) throw new Error(`${file} is not a V8 CPU profile`);
    totalUs += addProfile(parsed, functions);
  }
  const byCategory = new Map<string, number>();
  for (const f of functions.values()) byCategory.set(f.category, (byCategory.get(f.category) ?? 0) + f.selfUs);
  return { totalUs, byCategory, functions: [...functions.values()] };
}

/** The summary as text: categories, then the top `top` functions by self and by total time. */
export function formatSummary(s: ProfileSummary, top: number): string {
  const busyUs = s.totalUs - (s.byCategory.get('idle') ?? 0);
  const pct = (us: number): string => `${((100 * us) / Math.max(1, busyUs)).toFixed(1).padStart(5)}%`;
  const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const lines = [`profiled ${(s.totalUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1e6).toFixed(1)} s (percentages are of busy time)`, '', 'by category (self time):'];
  for (const [cat, us] of [...s.byCategory].filter(([c]) => c !== 'idle').sort((a, b) => b[1] - a[1])) lines.push(`  ${ms(us)} ${pct(us)}  ${cat}`);
  const busy = s.functions.filter((f) => f.category !== 'idle');
  lines.push('', `top ${top} functions by self time:`);
  for (const f of [...busy].sort((a, b) => b.selfUs - a.selfUs).slice(0, top)) lines.push(`  ${ms(f.selfUs)} ${pct(f.selfUs)}  ${f.key}`);
  lines.push('', `top ${top} Berth functions by total time (self + callees):`);
  for (const f of busy.filter((x) => x.category === 'berth').sort((a, b) => b.totalUs - a.totalUs).slice(0, top)) {
    lines.push(`  ${ms(f.totalUs)} ${pct(f.totalUs)}  ${f.key}`);
  }
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: { top: { type: 'string' } } });
  const top = Number(values.top ?? 25);
  if (positionals.length === 0 || !Number.isInteger(top) || top < 1) {
    process.stderr.write('usage: node dist/bench/profile-summary.js [--top N] FILE.cpuprofile...\n');
    return 2;
  }
  process.stdout.write(`${formatSummary(await summarise(positionals), top)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
