/**
 * Where the rate limiter keeps its buckets: in this process (InMemoryRateLimitStore, bounded by an LRU),
 * or in Redis so every replica draws from one budget (redis-store.ts).
 */
import { LRUCache } from 'lru-cache';
import { takeToken, type BucketLimit } from './gcra.js';

/** The two classes of requests, each with its own bucket per client. */
export type RequestClass = 'reads' | 'writes';

/** A bucket store: takes one token for a client and class. */
export interface RateLimitStore {
  /**
   * Takes one token from `client`'s bucket of `cls`. Returns (or resolves to) 0 when the request is
   * allowed, else the milliseconds until it would be. Never throws or rejects: a store that cannot decide
   * allows the request (fails open).
   */
  take(client: string, cls: RequestClass, limit: BucketLimit): number | Promise<number>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** A client's state: the TAT of each class. */
interface ClientBuckets {
  reads: number;
  writes: number;
}

/**
 * Buckets in this process: one map lookup and a little arithmetic per request. At most `maxClients`
 * clients are tracked; beyond that the least recently seen is forgotten (its next request starts with a
 * full bucket, so an eviction can only be generous, never refuse).
 */
export class InMemoryRateLimitStore implements RateLimitStore {
  readonly #clients: LRUCache<string, ClientBuckets>;
  readonly #now: () => number;

  constructor(options: { maxClients: number; now?: () => number }) {
    this.#clients = new LRUCache({ max: options.maxClients });
    this.#now = options.now ?? Date.now;
  }

  /** Clients tracked right now. */
  get size(): number {
    return this.#clients.size;
  }

  take(client: string, cls: RequestClass, limit: BucketLimit): number {
    const now = this.#now();
    let buckets = this.#clients.get(client);
    if (buckets === undefined) {
      buckets = { reads: 0, writes: 0 };
      this.#clients.set(client, buckets);
    }
    const decision = takeToken(buckets[cls], now, limit);
    buckets[cls] = decision.tat;
    return decision.retryAfterMs;
  }

  async close(): Promise<void> {
    this.#clients.clear();
  }
}
