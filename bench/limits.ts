/**
 * The bench measured against the limit (issue 16): each figure as a fraction of a ceiling
 * measured in the same run (the trivial Node server for request rates, `dd` for the disk), or
 * against Distribution, with the target the issue sets and whether it is met. Pure.
 *
 * A fraction is the median over runs of (figure / ceiling) within each run, both measured in
 * the same registry pass minutes apart, so a machine that slows down between runs moves both.
 * Request rates are only ever divided by a ceiling the same load generator measured: wrk's GET
 * figures by wrk's ceiling, autocannon's HEAD by autocannon's.
 */
import { median } from './figures.js';
import type { FigureResult } from './report.js';

/** What a figure is held to. */
export type LimitTarget =
  /**
   * At least `min` of the `ceiling` figure measured in the same run (no target without `min`:
   * the fraction is only reported); p99 under `maxP99Ms` when set.
   */
  | { readonly kind: 'ceiling'; readonly ceiling: string; readonly min?: number; readonly p99?: string; readonly maxP99Ms?: number }
  /** At least `min` times Distribution's figure. */
  | { readonly kind: 'distribution'; readonly min: number };

/** One row of the limits table. */
export interface LimitSpec {
  /** The figure held to the target (its id). */
  readonly figure: string;
  readonly target: LimitTarget;
}

const RATE = (figure: string, min: number): LimitSpec => ({
  figure: `${figure}.rps`,
  target: { kind: 'ceiling', ceiling: 'ceiling.rps', min, p99: `${figure}.p99`, maxP99Ms: 10 },
});

/** The targets of issue 16, in table order, and the other wrk rates' fractions (no target). */
export const LIMITS: readonly LimitSpec[] = [
  { figure: 'base.rps', target: { kind: 'ceiling', ceiling: 'ceiling.rps', min: 0.8 } },
  RATE('manifest-get', 0.6),
  RATE('manifest-digest', 0.6),
  { figure: 'blob-head.rps', target: { kind: 'ceiling', ceiling: 'ceiling-head.rps', min: 0.6, p99: 'blob-head.p99', maxP99Ms: 10 } },
  RATE('tags-list', 0.6),
  { figure: 'blob-get.rps', target: { kind: 'ceiling', ceiling: 'ceiling.rps', p99: 'blob-get.p99' } },
  { figure: 'catalog.rps', target: { kind: 'ceiling', ceiling: 'ceiling.rps', p99: 'catalog.p99' } },
  { figure: 'big.push.monolithic', target: { kind: 'ceiling', ceiling: 'disk.dd', min: 0.8 } },
  { figure: 'big.pull.curl', target: { kind: 'distribution', min: 1 } },
];

/** The ceiling figures that limits divide by (they must be measured whenever a limited figure is). */
export function ceilingsOf(figureId: string): string[] {
  return LIMITS.filter((l) => l.figure === figureId || (l.target.kind === 'ceiling' && l.target.p99 === figureId)).flatMap((l) =>
    l.target.kind === 'ceiling' ? [l.target.ceiling] : [],
  );
}

/** One figure held to its target. */
export interface LimitResult {
  readonly figure: string;
  readonly label: string;
  readonly unit: string;
  /** The ceiling figure's id, or `distribution`. */
  readonly against: string;
  readonly againstLabel: string;
  /** Berth's median fraction of the ceiling (or its ratio to Distribution). */
  readonly berth: number | null;
  /** Distribution's median fraction of the ceiling (null for a Distribution target). */
  readonly distribution: number | null;
  /** Berth's median over Distribution's (the figure's ratio). */
  readonly ratio: number | null;
  /** Berth's median p99, ms, when the spec names a p99 figure. */
  readonly p99: number | null;
  /** The target, as text: `>= 0.6 of ceiling, p99 < 10 ms`; empty when there is none. */
  readonly target: string;
  /** Whether Berth meets it; null when a number is missing or there is no target. */
  readonly met: boolean | null;
}

/** Median over runs of a[i] / b[i] (runs of the same index were measured in the same pass). */
export function runFraction(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  const fractions: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && y > 0) fractions.push(x / y);
  }
  return fractions.length === 0 ? null : median(fractions);
}

/** Holds each measured figure to its target; specs whose figures are missing are left out. */
export function computeLimits(figures: readonly FigureResult[], specs: readonly LimitSpec[] = LIMITS): LimitResult[] {
  const byId = new Map(figures.map((f) => [f.id, f]));
  const out: LimitResult[] = [];
  for (const spec of specs) {
    const f = byId.get(spec.figure);
    if (f === undefined) continue;
    const t = spec.target;
    if (t.kind === 'distribution') {
      out.push({
        figure: f.id,
        label: f.label,
        unit: f.unit,
        against: 'distribution',
        againstLabel: 'Distribution',
        berth: f.ratio,
        distribution: null,
        ratio: f.ratio,
        p99: null,
        target: `>= ${t.min}x Distribution`,
        met: f.ratio === null ? null : f.ratio >= t.min,
      });
      continue;
    }
    const ceiling = byId.get(t.ceiling);
    if (ceiling === undefined) continue;
    const berth = runFraction(f.berth.runs, ceiling.berth.runs);
    const distribution = runFraction(f.distribution.runs, ceiling.distribution.runs);
    const p99 = t.p99 === undefined ? null : (byId.get(t.p99)?.berth.median ?? null);
    const p99Met = t.maxP99Ms === undefined ? true : p99 === null ? null : p99 < t.maxP99Ms;
    const min = t.min;
    const fractionMet = berth === null || min === undefined ? null : berth >= min;
    out.push({
      figure: f.id,
      label: f.label,
      unit: f.unit,
      against: ceiling.id,
      againstLabel: ceiling.label,
      berth,
      distribution,
      ratio: f.ratio,
      p99,
      target: min === undefined ? '' : `>= ${min} of ceiling${t.maxP99Ms === undefined ? '' : `, p99 < ${t.maxP99Ms} ms`}`,
      met: fractionMet === null || p99Met === null ? null : fractionMet && p99Met,
    });
  }
  return out;
}
