/**
 * One online GC sweep, in its phases: recover the trash, list the markers, mark, condemn or delete
 * manifest revisions and then blobs, and settle. The protocol and its safety argument are in online.ts
 * and docs/garbage-collection.md; this module only holds the steps of one run.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from '../storage/registry.js';
import type { FileInfo, StorageDriver } from '../storage/driver/driver.js';
import type { ManifestInfo } from '../storage/manifest-info.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import * as paths from '../storage/paths.js';
import { statOrUndefined } from '../storage/listing.js';
import type { CondemnedGuard } from './guard.js';
import { listCondemnedBlobs, listCondemnedRevisions, readMarkerTimes, revisionKey, writeMarker, type RevisionMarker } from './markers.js';
import { ManifestReader, deleteIfExists, forEachLimit, pathExists, listBlobDigests, listRepositories, markRevision, reachableRevisions, scanRepository, type RepositoryScan } from './scan.js';
import { deleteBlobGuarded, deleteRevisionGuarded, recoverTrash, trashRunPath } from './trash.js';
import type { OnlineSummary } from './summary.js';

/** What a sweep needs from its collector. */
export interface SweepDeps {
  readonly registry: Registry;
  readonly logger: Logger;
  readonly clock: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly guard: CondemnedGuard;
  /** Lifetime of every replica's snapshot of condemned digests. */
  readonly ttlMs: number;
  readonly lockTtlMs: number;
  /** The grace period (see OnlineGcSettings.delay). */
  readonly delay: number;
  readonly deleteUntagged: boolean;
  /** Manifests read by earlier runs, shared between runs. */
  readonly manifests: Map<Digest, ManifestInfo>;
}

/** Mutable counters of one run. */
export class Counters {
  repositories = 0;
  manifestsKept = 0;
  manifestsDeleted = 0;
  blobsKept = 0;
  blobsDeleted = 0;
  bytesFreed = 0;
  layerLinksDeleted = 0;
  condemnedBlobs = 0;
  condemnedManifests = 0;
  releasedBlobs = 0;
  releasedManifests = 0;
  restoredBlobs = 0;
  restoredManifests = 0;

  summary(durationMs: number): OnlineSummary {
    return {
      ran: true,
      repositories: this.repositories,
      manifests: { kept: this.manifestsKept, deleted: this.manifestsDeleted },
      blobs: { kept: this.blobsKept, deleted: this.blobsDeleted },
      bytesFreed: this.bytesFreed,
      layerLinksDeleted: this.layerLinksDeleted,
      durationMs,
      condemned: { blobs: this.condemnedBlobs, manifests: this.condemnedManifests },
      released: { blobs: this.releasedBlobs, manifests: this.releasedManifests },
      restored: { blobs: this.restoredBlobs, manifests: this.restoredManifests },
    };
  }
}

/** How many storage operations a run keeps in flight. */
const CONCURRENCY = 8;

type Scans = Array<{ scan: RepositoryScan; keep: ReadonlySet<Digest> }>;

/** The markers found before the mark started. */
interface MarkersSeen {
  /** When a marker's time cannot be read. */
  readonly fallback: Date;
  /** Blob markers not yet accounted for; the phases remove those they handle. */
  readonly blobMarkers: Set<Digest>;
  readonly revisionMarkerNames: ReadonlyMap<string, RevisionMarker>;
  /** Revision markers' times, not yet accounted for; the phases remove those they handle. */
  readonly revisionMarkers: Map<string, Date>;
}

/**
 * Runs one sweep, counting into `c`. `held` throws (a RunInterrupted) when the run must stop; it is
 * called between phases and before each deletion.
 */
export async function sweep(deps: SweepDeps, c: Counters, held: () => void): Promise<void> {
  await new OnlineSweep(deps, c, held).run();
}

class OnlineSweep {
  private readonly driver: StorageDriver;
  private readonly runPath: string;
  private readonly reader: ManifestReader;
  /** Nothing modified (or condemned) after this is condemned (or deleted); set when the mark starts. */
  private cutoff = 0;

  constructor(
    private readonly deps: SweepDeps,
    private readonly c: Counters,
    private readonly held: () => void,
  ) {
    this.driver = deps.registry.driver;
    this.runPath = trashRunPath(`${new Date(this.now()).toISOString().replace(/:/g, '')}-${randomBytes(4).toString('hex')}`);
    this.reader = new ManifestReader(deps.registry.blobs, deps.logger, deps.manifests);
  }

  private now(): number {
    return this.deps.clock().getTime();
  }

  async run(): Promise<void> {
    // Deletions a crashed run left half-done (runs younger than the lock's lifetime may still be live).
    await recoverTrash(this.driver, this.deps.registry.blobs, new Date(this.now() - this.deps.lockTtlMs));
    const seen = await this.listMarkers();

    // ---- mark ----
    this.cutoff = this.now() - this.deps.delay;
    const scans = await scanAll(this.driver, this.reader, this.deps.deleteUntagged);
    this.c.repositories = scans.length;
    this.held();

    const { newRevisionMarkers, deletedRevisions } = await this.sweepRevisions(scans, seen);
    const newBlobMarkers = await this.sweepBlobs(scans, deletedRevisions, seen);
    await deleteIfExists(this.driver, this.runPath);

    // ---- settle: once every replica's snapshot holds the new markers, lift those a racing push needs ----
    if (newBlobMarkers.length + newRevisionMarkers.length > 0) {
      await this.deps.sleep(2 * this.deps.ttlMs);
      this.held();
      await this.releaseReferenced(newBlobMarkers, newRevisionMarkers);
    }
  }

  /**
   * Markers are listed before the mark starts. A blob marker's time is read later, when it is needed:
   * a marker rewritten meanwhile only looks younger, which never makes a deletion happen sooner.
   */
  private async listMarkers(): Promise<MarkersSeen> {
    const fallback = new Date(this.now());
    const blobMarkerNames = await listCondemnedBlobs(this.driver);
    const revisionMarkerNames = await listCondemnedRevisions(this.driver);
    const revisionMarkers = await readMarkerTimes(
      this.driver,
      new Map([...revisionMarkerNames].map(([key, m]) => [key, paths.condemnedRevisionPath(m.name, m.digest)] as const)),
      fallback,
    );
    return { fallback, blobMarkers: new Set(blobMarkerNames), revisionMarkerNames, revisionMarkers };
  }

  // ---- manifest revisions (only deleteUntagged ever condemns one) ----
  private async sweepRevisions(scans: Scans, seen: MarkersSeen): Promise<{ newRevisionMarkers: RevisionMarker[]; deletedRevisions: Set<string> }> {
    const newRevisionMarkers: RevisionMarker[] = [];
    const deletedRevisions = new Set<string>();
    const revisions = scans.flatMap(({ scan, keep }) => [...scan.revisions].map(([digest, linkTime]) => ({ scan, keep, digest, linkTime })));
    await forEachLimit(revisions, CONCURRENCY, async ({ scan, keep, digest, linkTime }) => {
      const key = revisionKey(scan.name, digest);
      const markerTime = seen.revisionMarkers.get(key);
      seen.revisionMarkers.delete(key);
      const outcome = await this.sweepRevision(scan, keep.has(digest), digest, linkTime, markerTime);
      if (outcome === 'condemned') newRevisionMarkers.push({ name: scan.name, digest });
      if (outcome === 'gone') deletedRevisions.add(key);
    });
    // Markers left over name revisions that are gone (deleted by a client, or the repository removed).
    await forEachLimit([...seen.revisionMarkers.keys()], CONCURRENCY, async (key) => {
      const marker = seen.revisionMarkerNames.get(key);
      if (marker !== undefined) await this.releaseRevision(marker.name, marker.digest);
    });
    return { newRevisionMarkers, deletedRevisions };
  }

  /** Keeps, releases, condemns or deletes one revision; 'gone' when it is no longer there. */
  private async sweepRevision(scan: RepositoryScan, reachable: boolean, digest: Digest, linkTime: Date, markerTime: Date | undefined): Promise<'kept' | 'condemned' | 'gone'> {
    const { c, driver } = this;
    const { name } = scan;
    if (!this.deps.deleteUntagged || reachable) {
      if (markerTime !== undefined) {
        await this.releaseRevision(name, digest);
        c.releasedManifests++;
      }
      c.manifestsKept++;
      return 'kept';
    }
    if (markerTime === undefined) {
      c.manifestsKept++;
      if (linkTime.getTime() > this.cutoff) return 'kept';
      await writeMarker(driver, paths.condemnedRevisionPath(name, digest), new Date(this.now()));
      this.deps.guard.noteRevisionCondemned(name, digest);
      c.condemnedManifests++;
      return 'condemned';
    }
    // Re-pushing rewrites the link, so a young link means "pushed again lately" even if not pardoned.
    if (markerTime.getTime() > this.cutoff || linkTime.getTime() > this.cutoff) {
      c.manifestsKept++;
      return 'kept';
    }
    this.held();
    const outcome = await deleteRevisionGuarded(driver, this.runPath, name, digest);
    this.deps.guard.noteRevisionGone(name, digest);
    if (outcome === 'restored') {
      c.restoredManifests++;
      c.manifestsKept++;
      return 'kept';
    }
    if (outcome === 'deleted') {
      this.deps.logger.info({ repository: name, digest }, 'online garbage collection deleted manifest');
      for (const tag of scan.tags.keys()) await deleteIfExists(driver, dirOf(paths.tagIndexLinkPath(name, tag as Tag, digest)));
      c.manifestsDeleted++;
    }
    return 'gone';
  }

  // ---- blobs: every revision still present keeps what it references ----
  private async sweepBlobs(scans: Scans, deletedRevisions: ReadonlySet<string>, seen: MarkersSeen): Promise<Digest[]> {
    const marked = new Set<Digest>();
    const layerLinks = new Map<Digest, RepositoryName[]>();
    for (const { scan } of scans) {
      for (const digest of scan.revisions.keys()) if (!deletedRevisions.has(revisionKey(scan.name, digest))) markRevision(digest, this.reader, marked);
      for (const digest of scan.layers) {
        const list = layerLinks.get(digest) ?? [];
        list.push(scan.name);
        layerLinks.set(digest, list);
      }
    }
    const present = new Set<Digest>();
    const newBlobMarkers: Digest[] = [];
    // Names only: a stat is needed just for blobs not marked (their age and size).
    this.held();
    const digests = await listBlobDigests(this.driver);
    const markerTimes = await readMarkerTimes(this.driver, new Map(digests.filter((d) => seen.blobMarkers.has(d)).map((d) => [d, paths.condemnedBlobPath(d)] as const)), seen.fallback);
    await forEachLimit(digests, CONCURRENCY, async (digest) => {
      const markerTime = markerTimes.get(digest);
      if (marked.has(digest)) {
        seen.blobMarkers.delete(digest);
        present.add(digest);
        if (markerTime !== undefined) {
          await this.releaseBlob(digest);
          this.c.releasedBlobs++;
        }
        this.c.blobsKept++;
        return;
      }
      const blob = await statOrUndefined(this.driver, paths.blobDataPath(digest));
      if (blob === undefined || blob.isDir) return; // an empty directory: the data is gone
      seen.blobMarkers.delete(digest);
      present.add(digest);
      const outcome = await this.sweepUnmarkedBlob(digest, blob, markerTime);
      if (outcome === 'condemned') newBlobMarkers.push(digest);
      if (outcome === 'gone') present.delete(digest);
    });
    // Markers left over name blobs that are gone already.
    await forEachLimit([...seen.blobMarkers], CONCURRENCY, (digest) => this.releaseBlob(digest));
    await this.deleteDoomedLayerLinks(layerLinks, marked, present);
    return newBlobMarkers;
  }

  /** Keeps, condemns or deletes one blob no revision references; 'gone' when its data is no longer there. */
  private async sweepUnmarkedBlob(digest: Digest, blob: FileInfo, markerTime: Date | undefined): Promise<'kept' | 'condemned' | 'gone'> {
    const { c, driver } = this;
    if (markerTime === undefined) {
      c.blobsKept++;
      if (blob.modTime.getTime() > this.cutoff) return 'kept';
      await writeMarker(driver, paths.condemnedBlobPath(digest), new Date(this.now()));
      this.deps.guard.noteBlobCondemned(digest);
      c.condemnedBlobs++;
      return 'condemned';
    }
    if (markerTime.getTime() > this.cutoff || blob.modTime.getTime() > this.cutoff) {
      c.blobsKept++;
      return 'kept';
    }
    this.held();
    const outcome = await deleteBlobGuarded(driver, this.deps.registry.blobs, this.runPath, digest);
    await this.deps.guard.noteBlobGone(digest);
    if (outcome === 'restored') {
      c.restoredBlobs++;
      c.blobsKept++;
      return 'kept';
    }
    if (outcome === 'deleted') {
      this.deps.logger.info({ digest, size: blob.size }, 'online garbage collection deleted blob');
      c.blobsDeleted++;
      c.bytesFreed += blob.size;
    }
    // Its layer links go too, unless a push placed the data again meanwhile (it linked it, too).
    return (await pathExists(driver, paths.blobDataPath(digest))) ? 'kept' : 'gone';
  }

  /** Deletes the layer links to blobs that are neither kept nor there (deleted now, or gone before). */
  private async deleteDoomedLayerLinks(layerLinks: ReadonlyMap<Digest, readonly RepositoryName[]>, marked: ReadonlySet<Digest>, present: ReadonlySet<Digest>): Promise<void> {
    const doomedLinks = [...layerLinks].filter(([digest]) => !marked.has(digest) && !present.has(digest)).flatMap(([digest, names]) => names.map((name) => ({ name, digest })));
    await forEachLimit(doomedLinks, CONCURRENCY, async ({ name, digest }) => {
      if (await deleteIfExists(this.driver, dirOf(paths.layerLinkPath(name, digest)))) this.c.layerLinksDeleted++;
    });
  }

  /**
   * Re-marks (listing again, reading only manifests not read yet) and lifts the condemnations among
   * `blobs` and `revisions` that are referenced now: pushes that completed during the first mark.
   */
  private async releaseReferenced(blobs: readonly Digest[], revisions: readonly RevisionMarker[]): Promise<void> {
    const marked = new Set<Digest>();
    const reachable = new Set<string>();
    for (const { scan, keep } of await scanAll(this.driver, this.reader, this.deps.deleteUntagged)) {
      for (const digest of scan.revisions.keys()) markRevision(digest, this.reader, marked);
      for (const digest of keep) reachable.add(revisionKey(scan.name, digest));
    }
    for (const digest of blobs) {
      if (!marked.has(digest)) continue;
      await this.releaseBlob(digest);
      this.c.releasedBlobs++;
    }
    for (const { name, digest } of revisions) {
      if (!reachable.has(revisionKey(name, digest))) continue;
      await this.releaseRevision(name, digest);
      this.c.releasedManifests++;
    }
  }

  private async releaseBlob(digest: Digest): Promise<void> {
    await deleteIfExists(this.driver, paths.condemnedBlobPath(digest));
    await this.deps.guard.noteBlobGone(digest);
  }

  private async releaseRevision(name: RepositoryName, digest: Digest): Promise<void> {
    await deleteIfExists(this.driver, paths.condemnedRevisionPath(name, digest));
    this.deps.guard.noteRevisionGone(name, digest);
  }
}


/** Scans every repository (a few at once) and decides which revisions are kept. */
async function scanAll(driver: StorageDriver, reader: ManifestReader, deleteUntagged: boolean): Promise<Scans> {
  const out: Scans = [];
  await forEachLimit(await listRepositories(driver), 4, async (name) => {
    const scan = await scanRepository(driver, name, deleteUntagged, true);
    await reader.read(scan.revisions.keys());
    out.push({ scan, keep: deleteUntagged ? reachableRevisions(scan, reader) : new Set(scan.revisions.keys()) });
  });
  return out;
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}
