import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import { Lru } from './lru.js';

/** Bounds of a LinkCache (storage.cache.linksize, taglistsize, taglistbytes). */
export interface LinkCacheLimits {
  /** Link files kept (tags' current links above all). */
  readonly links?: number;
  /** Directory listings (a repository's tags) kept. */
  readonly tagLists?: number;
  /** Bytes those listings may hold in all (as weighed by listingBytes). */
  readonly tagListBytes?: number;
}

export const DEFAULT_LINK_CACHE_LIMITS = { links: 50_000, tagLists: 1_000, tagListBytes: 16 * 1024 * 1024 } as const;

/** Bytes of heap an entry costs, roughly: strings are 2 bytes a character at worst, plus object overhead. */
const ENTRY_OVERHEAD = 120;

function linkBytes(path: string, digest: string, version: string): number {
  return ENTRY_OVERHEAD + 2 * (path.length + digest.length + version.length);
}

function listingBytes(dir: string, names: readonly string[], version: string): number {
  let bytes = ENTRY_OVERHEAD + 2 * (dir.length + version.length) + 8 * names.length;
  for (const name of names) bytes += 16 + 2 * name.length;
  return bytes;
}

/** How long after its last change a directory's version is trusted to change with the next one. */
export const RACY_MS = 3_000;

/**
 * Link files (a tag's `current/link` above all) read on every manifest GET, kept in memory with
 * the file's version (see FileInfo.version) and validated with one stat per read, instead of an
 * open/read/close: never stale, whoever wrote the file, replicas included. Existence checks are
 * not cached at all (a plain stat), so a deletion through any replica is seen at once. Drivers
 * that report no version are read every time.
 */
export class LinkCache {
  private readonly links: Lru<string, { digest: Digest; version: string }>;
  private readonly listings: Lru<string, { version: string; names: readonly string[] }>;
  /** Learned from the first stat: a driver without versions is read directly (no extra stat). */
  private versioned: boolean | undefined;
  private versionedDirs: boolean | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly now: () => number = Date.now,
    limits: LinkCacheLimits = {},
  ) {
    this.links = new Lru(Number.MAX_SAFE_INTEGER, (e, key) => linkBytes(key, e.digest, e.version), limits.links ?? DEFAULT_LINK_CACHE_LIMITS.links);
    this.listings = new Lru(limits.tagListBytes ?? DEFAULT_LINK_CACHE_LIMITS.tagListBytes, (e, key) => listingBytes(key, e.names, e.version), limits.tagLists ?? DEFAULT_LINK_CACHE_LIMITS.tagLists);
  }

  /** How full the two caches are (for berth_cache_entries / berth_cache_bytes). */
  usage(): Array<{ cache: string; entries: number; bytes: number }> {
    return [
      { cache: 'links', entries: this.links.size, bytes: this.links.weight },
      { cache: 'tags', entries: this.listings.size, bytes: this.listings.weight },
    ];
  }

  /**
   * The names of a directory's entries (a repository's tags), sorted by `compare`, kept with the
   * directory's version and validated with one stat per read instead of a listing. Adding or
   * removing an entry changes a directory's mtime, but only to the file system's clock tick
   * (up to seconds on some), so a listing is kept only when the directory was last changed
   * RACY_MS before it was read: any later change then shows as a new version. Throws
   * PathNotFoundError when the directory is absent.
   */
  async sortedNames(dir: string, compare: (a: string, b: string) => number): Promise<readonly string[]> {
    const info = this.versionedDirs === false ? undefined : await this.driver.stat(dir);
    this.versionedDirs ??= info?.version !== undefined;
    const cached = this.listings.get(dir);
    if (info?.version !== undefined && cached !== undefined && cached.version === info.version) return cached.names;
    const readAt = this.now();
    const names = (await this.driver.list(dir)).map((entry) => entry.slice(entry.lastIndexOf('/') + 1)).sort(compare);
    if (info?.version !== undefined && readAt - info.modTime.getTime() >= RACY_MS) this.listings.set(dir, { version: info.version, names });
    else this.listings.delete(dir);
    return names;
  }

  /** The digest a link file holds, or undefined when it is absent or not a digest. */
  async readLink(path: string): Promise<Digest | undefined> {
    try {
      if (this.versioned === false) return tryParseDigest((await this.driver.getContent(path)).toString('utf8').trim());
      const cached = this.links.get(path);
      const before = (await this.driver.stat(path)).version;
      this.versioned ??= before !== undefined;
      if (cached !== undefined && before !== undefined && before === cached.version) return cached.digest;
      const content = (await this.driver.getContent(path)).toString('utf8').trim();
      const digest = tryParseDigest(content);
      if (digest === undefined) return undefined;
      // Cache only when no write slipped in between the two stats: the content read then belongs
      // to that version, so a cached entry is never stale.
      if (before !== undefined && (await this.driver.stat(path)).version === before) this.links.set(path, { digest, version: before });
      return digest;
    } catch (err) {
      if (isPathNotFound(err)) {
        this.links.delete(path);
        return undefined;
      }
      throw err;
    }
  }

  /** True when a link file exists. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.driver.stat(path);
      return true;
    } catch (err) {
      if (isPathNotFound(err)) return false;
      throw err;
    }
  }

  /** Forgets a link this process wrote or deleted (or everything below a deleted directory). */
  forget(pathOrDir: string): void {
    this.links.delete(pathOrDir);
    if (!pathOrDir.endsWith('/link')) {
      const prefix = `${pathOrDir}/`;
      this.links.deleteWhere((k) => k.startsWith(prefix));
    }
  }
}
