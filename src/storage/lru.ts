/**
 * A small bounded least-recently-used map. `weigh` lets entries count for more than one unit
 * (e.g. bytes of a cached manifest); the map evicts the oldest entries past `capacity` units.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    // Re-insert to mark as most recently used.
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    const weight = this.weigh(value);
    if (weight > this.capacity) return;
    this.delete(key);
    this.map.set(key, { value, weight });
    this.total += weight;
    while (this.total > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    const entry = this.map.get(key);
    if (entry === undefined) return false;
    this.map.delete(key);
    this.total -= entry.weight;
    return true;
  }

  /** Deletes every entry whose key matches (a scan: for rare operations such as deletes). */
  deleteWhere(match: (key: K) => boolean): void {
    for (const key of [...this.map.keys()]) if (match(key)) this.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }
}
