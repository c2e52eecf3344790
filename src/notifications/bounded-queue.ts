/**
 * A first-in first-out queue of at most `capacity` items in a fixed ring: push, shift and dropping
 * the oldest item are O(1) and allocate nothing, so a producer can push at any rate.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #items: Array<T | undefined>;
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`BoundedQueue: capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#length;
  }

  /**
   * Appends `item`. When the queue is full the oldest item is removed to make room and returned
   * (the caller counts it as dropped); otherwise returns undefined.
   */
  push(item: T): { dropped: T } | undefined {
    let dropped: { dropped: T } | undefined;
    if (this.#length === this.capacity) {
      dropped = { dropped: this.#items[this.#head] as T };
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#length--;
    }
    this.#items[(this.#head + this.#length) % this.capacity] = item;
    this.#length++;
    return dropped;
  }

  /** Removes and returns up to `n` of the oldest items, oldest first. */
  take(n: number): T[] {
    const count = Math.min(n, this.#length);
    const out = new Array<T>(count);
    for (let i = 0; i < count; i++) {
      out[i] = this.#items[this.#head] as T;
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
    }
    this.#length -= count;
    return out;
  }

  /** Removes everything, returning how many items there were. */
  clear(): number {
    const n = this.#length;
    this.#items.fill(undefined);
    this.#head = 0;
    this.#length = 0;
    return n;
  }
}
