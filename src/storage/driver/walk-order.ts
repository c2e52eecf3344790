/**
 * Walk order, for drivers over object stores (pure, no I/O).
 *
 * StorageDriver.walk promises depth first, each directory's names in byte order: byte order with
 * '/' counted as the smallest character, so that a directory's children follow it directly
 * ("a" < "a/1" < "a/b/2" < "a-y" < "a.x"). Object stores list names in plain byte order
 * ("a-y" < "a.x/4" < "a/1"); {@link inWalkOrder} re-sorts such a listing as it streams.
 * Distribution's catalog uses the same order for repository names (see compareRepositoryNames
 * in storage/catalog.ts, which may use {@link compareWalkOrder}).
 */

const SLASH = 0x2f;

/**
 * Compares two names in walk order: UTF-8 byte order with '/' before every other character.
 * (For ASCII names, as every valid driver path is, that is code-unit order with '/' first.)
 */
export function compareWalkOrder(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === SLASH) return -1;
    if (y === SLASH) return 1;
    return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/**
 * A code unit's place in UTF-8 byte order: surrogates (the characters above U+FFFF, 4 UTF-8 bytes
 * from F0) sort after U+E000..U+FFFF (3 bytes from EE), though their code units are lower.
 */
function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/**
 * Re-sorts `listing`, given in byte order of `nameOf` (as object stores list), into walk order.
 * It streams: an item is released as soon as nothing still to come can sort before it. The two
 * orders differ only where a name continues with a character below '/' (such as '-' or '.')
 * while a sibling directory has the same stem ("a-y", "a.x/…" list before "a/…" but walk after
 * it), so memory holds only those look-alike siblings, e.g. the repository "x-y/…" until "x/…"
 * has passed. Items of equal names keep their listing order.
 */
export async function* inWalkOrder<T>(listing: AsyncIterable<T>, nameOf: (item: T) => string): AsyncGenerator<T> {
  const heap = new WalkHeap<T>();
  let sequence = 0;
  for await (const item of listing) {
    const name = nameOf(item);
    heap.push({ item, name, sequence: sequence++ });
    const bound = releaseBound(name);
    for (let next = heap.peek(); next !== undefined && compareWalkOrder(next.name, bound) <= 0; next = heap.peek()) {
      heap.pop();
      yield next.item;
    }
  }
  for (let next = heap.pop(); next !== undefined; next = heap.pop()) yield next.item;
}

/**
 * Every name listed after `name` sorts, in walk order, at or after the result: `name` cut before
 * its first character below '/', or `name` itself when it has none.
 */
function releaseBound(name: string): string {
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) < SLASH) return name.slice(0, i);
  }
  return name;
}

interface Held<T> {
  readonly item: T;
  readonly name: string;
  /** Listing position: ties of equal names keep their order. */
  readonly sequence: number;
}

function before<T>(a: Held<T>, b: Held<T>): boolean {
  const order = compareWalkOrder(a.name, b.name);
  return order < 0 || (order === 0 && a.sequence < b.sequence);
}

/** A binary min-heap of held items by walk order. */
class WalkHeap<T> {
  readonly #items: Array<Held<T>> = [];

  peek(): Held<T> | undefined {
    return this.#items[0];
  }

  push(held: Held<T>): void {
    const items = this.#items;
    let i = items.length;
    items.push(held);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent] as Held<T>;
      if (!before(held, above)) break;
      items[i] = above;
      i = parent;
    }
    items[i] = held;
  }

  pop(): Held<T> | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && before(items[right] as Held<T>, items[left] as Held<T>) ? right : left;
      const below = items[child] as Held<T>;
      if (!before(below, last)) break;
      items[i] = below;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
