/**
 * Offline garbage collection with Distribution's semantics (registry/storage/garbagecollect.go), for a
 * registry that is stopped or read-only while it runs. `berth garbage-collect` only wires this.
 */
import type { Logger } from 'pino';
import type { Registry } from '../storage/registry.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import * as paths from '../storage/paths.js';
import { ProgressTracker, type GcProgress, type Summary } from './summary.js';
import { ManifestReader, deleteIfExists, listBlobs, listRepositories, markRevision, reachableRevisions, scanRepository } from './scan.js';
import { recoverTrash } from './trash.js';

export type { Summary, GcProgress } from './summary.js';

/** Options of garbageCollect. */
export interface GarbageCollectOptions {
  /** Report what would be deleted, change nothing. */
  readonly dryRun: boolean;
  /**
   * Also delete manifest revisions no tag reaches (Distribution's `--delete-untagged`). Reachable are
   * tagged manifests, the children of reachable indexes, and referrers whose subject is reachable.
   */
  readonly deleteUntagged: boolean;
  /** Called as the collection advances (after each repository, every 1000 blobs, at each phase). */
  readonly onProgress?: (progress: GcProgress) => void;
  readonly logger: Logger;
}

/**
 * Marks every manifest revision of every repository (with deleteUntagged, only those reachable from a
 * tag) and everything they reference: the manifest blob itself, config, layers and child manifests.
 * Then sweeps: unmarked revisions (with deleteUntagged; their tag index entries too), unmarked blobs
 * under `blobs/` (their cached descriptors invalidated), and `_layers` links to blobs not kept. Leftovers
 * of online GC (condemnation markers, trash, empty blob directories) are cleaned up as well.
 *
 * Differences from Distribution, all on the side of consistency: an untagged revision is judged per
 * repository (Distribution keeps it when any repository references its digest); layer links are removed
 * exactly when their blob is not kept (Distribution's choice depends on the order repositories are
 * listed); a revision whose manifest blob is missing is logged and references nothing (Distribution
 * stops). Must not run while the registry accepts pushes: use online GC for that.
 */
export async function garbageCollect(registry: Registry, options: GarbageCollectOptions): Promise<Summary> {
  const started = performance.now();
  const { driver } = registry;
  const { dryRun, deleteUntagged, logger } = options;
  const progress = new ProgressTracker(options.onProgress);

  if (!dryRun) {
    // Deletions an online run left half-done go first, so the mark sees what they put back.
    const recovered = await recoverTrash(driver, registry.blobs, undefined);
    if (recovered.restored + recovered.deleted > 0) logger.info(recovered, 'finished deletions left in the online GC trash');
  }

  const mark = await markAll(registry, options, progress);
  progress.phase = 'sweep';
  progress.report();
  await sweepManifests(registry, options, mark.doomed);
  const blobs = await sweepBlobs(registry, options, mark, progress);
  const layerLinksDeleted = await sweepLayerLinks(registry, options, mark);
  if (!dryRun) await deleteOnlineLeftovers(registry, mark.emptyDirs);

  progress.phase = 'done';
  progress.report();
  const summary: Summary = {
    repositories: mark.repositories,
    manifests: { kept: mark.manifestsKept, deleted: mark.doomed.length },
    blobs: { kept: blobs.kept, deleted: blobs.deleted },
    bytesFreed: blobs.bytesFreed,
    layerLinksDeleted,
    durationMs: Math.round(performance.now() - started),
  };
  logger.info({ ...summary, dryRun, deleteUntagged }, 'garbage collection finished');
  return summary;
}

/** What the mark found. */
interface MarkResult {
  readonly repositories: number;
  readonly marked: ReadonlySet<Digest>;
  readonly manifestsKept: number;
  /** The revisions to delete, with the tags of their repository. */
  readonly doomed: ReadonlyArray<{ name: RepositoryName; digest: Digest; tags: string[] }>;
  /** The repositories that link each layer. */
  readonly layerLinks: ReadonlyMap<Digest, readonly RepositoryName[]>;
  /** Empty revision directories; the blob sweep adds the empty blob directories. */
  readonly emptyDirs: string[];
}

/** ---- mark ---- every kept revision of every repository and everything it references. */
async function markAll(registry: Registry, options: GarbageCollectOptions, progress: ProgressTracker): Promise<MarkResult> {
  const { driver } = registry;
  const { deleteUntagged, logger } = options;
  const reader = new ManifestReader(registry.blobs, logger);
  const marked = new Set<Digest>();
  const doomed: Array<{ name: RepositoryName; digest: Digest; tags: string[] }> = [];
  const layerLinks = new Map<Digest, RepositoryName[]>();
  const emptyDirs: string[] = [];
  let manifestsKept = 0;
  const names = await listRepositories(driver);
  progress.report();
  for (const name of names) {
    const scan = await scanRepository(driver, name, deleteUntagged);
    await reader.read(scan.revisions.keys());
    const keep = deleteUntagged ? reachableRevisions(scan, reader) : new Set(scan.revisions.keys());
    for (const digest of scan.revisions.keys()) {
      if (keep.has(digest)) {
        logger.debug({ repository: name, digest }, 'marking manifest');
        markRevision(digest, reader, marked);
        manifestsKept++;
        progress.manifestsMarked++;
      } else {
        doomed.push({ name, digest, tags: [...scan.tags.keys()] });
      }
    }
    for (const digest of scan.layers) {
      const list = layerLinks.get(digest) ?? [];
      list.push(name);
      layerLinks.set(digest, list);
    }
    emptyDirs.push(...scan.emptyRevisionDirs);
    progress.repositories++;
    progress.report();
  }
  return { repositories: names.length, marked, manifestsKept, doomed, layerLinks, emptyDirs };
}

/** ---- sweep: manifests ---- */
async function sweepManifests(registry: Registry, options: GarbageCollectOptions, doomed: MarkResult['doomed']): Promise<void> {
  const { driver } = registry;
  const { dryRun, logger } = options;
  for (const { name, digest, tags } of doomed) {
    logger.info({ repository: name, digest, dryRun }, dryRun ? 'manifest eligible for deletion' : 'deleting manifest');
    if (dryRun) continue;
    // Distribution's vacuum.RemoveManifest: the tag index entries naming it, then the revision.
    for (const tag of tags) await deleteIfExists(driver, dirOf(paths.tagIndexLinkPath(name, tag as Tag, digest)));
    await deleteIfExists(driver, dirOf(paths.revisionLinkPath(name, digest)));
  }
}

/** ---- sweep: blobs ---- every blob not marked (in a dry run, counted only). */
async function sweepBlobs(registry: Registry, options: GarbageCollectOptions, mark: MarkResult, progress: ProgressTracker): Promise<{ kept: number; deleted: number; bytesFreed: number }> {
  const { dryRun, logger } = options;
  const blobs = await listBlobs(registry.driver, mark.emptyDirs);
  let kept = 0;
  let deleted = 0;
  let bytesFreed = 0;
  for (const blob of blobs) {
    progress.blobsScanned++;
    if (mark.marked.has(blob.digest)) {
      kept++;
    } else {
      logger.info({ digest: blob.digest, size: blob.size, dryRun }, dryRun ? 'blob eligible for deletion' : 'deleting blob');
      if (!dryRun) await registry.blobs.delete(blob.digest); // invalidates the descriptor cache too
      deleted++;
      bytesFreed += blob.size;
      progress.blobsDeleted++;
    }
    if (progress.blobsScanned % 1000 === 0) progress.report();
  }
  return { kept, deleted, bytesFreed };
}

/** ---- sweep: layer links ---- to blobs not kept; returns how many (would) go. */
async function sweepLayerLinks(registry: Registry, options: GarbageCollectOptions, mark: MarkResult): Promise<number> {
  const { dryRun, logger } = options;
  let layerLinksDeleted = 0;
  for (const [digest, repositories] of mark.layerLinks) {
    if (mark.marked.has(digest)) continue;
    for (const name of repositories) {
      logger.info({ repository: name, digest, dryRun }, dryRun ? 'layer link eligible for deletion' : 'deleting layer link');
      if (!dryRun) await deleteIfExists(registry.driver, dirOf(paths.layerLinkPath(name, digest)));
      layerLinksDeleted++;
    }
  }
  return layerLinksDeleted;
}

/**
 * With the registry stopped, online GC's bookkeeping is moot: every blob left is kept. The empty
 * blob and revision directories it left on the filesystem go too.
 */
async function deleteOnlineLeftovers(registry: Registry, emptyDirs: readonly string[]): Promise<void> {
  const { driver } = registry;
  for (const dir of emptyDirs) await deleteIfExists(driver, dir);
  await deleteIfExists(driver, paths.CONDEMNED_BLOBS_ROOT);
  await deleteIfExists(driver, paths.CONDEMNED_REVISIONS_ROOT);
  await deleteIfExists(driver, paths.GC_TRASH_ROOT);
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}
