/**
 * One webhook endpoint: its filters, its bounded queue and its delivery loop.
 *
 * Delivery is serial per endpoint: one POST at a time, in queue order, each carrying up to
 * `batchSize` events (whatever has queued up while the previous POST was in flight). A batch is
 * retried until the endpoint accepts it, so events arrive in the order they were emitted, each at
 * least once (a receiver that accepted a batch but answered too late sees it again: dedupe on
 * `id`). Retries wait `backoff` while the endpoint has failed fewer than `threshold` times in a
 * row; from then on it is marked failing (logged once), and waits double at each failure up to
 * the cap. The queue is bounded: when it is full the oldest queued event is dropped (counted and
 * logged), never one already in the batch being sent.
 */
import type { Logger } from '../log/logger.js';
import { stripUserinfo } from '../log/redact.js';
import { BoundedQueue } from './bounded-queue.js';
import { serializeEnvelope, type RegistryEvent } from './event.js';
import { DeliveryError, EndpointAgents, postEnvelope, type DeliveryFailure } from './http-post.js';

/** Distribution's defaults for an endpoint (EndpointConfig.defaults()). */
export const ENDPOINT_DEFAULTS = { timeoutMs: 1000, threshold: 10, backoffMs: 1000 } as const;

/** Berth's delivery limits, the same for every endpoint. */
export const DELIVERY_DEFAULTS = {
  /** Events queued per endpoint before the oldest are dropped. */
  queueSize: 1000,
  /** Most events in one POST. */
  batchSize: 50,
  /** Longest wait between retries of a failing endpoint (never shorter than its backoff). */
  maxBackoffMs: 30_000,
  /** Least time between two "queue full" warnings of one endpoint. */
  dropLogIntervalMs: 10_000,
} as const;

/** An endpoint as the notifier runs it (from `notifications.endpoints[]`, durations in ms). */
export interface EndpointSettings {
  readonly name: string;
  readonly url: string;
  /** Static headers of every request (e.g. Authorization). */
  readonly headers?: Readonly<Record<string, readonly string[]>>;
  /** Per attempt, redirects included. Default 1 s; 0 or less means the default. */
  readonly timeoutMs?: number;
  /** Consecutive failures before the endpoint counts as failing. Default 10; 0 or less means the default. */
  readonly threshold?: number;
  /** Wait before a retry. Default 1 s; 0 or less means the default. */
  readonly backoffMs?: number;
  /** Events whose target media type is one of these are not sent (ignoredmediatypes and ignore.mediatypes). */
  readonly ignoredMediaTypes?: readonly string[];
  /** Events with one of these actions are not sent (ignore.actions). */
  readonly ignoredActions?: readonly string[];
}

/** Limits shared by the endpoints of a notifier; see DELIVERY_DEFAULTS. */
export interface DeliveryLimits {
  readonly queueSize: number;
  readonly batchSize: number;
  readonly maxBackoffMs: number;
  readonly dropLogIntervalMs: number;
}

/** What an endpoint reports of itself (the notifier's stats(), /debug/vars). */
export interface EndpointStats {
  readonly name: string;
  readonly url: string;
  /** Events queued or in the batch being sent. */
  readonly pending: number;
  /** Events accepted into the queue (after the ignore filters). */
  readonly events: number;
  /** Events the endpoint accepted. */
  readonly delivered: number;
  /** Attempts answered with an unaccepted status. */
  readonly failures: number;
  /** Attempts that got no answer (connection errors, timeouts). */
  readonly errors: number;
  /** Events dropped: queue full, emitted after close, or left at shutdown. */
  readonly dropped: number;
  /** Consecutive failed attempts right now. */
  readonly consecutiveFailures: number;
  /** True from `threshold` consecutive failures until the next success. */
  readonly failing: boolean;
  /** Responses by status code. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly lastError?: string;
}

/** The metrics an endpoint records; RegistryMetrics implements them. */
export interface NotificationMetrics {
  notificationQueued(endpoint: string, count?: number): void;
  notificationDelivered(endpoint: string, count: number): void;
  notificationFailed(endpoint: string, reason: DeliveryFailure): void;
  notificationDropped(endpoint: string, reason: 'queue_full' | 'closed' | 'shutdown', count?: number): void;
  trackNotificationQueues(source: () => Iterable<readonly [string, number]>): void;
}

/** What an endpoint needs besides its settings. */
export interface EndpointDeps {
  readonly logger: Logger;
  readonly metrics?: NotificationMetrics | undefined;
  readonly userAgent?: string | undefined;
}

/** A running endpoint. Created by the Notifier; `offer` is its hot path. */
export class Endpoint {
  readonly name: string;
  readonly url: string;
  readonly #target: URL;
  readonly #headers: Readonly<Record<string, readonly string[]>>;
  readonly #timeoutMs: number;
  readonly #threshold: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #batchSize: number;
  readonly #dropLogIntervalMs: number;
  readonly #ignoredMediaTypes: ReadonlySet<string>;
  readonly #ignoredActions: ReadonlySet<string>;
  readonly #queue: BoundedQueue<RegistryEvent>;
  readonly #deps: EndpointDeps;
  readonly #agents = new EndpointAgents();
  readonly #abort = new AbortController();

  #batch: RegistryEvent[] = [];
  #running = false;
  #closed = false;
  #stopping = false;
  #idleWaiters: Array<() => void> = [];
  #wake: (() => void) | undefined;
  /** Set by close() while an attempt is in flight: if it fails, retry once at once rather than sleep. */
  #retryNow = false;

  #events = 0;
  #delivered = 0;
  #failures = 0;
  #errors = 0;
  #dropped = 0;
  #consecutiveFailures = 0;
  #failing = false;
  #statuses: Record<string, number> = {};
  #lastError: string | undefined;
  #dropsUnlogged = 0;
  #lastDropLog = 0;

  constructor(settings: EndpointSettings, limits: DeliveryLimits, deps: EndpointDeps) {
    this.name = settings.name;
    // What logs and /debug/vars show: the URL without its credentials (they stay in #target).
    this.url = stripUserinfo(settings.url);
    this.#target = new URL(settings.url);
    this.#headers = settings.headers ?? {};
    this.#timeoutMs = positiveOr(settings.timeoutMs, ENDPOINT_DEFAULTS.timeoutMs);
    this.#threshold = Math.floor(positiveOr(settings.threshold, ENDPOINT_DEFAULTS.threshold));
    this.#backoffMs = positiveOr(settings.backoffMs, ENDPOINT_DEFAULTS.backoffMs);
    this.#maxBackoffMs = Math.max(this.#backoffMs, limits.maxBackoffMs);
    this.#batchSize = limits.batchSize;
    this.#dropLogIntervalMs = limits.dropLogIntervalMs;
    this.#ignoredMediaTypes = new Set(settings.ignoredMediaTypes ?? []);
    this.#ignoredActions = new Set(settings.ignoredActions ?? []);
    this.#queue = new BoundedQueue(limits.queueSize);
    this.#deps = deps;
  }

  /** Events queued or being sent. */
  get pending(): number {
    return this.#queue.length + this.#batch.length;
  }

  /** Queues `event` unless the endpoint ignores it; O(1), never waits. */
  offer(event: RegistryEvent): void {
    if (this.#closed) {
      this.#dropped++;
      this.#deps.metrics?.notificationDropped(this.name, 'closed');
      return;
    }
    if (this.#ignoredActions.has(event.action) || this.#ignoredMediaTypes.has(event.target.mediaType ?? '')) return;
    const overflow = this.#queue.push(event);
    this.#events++;
    this.#deps.metrics?.notificationQueued(this.name);
    if (overflow !== undefined) this.#noteDrop();
    if (!this.#running) {
      this.#running = true;
      // After the current request's work, so events emitted together go in one batch.
      setImmediate(() => void this.#pump());
    }
  }

  /** A snapshot of the endpoint's counters. */
  stats(): EndpointStats {
    return {
      name: this.name,
      url: this.url,
      pending: this.pending,
      events: this.#events,
      delivered: this.#delivered,
      failures: this.#failures,
      errors: this.#errors,
      dropped: this.#dropped,
      consecutiveFailures: this.#consecutiveFailures,
      failing: this.#failing,
      statuses: { ...this.#statuses },
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  /**
   * Stops accepting events and delivers what is queued until `deadline` (epoch ms): a waiting retry
   * is tried at once, and retries continue (with backoff, never past the deadline) while time is
   * left. Then the attempt in flight is aborted and whatever is still queued is dropped (counted
   * as `shutdown` and logged). Resolves when the endpoint holds nothing and its connections are closed.
   */
  async close(deadline: number): Promise<void> {
    this.#closed = true;
    if (this.#wake !== undefined) this.#wake();
    else this.#retryNow = true;
    const left = deadline - Date.now();
    if (this.#running && left > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    if (this.#running) {
      this.#stopping = true;
      this.#abort.abort();
      this.#wake?.();
      await this.#idle();
    }
    const remaining = this.#batch.length + this.#queue.clear();
    this.#batch = [];
    if (remaining > 0) {
      this.#dropped += remaining;
      this.#deps.metrics?.notificationDropped(this.name, 'shutdown', remaining);
      this.#deps.logger.warn({ endpoint: this.name, url: this.url, dropped: remaining }, 'notifications: events not delivered before shutdown were dropped');
    }
    this.#agents.destroy();
  }

  async #pump(): Promise<void> {
    this.#running = true;
    try {
      for (;;) {
        if (this.#stopping) return;
        if (this.#batch.length === 0) {
          if (this.#queue.length === 0) return;
          this.#batch = this.#queue.take(this.#batchSize);
        }
        if (await this.#attempt(this.#batch)) {
          this.#batch = [];
          continue;
        }
        if (this.#stopping) return;
        if (this.#retryNow) {
          this.#retryNow = false;
          continue;
        }
        await this.#sleep(this.#retryDelay());
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** One POST of `batch`; true when the endpoint accepted it. Never throws. */
  async #attempt(batch: readonly RegistryEvent[]): Promise<boolean> {
    try {
      const status = await postEnvelope(this.#target, serializeEnvelope(batch), {
        headers: this.#headers,
        timeoutMs: this.#timeoutMs,
        agents: this.#agents,
        signal: this.#abort.signal,
        ...(this.#deps.userAgent !== undefined ? { userAgent: this.#deps.userAgent } : {}),
      });
      this.#statuses[status] = (this.#statuses[status] ?? 0) + 1;
      this.#delivered += batch.length;
      this.#deps.metrics?.notificationDelivered(this.name, batch.length);
      if (this.#failing) {
        this.#deps.logger.info(
          { endpoint: this.name, url: this.url, failedAttempts: this.#consecutiveFailures, droppedTotal: this.#dropped },
          'notifications: endpoint recovered',
        );
      }
      this.#consecutiveFailures = 0;
      this.#failing = false;
      return true;
    } catch (err) {
      const failure = err instanceof DeliveryError ? err : new DeliveryError('network', String(err), { cause: err });
      if (failure.status !== undefined) {
        this.#statuses[failure.status] = (this.#statuses[failure.status] ?? 0) + 1;
        this.#failures++;
      } else {
        this.#errors++;
      }
      this.#consecutiveFailures++;
      this.#lastError = failure.message;
      this.#deps.metrics?.notificationFailed(this.name, failure.reason);
      const fields = { endpoint: this.name, url: this.url, events: batch.length, consecutiveFailures: this.#consecutiveFailures, err: failure.message };
      if (!this.#failing && this.#consecutiveFailures >= this.#threshold) {
        this.#failing = true;
        this.#deps.logger.warn({ ...fields, threshold: this.#threshold }, 'notifications: endpoint failing, backing off (events stay queued)');
      } else {
        this.#deps.logger.debug(fields, 'notifications: delivery failed, will retry');
      }
      return false;
    }
  }

  /**
   * `backoff` while below the threshold; from the threshold on, doubling at each further failure
   * up to the cap. Up to 20% jitter is added (never less than the wait) so replicas spread out.
   */
  #retryDelay(): number {
    return retryDelayMs(this.#consecutiveFailures, this.#threshold, this.#backoffMs, this.#maxBackoffMs) * (1 + Math.random() * 0.2);
  }

  /** Waits `ms`, or less when close() wakes it. The timer does not keep the process alive. */
  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.#wake = done;
    });
  }

  #idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #noteDrop(): void {
    this.#dropped++;
    this.#dropsUnlogged++;
    this.#deps.metrics?.notificationDropped(this.name, 'queue_full');
    const now = Date.now();
    if (now - this.#lastDropLog >= this.#dropLogIntervalMs) {
      this.#deps.logger.warn(
        { endpoint: this.name, url: this.url, dropped: this.#dropsUnlogged, droppedTotal: this.#dropped, queueSize: this.#queue.capacity },
        'notifications: queue full, dropping the oldest events',
      );
      this.#lastDropLog = now;
      this.#dropsUnlogged = 0;
    }
  }
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The wait before the next retry, without jitter: `backoffMs` while `consecutiveFailures` is below
 * `threshold`; from the threshold on, doubling at each further failure up to `maxBackoffMs`.
 */
export function retryDelayMs(consecutiveFailures: number, threshold: number, backoffMs: number, maxBackoffMs: number): number {
  const beyond = consecutiveFailures - threshold + 1;
  return beyond <= 0 ? backoffMs : Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(beyond, 30));
}
