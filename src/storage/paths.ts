import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';

/*
 * The storage layout, identical to CNCF Distribution's (registry/storage/paths.go), so that a
 * directory or bucket written by either registry is served by the other unchanged.
 *
 *   /docker/registry/v2/
 *     blobs/
 *       <algorithm>/<first two hex>/<hex>/data           the content of every blob and manifest
 *     repositories/
 *       <name>/                                          a name may have several components: a/b/c
 *         _layers/<algorithm>/<hex>/link                 blob linked to the repository (content: the digest)
 *         _manifests/
 *           revisions/<algorithm>/<hex>/link             manifest stored in the repository
 *           tags/<tag>/
 *             current/link                               the digest the tag points to now
 *             index/<algorithm>/<hex>/link               every digest the tag has pointed to
 *         _uploads/<uuid>/
 *           data                                         the bytes received so far
 *           startedat                                    RFC 3339 time the upload began
 *           hashstates/<algorithm>/<offset>              Distribution's resumable hash state (Berth reads none)
 *     _berth/gc/                                         Berth's online garbage collection (src/gc); Distribution ignores it
 *       lock                                             which replica sweeps now: {"owner","expiresAt"} (JSON)
 *       condemned/<algorithm>/<hex>                      a blob to delete unless referenced again (content: RFC 3339 time)
 *       condemned-manifests/<name>/_revisions/<algorithm>/<hex>   the same for an unreachable manifest revision
 *       trash/<run id>/...                               content being deleted, for the moment of a re-check
 *
 * A link file holds a digest string such as `sha256:...` with no newline. Directory names beginning
 * with `_` are never repository name components (the name grammar forbids a leading `_`).
 */

export const ROOT = '/docker/registry/v2';
export const BLOBS_ROOT = `${ROOT}/blobs`;
export const REPOSITORIES_ROOT = `${ROOT}/repositories`;

export function blobDir(digest: Digest): string {
  const hex = digestHex(digest);
  return `${BLOBS_ROOT}/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}`;
}

export function blobDataPath(digest: Digest): string {
  return `${blobDir(digest)}/data`;
}

export function repositoryPath(name: RepositoryName): string {
  return `${REPOSITORIES_ROOT}/${name}`;
}

export function layerLinkPath(name: RepositoryName, digest: Digest): string {
  return `${repositoryPath(name)}/_layers/${digestAlgorithm(digest)}/${digestHex(digest)}/link`;
}

export function layersPath(name: RepositoryName): string {
  return `${repositoryPath(name)}/_layers`;
}

export function manifestsPath(name: RepositoryName): string {
  return `${repositoryPath(name)}/_manifests`;
}

export function revisionsPath(name: RepositoryName): string {
  return `${manifestsPath(name)}/revisions`;
}

export function revisionLinkPath(name: RepositoryName, digest: Digest): string {
  return `${revisionsPath(name)}/${digestAlgorithm(digest)}/${digestHex(digest)}/link`;
}

export function tagsPath(name: RepositoryName): string {
  return `${manifestsPath(name)}/tags`;
}

export function tagPath(name: RepositoryName, tag: Tag): string {
  return `${tagsPath(name)}/${tag}`;
}

export function tagCurrentLinkPath(name: RepositoryName, tag: Tag): string {
  return `${tagPath(name, tag)}/current/link`;
}

export function tagIndexLinkPath(name: RepositoryName, tag: Tag, digest: Digest): string {
  return `${tagPath(name, tag)}/index/${digestAlgorithm(digest)}/${digestHex(digest)}/link`;
}

export function uploadsPath(name: RepositoryName): string {
  return `${repositoryPath(name)}/_uploads`;
}

export function uploadPath(name: RepositoryName, uuid: string): string {
  return `${uploadsPath(name)}/${uuid}`;
}

export function uploadDataPath(name: RepositoryName, uuid: string): string {
  return `${uploadPath(name, uuid)}/data`;
}

export function uploadStartedAtPath(name: RepositoryName, uuid: string): string {
  return `${uploadPath(name, uuid)}/startedat`;
}

// ---- Berth's online garbage collection (outside Distribution's trees; see docs/garbage-collection.md) ----

export const GC_ROOT = `${ROOT}/_berth/gc`;
export const GC_LOCK_PATH = `${GC_ROOT}/lock`;
export const CONDEMNED_BLOBS_ROOT = `${GC_ROOT}/condemned`;
export const CONDEMNED_REVISIONS_ROOT = `${GC_ROOT}/condemned-manifests`;
export const GC_TRASH_ROOT = `${GC_ROOT}/trash`;

/** The marker online GC writes for a blob it means to delete. */
export function condemnedBlobPath(digest: Digest): string {
  return `${CONDEMNED_BLOBS_ROOT}/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/** The marker online GC writes for a manifest revision it means to delete (`_revisions` cannot be a name component). */
export function condemnedRevisionPath(name: RepositoryName, digest: Digest): string {
  return `${CONDEMNED_REVISIONS_ROOT}/${name}/_revisions/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}
