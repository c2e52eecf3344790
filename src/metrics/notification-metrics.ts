/** The notification metrics of RegistryMetrics (berth_notifications_*). */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Why events for a notification endpoint were dropped. */
export type NotificationDropReason = 'queue_full' | 'closed' | 'shutdown';

/** Why one delivery attempt to a notification endpoint failed. */
export type NotificationFailureReason = 'status' | 'network' | 'timeout';

/** Registers the berth_notifications_* metrics in `registry`; RegistryMetrics delegates to it. */
export class NotificationMetrics {
  readonly #notifyEvents: Counter<'endpoint'>;
  readonly #notifyDelivered: Counter<'endpoint'>;
  readonly #notifyFailed: Counter<'endpoint' | 'reason'>;
  readonly #notifyDropped: Counter<'endpoint' | 'reason'>;
  readonly #pendingSources: Array<() => Iterable<readonly [string, number]>> = [];

  constructor(registry: Registry) {
    const registers = [registry];
    const pendingSources = this.#pendingSources;
    new Gauge({
      name: 'berth_notifications_pending',
      help: 'Events queued or in flight for a notification endpoint.',
      labelNames: ['endpoint'],
      registers,
      collect() {
        this.reset();
        for (const source of pendingSources) for (const [endpoint, pending] of source()) this.set({ endpoint }, pending);
      },
    });
    this.#notifyEvents = new Counter({
      name: 'berth_notifications_events_total',
      help: 'Events queued for a notification endpoint (after its ignore filters).',
      labelNames: ['endpoint'],
      registers,
    });
    this.#notifyDelivered = new Counter({
      name: 'berth_notifications_delivered_total',
      help: 'Events a notification endpoint accepted (2xx or 3xx).',
      labelNames: ['endpoint'],
      registers,
    });
    this.#notifyFailed = new Counter({
      name: 'berth_notifications_failed_total',
      help: 'Failed delivery attempts (one POST each, retried later), by endpoint and reason (status, network, timeout).',
      labelNames: ['endpoint', 'reason'],
      registers,
    });
    this.#notifyDropped = new Counter({
      name: 'berth_notifications_dropped_total',
      help: 'Events never delivered, by endpoint and reason (queue_full, closed, shutdown).',
      labelNames: ['endpoint', 'reason'],
      registers,
    });
  }

  /** Reports notification queue lengths at scrape time from `source` ([endpoint, pending] pairs). */
  trackQueues(source: () => Iterable<readonly [string, number]>): void {
    this.#pendingSources.push(source);
  }

  /** `count` events were queued for `endpoint`. */
  queued(endpoint: string, count = 1): void {
    this.#notifyEvents.inc({ endpoint }, count);
  }

  /** `endpoint` accepted `count` events. */
  delivered(endpoint: string, count: number): void {
    if (count > 0) this.#notifyDelivered.inc({ endpoint }, count);
  }

  /** One delivery attempt to `endpoint` failed (its events stay queued and are retried). */
  failed(endpoint: string, reason: NotificationFailureReason): void {
    this.#notifyFailed.inc({ endpoint, reason });
  }

  /** `count` events for `endpoint` were dropped and will never be delivered. */
  dropped(endpoint: string, reason: NotificationDropReason, count = 1): void {
    if (count > 0) this.#notifyDropped.inc({ endpoint, reason }, count);
  }
}
