import type { Logger } from 'pino';

/** What a Circuit reports, for metrics (RegistryMetrics provides it). */
export interface CircuitMetrics {
  /** The backend is usable (true) or not (false): berth_cache_backend_up. */
  cacheBackendUp(backend: string, up: boolean): void;
  /** The backend went down once more: berth_cache_backend_outages_total. */
  cacheBackendOutage(backend: string): void;
}

/** Options of {@link Circuit}. */
export interface CircuitOptions {
  /** The backend's name in logs and metrics (`redis`). */
  readonly name: string;
  /** Resolves when the backend answers again; called in the background while the circuit is open. */
  readonly probe: () => Promise<void>;
  /** How often an open circuit probes the backend. Default 500 ms. */
  readonly probeIntervalMs?: number;
  readonly logger: Logger;
  readonly metrics?: CircuitMetrics;
  readonly now?: () => number;
}

/**
 * A circuit breaker in front of an optional backend (a cache): while it is open, callers skip the
 * backend at once and use their fallback (storage) instead of waiting for a timeout or a
 * reconnection on every request. The first failure opens it (logged once, counted once); a
 * background probe closes it as soon as the backend answers again. The probe timer never keeps
 * the process alive.
 */
export class Circuit {
  #open = false;
  #since = 0;
  #timer: NodeJS.Timeout | undefined;
  #probing = false;
  #closedForGood = false;

  constructor(private readonly options: CircuitOptions) {
    options.metrics?.cacheBackendUp(options.name, true);
  }

  /** True while the backend may be used. */
  get closed(): boolean {
    return !this.#open;
  }

  /** Records a failure of the backend: opens the circuit (once) and starts probing. */
  trip(err: unknown): void {
    if (this.#open || this.#closedForGood) return;
    this.#open = true;
    this.#since = (this.options.now ?? Date.now)();
    this.options.logger.error(
      { backend: this.options.name, err: err instanceof Error ? err.message : String(err) },
      `${this.options.name} unavailable: serving from storage until it answers again`,
    );
    this.options.metrics?.cacheBackendUp(this.options.name, false);
    this.options.metrics?.cacheBackendOutage(this.options.name);
    this.#timer = setInterval(() => void this.#probe(), this.options.probeIntervalMs ?? 500);
    this.#timer.unref();
  }

  /** Stops probing for good (at shutdown). */
  close(): void {
    this.#closedForGood = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #probe(): Promise<void> {
    if (this.#probing || !this.#open) return;
    this.#probing = true;
    try {
      await this.options.probe();
    } catch {
      return; // still down: the next tick tries again
    } finally {
      this.#probing = false;
    }
    if (!this.#open || this.#closedForGood) return;
    this.#open = false;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const seconds = (((this.options.now ?? Date.now)() - this.#since) / 1000).toFixed(1);
    this.options.logger.info({ backend: this.options.name, seconds: Number(seconds) }, `${this.options.name} available again after ${seconds} s`);
    this.options.metrics?.cacheBackendUp(this.options.name, true);
  }
}
