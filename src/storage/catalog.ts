import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { isRepositoryName } from '../oci/reference.js';
import { REPOSITORIES_ROOT } from './paths.js';
import { insertSorted, mergeSorted, removeSorted } from './sorted-names.js';

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

/** Byte-wise comparison, the order Distribution lists tags in. */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
 * Repository names shared by every replica (Redis: src/cache/redis-catalog.ts). Any method may
 * reject (the store is unreachable); the catalog then falls back to walking storage.
 */
export interface SharedCatalog {
  /**
   * The names recorded after `since` (a sequence number from an earlier answer; 0 for all), and
   * the sequence number to pass next time; undefined when the store holds no complete set (never
   * seeded, or flushed): the caller then seeds it.
   */
  changes(since: number): Promise<{ readonly names: readonly string[]; readonly seq: number; readonly reset: boolean; readonly removed?: readonly string[] } | undefined>;
  /** Records a repository (idempotent). */
  add(names: readonly string[]): Promise<void>;
  /**
   * Records that repositories were deleted (idempotent): `changes` then reports them in `removed`
   * to every replica that read up to an earlier sequence number. A store without it cannot share
   * deletions; replicas then learn them from their next walk.
   */
  remove?(names: readonly string[]): Promise<void>;
  /**
   * Seeds an empty store from `walk`, guarded so that one replica walks at a time; false when
   * another replica holds the guard (the caller serves its own walk meanwhile).
   */
  seed(walk: () => Promise<readonly string[]>): Promise<boolean>;
}

/** How the catalog index stays fresh. */
export interface CatalogOptions {
  /** Age of the walked index at which a page starts a background walk (default 10 s). */
  readonly refreshMs?: number;
  /** Age past which a page waits for a new walk instead of serving the index (default 60 s): the staleness bound without a shared store. */
  readonly maxStaleMs?: number;
  /** Where replicas share repository names; the index then follows it instead of walking. */
  readonly shared?: SharedCatalog;
  /** Called when the shared store fails (the catalog falls back to walking). */
  readonly onSharedError?: (err: unknown) => void;
  readonly now?: () => number;
}

/** After a failure of the shared store, how long pages walk instead of asking it again. */
const SHARED_RETRY_MS = 5_000;

/**
 * The catalog, kept in memory so a page costs a binary search instead of a storage walk, and told
 * at once about repositories this process creates (add), including while it is being built.
 *
 * Without a shared store, repositories created by other replicas arrive with a walk of storage: a
 * page older than `refreshMs` starts one in the background, and a page never comes from a walk
 * started more than `maxStaleMs` ago (it waits for a new one instead), so another replica's
 * repository is missing for at most `maxStaleMs`.
 *
 * With a shared store, every page first reads the names recorded since the last page (one round
 * trip) and every new repository is recorded there, so the catalog is exact across replicas; a
 * starting replica reads the store instead of walking, and seeds it when it is empty. When the
 * store fails, the catalog falls back to walking (above) and records the names it could not
 * write when the store answers again.
 *
 * A repository deleted through this process (remove, the management API) leaves the index at once,
 * and the shared store, when there is one, tells the other replicas at their next page. Without
 * one, another replica's index drops it with its next walk: a walk replaces the index, keeping only
 * what was added or removed through this process while it ran.
 */
export class CatalogIndex {
  private names: string[] | undefined;
  /** Names added before the first build finished, merged into it. */
  private readonly pending = new Set<string>();
  private builtAt = 0;
  private building: Promise<void> | undefined;
  private readonly refreshMs: number;
  private readonly maxStaleMs: number;
  private readonly now: () => number;
  private readonly shared: SharedCatalog | undefined;
  /** The shared store's sequence number this index has read up to; undefined until it has been read whole. */
  private sharedSeq: number | undefined;
  private sharedFailedAt = -Infinity;
  /** Names this process created that the shared store has not recorded yet (it was failing). */
  private readonly unshared = new Set<string>();
  private syncing: Promise<boolean> | undefined;
  /** Deletions this process made that the shared store has not recorded yet (it was failing). */
  private readonly unsharedRemovals = new Set<string>();
  /** While a walk runs: what was added (false) or removed (true) meanwhile, applied over its result. */
  private duringWalk: Map<string, boolean> | undefined;

  constructor(
    private readonly driver: StorageDriver,
    options: CatalogOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 10_000;
    this.maxStaleMs = Math.max(options.maxStaleMs ?? 60_000, this.refreshMs);
    this.now = options.now ?? Date.now;
    this.shared = options.shared;
    this.onSharedError = options.onSharedError;
  }

  private readonly onSharedError: ((err: unknown) => void) | undefined;

  /** A page of repository names in Distribution's catalog order. */
  async page(n: number | undefined, last: string | undefined): Promise<SortedPage> {
    await this.fresh();
    return pageAfter(this.names ?? [], n, last, compareRepositoryNames);
  }

  /** Every repository name (as fresh as a page). */
  async all(): Promise<readonly string[]> {
    await this.fresh();
    return this.names ?? [];
  }

  /**
   * Records a repository this process just wrote to; false when the index already had it. A new
   * name is recorded in the shared store before this resolves (so a client's next request to any
   * replica lists it); when the store fails, it is recorded later, and this still resolves.
   */
  async add(name: string): Promise<boolean> {
    if (!this.insert(name)) return false;
    this.unsharedRemovals.delete(name);
    await this.share([name]);
    return true;
  }

  /** Records a repository another process announced (another worker of this host): no shared write. */
  learn(name: string): void {
    this.insert(name);
  }

  /**
   * Drops a repository this process deleted; false when the index did not have it. The deletion is
   * recorded in the shared store before this resolves (so every replica's next page omits it);
   * when the store fails, it is recorded later, and this still resolves.
   */
  async remove(name: string): Promise<boolean> {
    const had = this.delete(name);
    this.unshared.delete(name);
    await this.shareRemoval([name]);
    return had;
  }

  /** Drops a repository another process deleted (another worker of this host): no shared write. */
  forget(name: string): void {
    this.delete(name);
  }

  private insert(name: string): boolean {
    this.duringWalk?.set(name, false);
    if (this.names !== undefined) return insertSorted(this.names, name);
    if (this.pending.has(name)) return false;
    this.pending.add(name);
    return true;
  }

  private delete(name: string): boolean {
    this.duringWalk?.set(name, true);
    const pending = this.pending.delete(name);
    return (this.names !== undefined && removeSorted(this.names, name)) || pending;
  }

  /** Rebuilds the index from a storage walk (one at a time). */
  refresh(): Promise<void> {
    this.building ??= (async () => {
      const started = this.now();
      const meanwhile = new Map<string, boolean>();
      this.duringWalk = meanwhile;
      try {
        const found = await findRepositories(this.driver, ['_layers', '_manifests']);
        this.replace(found, meanwhile);
        this.builtAt = started;
      } finally {
        this.duringWalk = undefined;
        this.building = undefined;
      }
    })();
    return this.building;
  }

  private async fresh(): Promise<void> {
    if (this.shared !== undefined && this.now() - this.sharedFailedAt >= SHARED_RETRY_MS) {
      if (await this.sync()) return;
    }
    const age = this.now() - this.builtAt;
    if (this.names === undefined || age > this.maxStaleMs) await this.refresh();
    else if (age > this.refreshMs) void this.refresh().catch(() => undefined);
  }

  /** Brings the index up to date with the shared store; false when the caller must walk instead. */
  private sync(): Promise<boolean> {
    this.syncing ??= (async () => {
      const shared = this.shared as SharedCatalog;
      try {
        if (this.unshared.size > 0) {
          const names = [...this.unshared];
          await shared.add(names);
          for (const name of names) this.unshared.delete(name);
        }
        if (this.unsharedRemovals.size > 0 && shared.remove !== undefined) {
          const names = [...this.unsharedRemovals];
          await shared.remove(names);
          for (const name of names) this.unsharedRemovals.delete(name);
        }
        let changes = await shared.changes(this.sharedSeq ?? 0);
        if (changes === undefined) {
          // Empty (first start, or flushed): seed it from a walk, which is this index's walk too.
          if (!(await shared.seed(() => this.refresh().then(() => this.names ?? [])))) {
            this.sharedSeq = undefined;
            return false;
          }
          changes = await shared.changes(0);
          if (changes === undefined) return false;
        }
        if (changes.reset && this.sharedSeq !== undefined) {
          // Flushed and seeded again by another replica: read it whole.
          changes = await shared.changes(0);
          if (changes === undefined) return false;
        }
        this.merge([...changes.names].sort(compareRepositoryNames));
        for (const name of changes.removed ?? []) this.delete(name);
        this.sharedSeq = changes.seq;
        if (this.recovering) {
          this.recovering = false;
          void this.refresh()
            .then(() => shared.add(this.names ?? []))
            .catch((err: unknown) => this.failed(err));
        }
        return true;
      } catch (err) {
        this.failed(err);
        return false;
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private async share(names: readonly string[]): Promise<void> {
    const shared = this.shared;
    if (shared === undefined) return;
    try {
      await shared.add(names);
    } catch (err) {
      for (const name of names) this.unshared.add(name);
      this.retryLater(err);
    }
  }

  private async shareRemoval(names: readonly string[]): Promise<void> {
    const shared = this.shared;
    if (shared?.remove === undefined) return;
    try {
      await shared.remove(names);
    } catch (err) {
      for (const name of names) this.unsharedRemovals.add(name);
      this.retryLater(err);
    }
  }

  /** After a failed write to the shared store: retried by the next page, or by a timer when no page comes. */
  private retryLater(err: unknown): void {
    this.failed(err);
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      void this.sync();
    }, SHARED_RETRY_MS);
    this.retry.unref?.();
  }

  private retry: ReturnType<typeof setTimeout> | undefined;

  private failed(err: unknown): void {
    this.sharedFailedAt = this.now();
    this.sharedSeq = undefined;
    this.recovering = true;
    this.onSharedError?.(err);
  }

  /**
   * Set by a failure of the shared store: names other replicas created meanwhile may be missing
   * from it (their writes failed too, and they may be gone), so the first sync after it walks
   * storage and records everything found.
   */
  private recovering = false;

  /** Merges sorted `found` (from the shared store) into the index, with the names added before the first build. */
  private merge(found: readonly string[]): void {
    let merged = this.names === undefined ? [...found] : mergeSorted(found, this.names);
    if (this.pending.size > 0) {
      merged = mergeSorted(merged, [...this.pending].sort(compareRepositoryNames));
      this.pending.clear();
    }
    const meanwhile = this.duringWalk;
    if (meanwhile !== undefined) for (const name of found) meanwhile.set(name, false);
    this.names = merged;
  }

  /** Replaces the index by a walk's sorted `found`, with what was added or removed while it ran. */
  private replace(found: readonly string[], meanwhile: ReadonlyMap<string, boolean>): void {
    let names = [...found];
    if (this.pending.size > 0) {
      names = mergeSorted(names, [...this.pending].sort(compareRepositoryNames));
      this.pending.clear();
    }
    for (const [name, removed] of meanwhile) {
      if (removed) removeSorted(names, name);
      else insertSorted(names, name);
    }
    this.names = names;
  }
}
