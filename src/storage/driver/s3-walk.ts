/**
 * Walk order over an object store, for the S3 driver (pure, no SDK).
 *
 * ListObjectsV2 returns keys in byte order, but StorageDriver.walk promises depth-first order with
 * the names of each directory in lexical order. The two differ where a name continues with a byte
 * below '/' ('-' or '.'): keys `a-y`, `a.x/4`, `a/1` come in that order, while the walk wants `a`,
 * `a/1`, `a-y`, `a.x`, `a.x/4`. Walk order is byte order with '/' counted as the smallest byte, so
 * {@link inWalkOrder} re-sorts the stream with a small heap, holding back only keys that a later
 * key could still precede, and {@link withDirectories} adds the directory entries.
 */

/** One object of a listing: its key relative to the listed prefix, size and modification time. */
export interface ListedObject {
  /** The key with the listing prefix removed: `a/b/c` (a key ending in '/' is a directory marker). */
  readonly rel: string;
  readonly size: number;
  readonly modTime: Date;
  /** The object's ETag, when listed. */
  readonly version?: string;
}

/** A walk entry relative to the walked directory. */
export interface WalkEntry {
  readonly rel: string;
  readonly size: number;
  readonly modTime: Date;
  readonly isDir: boolean;
  readonly version?: string;
}

const SLASH = 0x2f;
const AFTER_SLASH = 0x30;

interface Pending {
  readonly object: ListedObject;
  /** The key with '/' mapped to 0x00: byte order of these is walk order. */
  readonly order: Buffer;
  /**
   * Emitting is safe once the listing has reached this key: the first byte of the key below '/'
   * at position i means a key starting with key[0..i) + '/' (which sorts first in walk order, but
   * later in byte order) could still come; all of those are below key[0..i) + '0'.
   */
  readonly gate: Buffer | undefined;
}

function pending(object: ListedObject): Pending {
  const bytes = Buffer.from(object.rel, 'utf8');
  const order = Buffer.from(bytes);
  let gate: Buffer | undefined;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte === SLASH) order[i] = 0;
    else if (byte < SLASH && gate === undefined) gate = Buffer.concat([bytes.subarray(0, i), Buffer.from([AFTER_SLASH])]);
  }
  return { object, order, gate };
}

/** A binary min-heap of pending objects by walk order. */
class WalkHeap {
  readonly #items: Pending[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Pending | undefined {
    return this.#items[0];
  }

  push(item: Pending): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (Buffer.compare((items[parent] as Pending).order, item.order) <= 0) break;
      items[i] = items[parent] as Pending;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Pending | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && Buffer.compare((items[right] as Pending).order, (items[left] as Pending).order) < 0 ? right : left;
      if (Buffer.compare((items[child] as Pending).order, last.order) >= 0) break;
      items[i] = items[child] as Pending;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/**
 * Re-sorts objects listed in byte order of their keys into walk order (byte order with '/' first).
 * Memory holds only the keys waiting for a sibling directory that sorts before them, e.g. the
 * keys of `repo-b/` while `repo/` is still being listed.
 */
export async function* inWalkOrder(objects: AsyncIterable<ListedObject>): AsyncGenerator<ListedObject> {
  const heap = new WalkHeap();
  for await (const object of objects) {
    heap.push(pending(object));
    const cursor = Buffer.from(object.rel, 'utf8');
    for (let next = heap.peek(); next !== undefined; next = heap.peek()) {
      if (next.gate !== undefined && Buffer.compare(cursor, next.gate) < 0) break;
      heap.pop();
      yield next.object;
    }
  }
  for (let next = heap.pop(); next !== undefined; next = heap.pop()) yield next.object;
}

/**
 * Adds directory entries to objects in walk order: each directory once, just before its first
 * descendant, stamped with that descendant's modification time. A key ending in '/' (a directory
 * marker some tools create) yields its directories but no file; keys with empty segments are skipped.
 */
export async function* withDirectories(objects: AsyncIterable<ListedObject>): AsyncGenerator<WalkEntry> {
  let previous: string[] = [];
  for await (const object of objects) {
    const segments = object.rel.split('/');
    const marker = object.rel.endsWith('/');
    if (marker) segments.pop();
    if (segments.length === 0 || segments.some((segment) => segment === '')) continue;
    const dirs = marker ? segments : segments.slice(0, -1);
    let common = 0;
    while (common < dirs.length && common < previous.length && dirs[common] === previous[common]) common++;
    for (let depth = common; depth < dirs.length; depth++) {
      yield { rel: dirs.slice(0, depth + 1).join('/'), size: 0, modTime: object.modTime, isDir: true };
    }
    previous = dirs;
    if (!marker) {
      const file = { rel: object.rel, size: object.size, modTime: object.modTime, isDir: false };
      yield object.version === undefined ? file : { ...file, version: object.version };
    }
  }
}
