/**
 * The HTTP request metrics of RegistryMetrics: the request counter and latency histogram, counted per
 * label set on the hot path (found without building a key) and added to prom-client when scraped; the
 * requests in flight; and the content bytes transferred.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { SeriesHistogram, type HistogramSeries } from './series-histogram.js';

/** Request latency buckets (seconds): 1 ms to 60 s, for requests from a HEAD to a multi-GB blob. */
export const REQUEST_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);

/** One label set of the request metrics: its histogram series and the requests not yet added to the counter. */
interface RequestSeries {
  readonly labels: { readonly route: string; readonly method: string; readonly status: string };
  pending: number;
  readonly seconds: HistogramSeries;
}

/** Registers berth_http_requests_total, berth_http_request_duration_seconds, berth_http_requests_in_flight and berth_transferred_bytes_total in `registry`, in that order. */
export class RequestMetrics {
  readonly #requestSeconds: SeriesHistogram<'route' | 'method' | 'status'>;
  /** Request series by route kind, method and status: found without building a key. */
  readonly #requestSeries = new Map<string, Map<string, Map<number, RequestSeries>>>();
  /** Bytes counted since the last scrape, added to berth_transferred_bytes_total when it is read. */
  readonly #pendingBytes = new Map<'pushed' | 'pulled', number>();
  readonly #inFlightSources: Array<() => number> = [];

  constructor(registry: Registry) {
    const registers = [registry];
    // Counted per series on the hot path and added here when scraped (prom-client's inc() hashes its labels).
    const requestSeries = this.#requestSeries;
    new Counter({
      name: 'berth_http_requests_total',
      help: 'HTTP requests answered, by route kind, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers,
      collect() {
        for (const byMethod of requestSeries.values()) {
          for (const byStatus of byMethod.values()) {
            for (const series of byStatus.values()) {
              if (series.pending === 0) continue;
              this.inc(series.labels, series.pending);
              series.pending = 0;
            }
          }
        }
      },
    });
    this.#requestSeconds = new SeriesHistogram({
      name: 'berth_http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response, by route kind, method and status code.',
      labelNames: ['route', 'method', 'status'],
      buckets: [...REQUEST_BUCKETS],
      registers,
    });
    const inFlightSources = this.#inFlightSources;
    new Gauge({
      name: 'berth_http_requests_in_flight',
      help: 'Requests being handled right now.',
      registers,
      collect() {
        let total = 0;
        for (const source of inFlightSources) total += source();
        this.set(total);
      },
    });
    const pendingBytes = this.#pendingBytes;
    new Counter({
      name: 'berth_transferred_bytes_total',
      help: 'Content bytes received from clients (pushed) or sent to them (pulled): blob and manifest bodies.',
      labelNames: ['direction'],
      registers,
      collect() {
        for (const [direction, bytes] of pendingBytes) if (bytes > 0) this.inc({ direction }, bytes);
        // Kept (at 0), so each direction stays where it first appeared in the exposition.
        for (const direction of pendingBytes.keys()) pendingBytes.set(direction, 0);
      },
    });
  }

  /** See RegistryMetrics.observeRequest. */
  observeRequest(routeKind: string, method: string, status: number, seconds: number): void {
    const series = this.#requestSeriesOf(routeKind, KNOWN_METHODS.has(method) ? method : 'OTHER', status);
    series.pending++;
    if (Number.isFinite(seconds) && seconds >= 0) series.seconds.observe(seconds);
  }

  #requestSeriesOf(route: string, method: string, status: number): RequestSeries {
    let byMethod = this.#requestSeries.get(route);
    if (byMethod === undefined) this.#requestSeries.set(route, (byMethod = new Map<string, Map<number, RequestSeries>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, RequestSeries>()));
    let series = byStatus.get(status);
    if (series === undefined) {
      const labels = { route, method, status: String(status) };
      series = { labels, pending: 0, seconds: this.#requestSeconds.series(labels) };
      byStatus.set(status, series);
    }
    return series;
  }

  /** See RegistryMetrics.trackInFlight. */
  trackInFlight(source: () => number): void {
    this.#inFlightSources.push(source);
  }

  /** See RegistryMetrics.addBytes. */
  addBytes(direction: 'pushed' | 'pulled', bytes: number): void {
    if (Number.isFinite(bytes) && bytes > 0) this.#pendingBytes.set(direction, (this.#pendingBytes.get(direction) ?? 0) + bytes);
  }
}
