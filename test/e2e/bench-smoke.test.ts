import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/registries.js';

// The benchmark (bench/run.ts) in its seconds-long --smoke mode: it must run end to end against
// both registries and report every figure, the wrk loads (1 s each, against Berth,
// Distribution and the ceiling server) parsed into rates and fractions of the ceiling, and the
// noise of every measurement. Timings are never asserted: only that numbers were measured.

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runBench(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'dist', 'bench', 'run.js'), ...args],
      { cwd: repoRoot, env, timeout: 120_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function figureById(figures: unknown[], id: string): Record<string, unknown> {
  const f = figures.find((x) => isRecord(x) && x['id'] === id);
  assert.ok(isRecord(f), `no figure ${id}`);
  return f;
}

describe('npm run bench --smoke', { timeout: 150_000 }, () => {
  let dir: string;
  let run: Run;
  let outFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-bench-smoke-'));
    outFile = join(dir, 'results.json');
    run = await runBench(['--smoke', '--out', outFile]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 and prints a table naming both registries', () => {
    assert.equal(run.code, 0, `bench exited with ${String(run.code)}:\n${run.stderr.slice(-4000)}`);
    const header = run.stdout.split('\n').find((line) => line.startsWith('figure'));
    assert.ok(header !== undefined, `no table header in:\n${run.stdout}`);
    assert.match(header, /Berth/);
    assert.match(header, /Distribution/);
    assert.match(run.stdout, /manifest GET by tag/);
    assert.match(run.stdout, /load average/);
  });

  it('writes JSON with a number for every figure for both registries', async () => {
    const report: unknown = JSON.parse(await readFile(outFile, 'utf8'));
    assert.ok(isRecord(report));
    assert.equal(report['mode'], 'smoke');
    assert.ok(isRecord(report['machine']));
    assert.equal(typeof report['machine']['cores'], 'number');
    const figures = report['figures'];
    assert.ok(Array.isArray(figures));
    // Every workload is represented: big layer, small images, request rates, catalog scaling.
    for (const prefix of ['big.', 'small.', 'ceiling.', 'ceiling-head.', 'base.', 'manifest-get.', 'manifest-digest.', 'blob-head.', 'blob-get.', 'tags-list.', 'catalog.', 'scale.', 'disk.dd', 'big.pull.curl']) {
      assert.ok(
        figures.some((f) => isRecord(f) && typeof f['id'] === 'string' && f['id'].startsWith(prefix)),
        `no figure ${prefix}*`,
      );
    }
    for (const f of figures) {
      assert.ok(isRecord(f));
      for (const kind of ['berth', 'distribution']) {
        const result: unknown = f[kind];
        assert.ok(isRecord(result), `${String(f['id'])}: no ${kind} result`);
        assert.equal(typeof result['median'], 'number', `${String(f['id'])}: ${kind} median is not a number`);
        assert.ok(Number.isFinite(result['median']), `${String(f['id'])}: ${kind} median is not finite`);
      }
      // null only when Distribution's value is 0 (e.g. CPU time below one clock tick in smoke mode).
      assert.ok(typeof f['ratio'] === 'number' || f['ratio'] === null, `${String(f['id'])}: bad ratio`);
    }
  });

  it('loads GETs with wrk, HEAD with autocannon, and measures the ceiling for both registries', async () => {
    const report: unknown = JSON.parse(await readFile(outFile, 'utf8'));
    assert.ok(isRecord(report) && Array.isArray(report['figures']));
    assert.equal(report['schema'], 'berth-bench/2');
    assert.match(String(report['wrk']), /^wrk /);
    const figures = report['figures'];
    for (const id of ['ceiling.rps', 'base.rps', 'manifest-get.rps', 'manifest-digest.rps', 'tags-list.rps']) assert.equal(figureById(figures, id)['tool'], 'wrk', id);
    for (const id of ['ceiling-head.rps', 'blob-head.rps']) assert.equal(figureById(figures, id)['tool'], 'autocannon', id);
    for (const kind of ['berth', 'distribution']) {
      const ceiling = figureById(figures, 'ceiling.rps')[kind];
      assert.ok(isRecord(ceiling) && typeof ceiling['median'] === 'number' && ceiling['median'] > 0, `no ceiling rate measured in the ${kind} pass`);
    }
  });

  it('holds figures to their ceilings and prints the limits table', async () => {
    const report: unknown = JSON.parse(await readFile(outFile, 'utf8'));
    assert.ok(isRecord(report) && Array.isArray(report['limits']));
    const limits = report['limits'];
    const byFigure = new Map(limits.filter(isRecord).map((l) => [l['figure'], l]));
    for (const id of ['base.rps', 'manifest-get.rps', 'manifest-digest.rps', 'blob-head.rps', 'tags-list.rps', 'big.push.monolithic', 'big.pull.curl']) {
      const l = byFigure.get(id);
      assert.ok(l !== undefined, `no limit for ${id}`);
      // A fraction was computed from two measured numbers (its size is the machine's business).
      assert.ok(typeof l['berth'] === 'number' && Number.isFinite(l['berth']) && l['berth'] > 0, `${id}: no fraction`);
      assert.equal(typeof l['met'], 'boolean', `${id}: no verdict`);
      assert.equal(typeof l['target'], 'string');
    }
    assert.equal(byFigure.get('blob-head.rps')?.['against'], 'ceiling-head.rps', 'HEAD is compared only with the same load tool');
    assert.equal(byFigure.get('big.push.monolithic')?.['against'], 'disk.dd');
    assert.match(run.stdout, /against the limit/);
    assert.match(run.stdout, /manifest GET by digest .*trivial Node server.*(met|NOT MET)/);
  });

  it('measures the noise of every measurement and says whether the run is noisy', async () => {
    const report: unknown = JSON.parse(await readFile(outFile, 'utf8'));
    assert.ok(isRecord(report) && isRecord(report['noise']));
    const noise = report['noise'];
    assert.equal(typeof noise['noisy'], 'boolean');
    assert.ok(typeof noise['meanCores'] === 'number' && noise['meanCores'] >= 0);
    assert.equal(noise['thresholdCores'], 0.1);
    assert.ok(Array.isArray(noise['samples']));
    // 4 workloads, each measured once against each registry.
    assert.equal(noise['samples'].length, 8);
    assert.match(run.stdout, /^noise: CPU used by other processes during the measurements: \d+\.\d\d cores on average/m);
  });
});

describe('npm run bench --smoke --workers-scaling 2', { timeout: 150_000 }, () => {
  let dir: string;
  let run: Run;
  let outFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-bench-scaling-'));
    outFile = join(dir, 'results.json');
    run = await runBench(['--smoke', '--workers-scaling', '2', '--out', outFile]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('measures one process and two workers with wrk pinned, and prints their ratio', async () => {
    assert.equal(run.code, 0, `bench exited with ${String(run.code)}:\n${run.stderr.slice(-4000)}`);
    const report: unknown = JSON.parse(await readFile(outFile, 'utf8'));
    assert.ok(isRecord(report) && isRecord(report['scaling']));
    const scaling = report['scaling'];
    assert.equal(scaling['wrkCpus'], '0');
    assert.ok(Array.isArray(scaling['points']) && scaling['points'].length === 2);
    for (const p of scaling['points']) assert.ok(isRecord(p) && typeof p['median'] === 'number' && p['median'] > 0);
    assert.ok(typeof scaling['ratio'] === 'number' && scaling['ratio'] > 0);
    assert.equal(scaling['target'], 1.6);
    assert.deepEqual(report['figures'], []);
    assert.match(run.stdout, /rate\(2\) \/ rate\(1\): \d+\.\d\d, target >= 1\.60: (met|NOT MET)/);
  });
});

describe('npm run bench without wrk', { timeout: 30_000 }, () => {
  it('fails before measuring anything, naming wrk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-bench-nowrk-'));
    try {
      const run = await runBench(['--smoke', '--out', join(dir, 'r.json')], { ...process.env, PATH: dir });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /wrk not found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
