/**
 * The bench's results: the JSON document written to bench/results/ and the table printed on
 * stdout. Pure: everything is built from the collected numbers.
 */
import { KIND_NAMES, median, type Better, type Figure, type Kind, type LoadTool } from './figures.js';
import type { LimitResult } from './limits.js';
import type { MachineInfo } from './machine.js';
import { describeNoise, type NoiseSummary } from './noise.js';
import type { BenchMode, Sizes } from './options.js';

/** One figure's numbers for one registry. */
export interface KindResult {
  /** Median of the runs; null when the figure was not measured. */
  readonly median: number | null;
  /** Every run's value, in run order. */
  readonly runs: readonly number[];
}

/** One figure in the results. */
export interface FigureResult {
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  readonly better: Better;
  /** The load generator of a request rate. */
  readonly tool?: LoadTool;
  readonly berth: KindResult;
  readonly distribution: KindResult;
  /** Berth's median divided by Distribution's; null when either is missing or Distribution's is 0. */
  readonly ratio: number | null;
}

/** One worker count of the workers comparison. */
export interface ScalingPoint {
  readonly workers: number;
  /** Berth's manifest GET by tag, req/s, every run. */
  readonly runs: readonly number[];
  readonly median: number;
  /** Median p99, ms. */
  readonly p99: number;
}

/** The workers comparison (`--workers-scaling`). */
export interface ScalingResult {
  /** The CPUs wrk was pinned to (`taskset -c`). */
  readonly wrkCpus: string;
  /** The CPUs every Berth process was pinned to. */
  readonly serverCpus: string;
  /** Whether the server's CPUs include wrk's (too few cores to keep them apart). */
  readonly sharedCores: boolean;
  readonly points: readonly ScalingPoint[];
  /** Median over runs of rate(N workers) / rate(1 worker), for the largest N. */
  readonly ratio: number | null;
  /** 0.8 × N. */
  readonly target: number;
  readonly met: boolean | null;
}

/** The JSON results document (schema 1, before wrk, ceilings and noise, is read by scripts/bench-table.js too). */
export interface BenchReport {
  readonly schema: 'berth-bench/2';
  /** When the bench started, ISO 8601. */
  readonly date: string;
  readonly mode: BenchMode;
  readonly runs: number;
  readonly seconds: number;
  readonly machine: MachineInfo & {
    /** Load averages (1, 5, 15 min) before the first and after the last measurement. */
    readonly loadBefore: readonly number[];
    readonly loadAfter: readonly number[];
  };
  readonly sizes: Sizes;
  /** How the numbers were taken (config, tools, shortcuts). */
  readonly notes: readonly string[];
  readonly figures: readonly FigureResult[];
  /** The figures held to their targets (limits.ts). */
  readonly limits: readonly LimitResult[];
  /** CPU used by other processes during each measurement, and whether the run is noisy. */
  readonly noise: NoiseSummary;
  /** Only with `--workers-scaling`. */
  readonly scaling?: ScalingResult;
  /** wrk's version line. */
  readonly wrk: string;
}

/** Values collected per figure id and registry. */
export type Collected = ReadonlyMap<string, Readonly<Record<Kind, readonly number[]>>>;

function kindResult(values: readonly number[] | undefined): KindResult {
  const runs = values ?? [];
  return { median: runs.length === 0 ? null : median(runs), runs };
}

/** Builds the results of the figures that were measured, in `figures` order. */
export function figureResults(figures: readonly Figure[], collected: Collected): FigureResult[] {
  const out: FigureResult[] = [];
  for (const f of figures) {
    const values = collected.get(f.id);
    if (values === undefined) continue;
    const berth = kindResult(values.berth);
    const distribution = kindResult(values.distribution);
    const ratio = berth.median !== null && distribution.median !== null && distribution.median !== 0 ? berth.median / distribution.median : null;
    const base = { id: f.id, label: f.label, unit: f.unit, better: f.better };
    out.push({ ...base, ...(f.tool === undefined ? {} : { tool: f.tool }), berth, distribution, ratio });
  }
  return out;
}

/** A number for the table: about three significant digits, thousands separated. */
export function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Within this factor of 1, a ratio counts as a tie. */
const TIE = 0.01;

/** The ratio, marked `+` where Berth is better by more than 1 %, `-` where it is worse. */
function ratioText(f: FigureResult): string {
  if (f.ratio === null) return '-';
  const gain = f.better === 'higher' ? f.ratio - 1 : 1 - f.ratio;
  const mark = gain > TIE ? '+' : gain < -TIE ? '-' : ' ';
  return `${formatNumber(f.ratio)}x ${mark}`;
}

/** Renders rows as a plain-text table, columns padded; numeric columns right-aligned. */
function renderTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (rightAligned[i] === true ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A fraction of a ceiling, or a ratio: two decimals. */
function fractionText(value: number | null): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(2);
}

function metText(met: boolean | null): string {
  return met === null ? '?' : met ? 'met' : 'NOT MET';
}

/** The limits table: each figure as a fraction of its ceiling (or ratio to Distribution) and its target. */
export function formatLimits(limits: readonly LimitResult[]): string {
  const rows = limits.map((l) => [
    l.label,
    l.againstLabel,
    fractionText(l.berth),
    fractionText(l.distribution),
    l.against === 'distribution' ? '' : l.ratio === null ? '-' : `${formatNumber(l.ratio)}x`,
    l.p99 === null ? '' : `${formatNumber(l.p99)} ms`,
    l.target === '' ? '(no target)' : l.target,
    l.target === '' ? '' : metText(l.met),
  ]);
  return renderTable(['figure', 'against', 'Berth', 'Dist.', 'Berth/Dist.', 'Berth p99', 'target', ''], rows, [false, false, true, true, true, true, false, false]);
}

/** The workers comparison's lines. */
export function formatScaling(s: ScalingResult): string {
  const rows = s.points.map((p) => [String(p.workers), formatNumber(p.median), `${formatNumber(p.p99)} ms`, p.runs.map((r) => formatNumber(r)).join(' / ')]);
  return [
    `workers comparison: manifest GET by tag with wrk pinned to CPU ${s.wrkCpus}, Berth pinned to CPUs ${s.serverCpus}${s.sharedCores ? ' (shared with wrk: too few cores to keep them apart)' : ''}`,
    '',
    renderTable(['http.workers', 'req/s', 'p99', 'runs'], rows, [true, true, true, false]),
    '',
    `rate(${s.points.at(-1)?.workers ?? '?'}) / rate(1): ${fractionText(s.ratio)}, target >= ${s.target.toFixed(2)}: ${metText(s.met)}`,
  ].join('\n');
}

/**
 * The table printed on stdout: one row per figure with both registries' medians, the ratio
 * Berth / Distribution (marked `+` where Berth is better, `-` where it is worse) and which way
 * is better; then the limits, the workers comparison when run, the machine, its load and its
 * noise.
 */
export function formatReport(report: BenchReport): string {
  const rows = report.figures.map((f) => [
    f.label,
    f.unit,
    f.tool ?? '',
    formatNumber(f.berth.median),
    formatNumber(f.distribution.median),
    ratioText(f),
    `${f.better} is better`,
  ]);
  const table = renderTable(
    ['figure', 'unit', 'client', KIND_NAMES.berth, KIND_NAMES.distribution, 'Berth/Dist.', ''],
    rows,
    [false, false, false, true, true, true, false],
  );
  const m = report.machine;
  const runsText = report.runs === 1 ? '1 run' : `median of ${report.runs} runs`;
  return [
    `Berth vs CNCF Distribution (${m.distribution}), ${report.mode} mode, ${runsText}, ${Math.round(report.seconds)} s`,
    '',
    ...(report.figures.length > 0 ? [table, ''] : []),
    ...(report.limits.length > 0 ? ['against the limit (fractions: median over runs of figure / ceiling measured in the same pass):', '', formatLimits(report.limits), ''] : []),
    ...(report.scaling !== undefined ? [formatScaling(report.scaling), ''] : []),
    `machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ${m.skopeo}, autocannon ${m.autocannon}, ${report.wrk}`,
    `load average (1/5/15 min): before ${m.loadBefore.join(' / ')}, after ${m.loadAfter.join(' / ')}`,
    describeNoise(report.noise),
    ...report.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
