/**
 * Condemnation markers of online GC (layout in src/storage/paths.ts): one small object per condemned
 * blob (`_berth/gc/condemned/<alg>/<hex>`) or manifest revision
 * (`_berth/gc/condemned-manifests/<name>/_revisions/<alg>/<hex>`), holding the RFC 3339 time it was
 * condemned. They live outside Distribution's `blobs/` and `repositories/`, so Distribution ignores them.
 */
import pLimit from 'p-limit';
import type { StorageDriver } from '../storage/driver/driver.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import { isRepositoryName, type RepositoryName } from '../oci/reference.js';
import * as paths from '../storage/paths.js';
import { listOrEmpty, walkOrEmpty } from './scan.js';

/** A condemned manifest revision. */
export interface RevisionMarker {
  readonly name: RepositoryName;
  readonly digest: Digest;
}

/** The key of a revision in maps and sets: `<name>@<digest>` (`@` is in neither). */
export function revisionKey(name: RepositoryName, digest: Digest): string {
  return `${name}@${digest}`;
}

/** Digests of every condemned blob (names only: one list per digest algorithm). */
export async function listCondemnedBlobs(driver: StorageDriver): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  for (const algPath of await listOrEmpty(driver, paths.CONDEMNED_BLOBS_ROOT)) {
    const alg = algPath.slice(algPath.lastIndexOf('/') + 1);
    for (const hexPath of await listOrEmpty(driver, algPath)) {
      const digest = tryParseDigest(`${alg}:${hexPath.slice(hexPath.lastIndexOf('/') + 1)}`);
      if (digest !== undefined) out.add(digest);
    }
  }
  return out;
}

/** Every condemned revision, by revisionKey. */
export async function listCondemnedRevisions(driver: StorageDriver): Promise<Map<string, RevisionMarker>> {
  const out = new Map<string, RevisionMarker>();
  const prefix = `${paths.CONDEMNED_REVISIONS_ROOT}/`;
  for await (const entry of walkOrEmpty(driver, paths.CONDEMNED_REVISIONS_ROOT)) {
    if (entry.isDir) continue;
    const rest = entry.path.slice(prefix.length);
    const marker = rest.lastIndexOf('/_revisions/');
    if (marker <= 0) continue;
    const name = rest.slice(0, marker);
    const [alg, hex, extra] = rest.slice(marker + '/_revisions/'.length).split('/');
    const digest = extra === undefined ? tryParseDigest(`${alg ?? ''}:${hex ?? ''}`) : undefined;
    if (digest !== undefined && isRepositoryName(name)) {
      out.set(revisionKey(name, digest), { name, digest });
    }
  }
  return out;
}

/**
 * When the marker at `path` was written; undefined when there is none. A marker whose content is not a
 * time (damaged, or written by a future version) reads as `fallback`, so it never looks older than it is.
 */
export async function readMarkerTime(driver: StorageDriver, path: string, fallback: Date): Promise<Date | undefined> {
  let content: string;
  try {
    content = (await driver.getContent(path)).toString('utf8').trim();
  } catch (err) {
    if (isPathNotFound(err)) return undefined;
    throw err;
  }
  const time = new Date(content);
  return Number.isNaN(time.getTime()) ? fallback : time;
}

/** Writes (or rewrites) a marker holding `time`. */
export async function writeMarker(driver: StorageDriver, path: string, time: Date): Promise<void> {
  await driver.putContent(path, Buffer.from(time.toISOString()));
}

/** Reads the times of many markers, a few at once. Markers gone meanwhile are left out. */
export async function readMarkerTimes<K>(driver: StorageDriver, entries: ReadonlyMap<K, string>, fallback: Date): Promise<Map<K, Date>> {
  const out = new Map<K, Date>();
  // On a failure nothing more starts (clearQueue rejects what waits, which Promise.all already did).
  const limit = pLimit({ concurrency: 32, rejectOnClear: true });
  try {
    await limit.map(entries, async ([key, path]) => {
      const time = await readMarkerTime(driver, path, fallback);
      if (time !== undefined) out.set(key, time);
    });
  } finally {
    limit.clearQueue();
  }
  return out;
}
