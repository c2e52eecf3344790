/** The password-check, lockout and request rate-limit metrics of RegistryMetrics (berth_auth_*, berth_ratelimit_*). */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Registers the berth_auth_* and berth_ratelimit_* metrics in `registry`; RegistryMetrics delegates to it. */
export class AccessMetrics {
  readonly #passwordChecks: Counter<'result'>;
  readonly #passwordRefused: Counter<'reason'>;
  readonly #lockouts: Counter<'kind'>;
  readonly #rateLimited: Counter<'class'>;
  readonly #rateLimitRedisFailures: Counter<'reason'>;
  readonly #rateLimitClientSources: Array<() => number> = [];
  readonly #checkSources: Array<() => number> = [];

  constructor(registry: Registry) {
    const registers = [registry];
    this.#passwordChecks = new Counter({
      name: 'berth_auth_password_checks_total',
      help: 'bcrypt password checks made (cached credentials are not checked), by result (ok, fail).',
      labelNames: ['result'],
      registers,
    });
    this.#passwordRefused = new Counter({
      name: 'berth_auth_password_checks_refused_total',
      help: 'Logins refused with 429 before any password check, by reason (busy, address, user).',
      labelNames: ['reason'],
      registers,
    });
    this.#lockouts = new Counter({
      name: 'berth_auth_lockouts_total',
      help: 'Lockouts started after repeated failed logins, by kind (address, user).',
      labelNames: ['kind'],
      registers,
    });
    this.#rateLimited = new Counter({
      name: 'berth_ratelimit_limited_total',
      help: 'Requests refused with 429 by the request rate limits (http.ratelimit), by class (reads, writes).',
      labelNames: ['class'],
      registers,
    });
    this.#rateLimitRedisFailures = new Counter({
      name: 'berth_ratelimit_redis_failures_total',
      help: 'Rate-limit decisions Redis did not make, so the request was allowed, by reason (unavailable, timeout, error).',
      labelNames: ['reason'],
      registers,
    });
    const rateLimitClientSources = this.#rateLimitClientSources;
    new Gauge({
      name: 'berth_ratelimit_clients',
      help: 'Clients whose request buckets this process tracks (in-process rate limiting only).',
      registers,
      collect() {
        let total = 0;
        for (const source of rateLimitClientSources) total += source();
        this.set(total);
      },
    });
    const checkSources = this.#checkSources;
    new Gauge({
      name: 'berth_auth_password_checks_in_flight',
      help: 'Password checks queued or running on the bcrypt workers right now.',
      registers,
      collect() {
        let total = 0;
        for (const source of checkSources) total += source();
        this.set(total);
      },
    });
  }

  /** One bcrypt password check ended: the password was right ('ok') or not ('fail'). */
  passwordCheck(result: 'ok' | 'fail'): void {
    this.#passwordChecks.inc({ result });
  }

  /** A login was refused with 429 before its check: too many in flight ('busy'), or a locked-out address or user. */
  passwordCheckRefused(reason: 'busy' | 'address' | 'user'): void {
    this.#passwordRefused.inc({ reason });
  }

  /** A client address or user name was locked out after repeated failures. */
  loginLockout(kind: 'address' | 'user'): void {
    this.#lockouts.inc({ kind });
  }

  /** Reports the password checks in flight at scrape time from `source`. */
  trackPasswordChecks(source: () => number): void {
    this.#checkSources.push(source);
  }

  /** A request was refused with 429 by the request rate limit of its class. */
  requestLimited(cls: 'reads' | 'writes'): void {
    this.#rateLimited.inc({ class: cls });
  }

  /** A rate-limit decision was made without Redis (the request was allowed). */
  rateLimitRedisFailure(reason: 'unavailable' | 'timeout' | 'error'): void {
    this.#rateLimitRedisFailures.inc({ reason });
  }

  /** Reports the clients tracked by the in-process rate limiter at scrape time from `source`. */
  trackRateLimitClients(source: () => number): void {
    this.#rateLimitClientSources.push(source);
  }
}
