/**
 * Request-rate loads with wrk (Debian's `wrk` 4.1, a C client in its own process), so the load
 * generator does not take the event loop's core the way autocannon (in the bench process) does.
 *
 * wrk 4.1 cannot load HEAD: its parser waits for the body a HEAD answer's Content-Length
 * announces, so a `wrk.method = "HEAD"` script completes no request at all (tried: 0 requests
 * in 1 s). HEAD loads stay with autocannon (load.ts), compared only with autocannon figures.
 *
 * `parseWrkOutput` is pure; `runWrk` spawns wrk and fails loudly when it is missing, when any
 * request errs or answers non-2xx/3xx, or when none completes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** The wrk executable (Debian's package installs it there; scripts/ensure-test-deps.sh installs it). */
export const WRK = 'wrk';

/** wrk's `--timeout`: an answer slower than this counts as a socket error, which fails the load. */
const REQUEST_TIMEOUT_SECONDS = 10;

/** One wrk load. */
export interface WrkSpec {
  readonly url: string;
  /** Request headers, each sent with `-H "Name: value"`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** wrk threads (`-t`); default 2. */
  readonly threads?: number;
  /** Open connections (`-c`), at least `threads`. */
  readonly connections: number;
  /** Measured seconds (`-d`): wrk takes whole seconds, so this is rounded up, at least 1. */
  readonly seconds: number;
  /** Whole seconds of the same load run first and thrown away (0 for none). */
  readonly warmupSeconds: number;
  /** When set, wrk runs under `taskset -c <cpus>` (e.g. `0`). */
  readonly cpus?: string | undefined;
}

/** What wrk measured. */
export interface WrkResult {
  /** Requests completed. */
  readonly requests: number;
  /** Seconds wrk reports the load took. */
  readonly seconds: number;
  /** wrk's `Requests/sec`. */
  readonly rps: number;
  /** Latency percentiles from `--latency`, ms. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  /** `Non-2xx or 3xx responses` (0 when wrk prints none). */
  readonly non2xx: number;
  /** Sum of `Socket errors` (connect, read, write, timeout; 0 when wrk prints none). */
  readonly socketErrors: number;
}

/** wrk's output could not be read. */
export class WrkOutputError extends Error {
  constructor(message: string, output: string) {
    super(`${message} in wrk output:\n${output}`);
    this.name = 'WrkOutputError';
  }
}

const TIME_UNITS_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A wrk time (`635.91us`, `1.20ms`, `2.00s`, `1.00m`) in ms; undefined when it is not one. */
export function parseWrkTime(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)$/.exec(text.trim());
  if (m === null) return undefined;
  const factor = TIME_UNITS_MS[m[2] ?? ''];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

/**
 * Reads the output of `wrk --latency`: requests and seconds (`N requests in 5.00s`),
 * `Requests/sec`, the 50/90/99 % latencies of the `Latency Distribution`, non-2xx answers and
 * socket errors. Throws a {@link WrkOutputError} when a required line is missing.
 */
export function parseWrkOutput(output: string): WrkResult {
  const total = /^\s*(\d+) requests in (\d+(?:\.\d+)?)(us|ms|s|m|h),/m.exec(output);
  if (total === null) throw new WrkOutputError('no "N requests in T" line', output);
  const rps = /^Requests\/sec:\s+(\d+(?:\.\d+)?)\s*$/m.exec(output);
  if (rps === null) throw new WrkOutputError('no "Requests/sec" line', output);
  const distribution = output.indexOf('Latency Distribution');
  if (distribution < 0) throw new WrkOutputError('no "Latency Distribution" (was --latency given?)', output);
  const percentile = (p: number): number => {
    const m = new RegExp(`^\\s*${p}(?:\\.0+)?%\\s+(\\S+)\\s*$`, 'm').exec(output.slice(distribution));
    const ms = m === null ? undefined : parseWrkTime(m[1] ?? '');
    if (ms === undefined) throw new WrkOutputError(`no ${p}% latency`, output);
    return ms;
  };
  const non2xx = /^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$/m.exec(output);
  const socket = /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$/m.exec(output);
  const seconds = (parseWrkTime(`${total[2] ?? ''}${total[3] ?? ''}`) ?? Number.NaN) / 1000;
  return {
    requests: Number(total[1]),
    seconds,
    rps: Number(rps[1]),
    p50: percentile(50),
    p90: percentile(90),
    p99: percentile(99),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: socket === null ? 0 : socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0),
  };
}

/** The command line of one wrk run (`taskset -c CPUS wrk ...` when pinned). */
export function wrkCommand(spec: WrkSpec, seconds: number): { command: string; args: string[] } {
  const threads = spec.threads ?? 2;
  // wrk's default 2 s request timeout would fail a whole run on one slow answer of a loaded machine.
  const args = [`-t${threads}`, `-c${Math.max(threads, spec.connections)}`, `-d${Math.max(1, Math.ceil(seconds))}s`, `--timeout`, `${REQUEST_TIMEOUT_SECONDS}s`, '--latency'];
  for (const [name, value] of Object.entries(spec.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(spec.url);
  return spec.cpus === undefined ? { command: WRK, args } : { command: 'taskset', args: ['-c', spec.cpus, WRK, ...args] };
}

function execWrk(spec: WrkSpec, seconds: number): Promise<string> {
  const { command, args } = wrkCommand(spec, seconds);
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: (Math.ceil(seconds) + REQUEST_TIMEOUT_SECONDS + 30) * 1000, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        const missing = 'code' in err && err.code === 'ENOENT';
        reject(
          new Error(
            missing
              ? `${command} not found: install Debian's wrk (apt-get install wrk; scripts/ensure-test-deps.sh lists it)`
              : `${command} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`,
          ),
        );
        return;
      }
      resolve(stdout);
    });
  });
}

/**
 * Runs the load with wrk (a warm-up first when asked, then a short pause for the server to
 * finish the requests wrk abandoned) and resolves with what it measured. Throws when wrk is
 * missing or fails, when any request errs or answers outside 2xx/3xx, or when none completed.
 */
export async function runWrk(spec: WrkSpec): Promise<WrkResult> {
  if (spec.warmupSeconds > 0) {
    await execWrk(spec, spec.warmupSeconds);
    await sleep(200);
  }
  const output = await execWrk(spec, spec.seconds);
  const result = parseWrkOutput(output);
  if (result.requests === 0 || result.non2xx > 0 || result.socketErrors > 0) {
    throw new Error(`wrk ${spec.url}: ${result.requests} requests, ${result.non2xx} non-2xx/3xx, ${result.socketErrors} socket errors:\n${output}`);
  }
  return result;
}

/** One line about a finished wrk load, for the progress log. */
export function describeWrk(label: string, r: WrkResult): string {
  return `  ${label} (wrk): ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (${r.requests} requests in ${r.seconds.toFixed(2)} s)`;
}

/**
 * wrk's version (`wrk debian/4.1.0-3+b2`, the first words of `wrk --version`, which exits 1).
 * Throws when wrk is not installed, so a bench that needs it stops before measuring anything.
 */
export function wrkVersion(): string {
  const r = spawnSync(WRK, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) {
    throw new Error(`${WRK} not found (${r.error.message}): install Debian's wrk (apt-get install wrk; scripts/ensure-test-deps.sh lists it)`);
  }
  const m = /^wrk \S+/.exec(`${r.stdout}${r.stderr}`.trim());
  return m === null ? 'wrk (unknown version)' : m[0];
}
