/**
 * The part of autocannon 9's programmatic API the bench uses (the package ships no types).
 * See node_modules/autocannon/README.md, "API".
 */
declare module 'autocannon' {
  /** Percentile statistics autocannon reports for latency (ms), requests/s and bytes/s. */
  export interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly stddev: number;
    readonly min: number;
    readonly max: number;
    readonly total: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p99_9: number;
  }

  /** The result of one run. */
  export interface Result {
    readonly latency: Histogram;
    readonly requests: Histogram;
    readonly throughput: Histogram;
    /** Seconds the run took. */
    readonly duration: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
    readonly statusCodeStats: Readonly<Record<string, { count: number }>>;
  }

  /** autocannon's per-connection client, as passed to `setupClient` (only `parser` is used). */
  export interface Client {
    readonly parser: object;
  }

  /** Options of one run (the subset the bench sets). */
  export interface Options {
    url: string;
    method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    headers?: Record<string, string>;
    connections?: number;
    /** Seconds. */
    duration?: number;
    /** Requests to make instead of a duration. */
    amount?: number;
    /** Seconds before a request counts as timed out. */
    timeout?: number;
    /** Milliseconds between samples; the run also only stops on a sample (default 1000). */
    sampleInt?: number;
    setupClient?: (client: Client) => void;
  }

  /** A running load: an event emitter that is also a promise of the result. */
  export interface Instance extends PromiseLike<Result> {
    /** Every completed response, with its latency in (fractional) milliseconds. */
    on(event: 'response', listener: (client: Client, statusCode: number, resBytes: number, responseTime: number) => void): this;
  }

  /** Starts a load; the instance resolves with its result. */
  function autocannon(options: Options): Instance;
  export default autocannon;
}
