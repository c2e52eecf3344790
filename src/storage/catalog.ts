import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { isRepositoryName } from '../oci/reference.js';
import { REPOSITORIES_ROOT } from './paths.js';

/**
 * Distribution's catalog order: byte-wise, except that `/` sorts before every other character,
 * so a repository's nested repositories follow it directly (`a`, `a/b`, `a-c`). Keeping the same
 * order keeps `last` pagination interchangeable between the two registries.
 */
export function compareRepositoryNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    return x - y;
  }
  return a.length - b.length;
}

/** A page of a sorted listing. */
export interface SortedPage {
  readonly items: readonly string[];
  /** The `last` value for the next page, when there is one. */
  readonly next?: string;
}

/** One page of `items` (sorted by `compare`) after `last`, at most `n` (all when undefined). */
export function pageAfter(items: readonly string[], n: number | undefined, last: string | undefined, compare: (a: string, b: string) => number): SortedPage {
  let start = 0;
  if (last !== undefined && last !== '') {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(items[mid] as string, last) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  if (n === undefined) return { items: items.slice(start) };
  const page = items.slice(start, start + n);
  return start + n < items.length && page.length > 0 ? { items: page, next: page[page.length - 1] } : { items: page };
}

/** Every repository name below the repositories root whose directory holds one of `markers`. */
export async function findRepositories(driver: StorageDriver, markers: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let children: string[];
    try {
      children = await driver.list(dir);
    } catch (err) {
      if (isPathNotFound(err)) return;
      throw err;
    }
    const names = children.map((c) => c.slice(c.lastIndexOf('/') + 1));
    if (prefix !== '' && names.some((n) => markers.includes(n)) && isRepositoryName(prefix)) out.push(prefix);
    const subdirs = names.filter((n) => !n.startsWith('_'));
    // Bounded fan-out: deep trees of thousands of repositories must not open thousands of handles at once.
    for (let i = 0; i < subdirs.length; i += 32) {
      await Promise.all(subdirs.slice(i, i + 32).map((n) => visit(`${dir}/${n}`, prefix === '' ? n : `${prefix}/${n}`)));
    }
  };
  await visit(REPOSITORIES_ROOT, '');
  return out.sort(compareRepositoryNames);
}

/**
 * The catalog, kept in memory so a page costs a binary search instead of a storage walk. It is
 * built on first use, refreshed in the background when older than `refreshMs` (catching
 * repositories other replicas created), and told at once about repositories this process
 * creates. Distribution never removes repository directories, and neither does Berth, so a
 * name never needs to leave the index between refreshes.
 */
export class CatalogIndex {
  private names: string[] | undefined;
  private builtAt = 0;
  private building: Promise<void> | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly refreshMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A page of repository names in Distribution's catalog order. */
  async page(n: number | undefined, last: string | undefined): Promise<SortedPage> {
    if (this.names === undefined) await this.refresh();
    else if (this.now() - this.builtAt > this.refreshMs) void this.refresh().catch(() => undefined);
    return pageAfter(this.names ?? [], n, last, compareRepositoryNames);
  }

  /** Every repository name (builds the index if needed). */
  async all(): Promise<readonly string[]> {
    if (this.names === undefined) await this.refresh();
    return this.names ?? [];
  }

  /** Records a repository this process just wrote to; false when the index already had it. */
  add(name: string): boolean {
    const names = this.names;
    if (names === undefined) return true;
    let lo = 0;
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareRepositoryNames(names[mid] as string, name);
      if (c === 0) return false;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    names.splice(lo, 0, name);
    return true;
  }

  /** Rebuilds the index from storage (one walk at a time). */
  refresh(): Promise<void> {
    this.building ??= (async () => {
      const started = this.now();
      try {
        const found = await findRepositories(this.driver, ['_layers', '_manifests']);
        // Keep names added while the walk ran.
        const merged = this.names === undefined ? found : mergeSorted(found, this.names);
        this.names = merged;
        this.builtAt = started;
      } finally {
        this.building = undefined;
      }
    })();
    return this.building;
  }
}

function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length) out.push(a[i++] as string);
    else if (i >= a.length) out.push(b[j++] as string);
    else {
      const c = compareRepositoryNames(a[i] as string, b[j] as string);
      if (c === 0) {
        out.push(a[i++] as string);
        j++;
      } else if (c < 0) out.push(a[i++] as string);
      else out.push(b[j++] as string);
    }
  }
  return out;
}
