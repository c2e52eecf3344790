/**
 * Builds the request rate limiter `http.ratelimit` describes, or nothing when it is off: a registry
 * without limits pays nothing per request.
 */
import type { Logger } from 'pino';
import type { RedisSettings } from '../cache/redis-schema.js';
import { RequestRateLimiter, type RateLimiterMetrics } from './limiter.js';
import type { RateLimitConfig } from './schema.js';
import { InMemoryRateLimitStore, type RateLimitStore } from './store.js';
import type { RedisRateLimitMetrics } from './redis-store.js';

/** The metrics the limiter and its stores report. */
export interface RateLimitMetrics extends RateLimiterMetrics, RedisRateLimitMetrics {
  trackRateLimitClients(source: () => number): void;
}

export interface RateLimitDependencies {
  readonly logger: Logger;
  readonly metrics?: RateLimitMetrics | undefined;
  /** `http.prefix`. */
  readonly prefix: string;
  /** The `redis` section, when configured. */
  readonly redis?: RedisSettings | undefined;
}

/** The limiter of `config`, or undefined when `enabled` is false. Throws when `store: redis` has no redis section. */
export async function createRateLimiter(config: RateLimitConfig, deps: RateLimitDependencies): Promise<RequestRateLimiter | undefined> {
  if (!config.enabled) return undefined;
  if (config.store === 'redis' && deps.redis === undefined) throw new Error('config: http.ratelimit.store: redis needs the redis section');
  let store: RateLimitStore;
  let where: string;
  if (config.store !== 'inmemory' && deps.redis !== undefined) {
    const [{ connectRedis }, { RedisRateLimitStore }] = await Promise.all([import('../cache/redis-client.js'), import('./redis-store.js')]);
    const client = await connectRedis(deps.redis, deps.logger);
    store = new RedisRateLimitStore({ client, timeoutMs: config.redistimeout, logger: deps.logger, metrics: deps.metrics });
    where = 'shared through redis';
  } else {
    const memory = new InMemoryRateLimitStore({ maxClients: config.maxclients });
    deps.metrics?.trackRateLimitClients(() => memory.size);
    store = memory;
    where = 'in this process';
  }
  deps.logger.info(
    { reads: config.reads, writes: config.writes, key: config.key, trustedproxies: config.trustedproxies.length },
    `request rate limits on, ${where}`,
  );
  return new RequestRateLimiter({
    store,
    reads: config.reads,
    writes: config.writes,
    key: config.key,
    exempt: config.exempt,
    trustedProxies: config.trustedproxies,
    ipv6PrefixBits: config.ipv6prefix,
    prefix: deps.prefix,
    metrics: deps.metrics,
  });
}
