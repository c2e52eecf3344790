/** The contract every workload implements, and what the runner gives it. */
import type { Figure, Kind, RunValues } from '../figures.js';
import type { BenchOptions } from '../options.js';

/** What a workload is built with. */
export interface WorkloadContext {
  readonly options: BenchOptions;
  /** A scratch directory of this bench run, removed at the end; the workload owns its subdirectory `name`. */
  readonly workDir: string;
  /** Whether a figure is wanted (`--only`); unwanted figures need not be measured. */
  wants(figure: Figure): boolean;
  /** Prints a progress line to stderr. */
  log(message: string): void;
}

/**
 * A group of figures measured together, against a registry of each kind in turn. The runner
 * calls `prepare` once, then `measure` once per run per kind (alternating which kind goes
 * first), then `dispose`, also after a failure.
 */
export interface Workload {
  readonly name: string;
  /** Every figure this workload can measure, in table order. */
  readonly figures: readonly Figure[];
  /** Builds what every measurement reuses (image layouts, generated storage). */
  prepare(): Promise<void>;
  /**
   * Starts a registry of `kind` (on fresh storage unless the workload says otherwise),
   * measures every wanted figure once, stops it, and resolves with the values by figure id.
   */
  measure(kind: Kind, run: number): Promise<RunValues>;
  /** Removes what `prepare` and `measure` left on disk. */
  dispose(): Promise<void>;
}
