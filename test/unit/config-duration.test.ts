import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/config-fields/duration.js';

describe('parseDuration', () => {
  const valid: ReadonlyArray<readonly [string | number, number]> = [
    ['168h', 168 * 3600_000],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['2m0s', 120_000],
    ['10s', 10_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1.s', 1000],
    ['1h1m1s1ms', 3_661_001],
    ['1500us', 1.5],
    ['1500\u00b5s', 1.5],
    ['1500\u03bcs', 1.5],
    ['1500ns', 0.0015],
    ['0', 0],
    ['0s', 0],
    ['+5s', 5000],
    ['-5s', -5000],
    [0, 0],
    [1_000_000, 1], // an integer is nanoseconds, as go-yaml stores it into a Duration
    [10_000_000_000, 10_000],
  ];
  for (const [input, ms] of valid) {
    it(`${JSON.stringify(input)} is ${ms} ms`, () => assert.equal(parseDuration(input), ms));
  }

  const invalid: ReadonlyArray<readonly [string | number, RegExp]> = [
    ['', /invalid duration ""/],
    ['100', /missing unit/],
    ['7d', /unknown unit "d"/],
    ['1 h', /unknown unit " h"/],
    ['h', /invalid duration/],
    ['.s', /invalid duration/],
    ['-', /invalid duration/],
    ['abc', /invalid duration/],
    ['1h-5m', /unknown unit "h-"/],
    ['3000000h', /out of range/],
    [1.5, /must be an integer/],
    [Number.NaN, /must be an integer/],
    [Number.POSITIVE_INFINITY, /must be an integer/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input) ?? String(input)}`, () => assert.throws(() => parseDuration(input), message));
  }
});

describe('formatDuration', () => {
  const cases: ReadonlyArray<readonly [number, string]> = [
    [0, '0s'],
    [500, '500ms'],
    [0.0015, '1.5\u00b5s'],
    [1.5, '1.5ms'],
    [0.0005, '500ns'],
    [10_000, '10s'],
    [1500, '1.5s'],
    [120_000, '2m0s'],
    [5_400_000, '1h30m0s'],
    [168 * 3600_000, '168h0m0s'],
    [-5000, '-5s'],
  ];
  for (const [ms, text] of cases) {
    it(`${ms} ms is ${text} and parses back`, () => {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms);
    });
  }
});
