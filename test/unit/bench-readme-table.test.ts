import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BEGIN,
  END,
  ResultsError,
  betweenMarkers,
  latestFullRun,
  parseResults,
  renderReadmeTable,
  replaceBetweenMarkers,
} from '../../bench/readme-table.js';

// README.md's performance table is generated (bench/readme-table.ts, scripts/bench-table.js),
// never edited by hand: the committed README must hold exactly what the latest committed
// full-run results file generates.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A schema-2 results document with the figures and limits given. */
function results2(noisy: boolean): unknown {
  const fig = (id: string, label: string, berth: number, distribution: number): unknown => ({
    id,
    label,
    unit: 'req/s',
    better: 'higher',
    tool: 'wrk',
    berth: { median: berth, runs: [berth] },
    distribution: { median: distribution, runs: [distribution] },
    ratio: berth / distribution,
  });
  return {
    schema: 'berth-bench/2',
    date: '2026-12-03T06:00:00.000Z',
    mode: 'default',
    runs: 3,
    seconds: 600,
    machine: { cores: 2, cpuModel: 'AMD EPYC', memoryGiB: 23.5, kernel: 'k', node: 'v20.20.2', distribution: 'docker-registry github.com/docker/distribution 2.8.2+ds1' },
    wrk: 'wrk debian/4.1.0-3+b2',
    sizes: { connections: 32, rateRepos: 100, scaleRepos: [1000, 10000] },
    notes: [],
    figures: [
      fig('ceiling.rps', 'trivial Node server, 1.5 KiB (ceiling)', 40_000, 41_000),
      fig('ceiling.p99', 'trivial Node server, 1.5 KiB (ceiling), p99', 1.5, 1.4),
      fig('manifest-get.rps', 'manifest GET by tag', 26_000, 1_500),
      fig('manifest-get.p99', 'manifest GET by tag, p99', 3.2, 40),
    ],
    limits: [{ figure: 'manifest-get.rps', berth: 0.65, distribution: 0.04, target: '>= 0.6 of ceiling, p99 < 10 ms', met: true }],
    noise: { thresholdCores: 0.1, meanCores: noisy ? 0.8 : 0.03, maxCores: noisy ? 1.2 : 0.05, noisy, samples: [] },
  };
}

describe('README performance table', () => {
  it('is what the latest committed full run generates', () => {
    const readme = readFileSync(`${repoRoot}README.md`, 'utf8');
    const { file, results } = latestFullRun(repoRoot);
    assert.equal(betweenMarkers(readme), renderReadmeTable(results, file), `README.md's table was edited by hand: run node scripts/bench-table.js (from ${file})`);
  });

  it('names its results file and lays out one row per measured figure', () => {
    const block = renderReadmeTable(parseResults(results2(false)), 'bench/results/x.json');
    assert.match(block, /^A recent run \(`bench\/results\/x\.json`, median of 3 runs\)/);
    assert.match(block, /noise 0\.03 cores on average/);
    assert.match(block, /\| figure \| Berth \| Distribution 2\.8\.2 \| ratio \| Berth against the limit \|/);
    assert.match(block, /\| manifest GET by tag \(32 connections\) \| 26,000 req\/s, p99 3\.20 ms \| 1,500 req\/s, p99 40\.0 ms \| 17\.3× \| 0\.65 of the ceiling \(target ≥ 0\.6 of ceiling, p99 < 10 ms: met\) \|/);
    assert.match(block, /\| trivial Node server, 1\.5 KiB \(the ceiling\) \| 40,000 req\/s/);
    // Rows whose figures were not measured are left out.
    assert.doesNotMatch(block, /blob HEAD|catalog/);
  });

  it('refuses a run marked noisy', () => {
    assert.throws(() => renderReadmeTable(parseResults(results2(true)), 'bench/results/n.json'), (err: unknown) => err instanceof ResultsError && /marked noisy/.test(err.message));
  });

  it('reads the first schema, without noise or limits', () => {
    const doc = results2(false) as Record<string, unknown>;
    const old = { ...doc, schema: 'berth-bench/1', wrk: undefined, limits: undefined, noise: undefined };
    const block = renderReadmeTable(parseResults(old), 'bench/results/old.json');
    assert.match(block, /its noise was not measured/);
    assert.match(block, /\| figure \| Berth \| Distribution 2\.8\.2 \| ratio \|\n/);
  });

  it('refuses unknown schemas and malformed files', () => {
    assert.throws(() => parseResults({ schema: 'berth-bench/9' }), ResultsError);
    assert.throws(() => parseResults({ ...(results2(false) as Record<string, unknown>), machine: 'x' }), /machine/);
  });

  it('replaces only what lies between the markers, and needs both', () => {
    const readme = `intro\n${BEGIN}\nold\n${END}\noutro\n`;
    assert.equal(replaceBetweenMarkers(readme, 'new'), `intro\n${BEGIN}\nnew\n${END}\noutro\n`);
    assert.equal(betweenMarkers(replaceBetweenMarkers(readme, 'a\nb')), 'a\nb');
    assert.throws(() => replaceBetweenMarkers('no markers', 'x'), ResultsError);
    assert.throws(() => replaceBetweenMarkers(`${END}\n${BEGIN}`, 'x'), ResultsError);
  });
});
