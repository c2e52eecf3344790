/**
 * The workers comparison (`--workers-scaling N`): does manifest GET by tag scale with
 * `http.workers`? Berth is started as it ships (one process) and with `http.workers` 2 .. N,
 * each time on fresh storage holding one image; wrk loads it pinned to CPU 0 with `taskset`
 * (one thread), and every Berth process is pinned (`taskset -a -p`, inherited by workers
 * forked later) to CPUs 1 .. N when the machine has that many more, or else to every CPU,
 * the same set for each worker count, and the report says they share wrk's core. The target
 * (issue 16) is rate(N) >= 0.8 × N × rate(1) where the generator does not share the cores.
 */
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { median } from './figures.js';
import { fetchOk, pushBytes, putManifest } from './http.js';
import { runFraction } from './limits.js';
import { startNoise, type LabelledNoise } from './noise.js';
import type { BenchOptions } from './options.js';
import { processTree } from './proc.js';
import type { ScalingPoint, ScalingResult } from './report.js';
import { withTarget } from './servers.js';
import { describeWrk, runWrk } from './wrk.js';
import { MANIFEST_ACCEPT, OCI_MANIFEST, tinyImage } from './workloads/content.js';

/** What the comparison is run with. */
export interface ScalingContext {
  readonly options: BenchOptions;
  readonly workDir: string;
  log(message: string): void;
  /** Where each measurement's noise sample goes. */
  readonly noise: LabelledNoise[];
  readonly ticks: number;
}

/** The CPU sets of the comparison on a machine of `cores` CPUs, up to `workers` workers (pure). */
export function scalingCpus(cores: number, workers: number): { wrkCpus: string; serverCpus: string; sharedCores: boolean } {
  if (cores - 1 >= workers) return { wrkCpus: '0', serverCpus: workers === 1 ? '1' : `1-${workers}`, sharedCores: false };
  return { wrkCpus: '0', serverCpus: cores === 1 ? '0' : `0-${cores - 1}`, sharedCores: true };
}

/** Pins `pid` and its descendants, every thread, to `cpus`. */
function pinTree(pid: number, cpus: string): void {
  for (const p of processTree(pid)) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(p)], { stdio: 'ignore' });
}

/** Runs the comparison and resolves with its result. */
export async function workersScaling(ctx: ScalingContext, maxWorkers: number): Promise<ScalingResult> {
  const { sizes } = ctx.options;
  const cpus = scalingCpus(availableParallelism(), maxWorkers);
  const counts = Array.from({ length: maxWorkers }, (_, i) => i + 1);
  const image = tinyImage(4096);
  const runs = new Map<number, { rps: number[]; p99: number[] }>(counts.map((w) => [w, { rps: [], p99: [] }]));
  const path = '/v2/scaling/app/manifests/latest';
  for (let run = 0; run < ctx.options.runs; run++) {
    for (const workers of run % 2 === 0 ? counts : [...counts].reverse()) {
      const label = `workers comparison: run ${run + 1}/${ctx.options.runs}, http.workers ${workers}`;
      ctx.log(label);
      const dataDir = join(ctx.workDir, 'workers-scaling', `${workers}-${run}`);
      const endNoise = startNoise(ctx.ticks);
      try {
        await withTarget('berth', { dataDir, berthWorkers: workers }, async (target) => {
          await pushBytes(target.url, 'scaling/app', image.layer.bytes, image.layer.digest);
          await pushBytes(target.url, 'scaling/app', image.config.bytes, image.config.digest);
          await putManifest(target.url, 'scaling/app', 'latest', image.manifest.bytes, OCI_MANIFEST);
          const { headers } = await fetchOk(target.url, path, { headers: { Accept: MANIFEST_ACCEPT } });
          if (headers.get('docker-content-digest') !== image.manifest.digest) throw new Error('workers comparison: wrong manifest digest');
          pinTree(target.pid, cpus.serverCpus);
          const result = await runWrk({
            url: `${target.url}${path}`,
            headers: { Accept: MANIFEST_ACCEPT },
            threads: 1,
            connections: sizes.connections,
            seconds: sizes.wrkSeconds,
            warmupSeconds: sizes.wrkWarmupSeconds,
            cpus: cpus.wrkCpus,
          });
          ctx.log(describeWrk(`manifest GET by tag, http.workers ${workers}`, result));
          runs.get(workers)?.rps.push(result.rps);
          runs.get(workers)?.p99.push(result.p99);
        });
      } finally {
        ctx.noise.push({ label, ...endNoise() });
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  const points: ScalingPoint[] = counts.map((workers) => {
    const r = runs.get(workers) ?? { rps: [], p99: [] };
    return { workers, runs: r.rps, median: median(r.rps), p99: median(r.p99) };
  });
  const ratio = runFraction(points.at(-1)?.runs ?? [], points[0]?.runs ?? []);
  const target = 0.8 * maxWorkers;
  return { ...cpus, points, ratio, target, met: ratio === null ? null : ratio >= target };
}
