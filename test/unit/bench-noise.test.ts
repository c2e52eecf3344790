import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { noiseBetween, parsePidTicks, parseProcStat, summarizeNoise, type NoiseCounters } from '../../bench/noise.js';

// The bench's noise meter (bench/noise.ts): CPU used by processes outside the bench.

describe('parseProcStat', () => {
  it('sums user, nice, system, irq and softirq, and reads steal apart', () => {
    const text = 'cpu  100 20 30 5000 40 6 7 8 0 0\ncpu0 50 10 15 2500 20 3 3 4 0 0\nintr 1 2 3\n';
    assert.deepEqual(parseProcStat(text), { busy: 100 + 20 + 30 + 6 + 7, steal: 8 });
  });
  it('fails without the aggregate line', () => {
    assert.throws(() => parseProcStat('cpu0 1 2 3 4\n'), /no "cpu" line/);
  });
});

describe('parsePidTicks', () => {
  it('adds utime, stime, cutime and cstime, whatever the command name holds', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const text = '4242 (node (worker) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 7 0';
    assert.equal(parsePidTicks(text), 11 + 22 + 33 + 44);
  });
  it('refuses what is not a stat line', () => {
    assert.equal(parsePidTicks('garbage'), undefined);
    assert.equal(parsePidTicks('1 (x) S 1 2'), undefined);
  });
});

function counters(busy: number, steal: number, ours: number, at: number): NoiseCounters {
  return { system: { busy, steal }, ours, at };
}

describe('noiseBetween', () => {
  it('is the busy time not spent by the bench, in cores', () => {
    // 2 s at 100 ticks/s: 300 busy ticks, 200 of them ours, 20 stolen.
    const n = noiseBetween(counters(1000, 50, 400, 10), counters(1300, 70, 600, 12), 100);
    assert.equal(n.seconds, 2);
    assert.equal(n.othersCores, 0.5);
    assert.equal(n.stealCores, 0.1);
  });
  it('never goes below 0 (per-process and machine counters are sampled apart)', () => {
    const n = noiseBetween(counters(1000, 0, 0, 0), counters(1100, 0, 105, 1), 100);
    assert.equal(n.othersCores, 0);
  });
  it('is 0 over an empty interval', () => {
    assert.equal(noiseBetween(counters(0, 0, 0, 5), counters(100, 0, 0, 5), 100).othersCores, 0);
  });
});

describe('summarizeNoise', () => {
  it('weights samples by their duration and flags a run above the threshold', () => {
    const s = summarizeNoise(
      [
        { label: 'a', seconds: 9, othersCores: 0, stealCores: 0 },
        { label: 'b', seconds: 1, othersCores: 0.8, stealCores: 0.2 },
      ],
      0.05,
    );
    assert.ok(Math.abs(s.meanCores - 0.1) < 1e-12);
    assert.equal(s.maxCores, 1);
    assert.equal(s.noisy, true);
    assert.equal(summarizeNoise(s.samples, 0.2).noisy, false);
  });
  it('calls no samples quiet', () => {
    assert.equal(summarizeNoise([]).noisy, false);
  });
});
