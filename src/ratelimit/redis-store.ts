/**
 * Buckets in Redis, shared by every replica: one atomic Lua script per decision (the GCRA of gcra.ts, on
 * Redis' clock so replicas with skewed clocks agree), one key per client and class with a TTL that ends
 * when the bucket would be full again.
 *
 * Redis must never slow the registry down or stop it: when the connection is not ready, a decision takes
 * longer than `timeoutMs`, or the script fails, the request is allowed (fail open), counted, and Redis
 * is left alone for a second (no decision waits on it meanwhile). The first failure is logged once, and
 * once more when Redis answers again.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { RedisClient } from '../cache/redis-client.js';
import type { BucketLimit } from './gcra.js';
import type { RateLimitStore, RequestClass } from './store.js';

/** Why a decision was made without Redis. */
export type RedisFailure = 'unavailable' | 'timeout' | 'error';

/** The limiter's own metrics. */
export interface RedisRateLimitMetrics {
  rateLimitRedisFailure(reason: RedisFailure): void;
}

/** KEYS[1]: the bucket. ARGV: interval (µs), burst. Returns 0 (allowed, token taken) or the µs to wait. */
export const GCRA_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
if tat < now then tat = now end
local nexttat = tat + interval
local wait = nexttat - now - burst * interval
if wait > 0 then return wait end
redis.call('SET', KEYS[1], string.format('%.0f', nexttat), 'PX', math.floor((nexttat - now) / 1000) + 1)
return 0
`;

const SCRIPT_SHA = createHash('sha1').update(GCRA_SCRIPT).digest('hex');

/** After a failure, decisions skip Redis for this long. */
const BACKOFF_MS = 1000;

export interface RedisRateLimitStoreOptions {
  readonly client: RedisClient;
  /** The longest a decision waits for Redis before allowing the request. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly metrics?: RedisRateLimitMetrics | undefined;
  /** Prefix of every key (default `berth:ratelimit:`). */
  readonly keyPrefix?: string;
  /** Closes the client on close() (default true). */
  readonly ownsClient?: boolean;
}

export class RedisRateLimitStore implements RateLimitStore {
  readonly #options: RedisRateLimitStoreOptions;
  readonly #prefix: string;
  #skipUntil = 0;
  /** Requests allowed without Redis since the failure that was logged, or -1 while Redis works. */
  #failedOpen = -1;

  constructor(options: RedisRateLimitStoreOptions) {
    this.#options = options;
    this.#prefix = options.keyPrefix ?? 'berth:ratelimit:';
  }

  take(client: string, cls: RequestClass, limit: BucketLimit): number | Promise<number> {
    const redis = this.#options.client;
    if (redis.status !== 'ready' || (this.#skipUntil !== 0 && Date.now() < this.#skipUntil)) return this.#failOpen('unavailable');
    // Long keys (token subjects) are hashed: a key stays small and two clients never share one by truncation.
    const id = client.length > 128 ? `h:${createHash('sha256').update(client).digest('base64url')}` : client;
    const key = `${this.#prefix}${cls}:${id}`;
    const args = [key, String(Math.max(1, Math.round(limit.intervalMs * 1000))), String(limit.burst)];
    return new Promise<number>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve(this.#failOpen('timeout'));
      }, this.#options.timeoutMs);
      const done = (waitUs: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#recovered();
        resolve(typeof waitUs === 'number' && waitUs > 0 ? waitUs / 1000 : 0);
      };
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(this.#failOpen('error', err));
      };
      redis.evalsha(SCRIPT_SHA, 1, ...args).then(done, (err: unknown) => {
        // First use on this server (or after a restart): send the script itself, which Redis then caches.
        if (err instanceof Error && err.message.startsWith('NOSCRIPT')) redis.eval(GCRA_SCRIPT, 1, ...args).then(done, fail);
        else fail(err);
      });
    });
  }

  #failOpen(reason: RedisFailure, err?: unknown): number {
    this.#options.metrics?.rateLimitRedisFailure(reason);
    if (reason !== 'unavailable') this.#skipUntil = Date.now() + BACKOFF_MS;
    if (this.#failedOpen === -1) {
      this.#failedOpen = 0;
      this.#options.logger.warn(
        { reason, ...(err instanceof Error ? { err: err.message } : {}) },
        'rate limiter: redis did not decide; requests are allowed without a limit until it answers again',
      );
    }
    this.#failedOpen++;
    return 0;
  }

  #recovered(): void {
    this.#skipUntil = 0;
    if (this.#failedOpen === -1) return;
    this.#options.logger.info({ allowed: this.#failedOpen }, 'rate limiter: redis answers again; limits apply');
    this.#failedOpen = -1;
  }

  async close(): Promise<void> {
    if (this.#options.ownsClient !== false) this.#options.client.disconnect();
  }
}
