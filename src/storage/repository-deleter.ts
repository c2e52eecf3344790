/**
 * Deleting a whole repository (the management API's `DELETE /berth/v1/repositories/<name>`):
 * Distribution has no such operation, so this composes the ones it has. Every tag is removed and
 * every manifest revision deleted through the repository's services as the caller wrapped them
 * (the notifying wrapper then emits one event per tag and per manifest, as that many DELETEs
 * would), then the repository's own directories go: the layer links, what is left of
 * `_manifests` (tag histories, directories online GC emptied) and the upload sessions. Blobs stay
 * in the global store until garbage collection finds them unreferenced.
 *
 * A repository nested under this one (`a/b` under `a`) is another repository and stays: only
 * the `_`-prefixed children of the directory are deleted when it has other children, else the
 * whole directory.
 *
 * A push racing the deletion may leave what it wrote (a manifest stored after the revisions were
 * listed): the repository is then there again, and listed again, as after any push.
 */
import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import * as paths from './paths.js';
import type { RepositoryServices } from './services.js';

/** What a repository deletion removed. */
export interface DeletedRepository {
  readonly name: RepositoryName;
  readonly tags: readonly Tag[];
  readonly manifests: readonly Digest[];
}

/** The directories whose presence makes a directory a repository (an upload in progress counts). */
const MARKERS = ['_manifests', '_layers', '_uploads'] as const;

/** True when `name` is a repository: its directory holds `_manifests`, `_layers` or `_uploads`. */
export async function repositoryExists(driver: StorageDriver, name: RepositoryName): Promise<boolean> {
  for (const marker of MARKERS) {
    try {
      await driver.stat(`${paths.repositoryPath(name)}/${marker}`);
      return true;
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }
  return false;
}

/**
 * Untags, deletes every revision, then removes the repository's directories; NAME_UNKNOWN when
 * there is no such repository. The catalog is the caller's (Registry.deleteRepository).
 */
export async function deleteRepositoryContent(driver: StorageDriver, repo: RepositoryServices): Promise<DeletedRepository> {
  const { name } = repo;
  if (!(await repositoryExists(driver, name))) throw new OciError('NAME_UNKNOWN', { detail: { name } });
  const tags: Tag[] = [];
  for (const tag of (await repo.tags.list(undefined, undefined)).items as readonly Tag[]) {
    if ((await ignoringUnknown(repo.tags.untag(tag).then(() => true))) === true) tags.push(tag);
  }
  const manifests: Digest[] = [];
  for (const digest of await repo.manifests.enumerate()) {
    const untagged = await ignoringUnknown(repo.manifests.delete(digest));
    if (untagged !== undefined) {
      manifests.push(digest);
      tags.push(...untagged);
    }
  }
  await removeDirectories(driver, name);
  return { name, tags, manifests };
}

/** The operation's result; undefined when it found nothing to delete (MANIFEST_UNKNOWN: a concurrent delete came first). */
async function ignoringUnknown<T>(op: Promise<T>): Promise<T | undefined> {
  try {
    return await op;
  } catch (err) {
    if (err instanceof OciError && err.code === 'MANIFEST_UNKNOWN') return undefined;
    throw err;
  }
}

async function removeDirectories(driver: StorageDriver, name: RepositoryName): Promise<void> {
  const dir = paths.repositoryPath(name);
  let children: string[];
  try {
    children = (await driver.list(dir)).map((c) => c.slice(c.lastIndexOf('/') + 1));
  } catch (err) {
    if (isPathNotFound(err)) return;
    throw err;
  }
  const own = children.filter((c) => c.startsWith('_'));
  const targets = own.length === children.length ? [dir] : own.map((c) => `${dir}/${c}`);
  for (const target of targets) {
    try {
      await driver.delete(target);
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }
}
