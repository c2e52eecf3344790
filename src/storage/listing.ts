import type { FileInfo, StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';

/** `promise`'s value, or `fallback` when it rejects because a path is absent (PathNotFoundError). */
export async function unlessAbsent<T>(promise: Promise<T>, fallback: T): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    if (isPathNotFound(err)) return fallback;
    throw err;
  }
}

/**
 * The digests named by a `<dir>/<algorithm>/<hex>` tree (a repository's `_layers` or
 * `_manifests/revisions`), in listing order; none when `dir` is absent. Entries that do not
 * form a digest are skipped.
 */
export async function listDigestDirs(driver: StorageDriver, dir: string): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const algPath of await unlessAbsent(driver.list(dir), [])) {
    const alg = algPath.slice(algPath.lastIndexOf('/') + 1);
    for (const hexPath of await unlessAbsent(driver.list(algPath), [])) {
      const digest = tryParseDigest(`${alg}:${hexPath.slice(hexPath.lastIndexOf('/') + 1)}`);
      if (digest !== undefined) out.push(digest);
    }
  }
  return out;
}

/** The path's FileInfo, or undefined when it is absent. */
export function statOrUndefined(driver: StorageDriver, path: string): Promise<FileInfo | undefined> {
  return unlessAbsent<FileInfo | undefined>(driver.stat(path), undefined);
}
