/**
 * Berth's Prometheus metrics, in one registry owned by the process (never prom-client's global
 * default registry, so tests and embedders can build as many as they like).
 *
 * Every metric of ours is named `berth_*`; Node's process metrics (collectDefaultMetrics) keep
 * their standard `process_*` / `nodejs_*` names so stock dashboards work. Label values are bounded:
 * route kinds and actions come from fixed sets, methods outside the HTTP verbs the registry
 * serves become `OTHER`, and endpoint / driver / cache names come from the configuration.
 * docs/monitoring.md lists every metric.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { SeriesHistogram } from './series-histogram.js';
import { RequestMetrics } from './request-metrics.js';
import { GcMetrics, type GcRunSummary } from './gc-metrics.js';
import { RetentionMetrics, type RetentionRunRecord } from './retention-metrics.js';
import { AccessMetrics } from './access-metrics.js';
import { NotificationMetrics, type NotificationDropReason, type NotificationFailureReason } from './notification-metrics.js';

export { REQUEST_BUCKETS } from './request-metrics.js';
export type { GcRunSummary } from './gc-metrics.js';
export type { RetentionRunRecord } from './retention-metrics.js';
export type { NotificationDropReason, NotificationFailureReason } from './notification-metrics.js';

/** Storage action latency buckets (seconds): 0.5 ms (an in-memory stat) to 60 s (a slow object store). */
export const STORAGE_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Records one storage driver action; bound to a driver and action once, then called on the hot path. */
export interface StorageActionRecorder {
  /** Records an action that took `seconds`; with `errorKind`, it failed that way. */
  observe(seconds: number, errorKind?: string): void;
}

/** How full one in-process cache is. */
export interface CacheUsage {
  readonly cache: string;
  readonly entries: number;
  readonly bytes: number;
}

/** Options of RegistryMetrics. */
export interface RegistryMetricsOptions {
  /** Collect Node's process metrics (CPU, memory, event loop lag, GC, handles). Default true. */
  readonly processMetrics?: boolean;
}

/**
 * Registers the gauges of what the in-process caches hold (entries and bytes), read from every
 * source in `sources` at scrape time, so a cache added later is reported too.
 */
function registerCacheUsageGauges(registers: Registry[], sources: ReadonlyArray<() => Iterable<CacheUsage>>): void {
  new Gauge({
    name: 'berth_cache_entries',
    help: 'Entries held by an in-process cache.',
    labelNames: ['cache'],
    registers,
    collect() {
      this.reset();
      for (const source of sources) for (const usage of source()) this.set({ cache: usage.cache }, usage.entries);
    },
  });
  new Gauge({
    name: 'berth_cache_bytes',
    help: 'Bytes (as the cache weighs its entries) held by an in-process cache.',
    labelNames: ['cache'],
    registers,
    collect() {
      this.reset();
      for (const source of sources) for (const usage of source()) this.set({ cache: usage.cache }, usage.bytes);
    },
  });
}

/**
 * The registry's metrics. Methods are cheap (a label hash and an add) and never throw on bad
 * numbers from callers: negative or non-finite amounts are ignored, so a bookkeeping bug can never
 * fail a request.
 */
export class RegistryMetrics {
  /** The prom-client registry holding every metric; render() serializes it. */
  readonly registry: Registry;

  readonly #requests: RequestMetrics;
  readonly #uploads: Gauge;
  readonly #cache: Counter<'cache' | 'result'>;
  readonly #cacheBackendUp: Gauge<'backend'>;
  readonly #cacheBackendOutages: Counter<'backend'>;
  readonly #cacheSources: Array<() => Iterable<CacheUsage>> = [];
  readonly #gc: GcMetrics;
  readonly #retention: RetentionMetrics;
  readonly #storageSeconds: SeriesHistogram<'driver' | 'action'>;
  readonly #storageErrors: Counter<'driver' | 'action' | 'kind'>;
  readonly #access: AccessMetrics;
  readonly #notifications: NotificationMetrics;

  constructor(options: RegistryMetricsOptions = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    this.#requests = new RequestMetrics(this.registry);
    this.#uploads = new Gauge({ name: 'berth_uploads_in_progress', help: 'Blob upload requests streaming data in this process right now.', registers });
    this.#cache = new Counter({
      name: 'berth_cache_requests_total',
      help: 'Cache lookups by cache and result (hit or miss).',
      labelNames: ['cache', 'result'],
      registers,
    });
    this.#cacheBackendUp = new Gauge({
      name: 'berth_cache_backend_up',
      help: 'Whether a cache backend (redis) is in use (1) or skipped after a failure until it answers again (0).',
      labelNames: ['backend'],
      registers,
      aggregator: 'min',
    });
    this.#cacheBackendOutages = new Counter({
      name: 'berth_cache_backend_outages_total',
      help: 'Times a cache backend (redis) failed and was skipped until it answered again.',
      labelNames: ['backend'],
      registers,
    });
    registerCacheUsageGauges(registers, this.#cacheSources);
    this.#gc = new GcMetrics(this.registry);
    this.#retention = new RetentionMetrics(this.registry);
    this.#storageSeconds = new SeriesHistogram({
      name: 'berth_storage_action_duration_seconds',
      help: 'Storage driver call latency by driver and action (streams: until the stream is returned).',
      labelNames: ['driver', 'action'],
      buckets: [...STORAGE_BUCKETS],
      registers,
    });
    this.#storageErrors = new Counter({
      name: 'berth_storage_action_errors_total',
      help: 'Storage driver calls that failed, by driver, action and kind (not_found, invalid_path, invalid_offset, aborted, error).',
      labelNames: ['driver', 'action', 'kind'],
      registers,
    });
    this.#access = new AccessMetrics(this.registry);
    this.#notifications = new NotificationMetrics(this.registry);
  }

  /**
   * Records one answered request. `routeKind` is the router's kind ('manifest', 'blob', ...; pass
   * 'unknown' when no route matched), `status` the response status, `seconds` its duration.
   */
  observeRequest(routeKind: string, method: string, status: number, seconds: number): void {
    this.#requests.observeRequest(routeKind, method, status, seconds);
  }

  /** Reports the number of requests in flight at scrape time from `source` (e.g. App.inFlight). */
  trackInFlight(source: () => number): void {
    this.#requests.trackInFlight(source);
  }

  /** Adds content bytes received from a client ('pushed') or sent to one ('pulled'). */
  addBytes(direction: 'pushed' | 'pulled', bytes: number): void {
    this.#requests.addBytes(direction, bytes);
  }

  /** An upload request started streaming data; pair with uploadEnded() in a `finally`. */
  uploadStarted(): void {
    this.#uploads.inc();
  }

  /** An upload request that called uploadStarted() ended, however it ended. */
  uploadEnded(): void {
    this.#uploads.dec();
  }

  /** One lookup in the cache called `name` (e.g. 'blobdescriptor'), a hit or a miss. */
  cache(name: string, hit: boolean): void {
    this.#cache.inc({ cache: name, result: hit ? 'hit' : 'miss' });
  }

  /** A cache backend is in use (up) or skipped (down): see src/cache/circuit.ts. */
  cacheBackendUp(backend: string, up: boolean): void {
    this.#cacheBackendUp.set({ backend }, up ? 1 : 0);
  }

  /** A cache backend went down once more. */
  cacheBackendOutage(backend: string): void {
    this.#cacheBackendOutages.inc({ backend });
  }

  /** Reports the size of in-process caches at each scrape (berth_cache_entries, berth_cache_bytes). */
  trackCaches(source: () => Iterable<CacheUsage>): void {
    this.#cacheSources.push(source);
  }

  /** Records a finished garbage-collection run. */
  gcRun(summary: GcRunSummary): void {
    this.#gc.gcRun(summary);
  }

  /** Records a finished retention run. */
  retentionRun(run: RetentionRunRecord): void {
    this.#retention.retentionRun(run);
  }

  /**
   * A recorder for one driver action, bound once so the hot path only observes. Failures are
   * counted by `errorKind` and their latency is observed too (a slow timeout is still latency).
   */
  storageAction(driver: string, action: string): StorageActionRecorder {
    const histogram = this.#storageSeconds.series({ driver, action });
    const errors = this.#storageErrors;
    return {
      observe(seconds: number, errorKind?: string): void {
        histogram.observe(seconds);
        if (errorKind !== undefined) errors.inc({ driver, action, kind: errorKind });
      },
    };
  }

  /** Reports notification queue lengths at scrape time from `source` ([endpoint, pending] pairs). */
  trackNotificationQueues(source: () => Iterable<readonly [string, number]>): void {
    this.#notifications.trackQueues(source);
  }

  /** `count` events were queued for `endpoint`. */
  notificationQueued(endpoint: string, count = 1): void {
    this.#notifications.queued(endpoint, count);
  }

  /** `endpoint` accepted `count` events. */
  notificationDelivered(endpoint: string, count: number): void {
    this.#notifications.delivered(endpoint, count);
  }

  /** One delivery attempt to `endpoint` failed (its events stay queued and are retried). */
  notificationFailed(endpoint: string, reason: NotificationFailureReason): void {
    this.#notifications.failed(endpoint, reason);
  }

  /** `count` events for `endpoint` were dropped and will never be delivered. */
  notificationDropped(endpoint: string, reason: NotificationDropReason, count = 1): void {
    this.#notifications.dropped(endpoint, reason, count);
  }

  /** One bcrypt password check ended: the password was right ('ok') or not ('fail'). */
  passwordCheck(result: 'ok' | 'fail'): void {
    this.#access.passwordCheck(result);
  }

  /** A login was refused with 429 before its check: too many in flight ('busy'), or a locked-out address or user. */
  passwordCheckRefused(reason: 'busy' | 'address' | 'user'): void {
    this.#access.passwordCheckRefused(reason);
  }

  /** A client address or user name was locked out after repeated failures. */
  loginLockout(kind: 'address' | 'user'): void {
    this.#access.loginLockout(kind);
  }

  /** Reports the password checks in flight at scrape time from `source`. */
  trackPasswordChecks(source: () => number): void {
    this.#access.trackPasswordChecks(source);
  }

  /** A request was refused with 429 by the request rate limit of its class. */
  requestLimited(cls: 'reads' | 'writes'): void {
    this.#access.requestLimited(cls);
  }

  /** A rate-limit decision was made without Redis (the request was allowed). */
  rateLimitRedisFailure(reason: 'unavailable' | 'timeout' | 'error'): void {
    this.#access.rateLimitRedisFailure(reason);
  }

  /** Reports the clients tracked by the in-process rate limiter at scrape time from `source`. */
  trackRateLimitClients(source: () => number): void {
    this.#access.trackRateLimitClients(source);
  }

  /** The Prometheus text exposition of every metric, with its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
