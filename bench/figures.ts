/** What the bench measures: named figures, each a number per registry per run. */

/** The registries compared, in table order. */
export const KINDS = ['berth', 'distribution'] as const;

/** One of the compared registries. */
export type Kind = (typeof KINDS)[number];

/** Display names of the registries. */
export const KIND_NAMES: Readonly<Record<Kind, string>> = { berth: 'Berth', distribution: 'Distribution' };

/** Which way a figure improves. */
export type Better = 'higher' | 'lower';

/** One measured quantity. */
export interface Figure {
  /** Stable key in the JSON results, e.g. `manifest-get.rps`. */
  readonly id: string;
  /** What the table says, e.g. `manifest GET by tag`. */
  readonly label: string;
  /** Unit of the value, e.g. `req/s`, `MB/s` (10^6 bytes), `ms`, `s`, `MiB`, `CPU s/GiB`. */
  readonly unit: string;
  readonly better: Better;
  /** The client that measured it, when that matters to read it (the load generator of a rate). */
  readonly tool?: LoadTool;
}

/** The load generators: wrk (a C client, own process) and autocannon (in the bench process). */
export type LoadTool = 'wrk' | 'autocannon';

/** Builds a figure (a shorthand for the workloads' figure lists). */
export function figure(id: string, label: string, unit: string, better: Better, tool?: LoadTool): Figure {
  return Object.freeze(tool === undefined ? { id, label, unit, better } : { id, label, unit, better, tool });
}

/**
 * A load's two figures: requests per second (higher is better) and p99 latency (lower is
 * better), measured with `tool` (autocannon unless said).
 */
export function rateFigures(id: string, label: string, tool: LoadTool = 'autocannon'): { rps: Figure; p99: Figure } {
  return {
    rps: figure(`${id}.rps`, `${label}`, 'req/s', 'higher', tool),
    p99: figure(`${id}.p99`, `${label}, p99`, 'ms', 'lower', tool),
  };
}

/**
 * Whether a figure is wanted: `filters` empty, or one of them (lower case) is a substring of
 * its id or label.
 */
export function isWanted(f: Figure, filters: readonly string[]): boolean {
  if (filters.length === 0) return true;
  const id = f.id.toLowerCase();
  const label = f.label.toLowerCase();
  return filters.some((s) => id.includes(s) || label.includes(s));
}

/** Values of one run against one registry, by figure id. */
export type RunValues = Map<string, number>;

/** The median of some numbers (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
