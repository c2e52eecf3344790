import type { Logger } from '../log/logger.js';
import { stripUserinfo } from '../log/redact.js';
import type { RegistryEvent } from './event.js';
import type { EventSink } from './sink.js';
import type { NotificationsConfig } from './schema.js';
import { DELIVERY_DEFAULTS, Endpoint, type EndpointSettings, type EndpointStats, type NotificationMetrics } from './endpoint.js';

export type { EndpointSettings, EndpointStats, NotificationMetrics } from './endpoint.js';

/** What a Notifier is built from. */
export interface NotifierOptions {
  /** The active endpoints (disabled ones already left out). */
  readonly endpoints: readonly EndpointSettings[];
  readonly logger: Logger;
  /** Optional: queue lengths, deliveries, failures and drops per endpoint (RegistryMetrics). */
  readonly metrics?: NotificationMetrics | undefined;
  /** Events queued per endpoint before the oldest are dropped. Default 1000. */
  readonly queueSize?: number;
  /** Most events per POST. Default 50. */
  readonly batchSize?: number;
  /** Longest wait between retries of a failing endpoint. Default 30 s (never less than its backoff). */
  readonly maxBackoffMs?: number;
  /** Sent as User-Agent (e.g. `berth/<version>`) unless the endpoint's headers set one. */
  readonly userAgent?: string;
}

/**
 * Delivers registry events to webhook endpoints: Distribution's broadcaster, endpoint queues,
 * retrying sink and HTTP sink in one. Each endpoint has its own bounded queue and delivery loop
 * (see endpoint.ts for ordering, retries, backoff and drops), so one slow endpoint delays no other
 * and no request: emit() only filters and enqueues.
 */
export class Notifier implements EventSink {
  readonly #endpoints: readonly Endpoint[];
  #closing: Promise<void> | undefined;

  constructor(options: NotifierOptions) {
    const limits = {
      queueSize: options.queueSize ?? DELIVERY_DEFAULTS.queueSize,
      batchSize: options.batchSize ?? DELIVERY_DEFAULTS.batchSize,
      maxBackoffMs: options.maxBackoffMs ?? DELIVERY_DEFAULTS.maxBackoffMs,
      dropLogIntervalMs: DELIVERY_DEFAULTS.dropLogIntervalMs,
    };
    const deps = { logger: options.logger, metrics: options.metrics, userAgent: options.userAgent };
    this.#endpoints = options.endpoints.map((settings) => new Endpoint(settings, limits, deps));
    const endpoints = this.#endpoints;
    options.metrics?.trackNotificationQueues(function* () {
      for (const endpoint of endpoints) yield [endpoint.name, endpoint.pending] as const;
    });
  }

  /**
   * A notifier for the `notifications` configuration section: disabled endpoints are skipped,
   * each other one is logged (without header values, which often hold credentials).
   */
  static fromConfig(config: NotificationsConfig, deps: Omit<NotifierOptions, 'endpoints'>): Notifier {
    const endpoints: EndpointSettings[] = [];
    for (const endpoint of config.endpoints) {
      if (endpoint.disabled) {
        deps.logger.info({ endpoint: endpoint.name }, `notifications: endpoint ${endpoint.name} disabled, skipping`);
        continue;
      }
      deps.logger.info(
        {
          endpoint: endpoint.name,
          url: stripUserinfo(endpoint.url),
          timeout_ms: endpoint.timeout,
          threshold: endpoint.threshold,
          backoff_ms: endpoint.backoff,
          headers: Object.keys(endpoint.headers),
        },
        `notifications: configuring endpoint ${endpoint.name}`,
      );
      endpoints.push({
        name: endpoint.name,
        url: endpoint.url,
        headers: endpoint.headers,
        timeoutMs: endpoint.timeout,
        threshold: endpoint.threshold,
        backoffMs: endpoint.backoff,
        ignoredMediaTypes: [...endpoint.ignore.mediatypes, ...endpoint.ignoredmediatypes],
        ignoredActions: endpoint.ignore.actions,
      });
    }
    return new Notifier({ ...deps, endpoints });
  }

  /** True when at least one endpoint is active: without any, the HTTP layer need not build events. */
  get enabled(): boolean {
    return this.#endpoints.length > 0;
  }

  /** Queues `event` for every endpoint that does not ignore it. O(endpoints), never waits, never throws. */
  emit(event: RegistryEvent): void {
    for (const endpoint of this.#endpoints) {
      try {
        endpoint.offer(event);
      } catch {
        // offer() only enqueues; this guards the request against a malformed event from a caller.
      }
    }
  }

  /** Counters and state of every endpoint. */
  stats(): EndpointStats[] {
    return this.#endpoints.map((e) => e.stats());
  }

  /**
   * Stops accepting events (later ones are dropped and counted as `closed`) and delivers what is
   * queued for up to `timeoutMs`; what is left then is dropped, counted and logged. Idempotent.
   */
  close(timeoutMs = 5000): Promise<void> {
    this.#closing ??= (async () => {
      const deadline = Date.now() + Math.max(0, timeoutMs);
      await Promise.all(this.#endpoints.map((e) => e.close(deadline)));
    })();
    return this.#closing;
  }
}
