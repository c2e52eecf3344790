/**
 * Online garbage collection: runs inside the serving registry, on any driver, with any number of
 * replicas. The design and its safety argument are in docs/garbage-collection.md; in short:
 *
 * - A run never deletes on first sight. Run N condemns (writes a marker for) every unreferenced blob,
 *   and with deleteUntagged every unreachable manifest revision, older than `delay`. A later run deletes
 *   it only if its marker is older than `delay` and it is still unreferenced in that run's full mark,
 *   by the trash protocol of trash.ts (which a concurrent pardon cannot lose).
 * - While condemned, an object is unknown to clients (CondemnedGuard, installed in the storage layer),
 *   so a push re-uploads it, which pardons it (removes the marker) before placing the content.
 * - Markers of objects referenced again are removed by the next run, and a run that condemned anything
 *   re-checks those objects once every replica's snapshot includes the new markers ("settle"), so a push
 *   that raced the mark is only briefly affected.
 * - A lock (GcLock) keeps replicas from sweeping at the same time; safety does not depend on it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from '../storage/registry.js';
import type { FileInfo, StorageDriver } from '../storage/driver/driver.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { ManifestInfo } from '../storage/manifest-info.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import * as paths from '../storage/paths.js';
import { CondemnedGuard, snapshotTtlFor } from './guard.js';
import { StorageGcLock, type GcLock } from './lock.js';
import { listCondemnedBlobs, listCondemnedRevisions, readMarkerTimes, revisionKey, writeMarker, type RevisionMarker } from './markers.js';
import { ManifestReader, deleteIfExists, forEachLimit, pathExists, listBlobDigests, listRepositories, markRevision, reachableRevisions, scanRepository, type RepositoryScan } from './scan.js';
import { deleteBlobGuarded, deleteRevisionGuarded, recoverTrash, trashRunPath } from './trash.js';
import { emptyOnlineSummary, type OnlineSummary } from './summary.js';

export type { OnlineSummary } from './summary.js';

/** The `storage.gc` settings, durations in milliseconds (see src/gc/schema.ts). */
export interface OnlineGcSettings {
  /** Run sweeps periodically. When false, startOnlineGc only installs the guard (markers are honoured). */
  readonly enabled: boolean;
  /** Time between the end of one run and the start of the next. */
  readonly interval: number;
  /** The grace period: nothing younger is condemned, nothing condemned more recently is deleted. */
  readonly delay: number;
  /** Also condemn and delete manifest revisions no tag reaches (as `garbage-collect --delete-untagged`). */
  readonly deleteUntagged?: boolean;
}

/** Dependencies and tuning of startOnlineGc; tests inject the clock, the lock and the waits. */
export interface OnlineGcOptions {
  readonly clock?: () => Date;
  /** Default: a StorageGcLock in the registry's storage. */
  readonly lock?: GcLock;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Calls `run` after `delayMs` and returns a function that cancels it: how runs are scheduled (default: an
   * unref'd setTimeout). Tests inject one they fire by hand, so a schedule is checked without waiting.
   */
  readonly schedule?: (run: () => void, delayMs: number) => () => void;
  /** Lifetime of the guard's snapshot of condemned digests (default: snapshotTtlFor(delay)). */
  readonly snapshotTtlMs?: number;
  /** How long a lock lasts without renewal (default 60 s; renewed every third of it). */
  readonly lockTtlMs?: number;
  /** StorageGcLock's write-then-read-back wait (default 250 ms). */
  readonly lockSettleMs?: number;
  /** Delay before the first run (default: random, up to the interval and at most 30 minutes). */
  readonly firstRunDelayMs?: number;
  /** Called after every run (metrics, tests). */
  readonly onRun?: (summary: OnlineSummary) => void;
  /** Called when a scheduled run fails (not when it is interrupted by stop()), with how long it ran. */
  readonly onFailure?: (err: unknown, durationMs: number) => void;
}

/** A started online GC. */
export interface OnlineGc {
  /** The hooks installed in the registry's blob store. */
  readonly guard: CondemnedGuard;
  /** Runs a sweep now (or joins the one in progress in this process). */
  runOnce(): Promise<OnlineSummary>;
  /**
   * Stops scheduling; a run in progress ends at its next checkpoint (between phases, before each
   * deletion), which is awaited. The guard stays installed: the process still honours condemnations.
   */
  stop(): Promise<void>;
}

/**
 * Installs online GC's guard in `registry` (always: a replica that does not sweep must still honour the
 * markers another one writes) and, when `settings.enabled`, sweeps every `settings.interval`. Every
 * replica sharing the storage must call this with the same `delay`.
 */
export function startOnlineGc(registry: Registry, settings: OnlineGcSettings, logger: Logger, options: OnlineGcOptions = {}): OnlineGc {
  const clock = options.clock ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const ttlMs = options.snapshotTtlMs ?? snapshotTtlFor(settings.delay);
  const guard = new CondemnedGuard(registry.driver, registry.blobs, { ttlMs, staleAfterMs: Math.max(ttlMs, settings.delay / 2), clock });
  registry.blobs.setGuard(guard);
  const lockSettings = { clock, sleep, ...(options.lockSettleMs !== undefined ? { settleMs: options.lockSettleMs } : {}) };
  const collector = new OnlineCollector(registry, settings, logger, {
    clock,
    sleep,
    guard,
    ttlMs,
    lock: options.lock ?? new StorageGcLock(registry.driver, lockSettings),
    lockTtlMs: options.lockTtlMs ?? 60_000,
  });

  let current: Promise<OnlineSummary> | undefined;
  const setTimer =
    options.schedule ??
    ((run: () => void, delayMs: number): (() => void) => {
      const timer = setTimeout(run, delayMs);
      timer.unref();
      return () => clearTimeout(timer);
    });
  let cancelTimer: (() => void) | undefined;
  let stopped = false;
  const runOnce = (): Promise<OnlineSummary> => {
    current ??= collector.run().finally(() => {
      current = undefined;
    });
    return current;
  };
  const schedule = (delayMs: number): void => {
    if (stopped) return;
    cancelTimer = setTimer(() => {
      cancelTimer = undefined;
      const started = clock().getTime();
      runOnce()
        .then((summary) => options.onRun?.(summary))
        .catch((err: unknown) => {
          if (err instanceof RunInterrupted) {
            logger.info(err.message);
            return;
          }
          logger.error({ err }, 'online garbage collection failed');
          options.onFailure?.(err, clock().getTime() - started);
        })
        .finally(() => schedule(settings.interval));
    }, delayMs);
  };
  if (settings.enabled) {
    const first = options.firstRunDelayMs ?? Math.floor(Math.random() * Math.min(settings.interval, 30 * 60_000));
    logger.info({ interval: settings.interval, delay: settings.delay, deleteUntagged: settings.deleteUntagged ?? false }, `online garbage collection starts in ${Math.round(first / 1000)}s`);
    schedule(first);
  }
  return {
    guard,
    runOnce,
    async stop(): Promise<void> {
      stopped = true;
      cancelTimer?.();
      cancelTimer = undefined;
      collector.stopping = true;
      await current?.catch(() => undefined);
      collector.stopping = false; // runOnce() still works, e.g. for a last sweep by hand
    },
  };
}

interface CollectorDeps {
  readonly clock: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly guard: CondemnedGuard;
  readonly ttlMs: number;
  readonly lock: GcLock;
  readonly lockTtlMs: number;
}

/** Mutable counters of one run. */
class Counters {
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

/** Ends a run early: its lock was lost, or stop() was called. What it did so far stays valid. */
class RunInterrupted extends Error {
  constructor(reason: string) {
    super(`online garbage collection ${reason}; this run stops`);
    this.name = 'RunInterrupted';
  }
}

/** One replica's sweeps. */
class OnlineCollector {
  /** Manifests read by earlier runs (content is immutable per digest), bounded. */
  private readonly manifests = new Map<Digest, ManifestInfo>();
  /** Set by stop(): the run in progress ends at its next checkpoint (as safe as a crash, and tidier). */
  stopping = false;

  constructor(
    private readonly registry: Registry,
    private readonly settings: OnlineGcSettings,
    private readonly logger: Logger,
    private readonly deps: CollectorDeps,
  ) {}

  /** One run under the lock; a summary with `ran: false` when another replica holds it. */
  async run(): Promise<OnlineSummary> {
    const started = performance.now();
    if (this.manifests.size > MAX_KNOWN_MANIFESTS) this.manifests.clear();
    const { lock, lockTtlMs } = this.deps;
    if (!(await lock.acquire(lockTtlMs))) {
      this.logger.debug('online garbage collection: another replica holds the lock');
      return emptyOnlineSummary(Math.round(performance.now() - started));
    }
    let lost = false;
    const renewal = setInterval(() => {
      lock.renew(lockTtlMs).then(
        (held) => {
          if (!held) lost = true;
        },
        (err: unknown) => {
          lost = true;
          this.logger.warn({ err }, 'online garbage collection could not renew its lock');
        },
      );
    }, Math.max(1, Math.floor(lockTtlMs / 3)));
    renewal.unref();
    try {
      const counters = new Counters();
      await this.sweep(counters, () => {
        if (lost) throw new RunInterrupted('lost its lock to another replica');
        if (this.stopping) throw new RunInterrupted('is stopping');
      });
      const summary = counters.summary(Math.round(performance.now() - started));
      const changed = summary.manifests.deleted + summary.blobs.deleted + summary.condemned.blobs + summary.condemned.manifests + summary.released.blobs + summary.released.manifests > 0;
      if (changed) this.logger.info({ ...summary }, 'online garbage collection run finished');
      else this.logger.debug({ ...summary }, 'online garbage collection run finished');
      return summary;
    } finally {
      clearInterval(renewal);
      await lock.release().catch((err: unknown) => this.logger.warn({ err }, 'online garbage collection could not release its lock'));
    }
  }

  private async sweep(c: Counters, held: () => void): Promise<void> {
    const { driver, blobs: blobStore } = this.registry;
    const { clock, guard } = this.deps;
    const { delay } = this.settings;
    const deleteUntagged = this.settings.deleteUntagged ?? false;
    const now = (): number => clock().getTime();
    const runPath = trashRunPath(`${new Date(now()).toISOString().replace(/:/g, '')}-${randomBytes(4).toString('hex')}`);

    // Deletions a crashed run left half-done (runs younger than the lock's lifetime may still be live).
    await recoverTrash(driver, blobStore, new Date(now() - this.deps.lockTtlMs));

    // Markers are listed before the mark starts. A blob marker's time is read later, when it is needed:
    // a marker rewritten meanwhile only looks younger, which never makes a deletion happen sooner.
    const fallback = new Date(now());
    const blobMarkerNames = await listCondemnedBlobs(driver);
    const revisionMarkerNames = await listCondemnedRevisions(driver);
    const blobMarkers = new Set(blobMarkerNames);
    const revisionMarkers = await readMarkerTimes(
      driver,
      new Map([...revisionMarkerNames].map(([key, m]) => [key, paths.condemnedRevisionPath(m.name, m.digest)] as const)),
      fallback,
    );

    // ---- mark ----
    const markStart = now();
    const cutoff = markStart - delay;
    const reader = new ManifestReader(blobStore, this.logger, this.manifests);
    const scans = await scanAll(driver, reader, deleteUntagged);
    c.repositories = scans.length;
    held();

    // ---- manifest revisions (only deleteUntagged ever condemns one) ----
    const newRevisionMarkers: RevisionMarker[] = [];
    const deletedRevisions = new Set<string>();
    const revisions = scans.flatMap(({ scan, keep }) => [...scan.revisions].map(([digest, linkTime]) => ({ scan, keep, digest, linkTime })));
    await forEachLimit(revisions, CONCURRENCY, async ({ scan, keep, digest, linkTime }) => {
      const { name } = scan;
      const key = revisionKey(name, digest);
      const markerTime = revisionMarkers.get(key);
      revisionMarkers.delete(key);
      if (!deleteUntagged || keep.has(digest)) {
        if (markerTime !== undefined) {
          await this.releaseRevision(name, digest);
          c.releasedManifests++;
        }
        c.manifestsKept++;
        return;
      }
      if (markerTime === undefined) {
        if (linkTime.getTime() <= cutoff) {
          await writeMarker(driver, paths.condemnedRevisionPath(name, digest), new Date(now()));
          guard.noteRevisionCondemned(name, digest);
          newRevisionMarkers.push({ name, digest });
          c.condemnedManifests++;
        }
        c.manifestsKept++;
        return;
      }
      // Re-pushing rewrites the link, so a young link means "pushed again lately" even if not pardoned.
      if (markerTime.getTime() > cutoff || linkTime.getTime() > cutoff) {
        c.manifestsKept++;
        return;
      }
      held();
      const outcome = await deleteRevisionGuarded(driver, runPath, name, digest);
      guard.noteRevisionGone(name, digest);
      if (outcome === 'restored') {
        c.restoredManifests++;
        c.manifestsKept++;
        return;
      }
      deletedRevisions.add(key);
      if (outcome === 'deleted') {
        this.logger.info({ repository: name, digest }, 'online garbage collection deleted manifest');
        for (const tag of scan.tags.keys()) await deleteIfExists(driver, dirOf(paths.tagIndexLinkPath(name, tag as Tag, digest)));
        c.manifestsDeleted++;
      }
    });
    // Markers left over name revisions that are gone (deleted by a client, or the repository removed).
    await forEachLimit([...revisionMarkers.keys()], CONCURRENCY, async (key) => {
      const marker = revisionMarkerNames.get(key);
      if (marker !== undefined) await this.releaseRevision(marker.name, marker.digest);
    });

    // ---- blobs: every revision still present keeps what it references ----
    const marked = new Set<Digest>();
    const layerLinks = new Map<Digest, RepositoryName[]>();
    for (const { scan } of scans) {
      for (const digest of scan.revisions.keys()) if (!deletedRevisions.has(revisionKey(scan.name, digest))) markRevision(digest, reader, marked);
      for (const digest of scan.layers) {
        const list = layerLinks.get(digest) ?? [];
        list.push(scan.name);
        layerLinks.set(digest, list);
      }
    }
    const present = new Set<Digest>();
    const newBlobMarkers: Digest[] = [];
    // Names only: a stat is needed just for blobs not marked (their age and size).
    held();
    const digests = await listBlobDigests(driver);
    const markerTimes = await readMarkerTimes(driver, new Map(digests.filter((d) => blobMarkers.has(d)).map((d) => [d, paths.condemnedBlobPath(d)] as const)), fallback);
    await forEachLimit(digests, CONCURRENCY, async (digest) => {
      const markerTime = markerTimes.get(digest);
      if (marked.has(digest)) {
        blobMarkers.delete(digest);
        present.add(digest);
        if (markerTime !== undefined) {
          await this.releaseBlob(digest);
          c.releasedBlobs++;
        }
        c.blobsKept++;
        return;
      }
      const blob = await statOrUndefined(driver, paths.blobDataPath(digest));
      if (blob === undefined || blob.isDir) return; // an empty directory: the data is gone
      blobMarkers.delete(digest);
      present.add(digest);
      if (markerTime === undefined) {
        if (blob.modTime.getTime() <= cutoff) {
          await writeMarker(driver, paths.condemnedBlobPath(digest), new Date(now()));
          guard.noteBlobCondemned(digest);
          newBlobMarkers.push(digest);
          c.condemnedBlobs++;
        }
        c.blobsKept++;
        return;
      }
      if (markerTime.getTime() > cutoff || blob.modTime.getTime() > cutoff) {
        c.blobsKept++;
        return;
      }
      held();
      const outcome = await deleteBlobGuarded(driver, blobStore, runPath, digest);
      await guard.noteBlobGone(digest);
      if (outcome === 'restored') {
        c.restoredBlobs++;
        c.blobsKept++;
        return;
      }
      if (outcome === 'deleted') {
        this.logger.info({ digest, size: blob.size }, 'online garbage collection deleted blob');
        c.blobsDeleted++;
        c.bytesFreed += blob.size;
      }
      // Its layer links go too, unless a push placed the data again meanwhile (it linked it, too).
      if (!(await pathExists(driver, paths.blobDataPath(digest)))) present.delete(digest);
    });
    // Markers left over name blobs that are gone already.
    const leftover = [...blobMarkers];
    await forEachLimit(leftover, CONCURRENCY, (digest) => this.releaseBlob(digest));
    // Layer links to blobs that are neither kept nor there (deleted now, or gone before).
    const doomedLinks = [...layerLinks].filter(([digest]) => !marked.has(digest) && !present.has(digest)).flatMap(([digest, names]) => names.map((name) => ({ name, digest })));
    await forEachLimit(doomedLinks, CONCURRENCY, async ({ name, digest }) => {
      if (await deleteIfExists(driver, dirOf(paths.layerLinkPath(name, digest)))) c.layerLinksDeleted++;
    });
    await deleteIfExists(driver, runPath);

    // ---- settle: once every replica's snapshot holds the new markers, lift those a racing push needs ----
    if (newBlobMarkers.length + newRevisionMarkers.length > 0) {
      await this.deps.sleep(2 * this.deps.ttlMs);
      held();
      await this.releaseReferenced(newBlobMarkers, newRevisionMarkers, reader, c);
    }
  }

  /**
   * Re-marks (listing again, reading only manifests not read yet) and lifts the condemnations among
   * `blobs` and `revisions` that are referenced now: pushes that completed during the first mark.
   */
  private async releaseReferenced(blobs: readonly Digest[], revisions: readonly RevisionMarker[], reader: ManifestReader, c: Counters): Promise<void> {
    const deleteUntagged = this.settings.deleteUntagged ?? false;
    const marked = new Set<Digest>();
    const reachable = new Set<string>();
    for (const { scan, keep } of await scanAll(this.registry.driver, reader, deleteUntagged)) {
      for (const digest of scan.revisions.keys()) markRevision(digest, reader, marked);
      for (const digest of keep) reachable.add(revisionKey(scan.name, digest));
    }
    for (const digest of blobs) {
      if (!marked.has(digest)) continue;
      await this.releaseBlob(digest);
      c.releasedBlobs++;
    }
    for (const { name, digest } of revisions) {
      if (!reachable.has(revisionKey(name, digest))) continue;
      await this.releaseRevision(name, digest);
      c.releasedManifests++;
    }
  }

  private async releaseBlob(digest: Digest): Promise<void> {
    await deleteIfExists(this.registry.driver, paths.condemnedBlobPath(digest));
    await this.deps.guard.noteBlobGone(digest);
  }

  private async releaseRevision(name: RepositoryName, digest: Digest): Promise<void> {
    await deleteIfExists(this.registry.driver, paths.condemnedRevisionPath(name, digest));
    this.deps.guard.noteRevisionGone(name, digest);
  }
}

/** How many storage operations a run keeps in flight. */
const CONCURRENCY = 8;
/** How many parsed manifests a replica keeps between runs (a few hundred bytes each). */
const MAX_KNOWN_MANIFESTS = 200_000;

async function statOrUndefined(driver: StorageDriver, path: string): Promise<FileInfo | undefined> {
  try {
    return await driver.stat(path);
  } catch (err) {
    if (isPathNotFound(err)) return undefined;
    throw err;
  }
}

/** Scans every repository (a few at once) and decides which revisions are kept. */
async function scanAll(driver: StorageDriver, reader: ManifestReader, deleteUntagged: boolean): Promise<Array<{ scan: RepositoryScan; keep: ReadonlySet<Digest> }>> {
  const out: Array<{ scan: RepositoryScan; keep: ReadonlySet<Digest> }> = [];
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
