import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/registries.js';

// The benchmark (bench/run.ts) in its seconds-long --smoke mode: it must run end to end against
// both registries and report every figure. Timings are not asserted.

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runBench(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'dist', 'bench', 'run.js'), ...args],
      { cwd: repoRoot, timeout: 120_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
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
    for (const prefix of ['big.', 'small.', 'manifest-get.', 'blob-head.', 'blob-get.', 'tags-list.', 'catalog.', 'scale.']) {
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
});
