/**
 * Command-line options of the benchmark (pure: argv in, frozen options out) and the sizes of
 * each mode. `--quick` and `--smoke` only change sizes and durations, never what is measured.
 */
import { parseArgs } from 'node:util';

/** How big and long the bench is: the full run, a quick look, or the seconds-long smoke test. */
export type BenchMode = 'default' | 'quick' | 'smoke';

/** Sizes and durations of one mode. */
export interface Sizes {
  /** Content bytes of the big layer pushed and pulled with skopeo and with the HTTP client. */
  readonly bigLayerBytes: number;
  /** PATCH size of the chunked upload. */
  readonly chunkBytes: number;
  /** Images pushed by concurrent skopeo processes. */
  readonly smallImages: number;
  /** How many skopeo processes push them at once. */
  readonly smallConcurrency: number;
  /** Layers per small image. */
  readonly smallLayers: number;
  /** Content bytes per small layer. */
  readonly smallLayerBytes: number;
  /** Size of the blob the request-rate loads GET and HEAD. */
  readonly rateBlobBytes: number;
  /** Tags of the repository the request-rate tags list reads. */
  readonly rateTags: number;
  /** Repositories present during the request-rate catalog load (besides the main one). */
  readonly rateRepos: number;
  /** Open connections of every request-rate load. */
  readonly connections: number;
  /** Seconds of each request-rate load (after the warm-up). */
  readonly loadSeconds: number;
  /** Seconds of load thrown away before each measured load. */
  readonly warmupSeconds: number;
  /** Whole seconds of each wrk load (after its warm-up). */
  readonly wrkSeconds: number;
  /** Whole seconds of wrk load thrown away before each measured wrk load (0 for none). */
  readonly wrkWarmupSeconds: number;
  /** wrk threads (`-t`). */
  readonly wrkThreads: number;
  /** Repository counts the catalog scaling figures compare (smaller first). */
  readonly scaleRepos: readonly [number, number];
  /** Tags of the repository the scaling tags list reads. */
  readonly scaleTags: number;
  /** Seconds of each scaling load (after the warm-up). */
  readonly scaleLoadSeconds: number;
  /** Page size (`n`) of the catalog first-page load. */
  readonly catalogPage: number;
  /** Page size (`n`) of the full catalog walk. */
  readonly walkPage: number;
  /** How long to keep repeating full catalog walks in one run (at least one walk). */
  readonly walkBudgetSeconds: number;
}

/** Everything the bench was asked to do. */
export interface BenchOptions {
  readonly mode: BenchMode;
  /** Repetitions of every figure; the table shows the median. */
  readonly runs: number;
  /** Figure filters (substrings of id or label, case-insensitive); empty means every figure. */
  readonly only: readonly string[];
  /** Where to write the JSON results; undefined means bench/results/<date>.json. */
  readonly out: string | undefined;
  /** When set, Berth runs with `node --cpu-prof` writing its profiles into this directory. */
  readonly cpuProfDir: string | undefined;
  /** Berth's `http.workers` (default 1, as Berth ships). */
  readonly berthWorkers: number;
  /**
   * When set, the run is only the workers comparison: manifest GET by tag with wrk pinned to
   * one core, against Berth with `http.workers` 1 and each count up to this one.
   */
  readonly workersScaling: number | undefined;
  readonly sizes: Sizes;
}

const MiB = 1024 * 1024;

const DEFAULT_SIZES: Sizes = {
  bigLayerBytes: 512 * MiB,
  chunkBytes: 16 * MiB,
  smallImages: 50,
  smallConcurrency: 4,
  smallLayers: 3,
  smallLayerBytes: 64 * 1024,
  rateBlobBytes: 1 * MiB,
  rateTags: 50,
  rateRepos: 100,
  connections: 32,
  loadSeconds: 5,
  warmupSeconds: 0.5,
  wrkSeconds: 5,
  wrkWarmupSeconds: 1,
  wrkThreads: 2,
  scaleRepos: [1_000, 10_000],
  scaleTags: 1_000,
  scaleLoadSeconds: 2,
  catalogPage: 100,
  walkPage: 1_000,
  walkBudgetSeconds: 1,
};

/** The sizes of each mode. */
export const SIZES: Readonly<Record<BenchMode, Sizes>> = {
  default: DEFAULT_SIZES,
  quick: {
    ...DEFAULT_SIZES,
    bigLayerBytes: 128 * MiB,
    smallImages: 20,
    loadSeconds: 2,
    warmupSeconds: 0.25,
    wrkSeconds: 2,
    scaleRepos: [1_000, 10_000],
    scaleLoadSeconds: 1,
  },
  smoke: {
    ...DEFAULT_SIZES,
    bigLayerBytes: 4 * MiB,
    chunkBytes: 1 * MiB,
    smallImages: 3,
    smallConcurrency: 2,
    smallLayerBytes: 4 * 1024,
    rateTags: 5,
    rateRepos: 5,
    connections: 4,
    loadSeconds: 0.5,
    warmupSeconds: 0.1,
    wrkSeconds: 1,
    wrkWarmupSeconds: 0,
    scaleRepos: [10, 20],
    scaleTags: 20,
    scaleLoadSeconds: 0.5,
    catalogPage: 5,
    walkPage: 5,
    walkBudgetSeconds: 0.1,
  },
};

/** Runs of each mode unless `--runs` says otherwise. */
const DEFAULT_RUNS: Readonly<Record<BenchMode, number>> = { default: 3, quick: 1, smoke: 1 };

/** The usage text printed by `--help` and with option errors. */
export const USAGE = `usage: node dist/bench/run.js [options]

Benchmarks Berth against CNCF Distribution (docker-registry) on this machine and prints a table.

  --runs N          repeat every figure N times and report the median (default 3; 1 with --quick/--smoke)
  --quick           smaller sizes and shorter loads
  --smoke           tiny sizes, sub-second loads: checks that the bench works, measures nothing useful
  --only TEXT       only figures whose id or label contains TEXT (repeatable, case-insensitive)
  --out FILE        write the JSON results there (default bench/results/<date>.json)
  --cpu-prof DIR    run Berth under node --cpu-prof, writing .cpuprofile files into DIR
  --berth-workers N run Berth with http.workers: N (default 1, as it ships)
  --workers-scaling N
                    only compare Berth with http.workers 1 .. N (N >= 2) on manifest GET by tag,
                    wrk pinned to core 0 with taskset (see bench/README.md)
  --help            this text`;

/** A command line the bench cannot run with; the message says why. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses the bench's arguments. Throws a {@link UsageError} for an unknown option, a missing
 * value, `--quick` with `--smoke`, or a `--runs` that is not a positive integer; returns
 * undefined for `--help`.
 */
export function parseOptions(argv: readonly string[]): BenchOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        runs: { type: 'string' },
        quick: { type: 'boolean' },
        smoke: { type: 'boolean' },
        only: { type: 'string', multiple: true },
        out: { type: 'string' },
        'cpu-prof': { type: 'string' },
        'berth-workers': { type: 'string' },
        'workers-scaling': { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) return undefined;
  if (values.quick === true && values.smoke === true) throw new UsageError('--quick and --smoke exclude each other');
  const mode: BenchMode = values.smoke === true ? 'smoke' : values.quick === true ? 'quick' : 'default';
  let runs = DEFAULT_RUNS[mode];
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!/^\d+$/.test(values.runs) || runs < 1) throw new UsageError(`--runs must be a positive integer, not "${values.runs}"`);
  }
  const workers = values['berth-workers'] ?? '1';
  const berthWorkers = Number(workers);
  if (!/^\d+$/.test(workers) || berthWorkers < 1 || berthWorkers > 256) throw new UsageError(`--berth-workers must be a whole number from 1 to 256, not "${workers}"`);
  let workersScaling: number | undefined;
  if (values['workers-scaling'] !== undefined) {
    const text = values['workers-scaling'];
    workersScaling = Number(text);
    if (!/^\d+$/.test(text) || workersScaling < 2 || workersScaling > 64) throw new UsageError(`--workers-scaling must be a whole number from 2 to 64, not "${text}"`);
  }
  return Object.freeze({
    mode,
    runs,
    berthWorkers,
    workersScaling,
    only: Object.freeze((values.only ?? []).map((s) => s.toLowerCase())),
    out: values.out,
    cpuProfDir: values['cpu-prof'],
    sizes: SIZES[mode],
  });
}
