/**
 * The machine's noise: CPU used during a measurement by processes other than the bench's own.
 *
 * Everything the bench measures runs in the bench process or below it: the servers, wrk,
 * curl, skopeo, dd are its children (or theirs). So over an interval, from Linux's counters:
 *
 *   others = busy CPU of the whole machine (/proc/stat: user, nice, system, irq, softirq)
 *          - CPU of the bench and its descendants (/proc/<pid>/stat: utime, stime, and the
 *            cutime, cstime of children already reaped, so wrk and curl count once they exit)
 *
 * Steal (time the hypervisor gave to other guests) is counted apart and added: it is CPU the
 * measurement did not get either. Both are reported in cores (1 = one core busy all along).
 * The parsers and the arithmetic are pure; `startNoise` reads /proc.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { processTree } from './proc.js';

/** Above this many cores of noise on average, a run is noisy (its table must not go in the README). */
export const NOISE_THRESHOLD_CORES = 0.1;

/** The machine-wide CPU counters, in clock ticks. */
export interface SystemTicks {
  /** user + nice + system + irq + softirq (guest time is already inside user). */
  readonly busy: number;
  readonly steal: number;
}

/** Reads the aggregate `cpu` line of /proc/stat; throws when there is none. */
export function parseProcStat(text: string): SystemTicks {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (line === undefined) throw new Error('no "cpu" line in /proc/stat');
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, steal };
}

/**
 * utime + stime + cutime + cstime of one /proc/<pid>/stat, in clock ticks (the command name,
 * field 2, may hold spaces and parentheses); undefined when the text is not a stat line.
 */
export function parsePidTicks(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).trim().split(' ');
  // After the name: state(3) ... utime(14) stime(15) cutime(16) cstime(17), i.e. indexes 11-14.
  const ticks = fields.slice(11, 15).map(Number);
  if (ticks.length !== 4 || ticks.some((t) => !Number.isFinite(t))) return undefined;
  return ticks.reduce((sum, t) => sum + t, 0);
}

/** Counters at one instant. */
export interface NoiseCounters {
  readonly system: SystemTicks;
  /** CPU ticks of the bench process and its live descendants (reaped children included). */
  readonly ours: number;
  /** `performance.now()` / 1000 when read. */
  readonly at: number;
}

/** What one measurement's interval saw. */
export interface NoiseSample {
  readonly seconds: number;
  /** Cores used by processes outside the bench on average (never below 0). */
  readonly othersCores: number;
  /** Cores stolen by the hypervisor on average. */
  readonly stealCores: number;
}

/** The noise between two readings of the counters (pure). */
export function noiseBetween(start: NoiseCounters, end: NoiseCounters, ticksPerSecond: number): NoiseSample {
  const seconds = end.at - start.at;
  if (!(seconds > 0)) return { seconds: 0, othersCores: 0, stealCores: 0 };
  const others = end.system.busy - start.system.busy - (end.ours - start.ours);
  return {
    seconds,
    othersCores: Math.max(0, others) / ticksPerSecond / seconds,
    stealCores: Math.max(0, end.system.steal - start.system.steal) / ticksPerSecond / seconds,
  };
}

/** A labelled sample, as stored in the results. */
export interface LabelledNoise extends NoiseSample {
  readonly label: string;
}

/** The noise of a whole run. */
export interface NoiseSummary {
  readonly thresholdCores: number;
  /** Time-weighted mean of others + steal over every sample, cores. */
  readonly meanCores: number;
  /** The worst sample's others + steal, cores. */
  readonly maxCores: number;
  /** Whether meanCores is above the threshold. */
  readonly noisy: boolean;
  readonly samples: readonly LabelledNoise[];
}

/** Summarizes the samples of a run (pure); no samples is a quiet run of 0 cores. */
export function summarizeNoise(samples: readonly LabelledNoise[], thresholdCores = NOISE_THRESHOLD_CORES): NoiseSummary {
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  const weighted = samples.reduce((sum, s) => sum + (s.othersCores + s.stealCores) * s.seconds, 0);
  const meanCores = seconds > 0 ? weighted / seconds : 0;
  const maxCores = samples.reduce((max, s) => Math.max(max, s.othersCores + s.stealCores), 0);
  return { thresholdCores, meanCores, maxCores, noisy: meanCores > thresholdCores, samples };
}

function readTicks(pid: number): number {
  try {
    return parsePidTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) ?? 0;
  } catch {
    return 0; // exited between the listing and the read: its time is in its parent's cutime
  }
}

/** Reads the counters now, for the bench process (`root`) and its descendants. */
export function readNoiseCounters(root: number = process.pid): NoiseCounters {
  const ours = processTree(root).reduce((sum, pid) => sum + readTicks(pid), 0);
  return { system: parseProcStat(readFileSync('/proc/stat', 'utf8')), ours, at: performance.now() / 1000 };
}

/** Starts an interval; the function returned ends it and resolves with its noise. */
export function startNoise(ticksPerSecond: number): () => NoiseSample {
  const start = readNoiseCounters();
  return () => noiseBetween(start, readNoiseCounters(), ticksPerSecond);
}

/** One line for the report: the mean and worst noise, and the verdict. */
export function describeNoise(n: NoiseSummary): string {
  const verdict = n.noisy ? `NOISY (above ${n.thresholdCores} of a core): numbers from this run are not comparable` : `quiet (at most ${n.thresholdCores} of a core on average)`;
  return `noise: CPU used by other processes during the measurements: ${n.meanCores.toFixed(2)} cores on average, ${n.maxCores.toFixed(2)} at worst (${n.samples.length} measurements): ${verdict}`;
}
