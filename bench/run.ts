/**
 * `npm run bench`: benchmarks Berth against CNCF Distribution on this machine. Runs every
 * workload against each registry in turn (never both at once), repeats each figure
 * `--runs` times alternating which registry goes first, holds figures to their ceilings
 * (limits.ts), measures the machine's noise around every measurement (noise.ts), prints the
 * table of medians and writes the JSON results (bench/results/<date>.json unless `--out`).
 * With `--workers-scaling N` the run is only the workers comparison (workers-scaling.ts).
 * Exit code 0 when every figure was measured, 1 on any failure, 2 on a bad command line.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { KINDS, isWanted, type Figure, type Kind } from './figures.js';
import { ceilingsOf, computeLimits } from './limits.js';
import { loadAverage, machineInfo } from './machine.js';
import { startNoise, summarizeNoise, type LabelledNoise } from './noise.js';
import { USAGE, UsageError, parseOptions, type BenchOptions } from './options.js';
import { clockTicks } from './proc.js';
import { figureResults, formatReport, type BenchReport, type ScalingResult } from './report.js';
import { wrkVersion } from './wrk.js';
import { workersScaling } from './workers-scaling.js';
import { bigBlobWorkload } from './workloads/big-blob.js';
import { requestsWorkload } from './workloads/requests.js';
import { scalingWorkload } from './workloads/scaling.js';
import { smallImagesWorkload } from './workloads/small-images.js';
import type { Workload, WorkloadContext } from './workloads/workload.js';

/** The repository root (this file is compiled to dist/bench/). */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const NOTES = [
  'both registries get the same config: filesystem storage on a fresh directory, storage.cache.blobdescriptor inmemory (as Distribution ships it), log level warn, access log off, 127.0.0.1',
  'MB/s is 10^6 bytes per second; skopeo figures count the compressed layer bytes',
  'request rates: GETs with wrk (its own process, 2 threads), HEAD with autocannon (in the bench process; wrk 4.1 cannot load HEAD), keep-alive connections, after a warm-up; both share the cores with the server',
  'ceilings: a trivial node:http server answering 1.5 KiB (bench/ceiling-server.ts) loaded the same way just before each registry pass, and dd conv=fdatasync into the storage directory just before the monolithic push; fractions are medians over runs of figure / ceiling',
  'catalog scaling: the storage is written directly on disk in Distribution layout, not pushed through the API, and the same directory is read by both registries; slow endpoints are loaded with a fixed number of requests instead of a fixed time (see bench/load.ts)',
  'server CPU and RSS are summed over the server process and its descendants, from /proc',
];

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Where the JSON goes: `--out`, or bench/results/<ISO date with dashes for colons>.json. */
function resultsPath(options: BenchOptions, date: string): string {
  return options.out ?? join(repoRoot, 'bench', 'results', `${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
}

/** What runWorkload shares with the runner. */
interface RunState {
  readonly options: BenchOptions;
  wants(figure: Figure): boolean;
  readonly collected: Map<string, Record<Kind, number[]>>;
  readonly noise: LabelledNoise[];
  readonly ticks: number;
}

async function runWorkload(workload: Workload, state: RunState): Promise<void> {
  const { options, collected } = state;
  const wanted = workload.figures.filter((f) => state.wants(f));
  if (wanted.length === 0) return;
  log(`${workload.name}: preparing`);
  await workload.prepare();
  try {
    for (let run = 0; run < options.runs; run++) {
      const order: readonly Kind[] = run % 2 === 0 ? KINDS : [...KINDS].reverse();
      for (const kind of order) {
        const label = `${workload.name}: run ${run + 1}/${options.runs}, ${kind}`;
        log(label);
        const endNoise = startNoise(state.ticks);
        const values = await workload.measure(kind, run);
        const noise = { label, ...endNoise() };
        state.noise.push(noise);
        log(`  noise: ${(noise.othersCores + noise.stealCores).toFixed(2)} cores used by other processes over ${noise.seconds.toFixed(1)} s`);
        for (const f of wanted) {
          const value = values.get(f.id);
          if (value === undefined || !Number.isFinite(value)) throw new Error(`${workload.name}: ${f.id} was not measured for ${kind}`);
          const entry = collected.get(f.id) ?? { berth: [], distribution: [] };
          entry[kind].push(value);
          collected.set(f.id, entry);
        }
      }
    }
  } finally {
    await workload.dispose();
  }
}

/** Runs the bench with `argv` and resolves with the exit code. */
async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const opts = options;
  const date = new Date().toISOString();
  const started = performance.now();
  const machine = machineInfo();
  const wrk = wrkVersion();
  const loadBefore = loadAverage();
  const workDir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  if (opts.cpuProfDir !== undefined) await mkdir(opts.cpuProfDir, { recursive: true });
  const probeCtx: WorkloadContext = { options: opts, workDir, wants: () => false, log };
  const allFigures = [bigBlobWorkload(probeCtx), smallImagesWorkload(probeCtx), requestsWorkload(probeCtx), scalingWorkload(probeCtx)].flatMap((w) => w.figures);
  // A figure held to a ceiling brings the ceiling along (`--only manifest` measures the ceiling too).
  const ceilings = new Set(allFigures.filter((f) => isWanted(f, opts.only)).flatMap((f) => ceilingsOf(f.id)));
  const wants = (f: Figure): boolean => opts.workersScaling === undefined && (isWanted(f, opts.only) || ceilings.has(f.id));
  const ctx: WorkloadContext = { options: opts, workDir, wants, log };
  const workloads: Workload[] = [bigBlobWorkload(ctx), smallImagesWorkload(ctx), requestsWorkload(ctx), scalingWorkload(ctx)];
  if (opts.workersScaling === undefined && !allFigures.some((f) => isWanted(f, opts.only))) {
    process.stderr.write(`no figure matches --only ${opts.only.join(', ')}; figures:\n${allFigures.map((f) => `  ${f.id}  ${f.label}`).join('\n')}\n`);
    await rm(workDir, { recursive: true, force: true });
    return 2;
  }

  const state: RunState = { options: opts, wants, collected: new Map(), noise: [], ticks: clockTicks() };
  let scaling: ScalingResult | undefined;
  try {
    for (const workload of workloads) await runWorkload(workload, state);
    if (opts.workersScaling !== undefined) scaling = await workersScaling({ options: opts, workDir, log, noise: state.noise, ticks: state.ticks }, opts.workersScaling);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }

  const figures = figureResults(allFigures, state.collected);
  const notes = opts.berthWorkers > 1 ? [...NOTES, `Berth ran with http.workers: ${opts.berthWorkers} (a primary and ${opts.berthWorkers} workers; RSS and CPU are summed over them)`] : NOTES;
  const report: BenchReport = {
    schema: 'berth-bench/2',
    date,
    mode: opts.mode,
    runs: opts.runs,
    seconds: (performance.now() - started) / 1000,
    machine: { ...machine, loadBefore, loadAfter: loadAverage() },
    wrk,
    sizes: opts.sizes,
    notes,
    figures,
    limits: computeLimits(figures),
    noise: summarizeNoise(state.noise),
    ...(scaling === undefined ? {} : { scaling }),
  };
  const out = resultsPath(opts, date);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${formatReport(report)}\nresults: ${out}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
