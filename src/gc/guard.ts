/**
 * The registry side of online GC: the hooks (GcGuard, declared in src/storage/blob-store.ts) that make
 * condemned blobs and manifest revisions unknown to clients, and that pardon them when they are pushed
 * again. Installed in every process serving a storage that online GC sweeps (see startOnlineGc).
 *
 * The hot path (blob HEAD, manifest PUT verification) asks `isBlobCondemned` for every blob, so the set of
 * condemned digests is kept in process and reloaded from storage at most once per `ttlMs`. Why a stale
 * set is safe is argued in docs/garbage-collection.md ("Why the snapshot may be stale"); the short form:
 * GC deletes a blob only after its marker has existed for `delay`, which is far longer than `ttlMs` plus
 * the longest request, so every check that could let a new reference through saw the marker.
 *
 * A snapshot hit is confirmed against storage (one stat, only for condemned digests), so a pardon made by
 * another replica is seen at once. When a digest leaves the set (pardoned, or deleted by GC) its cached
 * blob descriptor is dropped; when this process went longer than `staleAfterMs` without a reload (so it may
 * have missed a whole condemn-then-delete cycle), it empties its private descriptor cache.
 */
import type { StorageDriver } from '../storage/driver/driver.js';
import type { BlobStore, GcGuard } from '../storage/blob-store.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';
import * as paths from '../storage/paths.js';
import { listCondemnedBlobs, listCondemnedRevisions, revisionKey } from './markers.js';
import { deleteIfExists, pathExists } from './scan.js';

/** Timing of a CondemnedGuard. */
export interface CondemnedGuardOptions {
  /** How long a loaded snapshot of condemned digests is used before reloading (far below GC's delay). */
  readonly ttlMs: number;
  /** A gap between two reloads at least this long empties the private blob descriptor cache (delay / 2). */
  readonly staleAfterMs: number;
  readonly clock?: () => Date;
}

/** The snapshot lifetime to use for a grace period: 5 s, or a tenth of the delay when that is shorter. */
export function snapshotTtlFor(delayMs: number): number {
  return Math.max(1, Math.min(5000, Math.floor(delayMs / 10)));
}

/** GcGuard over the markers in storage, with an in-process snapshot (see the module comment). */
export class CondemnedGuard implements GcGuard {
  #blobs = new Set<Digest>();
  #revisions = new Set<string>();
  #loadedAt: number | undefined;
  #loading: Promise<void> | undefined;
  readonly #clock: () => Date;

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobStore: BlobStore,
    private readonly options: CondemnedGuardOptions,
  ) {
    this.#clock = options.clock ?? (() => new Date());
  }

  async isBlobCondemned(digest: Digest): Promise<boolean> {
    await this.#fresh();
    if (!this.#blobs.has(digest)) return false;
    if (await pathExists(this.driver, paths.condemnedBlobPath(digest))) return true;
    // Pardoned, or deleted and its marker removed: either way the cached descriptor may be wrong.
    this.#blobs.delete(digest);
    await this.blobStore.invalidate(digest);
    return false;
  }

  async pardonBlob(digest: Digest): Promise<void> {
    await deleteIfExists(this.driver, paths.condemnedBlobPath(digest));
    this.#blobs.delete(digest);
  }

  async isRevisionCondemned(name: RepositoryName, digest: Digest): Promise<boolean> {
    await this.#fresh();
    const key = revisionKey(name, digest);
    if (!this.#revisions.has(key)) return false;
    if (await pathExists(this.driver, paths.condemnedRevisionPath(name, digest))) return true;
    this.#revisions.delete(key);
    return false;
  }

  async pardonRevision(name: RepositoryName, digest: Digest): Promise<void> {
    await deleteIfExists(this.driver, paths.condemnedRevisionPath(name, digest));
    this.#revisions.delete(revisionKey(name, digest));
  }

  /** Online GC in this process condemned a blob: this process knows without waiting for a reload. */
  noteBlobCondemned(digest: Digest): void {
    this.#blobs.add(digest);
  }

  /** Online GC in this process lifted a blob's condemnation or deleted it. */
  async noteBlobGone(digest: Digest): Promise<void> {
    this.#blobs.delete(digest);
    await this.blobStore.invalidate(digest);
  }

  /** Online GC in this process condemned a revision. */
  noteRevisionCondemned(name: RepositoryName, digest: Digest): void {
    this.#revisions.add(revisionKey(name, digest));
  }

  /** Online GC in this process lifted a revision's condemnation or deleted it. */
  noteRevisionGone(name: RepositoryName, digest: Digest): void {
    this.#revisions.delete(revisionKey(name, digest));
  }

  /** Reloads the snapshot now (coalesced with a reload in progress). */
  async refresh(): Promise<void> {
    this.#loading ??= this.#reload().finally(() => {
      this.#loading = undefined;
    });
    await this.#loading;
  }

  async #fresh(): Promise<void> {
    if (this.#loadedAt !== undefined && this.#clock().getTime() - this.#loadedAt < this.options.ttlMs) return;
    await this.refresh();
  }

  async #reload(): Promise<void> {
    // The snapshot is as of when listing began: a marker written after that may be missing from it.
    const started = this.#clock().getTime();
    const [blobs, revisions] = await Promise.all([listCondemnedBlobs(this.driver), listCondemnedRevisions(this.driver)]);
    const previous = this.#loadedAt;
    const gone = [...this.#blobs].filter((d) => !blobs.has(d));
    this.#blobs = blobs;
    this.#revisions = new Set(revisions.keys());
    if (previous === undefined || started - previous >= this.options.staleAfterMs) {
      // This process may have cached a blob that was condemned and deleted while it was not looking.
      await this.blobStore.clearCache();
    } else {
      for (const digest of gone) await this.blobStore.invalidate(digest);
    }
    this.#loadedAt = started;
  }
}
