/**
 * Walk order over an S3 listing (pure, no SDK).
 *
 * ListObjectsV2 returns keys in byte order, but StorageDriver.walk promises depth-first order with
 * the names of each directory in lexical order: keys `a-y`, `a.x/4`, `a/1` come in that order,
 * while the walk wants `a`, `a/1`, `a-y`, `a.x`, `a.x/4`. {@link inWalkOrder} re-sorts the stream
 * (walk-order.ts), and {@link withDirectories} adds the directory entries.
 */
import { inWalkOrder as reorder } from '../walk-order.js';

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

/**
 * Re-sorts objects listed in byte order of their keys into walk order (byte order with '/' first).
 * Memory holds only the keys waiting for a sibling directory that sorts before them, e.g. the
 * keys of `repo-b/` while `repo/` is still being listed.
 */
export function inWalkOrder(objects: AsyncIterable<ListedObject>): AsyncGenerator<ListedObject> {
  return reorder(objects, (object) => object.rel);
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
