/**
 * The mark half of garbage collection, shared by the offline collector (collect.ts) and online GC
 * (online.ts): enumerating repositories, their revisions, tags and layer links, reading manifests,
 * deciding which revisions are reachable, and listing the blob store. Everything goes through the
 * StorageDriver, so every driver works.
 */
import type { Logger } from 'pino';
import pLimit from 'p-limit';
import type { FileInfo, StorageDriver } from '../storage/driver/driver.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { readManifestInfo, type ManifestInfo } from '../storage/manifest-info.js';
import { OciError } from '../oci/errors.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import { isRepositoryName, type RepositoryName } from '../oci/reference.js';
import * as paths from '../storage/paths.js';

/** What garbage collection needs to know of one repository. */
export interface RepositoryScan {
  readonly name: RepositoryName;
  /** Manifest revisions that have a `link`, with the link's modification time. */
  readonly revisions: ReadonlyMap<Digest, Date>;
  /** Tag → the digest its `current/link` names. Only read when asked for (delete-untagged). */
  readonly tags: ReadonlyMap<string, Digest>;
  /** Digests linked under `_layers`. */
  readonly layers: readonly Digest[];
  /** Revision directories without a `link` (online GC leaves them on the filesystem driver). */
  readonly emptyRevisionDirs: readonly string[];
}

/** A blob found under `blobs/`. */
export interface BlobEntry {
  readonly digest: Digest;
  readonly size: number;
  readonly modTime: Date;
}

const READ_CONCURRENCY = 16;

/**
 * Every repository: a directory under `repositories/` holding `_manifests` or `_layers` (so one
 * whose `_manifests` was removed by hand still has its layer links cleaned), byte-wise sorted.
 */
export async function listRepositories(driver: StorageDriver): Promise<RepositoryName[]> {
  const out: RepositoryName[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    const children = await listOrEmpty(driver, dir);
    const names = children.map(basename);
    if (prefix !== '' && (names.includes('_manifests') || names.includes('_layers')) && isRepositoryName(prefix)) {
      out.push(prefix);
    }
    for (const n of names.filter((n) => !n.startsWith('_')).sort()) {
      await visit(`${dir}/${n}`, prefix === '' ? n : `${prefix}/${n}`);
    }
  };
  await visit(paths.REPOSITORIES_ROOT, '');
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Reads a repository's revisions and layer links (and its tags when `withTags`). Revisions count only
 * with their `link` (online GC leaves empty revision directories on the filesystem driver). Layer links
 * are walked as well, unless `listLayers`: then the `_layers/<alg>/` directory names are taken (two
 * listings instead of a stat per link; an empty directory counts, which only costs a useless delete).
 */
export async function scanRepository(driver: StorageDriver, name: RepositoryName, withTags: boolean, listLayers = false): Promise<RepositoryScan> {
  const revisions = new Map<Digest, Date>();
  const revisionDirs = new Set<string>();
  const revisionsRoot = paths.revisionsPath(name);
  for await (const entry of walkOrEmpty(driver, revisionsRoot)) {
    if (entry.isDir) {
      if (entry.path.slice(revisionsRoot.length + 1).split('/').length === 2) revisionDirs.add(entry.path);
      continue;
    }
    const digest = linkDigest(entry.path);
    if (digest !== undefined) {
      revisions.set(digest, entry.modTime);
      revisionDirs.delete(entry.path.slice(0, -'/link'.length));
    }
  }
  const layers: Digest[] = [];
  if (listLayers) {
    layers.push(...(await listDigestDirs(driver, paths.layersPath(name))));
  } else {
    for await (const entry of walkOrEmpty(driver, paths.layersPath(name))) {
      const digest = linkDigest(entry.path);
      if (!entry.isDir && digest !== undefined) layers.push(digest);
    }
  }
  const tags = new Map<string, Digest>();
  if (withTags) {
    for (const tagDir of await listOrEmpty(driver, paths.tagsPath(name))) {
      try {
        const digest = tryParseDigest((await driver.getContent(`${tagDir}/current/link`)).toString('utf8').trim());
        if (digest !== undefined) tags.set(basename(tagDir), digest);
      } catch (err) {
        if (!isPathNotFound(err)) throw err;
      }
    }
  }
  return { name, revisions, tags, layers, emptyRevisionDirs: [...revisionDirs] };
}

/**
 * Reads manifests once per collection. A manifest whose blob is missing is logged and counts as
 * referencing nothing; any other storage failure aborts the collection (sweeping with a partial view
 * would delete what the unread manifest references).
 */
export class ManifestReader {
  private readonly infos = new Map<Digest, ManifestInfo | null>();

  /**
   * `known` carries what earlier collections read (manifest content is immutable per digest; a
   * missing manifest is not carried over, it may be pushed again).
   */
  constructor(
    private readonly blobs: BlobStore,
    private readonly logger: Logger,
    private readonly known?: Map<Digest, ManifestInfo>,
  ) {}

  /** Reads every digest not read yet. */
  async read(digests: Iterable<Digest>): Promise<void> {
    const todo: Digest[] = [];
    for (const digest of digests) {
      if (this.infos.has(digest)) continue;
      const known = this.known?.get(digest);
      if (known !== undefined) this.infos.set(digest, known);
      else todo.push(digest);
    }
    // On a failure nothing more starts (clearQueue rejects what waits, which Promise.all already did).
    const limit = pLimit({ concurrency: READ_CONCURRENCY, rejectOnClear: true });
    try {
      await limit.map(todo, async (digest) => {
        try {
          // BlobStore.getContent is not gated by online GC's condemnations: GC reads what is there.
          const info = readManifestInfo(await this.blobs.getContent(digest));
          this.infos.set(digest, info);
          this.known?.set(digest, info);
        } catch (err) {
          if (!(err instanceof OciError && err.code === 'BLOB_UNKNOWN')) throw err;
          this.logger.warn({ digest }, 'garbage collection: manifest revision without content, it references nothing');
          this.infos.set(digest, null);
        }
      });
    } finally {
      limit.clearQueue();
    }
  }

  get(digest: Digest): ManifestInfo | undefined {
    return this.infos.get(digest) ?? undefined;
  }
}

/**
 * The revisions of a repository reachable from its tags: tag targets, the children of reachable
 * indexes, and the referrers (manifests with a `subject`) of reachable manifests, transitively.
 * Only revisions present in the repository count.
 */
export function reachableRevisions(scan: RepositoryScan, reader: ManifestReader): Set<Digest> {
  const referrersOf = new Map<Digest, Digest[]>();
  for (const rev of scan.revisions.keys()) {
    const subject = reader.get(rev)?.subject;
    if (subject === undefined) continue;
    const list = referrersOf.get(subject) ?? [];
    list.push(rev);
    referrersOf.set(subject, list);
  }
  const reachable = new Set<Digest>();
  const stack = [...scan.tags.values()].filter((d) => scan.revisions.has(d));
  while (stack.length > 0) {
    const digest = stack.pop() as Digest;
    if (reachable.has(digest)) continue;
    reachable.add(digest);
    for (const child of reader.get(digest)?.children ?? []) if (scan.revisions.has(child)) stack.push(child);
    for (const referrer of referrersOf.get(digest) ?? []) stack.push(referrer);
  }
  return reachable;
}

/**
 * Marks what a kept revision keeps: its own blob, its config and layers, and its children's blobs
 * (a child that is itself a kept revision is marked as a root too, which marks its own blobs).
 */
export function markRevision(digest: Digest, reader: ManifestReader, marked: Set<Digest>): void {
  marked.add(digest);
  const info = reader.get(digest);
  if (info === undefined) return;
  for (const blob of info.blobs) marked.add(blob);
  for (const child of info.children) marked.add(child);
}

/**
 * Every blob under `blobs/<alg>/<xx>/<hex>/data`, collected before anything is deleted. With
 * `emptyDirs`, blob directories holding no `data` (left by online GC on the filesystem) are listed too.
 */
export async function listBlobs(driver: StorageDriver, emptyDirs?: string[]): Promise<BlobEntry[]> {
  const out: BlobEntry[] = [];
  const dirs = new Set<string>();
  const prefix = `${paths.BLOBS_ROOT}/`;
  for await (const entry of walkOrEmpty(driver, paths.BLOBS_ROOT)) {
    const parts = entry.path.slice(prefix.length).split('/');
    if (entry.isDir) {
      if (parts.length === 3) dirs.add(entry.path);
      continue;
    }
    if (parts.length !== 4 || parts[3] !== 'data') continue;
    const [alg, two, hex] = parts as [string, string, string, string];
    const digest = tryParseDigest(`${alg}:${hex}`);
    if (digest === undefined || hex.slice(0, 2) !== two) continue;
    dirs.delete(entry.path.slice(0, -'/data'.length));
    out.push({ digest, size: entry.size, modTime: entry.modTime });
  }
  if (emptyDirs !== undefined) {
    for (const dir of dirs) {
      const [alg, two, hex] = dir.slice(prefix.length).split('/') as [string, string, string];
      if (tryParseDigest(`${alg}:${hex}`) !== undefined && hex.slice(0, 2) === two) emptyDirs.push(dir);
    }
  }
  return out;
}

/**
 * Digests of every blob directory under `blobs/<alg>/<xx>/`, by listing only (no stat): what online GC
 * uses, statting just the candidates for condemnation. An empty directory (left by online GC on the
 * filesystem driver) is listed too; its stat then finds no data.
 */
export async function listBlobDigests(driver: StorageDriver): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const algPath of await listOrEmpty(driver, paths.BLOBS_ROOT)) {
    const alg = basename(algPath);
    const prefixes = await listOrEmpty(driver, algPath);
    await forEachLimit(prefixes, 8, async (prefixPath) => {
      const two = basename(prefixPath);
      for (const hexPath of await listOrEmpty(driver, prefixPath)) {
        const hex = basename(hexPath);
        const digest = tryParseDigest(`${alg}:${hex}`);
        if (digest !== undefined && hex.slice(0, 2) === two) out.push(digest);
      }
    });
  }
  return out;
}

/** Digests named by the directories `<dir>/<alg>/<hex>` (layer links), by listing only. */
async function listDigestDirs(driver: StorageDriver, dir: string): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const algPath of await listOrEmpty(driver, dir)) {
    const alg = basename(algPath);
    for (const hexPath of await listOrEmpty(driver, algPath)) {
      const digest = tryParseDigest(`${alg}:${basename(hexPath)}`);
      if (digest !== undefined) out.push(digest);
    }
  }
  return out;
}

/** The digest named by a `.../<alg>/<hex>/link` path, if it is one. */
export function linkDigest(path: string): Digest | undefined {
  const parts = path.split('/');
  if (parts.length < 3 || parts[parts.length - 1] !== 'link') return undefined;
  return tryParseDigest(`${parts[parts.length - 3]}:${parts[parts.length - 2]}`);
}

/** Lists a directory; a missing one is empty. */
export async function listOrEmpty(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return await driver.list(path);
  } catch (err) {
    if (isPathNotFound(err)) return [];
    throw err;
  }
}

/**
 * Walks a directory; a missing one yields nothing. A path vanishing later in the walk (a concurrent
 * delete) is an error: a partial view must never be taken for the whole, or GC would delete what the
 * unseen part references.
 */
export async function* walkOrEmpty(driver: StorageDriver, path: string): AsyncGenerator<FileInfo> {
  const iterator = driver.walk(path)[Symbol.asyncIterator]();
  let first = true;
  for (;;) {
    let next: IteratorResult<FileInfo>;
    try {
      next = await iterator.next();
    } catch (err) {
      if (first && isPathNotFound(err)) return;
      throw err;
    }
    first = false;
    if (next.done === true) return;
    yield next.value;
  }
}

/** Deletes a path; true when it existed. */
export async function deleteIfExists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.delete(path);
    return true;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

/** True when the path exists. */
export async function pathExists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Runs `fn` over `items`, at most `limit` at once; rejects with the first failure (after the others settle).
 * Not p-limit: this pulls from the iterable only as workers free up, so a walk over millions of
 * blobs holds `limit` tasks, not one queued promise per blob.
 */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure !== undefined) return;
      const next = iterator.next();
      if (next.done === true) return;
      try {
        await fn(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failure !== undefined) throw failure.error;
}
