import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeLimits, runFraction, type LimitSpec } from '../../bench/limits.js';
import type { FigureResult } from '../../bench/report.js';
import { parseCurlWriteOut, parseDdOutput } from '../../bench/transfer-tools.js';
import { scalingCpus } from '../../bench/workers-scaling.js';

// The bench against the limit (bench/limits.ts), and the parsers of dd and curl.

function fig(id: string, berth: number[], distribution: number[], better: 'higher' | 'lower' = 'higher'): FigureResult {
  const med = (v: number[]): number | null => (v.length === 0 ? null : [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? null);
  const b = med(berth);
  const d = med(distribution);
  return {
    id,
    label: id,
    unit: 'req/s',
    better,
    berth: { median: b, runs: berth },
    distribution: { median: d, runs: distribution },
    ratio: b !== null && d !== null && d !== 0 ? b / d : null,
  };
}

describe('runFraction', () => {
  it('is the median of the per-run fractions, not the fraction of the medians', () => {
    // medians 300 / 1000 = 0.3; per run 0.1, 0.5, 0.5 → 0.5.
    assert.equal(runFraction([100, 300, 500], [1000, 600, 1000]), 0.5);
  });
  it('skips runs without a ceiling and is null with none', () => {
    assert.equal(runFraction([1, 2], [0, 4]), 0.5);
    assert.equal(runFraction([1], []), null);
  });
});

describe('computeLimits', () => {
  const specs: LimitSpec[] = [
    { figure: 'a.rps', target: { kind: 'ceiling', ceiling: 'ceiling.rps', min: 0.6, p99: 'a.p99', maxP99Ms: 10 } },
    { figure: 'b.rps', target: { kind: 'ceiling', ceiling: 'ceiling.rps', min: 0.8 } },
    { figure: 'pull', target: { kind: 'distribution', min: 1 } },
    { figure: 'missing.rps', target: { kind: 'ceiling', ceiling: 'ceiling.rps', min: 0.5 } },
    { figure: 'c.rps', target: { kind: 'ceiling', ceiling: 'ceiling.rps' } },
  ];
  const figures = [
    fig('ceiling.rps', [10_000], [20_000]),
    fig('a.rps', [7_000], [2_000]),
    fig('a.p99', [12], [40], 'lower'),
    fig('b.rps', [9_000], [1_000]),
    fig('pull', [900], [1000]),
    fig('c.rps', [2_500], [500]),
  ];
  const limits = computeLimits(figures, specs);

  it('leaves out figures that were not measured', () => {
    assert.deepEqual(
      limits.map((l) => l.figure),
      ['a.rps', 'b.rps', 'pull', 'c.rps'],
    );
  });
  it('divides each registry by the ceiling of its own pass', () => {
    const a = limits[0];
    assert.ok(a !== undefined);
    assert.equal(a.berth, 0.7);
    assert.equal(a.distribution, 0.1);
    assert.equal(a.against, 'ceiling.rps');
  });
  it('fails a target on p99 even when the fraction is met', () => {
    assert.equal(limits[0]?.p99, 12);
    assert.equal(limits[0]?.met, false);
    assert.equal(limits[0]?.target, '>= 0.6 of ceiling, p99 < 10 ms');
  });
  it('meets a fraction-only target', () => {
    assert.equal(limits[1]?.berth, 0.9);
    assert.equal(limits[1]?.met, true);
  });
  it('reports the fraction and the ratio of a figure without a target, and no verdict', () => {
    const c = limits[3];
    assert.equal(c?.berth, 0.25);
    assert.equal(c?.distribution, 0.025);
    assert.equal(c?.ratio, 5);
    assert.equal(c?.target, '');
    assert.equal(c?.met, null);
  });
  it('holds a Distribution target to the ratio', () => {
    assert.equal(limits[2]?.berth, 0.9);
    assert.equal(limits[2]?.met, false);
  });
});

describe('parseDdOutput', () => {
  it('computes the rate from bytes and seconds', () => {
    const r = parseDdOutput('512+0 records in\n512+0 records out\n536870912 bytes (537 MB, 512 MiB) copied, 1.25 s, 430 MB/s\n');
    assert.equal(r.bytes, 536870912);
    assert.equal(r.rate, 536870912 / 1.25);
  });
  it('fails without the summary line', () => {
    assert.throws(() => parseDdOutput('dd: failed to open'), /no "N bytes/);
  });
});

describe('parseCurlWriteOut', () => {
  it('reads status, bytes and speed', () => {
    assert.deepEqual(parseCurlWriteOut('200 4194304 703000\n'), { status: 200, bytes: 4194304, rate: 703000 });
    assert.deepEqual(parseCurlWriteOut('200 10 12.5'), { status: 200, bytes: 10, rate: 12.5 });
  });
  it('fails on anything else', () => {
    assert.throws(() => parseCurlWriteOut(''), /not "status bytes speed"/);
  });
});

describe('scalingCpus', () => {
  it('keeps wrk on CPU 0 and the server on the others when there are enough', () => {
    assert.deepEqual(scalingCpus(8, 2), { wrkCpus: '0', serverCpus: '1-2', sharedCores: false });
    assert.deepEqual(scalingCpus(3, 2), { wrkCpus: '0', serverCpus: '1-2', sharedCores: false });
  });
  it("gives the server every CPU, wrk's included, when there are too few", () => {
    assert.deepEqual(scalingCpus(2, 2), { wrkCpus: '0', serverCpus: '0-1', sharedCores: true });
  });
});
