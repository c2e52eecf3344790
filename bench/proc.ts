/**
 * Server resource use from Linux's /proc: CPU time and peak resident memory of a process and
 * all its descendants (so a registry that forks workers is measured whole).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 almost everywhere). */
export function clockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

interface StatLine {
  readonly ppid: number;
  /** utime + stime, in clock ticks. */
  readonly ticks: number;
}

/** Parses /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state(3) ppid(4) ... utime(14) stime(15), i.e. indexes 1 and 11, 12 here.
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** `pid` and every live process descending from it. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== undefined) parents.set(Number(name), stat.ppid);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/**
 * CPU seconds (user + system) used so far by `pid` and its live descendants. Throws when `pid`
 * itself is gone.
 */
export function cpuSeconds(pid: number, ticksPerSecond: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const stat = readStat(p);
    if (stat === undefined && p === pid) throw new Error(`process ${pid} is gone`);
    ticks += stat?.ticks ?? 0;
  }
  return ticks / ticksPerSecond;
}

/**
 * Peak resident set size (VmHWM) of `pid` plus that of each live descendant, in bytes: exact
 * for one process, an upper bound of the peak total for several.
 */
export function peakRssBytes(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m !== null) total += Number(m[1]) * 1024;
    } catch {
      if (p === pid) throw new Error(`process ${pid} is gone`);
    }
  }
  return total;
}

/**
 * Flushes dirty pages to disk (`sync`) before a timed transfer, so that neither registry pays
 * for the write-back of what the one before it (or the layout build) wrote.
 */
export function settleDisk(): void {
  execFileSync('sync', [], { stdio: 'ignore', timeout: 120_000 });
}
