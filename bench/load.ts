/**
 * Request-rate loads with autocannon (in this process): a fixed number of keep-alive
 * connections sending one request over and over for a fixed time, after a warm-up.
 *
 * Two adjustments to autocannon's client, made through `setupClient` on its HTTP parser:
 *  - HEAD: autocannon's parser does not know the request was HEAD and waits for the body that
 *    Content-Length announces, so a HEAD load completes no request at all. Returning "skip
 *    body" from the headers-complete callback (as Node's own client does for HEAD) fixes it.
 *  - bodies: autocannon appends every body chunk to a string (`req.body += data`), which costs
 *    the client more than a 1 MiB blob GET costs the server; bodies are discarded instead
 *    (each load's response is checked once before the load).
 *
 * A slow endpoint (a catalog walking 10,000 repositories) would complete few or no requests
 * within a short load at 32 connections, and the requests cut off at its end would keep the
 * server busy into the next load. So each load is probed first with a few sequential
 * requests. When 32 of the fastest of them in a row would take more than half the load's
 * time, the load is one burst instead: every connection sends one request, all of them complete, and
 * the rate is 32 over the time to the last response (no warm-up: the probe warmed it).
 * Otherwise the load runs for its time after a warm-up, and after a pause long enough for the
 * server to finish the warm-up's requests that autocannon abandoned.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type Client, type Result } from 'autocannon';

/** One load. */
export interface LoadSpec {
  readonly url: string;
  readonly method?: 'GET' | 'HEAD';
  readonly headers?: Record<string, string>;
  readonly connections: number;
  /** Measured seconds. */
  readonly seconds: number;
  /** Seconds of the same load run first and thrown away (0 for none). */
  readonly warmupSeconds: number;
}

/** What a load measured. */
export interface LoadResult {
  /** Requests completed in the measured load. */
  readonly requests: number;
  /** Its duration, seconds. */
  readonly seconds: number;
  /** Whether it ran for a fixed time, or for a fixed number of requests (a slow endpoint). */
  readonly mode: 'duration' | 'amount';
  /** Completed requests per second. */
  readonly rps: number;
  /** 99th percentile latency, ms. */
  readonly p99: number;
}

type ParserCallback = (...args: unknown[]) => unknown;

/**
 * Replaces the callback autocannon assigns to `parser[key]` after `setupClient` runs: whatever
 * autocannon sets is passed to `wrap` and the result stored instead.
 */
function interceptParserCallback(parser: object, key: string, wrap: (original: ParserCallback) => ParserCallback): void {
  const constants = Object.getPrototypeOf(parser) as { constructor?: Record<string, unknown> } | null;
  const slot = constants?.constructor?.[key];
  if (typeof slot !== 'number') throw new Error(`autocannon's HTTP parser has no ${key}: cannot adjust it`);
  let stored: ParserCallback | undefined;
  Object.defineProperty(parser, slot, {
    configurable: true,
    enumerable: true,
    get: () => stored,
    set: (fn: unknown) => {
      if (typeof fn !== 'function') throw new Error(`autocannon set a non-function ${key}`);
      stored = wrap(fn as ParserCallback);
    },
  });
}

function setupClient(method: 'GET' | 'HEAD'): (client: Client) => void {
  return (client) => {
    interceptParserCallback(client.parser, 'kOnBody', () => () => undefined);
    if (method === 'HEAD') {
      interceptParserCallback(client.parser, 'kOnHeadersComplete', (original) => (...args) => {
        original(...args);
        return 1; // skip the body: there is none after a HEAD
      });
    }
  };
}

/** The `q` quantile (0..1) of some samples, nearest rank; NaN for none. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

interface Measured {
  readonly result: Result;
  /** Seconds from the start to the last response. */
  readonly elapsed: number;
  /** Latency of every completed response, ms. */
  readonly latencies: number[];
}

/** How long one load runs: a time, or a number of requests. */
type Length = { readonly seconds: number } | { readonly amount: number };

async function once(spec: LoadSpec, length: Length, warmup: boolean): Promise<Measured> {
  const method = spec.method ?? 'GET';
  const latencies: number[] = [];
  const startedAt = performance.now();
  let lastResponseAt = startedAt;
  const instance = autocannon({
    url: spec.url,
    method,
    headers: spec.headers ?? {},
    connections: spec.connections,
    ...('seconds' in length ? { duration: length.seconds } : { amount: length.amount }),
    // autocannon stops only on a sample tick: sample often so short loads end on time.
    sampleInt: 100,
    timeout: 60,
    setupClient: setupClient(method),
  });
  // autocannon's own histogram keeps whole milliseconds; sub-millisecond p99s need the raw times.
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    latencies.push(responseTime);
    lastResponseAt = performance.now();
  });
  const result = await instance;
  const completed = result.requests.total;
  if (result.errors > 0 || result.non2xx > 0 || (completed === 0 && !warmup)) {
    throw new Error(
      `${method} ${spec.url}: ${completed} requests completed, ${result.errors} errors (${result.timeouts} timeouts), ` +
        `${result.non2xx} non-2xx (status counts ${JSON.stringify(result.statusCodeStats)})`,
    );
  }
  return { result, latencies, elapsed: (lastResponseAt - startedAt) / 1000 };
}

/**
 * The shortest latency of up to five sequential requests (fewer when they take over a second),
 * ms: the server's own time for one request, as closely as a busy machine lets us see it
 * (noise only ever adds to it).
 */
async function probe(spec: LoadSpec): Promise<number> {
  const times: number[] = [];
  const deadline = performance.now() + 1000;
  while (times.length < 5 && (times.length < 2 || performance.now() < deadline)) {
    const start = performance.now();
    const res = await fetch(spec.url, { method: spec.method ?? 'GET', headers: spec.headers ?? {} });
    await res.arrayBuffer();
    times.push(performance.now() - start);
  }
  return Math.min(...times);
}

/**
 * Runs the load: probed, then either a warm-up and the timed load, or a fixed number of
 * requests for a slow endpoint (see above). Throws on any connection error or non-2xx answer.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const probeMs = await probe(spec);
  const roundMs = probeMs * spec.connections;
  const slow = roundMs > (spec.seconds * 1000) / 2;
  let measured: Measured;
  if (slow) {
    measured = await once(spec, { amount: spec.connections }, false);
  } else {
    if (spec.warmupSeconds > 0) {
      await once(spec, { seconds: spec.warmupSeconds }, true);
      await sleep(Math.min(roundMs, 1000));
    }
    measured = await once(spec, { seconds: spec.seconds }, false);
  }
  const { result, latencies } = measured;
  // A timed load counts what completed up to its last sample tick; a fixed amount is done when
  // its last response arrives (autocannon would add the time to its next tick).
  const seconds = slow ? measured.elapsed : result.duration;
  return {
    requests: result.requests.total,
    seconds,
    mode: slow ? 'amount' : 'duration',
    rps: result.requests.total / seconds,
    p99: quantile(latencies, 0.99),
  };
}

/** One line about a finished load, for the progress log. */
export function describeLoad(label: string, r: LoadResult): string {
  const how = r.mode === 'amount' ? `slow endpoint, one burst of ${r.requests} requests` : `${r.requests} requests`;
  return `  ${label}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(2)} ms (${how} in ${r.seconds.toFixed(2)} s)`;
}
