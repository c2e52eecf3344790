import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WrkOutputError, parseWrkOutput, parseWrkTime, wrkCommand } from '../../bench/wrk.js';

// The bench's wrk runner (bench/wrk.ts): the parser of `wrk --latency` output and the command line.

const OUTPUT = `Running 1s test @ http://127.0.0.1:18931/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.05ms    2.77ms  30.66ms   92.71%
    Req/Sec     9.60k     5.42k   17.77k    50.00%
  Latency Distribution
     50%  637.00us
     75%  757.00us
     90%    2.84ms
     99%   14.84ms
  19140 requests in 1.01s, 30.90MB read
Requests/sec:  18912.09
Transfer/sec:     30.53MB
`;

describe('parseWrkTime', () => {
  const cases: [string, number | undefined][] = [
    ['637.00us', 0.637],
    ['14.84ms', 14.84],
    ['2.00s', 2000],
    ['1.50m', 90_000],
    ['12', undefined],
    ['-nan', undefined],
    ['1.2k', undefined],
  ];
  for (const [text, ms] of cases) {
    it(`${text} → ${String(ms)}`, () => {
      const got = parseWrkTime(text);
      if (ms === undefined) assert.equal(got, undefined);
      else assert.ok(got !== undefined && Math.abs(got - ms) < 1e-9, `got ${String(got)}`);
    });
  }
});

describe('parseWrkOutput', () => {
  it('reads requests, seconds, rate and the latency distribution', () => {
    const r = parseWrkOutput(OUTPUT);
    assert.equal(r.requests, 19140);
    assert.ok(Math.abs(r.seconds - 1.01) < 1e-9);
    assert.equal(r.rps, 18912.09);
    assert.ok(Math.abs(r.p50 - 0.637) < 1e-9);
    assert.equal(r.p90, 2.84);
    assert.equal(r.p99, 14.84);
    assert.equal(r.non2xx, 0);
    assert.equal(r.socketErrors, 0);
  });

  it('counts non-2xx answers and socket errors', () => {
    const text = OUTPUT.replace(
      'Requests/sec:',
      '  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 17\nRequests/sec:',
    );
    const r = parseWrkOutput(text);
    assert.equal(r.non2xx, 17);
    assert.equal(r.socketErrors, 10);
  });

  it('fails without --latency output', () => {
    const text = OUTPUT.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, '');
    assert.throws(() => parseWrkOutput(text), (err: unknown) => err instanceof WrkOutputError && /Latency Distribution/.test(err.message));
  });

  it('fails without a rate', () => {
    assert.throws(() => parseWrkOutput(OUTPUT.replace(/^Requests\/sec.*$/m, '')), WrkOutputError);
    assert.throws(() => parseWrkOutput('wrk: invalid URL'), WrkOutputError);
  });
});

describe('wrkCommand', () => {
  it('passes threads, connections, whole seconds, --latency and headers', () => {
    const { command, args } = wrkCommand({ url: 'http://h/v2/', connections: 32, seconds: 1.2, warmupSeconds: 0, headers: { Accept: 'a/b, c/d' } }, 1.2);
    assert.equal(command, 'wrk');
    assert.deepEqual(args, ['-t2', '-c32', '-d2s', '--timeout', '10s', '--latency', '-H', 'Accept: a/b, c/d', 'http://h/v2/']);
  });

  it('pins wrk with taskset, and never asks for fewer connections than threads', () => {
    const { command, args } = wrkCommand({ url: 'http://h/', connections: 1, threads: 2, seconds: 0.2, warmupSeconds: 0, cpus: '0' }, 0.2);
    assert.equal(command, 'taskset');
    assert.deepEqual(args, ['-c', '0', 'wrk', '-t2', '-c2', '-d1s', '--timeout', '10s', '--latency', 'http://h/']);
  });
});
