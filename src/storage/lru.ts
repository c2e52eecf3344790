import { LRUCache } from 'lru-cache';

/**
 * A bounded least-recently-used map over `lru-cache`: at most `capacity` units of weight, where
 * `weigh` says what an entry counts for (1 by default; e.g. the bytes of a cached manifest), and
 * at most `maxEntries` entries. The oldest entries are evicted past either bound; an entry heavier
 * than the whole capacity is not kept.
 *
 * The entry bound is enforced here rather than with lru-cache's `max`, which allocates its arrays
 * for `max` entries up front (about 24 bytes a slot: 1.2 MB for a 50,000-entry cache that may
 * never hold more than a few hundred); without it, they grow with the content.
 */
export class Lru<K extends {}, V extends {}> {
  readonly #cache: LRUCache<K, V>;

  constructor(
    private readonly capacity: number,
    weigh: (value: V, key: K) => number = () => 1,
    private readonly maxEntries = Number.POSITIVE_INFINITY,
  ) {
    this.#cache = new LRUCache<K, V>({
      maxSize: Math.max(1, Math.min(Math.floor(capacity), Number.MAX_SAFE_INTEGER)),
      sizeCalculation: (value, key) => Math.max(1, Math.ceil(weigh(value, key))),
    });
  }

  /** Entries held. */
  get size(): number {
    return this.#cache.size;
  }

  /** Units of weight held (bytes, for a cache weighed in bytes). */
  get weight(): number {
    return this.#cache.calculatedSize;
  }

  get(key: K): V | undefined {
    return this.#cache.get(key);
  }

  set(key: K, value: V): void {
    if (this.capacity < 1 || this.maxEntries < 1) return;
    this.#cache.set(key, value);
    while (this.#cache.size > this.maxEntries) this.#cache.pop();
  }

  delete(key: K): boolean {
    return this.#cache.delete(key);
  }

  /** Deletes every entry whose key matches (a scan: for rare operations such as deletes). */
  deleteWhere(match: (key: K) => boolean): void {
    for (const key of [...this.#cache.keys()]) if (match(key)) this.#cache.delete(key);
  }

  clear(): void {
    this.#cache.clear();
  }
}
