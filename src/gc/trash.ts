/**
 * How online GC deletes without racing a pardon. Storage offers no compare-and-delete, so deletion is:
 *
 *   1. move the content (blob `data`, or a revision `link`) to `_berth/gc/trash/<run>/...`;
 *   2. re-check that the condemnation marker still exists;
 *   3a. if it does not (a push pardoned the object meanwhile), move the content back, unless it exists
 *       again (the push placed it; content-addressed, so both copies are the same bytes);
 *   3b. if it does, delete the trash copy, then the marker.
 *
 * A pardon removes the marker *before* it checks for or places the content. So either the pardon's
 * marker removal comes before step 2 (GC moves the content back), or after it, and then the pardon's
 * existence check comes after step 1 and finds nothing, so the push places the content itself. Either way
 * the content exists once the push completes. A crash between 1 and 3 leaves the content in the trash;
 * recoverTrash (run at the start of every collection) finishes the job by the same rule.
 */
import type { StorageDriver } from '../storage/driver/driver.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { digestAlgorithm, digestHex, tryParseDigest, type Digest } from '../oci/digest.js';
import { isRepositoryName, type RepositoryName } from '../oci/reference.js';
import * as paths from '../storage/paths.js';
import { deleteIfExists, listOrEmpty, pathExists, walkOrEmpty } from './scan.js';

/** What a guarded delete did. */
export type DeleteOutcome = 'deleted' | 'restored' | 'gone';

/** Where a run keeps what it is deleting. */
export function trashRunPath(runId: string): string {
  return `${paths.GC_TRASH_ROOT}/${runId}`;
}

function blobTrashPath(runPath: string, digest: Digest): string {
  return `${runPath}/blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

function revisionTrashPath(runPath: string, name: RepositoryName, digest: Digest): string {
  return `${runPath}/revisions/${name}/_revisions/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/**
 * Deletes a condemned blob's data by the protocol above; `gone` when there was no data. The cached
 * descriptor is dropped. The (now empty) blob directory stays on the filesystem driver: removing it
 * could race a push placing the data again, and Distribution and Berth both ignore it.
 */
export async function deleteBlobGuarded(driver: StorageDriver, blobs: BlobStore, runPath: string, digest: Digest): Promise<DeleteOutcome> {
  const data = paths.blobDataPath(digest);
  const trash = blobTrashPath(runPath, digest);
  if (!(await moveIfExists(driver, data, trash))) return 'gone';
  await blobs.invalidate(digest);
  return finishDelete(driver, trash, data, paths.condemnedBlobPath(digest));
}

/** Deletes a condemned manifest revision's link by the protocol above. Tag index entries are the caller's. */
export async function deleteRevisionGuarded(driver: StorageDriver, runPath: string, name: RepositoryName, digest: Digest): Promise<DeleteOutcome> {
  const link = paths.revisionLinkPath(name, digest);
  const trash = revisionTrashPath(runPath, name, digest);
  if (!(await moveIfExists(driver, link, trash))) return 'gone';
  return finishDelete(driver, trash, link, paths.condemnedRevisionPath(name, digest));
}

/** Steps 2 and 3. */
async function finishDelete(driver: StorageDriver, trash: string, home: string, marker: string): Promise<DeleteOutcome> {
  if (!(await pathExists(driver, marker))) {
    await putBack(driver, trash, home);
    return 'restored';
  }
  await deleteIfExists(driver, trash);
  await deleteIfExists(driver, marker);
  return 'deleted';
}

async function putBack(driver: StorageDriver, trash: string, home: string): Promise<void> {
  if (await pathExists(driver, home)) {
    await deleteIfExists(driver, trash);
    return;
  }
  try {
    await driver.move(trash, home);
  } catch (err) {
    if (!isPathNotFound(err)) throw err;
  }
}

async function moveIfExists(driver: StorageDriver, from: string, to: string): Promise<boolean> {
  try {
    await driver.move(from, to);
    return true;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

/** What recoverTrash did. */
export interface TrashRecovery {
  readonly restored: number;
  readonly deleted: number;
}

/**
 * Finishes deletions a crashed run left in the trash: each trashed object whose marker is gone goes
 * back (unless it exists again), the others are deleted with their marker. Only runs whose trash was
 * last modified before `olderThan` are touched (a live run elsewhere may still be working on its own);
 * undefined means all (offline collection, registry stopped).
 */
export async function recoverTrash(driver: StorageDriver, blobs: BlobStore, olderThan: Date | undefined): Promise<TrashRecovery> {
  let restored = 0;
  let deleted = 0;
  for (const runPath of await listOrEmpty(driver, paths.GC_TRASH_ROOT)) {
    if (olderThan !== undefined) {
      const info = await driver.stat(runPath).catch((err: unknown) => (isPathNotFound(err) ? undefined : Promise.reject(err)));
      if (info === undefined || info.modTime >= olderThan) continue;
    }
    const files: string[] = [];
    for await (const entry of walkOrEmpty(driver, runPath)) if (!entry.isDir) files.push(entry.path);
    for (const file of files) {
      const target = trashTarget(runPath, file);
      if (target === undefined) continue;
      if (target.kind === 'blob') await blobs.invalidate(target.digest);
      const outcome = await finishDelete(driver, file, target.home, target.marker);
      if (outcome === 'restored') restored++;
      else deleted++;
    }
    await deleteIfExists(driver, runPath);
  }
  return { restored, deleted };
}

type TrashTarget = { kind: 'blob' | 'revision'; digest: Digest; home: string; marker: string };

function trashTarget(runPath: string, file: string): TrashTarget | undefined {
  const rest = file.slice(runPath.length + 1);
  if (rest.startsWith('blobs/')) {
    const [alg, hex, extra] = rest.slice('blobs/'.length).split('/');
    const digest = extra === undefined ? tryParseDigest(`${alg ?? ''}:${hex ?? ''}`) : undefined;
    return digest === undefined ? undefined : { kind: 'blob', digest, home: paths.blobDataPath(digest), marker: paths.condemnedBlobPath(digest) };
  }
  if (rest.startsWith('revisions/')) {
    const body = rest.slice('revisions/'.length);
    const at = body.lastIndexOf('/_revisions/');
    if (at <= 0) return undefined;
    const name = body.slice(0, at);
    const [alg, hex, extra] = body.slice(at + '/_revisions/'.length).split('/');
    const digest = extra === undefined ? tryParseDigest(`${alg ?? ''}:${hex ?? ''}`) : undefined;
    if (digest === undefined || !isRepositoryName(name)) return undefined;
    const repo = name;
    return { kind: 'revision', digest, home: paths.revisionLinkPath(repo, digest), marker: paths.condemnedRevisionPath(repo, digest) };
  }
  return undefined;
}
