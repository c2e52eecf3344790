import { createHash } from 'node:crypto';
import type { FileInfo, StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { digestAlgorithm, tryParseDigest, type Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import * as paths from './paths.js';
import { statOrUndefined } from './listing.js';
import { Lru } from './lru.js';
import { DEFAULT_LINK_CACHE_LIMITS, RACY_MS, type LinkCache, type LinkCacheLimits } from './link-cache.js';
import { compareBytes } from './catalog.js';

/**
 * The tags whose current link names a revision whose link exists (condemnation is the caller's),
 * sorted, with the digest each names (`digests[i]` is the digest of `tags[i]`).
 */
export interface StoredTags {
  readonly tags: readonly string[];
  readonly digests: readonly Digest[];
}

interface StoredTag {
  readonly tag: string;
  readonly digest: Digest;
}

function toStored(entries: readonly StoredTag[]): StoredTags {
  return { tags: entries.map((e) => e.tag), digests: entries.map((e) => e.digest) };
}

/**
 * How long a validated list is used before it is built again from the links, whatever the
 * directory versions say. What Berth's writers do (on any replica) changes a version the key holds
 * (see TagLists); this bounds what only a foreign writer could do unseen (delete a revision's
 * link but not its directory, as Distribution's DELETE does; point a tag at a revision that is not
 * stored), and the one Berth case the key misses: a push that stalls for more than RACY_MS between
 * storing its revision and moving the tag, while a DELETE removes that revision, and then dies
 * before its re-check stores the revision again.
 */
export const MAX_LIST_AGE_MS = 10_000;

const CONCURRENCY = 16;

interface Built {
  /** The versions of every directory whose change can change the answer. */
  readonly key: string;
  readonly builtAt: number;
  readonly stored: StoredTags;
  /** The digest algorithms of `stored`, and sha256: whose revision and marker directories the key holds. */
  readonly algorithms: readonly string[];
  /** Tag directories that did not resolve when built (a half-written tag, a dangling one): re-checked on every read. */
  readonly unresolved: readonly string[];
}

/**
 * The tags of a repository that resolve, for tags/list, shared by all repositories of a registry.
 * Either way a tag counts only when its current link names a revision whose link exists; the two
 * ways differ in what they read per request.
 *
 * Drivers with directory versions (the filesystem driver on a local disk): the list is built once
 * from the links (a read per tag, a stat per revision) and kept under a key made of the versions
 * of the directories whose change can change the answer, validated by three stats per request:
 * - `_manifests/tags`: a tag added (its directory created) or deleted (removed);
 * - `_manifests/revisions/<alg>` for each algorithm in use: a revision added or deleted by
 *   Berth (deleteManifest removes the revision's directory) or by offline garbage collection;
 * - the repository's online-GC markers `_berth/gc/condemned-manifests/<name>/_revisions/<alg>`:
 *   online GC deletes only a revision's link (its directory stays), and only while a marker has
 *   existed for the grace period, then deletes the marker, which changes that directory.
 * A tag's current link rewritten to another digest changes none of these, and need not: putManifest
 * stores the new revision before it moves the tag, so the tag still resolves; and should that
 * revision be deleted (before or after), its directory's removal changes the key (or the push,
 * seeing it gone, stores it again). The directories that did not resolve at build time (a tag
 * half written by a crash, whose current link another replica may write later without changing
 * `tags`) are re-checked on every read. As in LinkCache.sortedNames, a key is kept only when none
 * of its directories changed within RACY_MS before the build began, so a change after it always
 * shows as a new version; and after MAX_LIST_AGE_MS the list is built again regardless.
 *
 * Drivers without directory versions (S3, Azure, network file systems): per request, one walk of
 * `_manifests/tags` (keys and versions: ETags on S3) and one of `_manifests/revisions`, instead of
 * a read per tag and a stat per revision. The current links' content is kept by (path, version),
 * so only changed links are read; a content is kept only when it is provably that version's (its
 * MD5 is the version: an object store's ETag of a single PUT), so an ETag seen before the read
 * and a newer content read after it are never cached together.
 */
export class TagLists {
  /** Bounded as LinkCache's listings are (storage.cache.taglistsize and taglistbytes), weighed in bytes of heap. */
  private readonly lists: Lru<string, Built>;
  private readonly currents = new Lru<string, { version: string; digest: Digest }>(50_000);
  /** Learned from the first stat: without directory versions, stat'ing the tags directory is skipped (on S3 it costs a HEAD and a LIST). */
  private dirVersions: boolean | undefined;
  /** Absent directories, by the nearest existing ancestor (and its version) that stands for them (see dirState). */
  private readonly absentBelow = new Lru<string, { ancestor: string; version: string }>(1_000);

  constructor(
    private readonly driver: StorageDriver,
    private readonly links: LinkCache,
    private readonly now: () => number = Date.now,
    limits: LinkCacheLimits = {},
  ) {
    this.lists = new Lru(limits.tagListBytes ?? DEFAULT_LINK_CACHE_LIMITS.tagListBytes, builtBytes, limits.tagLists ?? DEFAULT_LINK_CACHE_LIMITS.tagLists);
  }

  /** Stored tags of `name`, sorted by tag; undefined (or empty) when the repository has no tags directory. */
  async stored(name: RepositoryName): Promise<StoredTags | undefined> {
    const tagsDir = paths.tagsPath(name);
    if (this.dirVersions === false) return toStored(await this.walked(name));
    const tagsInfo = await statOrUndefined(this.driver, tagsDir);
    if (tagsInfo === undefined) return undefined;
    this.dirVersions ??= tagsInfo.version !== undefined;
    if (tagsInfo.version === undefined) return toStored(await this.walked(name));
    const cached = this.lists.get(name);
    const algorithms = cached?.algorithms ?? ['sha256'];
    const startedAt = this.now();
    const infos = [tagsInfo, ...(await this.versionedDirs(name, algorithms))];
    const key = infos.map((i) => (i === undefined ? '-' : i.version ?? '?')).join('|');
    if (cached !== undefined && cached.key === key && startedAt - cached.builtAt < MAX_LIST_AGE_MS && !(await this.anyResolves(name, cached.unresolved))) {
      return cached.stored;
    }
    const built = await this.build(name, tagsDir);
    // Kept only when no directory of the key changed within the clock tick before the build began.
    const settled = infos.every((i) => i === undefined || (i.version !== undefined && startedAt - i.modTime.getTime() >= RACY_MS));
    // A list holding another algorithm is keyed without that algorithm's directories: the next read's
    // key has them, so it misses once and keeps a list under the full key.
    const used = new Set<string>(['sha256']);
    for (const digest of built.stored.digests) used.add(digestAlgorithm(digest));
    if (settled) this.lists.set(name, { key, builtAt: startedAt, algorithms: [...used].sort(), ...built });
    else this.lists.delete(name);
    return built.stored;
  }

  private async versionedDirs(name: RepositoryName, algorithms: readonly string[]): Promise<Array<FileInfo | undefined>> {
    const dirs: string[] = [];
    for (const alg of algorithms) {
      dirs.push(`${paths.revisionsPath(name)}/${alg}`, `${paths.CONDEMNED_REVISIONS_ROOT}/${name}/_revisions/${alg}`);
    }
    return Promise.all(dirs.map((d) => this.dirState(d)));
  }

  /**
   * The directory's stat; for an absent one (the GC markers' directory of a repository GC never
   * condemned anything in), the stat of its nearest existing ancestor, whose version changes when
   * the missing child is created: one stat that succeeds per request rather than a failing one.
   */
  private async dirState(path: string): Promise<FileInfo | undefined> {
    const known = this.absentBelow.get(path);
    if (known !== undefined) {
      const info = await statOrUndefined(this.driver, known.ancestor);
      if (info?.version !== undefined && info.version === known.version) return { ...info, version: `${known.ancestor}@${info.version}` };
      this.absentBelow.delete(path);
    }
    const info = await statOrUndefined(this.driver, path);
    if (info !== undefined) return info;
    for (let dir = parentOf(path); dir !== ''; dir = parentOf(dir)) {
      const up = await statOrUndefined(this.driver, dir);
      if (up === undefined) continue;
      // Absent after the ancestor's stat: creating it later changes that ancestor's version.
      const again = await statOrUndefined(this.driver, path);
      if (again !== undefined) return again;
      if (up.version === undefined) return undefined;
      if (this.now() - up.modTime.getTime() >= RACY_MS) this.absentBelow.set(path, { ancestor: dir, version: up.version });
      return { ...up, version: `${dir}@${up.version}` };
    }
    return undefined;
  }

  private async build(name: RepositoryName, tagsDir: string): Promise<{ stored: StoredTags; unresolved: string[] }> {
    let names: string[];
    try {
      names = (await this.driver.list(tagsDir)).map((p) => p.slice(p.lastIndexOf('/') + 1)).sort(compareBytes);
    } catch (err) {
      if (isPathNotFound(err)) return { stored: { tags: [], digests: [] }, unresolved: [] };
      throw err;
    }
    const digests = await mapLimit(names, (tag) => this.resolve(name, tag));
    const stored: StoredTag[] = [];
    const unresolved: string[] = [];
    names.forEach((tag, i) => {
      const digest = digests[i];
      if (digest === undefined) unresolved.push(tag);
      else stored.push({ tag, digest });
    });
    return { stored: toStored(stored), unresolved };
  }

  /** The digest `tag` resolves to when its revision's link exists. */
  private async resolve(name: RepositoryName, tag: string): Promise<Digest | undefined> {
    const digest = await this.links.readLink(paths.tagCurrentLinkPath(name, tag as Tag));
    if (digest === undefined) return undefined;
    return (await this.links.exists(paths.revisionLinkPath(name, digest))) ? digest : undefined;
  }

  private async anyResolves(name: RepositoryName, tags: readonly string[]): Promise<boolean> {
    for (const tag of tags) if ((await this.resolve(name, tag)) !== undefined) return true;
    return false;
  }

  /** Two walks (see the class comment). */
  private async walked(name: RepositoryName): Promise<StoredTag[]> {
    const tagsDir = paths.tagsPath(name);
    const currents: Array<{ tag: string; path: string; version: string | undefined }> = [];
    try {
      for await (const entry of this.driver.walk(tagsDir)) {
        if (entry.isDir || !entry.path.endsWith('/current/link')) continue;
        const tag = entry.path.slice(tagsDir.length + 1, -'/current/link'.length);
        if (tag.includes('/')) continue;
        currents.push({ tag, path: entry.path, version: entry.version });
      }
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
    if (currents.length === 0) return [];
    // Revisions listed after the tags: a revision deleted after its tag was read is not counted.
    const revisions = new Set<string>();
    const revisionsDir = paths.revisionsPath(name);
    try {
      for await (const entry of this.driver.walk(revisionsDir)) {
        if (entry.isDir || !entry.path.endsWith('/link')) continue;
        const parts = entry.path.slice(revisionsDir.length + 1).split('/');
        if (parts.length === 3) revisions.add(`${parts[0]}:${parts[1]}`);
      }
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
    const digests = await mapLimit(currents, (c) => this.currentOf(c.path, c.version));
    const out: StoredTag[] = [];
    currents.forEach((c, i) => {
      const digest = digests[i];
      if (digest !== undefined && revisions.has(digest)) out.push({ tag: c.tag, digest });
    });
    return out.sort((a, b) => compareBytes(a.tag, b.tag));
  }

  private async currentOf(path: string, version: string | undefined): Promise<Digest | undefined> {
    const cached = this.currents.get(path);
    if (cached !== undefined && version !== undefined && cached.version === version) return cached.digest;
    let content: Buffer;
    try {
      content = await this.driver.getContent(path);
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
    const digest = tryParseDigest(content.toString('utf8').trim());
    if (digest !== undefined && version !== undefined && isMd5Of(version, content)) this.currents.set(path, { version, digest });
    else this.currents.delete(path);
    return digest;
  }
}

/** Heap bytes of a kept list, roughly: 2 bytes a character, plus object and array overhead per tag. */
function builtBytes(b: Built, key: string): number {
  let bytes = 200 + 2 * (key.length + b.key.length);
  for (const tag of b.stored.tags) bytes += 2 * tag.length + 24;
  for (const digest of b.stored.digests) bytes += 2 * digest.length + 24;
  for (const tag of b.unresolved) bytes += 2 * tag.length + 24;
  return bytes;
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

function isMd5Of(version: string, content: Buffer): boolean {
  const etag = version.startsWith('"') && version.endsWith('"') ? version.slice(1, -1) : version;
  return etag.length === 32 && etag.toLowerCase() === createHash('md5').update(content).digest('hex');
}


async function mapLimit<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  for (let i = 0; i < items.length; i += CONCURRENCY) {
    const batch = await Promise.all(items.slice(i, i + CONCURRENCY).map(fn));
    batch.forEach((r, j) => (out[i + j] = r));
  }
  return out;
}
