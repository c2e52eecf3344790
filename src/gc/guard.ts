/**
 * The registry side of online GC: a storage layer (guardLayer) that wraps the blob content and the
 * revision index so condemned blobs and manifest revisions are unknown to clients, and pardons them when
 * they are pushed again. Installed in every process serving a storage that online GC sweeps (see
 * startOnlineGc); the core stores know nothing of it.
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
import type { BlobStore } from '../storage/blob-store.js';
import type { BlobContent, BlobDescriptor, RevisionIndex, StorageLayer } from '../storage/services.js';
import { DelegatingBlobContent, DelegatingRevisions } from '../storage/delegating.js';
import { OciError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';
import * as paths from '../storage/paths.js';
import { listCondemnedBlobs, listCondemnedRevisions, revisionKey } from './markers.js';
import { deleteIfExists, pathExists } from './scan.js';

/**
 * What the guard layer asks. A "condemned" blob or manifest revision is one GC means to delete once its
 * grace period is over: while condemned, the registry treats it as unknown to clients, so a push
 * re-uploads it, and (re)storing it "pardons" it (removes the condemnation) before the content is placed.
 */
export interface GcGuard {
  /** True while `digest` is condemned. Cheap: answered from a short-lived in-process snapshot. */
  isBlobCondemned(digest: Digest): Promise<boolean>;
  /** Removes the condemnation of `digest`, if any, in storage. Called before its content is (re)placed. */
  pardonBlob(digest: Digest): Promise<void>;
  /** True while the revision `digest` of repository `name` is condemned (as isBlobCondemned). */
  isRevisionCondemned(name: RepositoryName, digest: Digest): Promise<boolean>;
  /** Removes the condemnation of a manifest revision, if any. Called before its link is (re)written. */
  pardonRevision(name: RepositoryName, digest: Digest): Promise<void>;
}

/** The layer that makes `guard`'s condemnations unknown to clients (Registry.use). */
export function guardLayer(guard: GcGuard): StorageLayer {
  return {
    blobContent: (inner) => new GuardedBlobContent(inner, guard),
    revisions: (inner) => new GuardedRevisions(inner, guard),
  };
}

/** Blob content where a condemned blob is absent, and storing one pardons it first. */
class GuardedBlobContent extends DelegatingBlobContent {
  constructor(
    inner: BlobContent,
    private readonly guard: GcGuard,
  ) {
    super(inner);
  }

  override async stat(digest: Digest): Promise<BlobDescriptor> {
    // Before the inner cache: a condemned blob must look absent even where a cache still holds it.
    if (await this.guard.isBlobCondemned(digest)) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
    return this.inner.stat(digest);
  }

  /** Pardons before writing: online GC's delete re-checks the condemnation after moving the data away. */
  override async putContent(digest: Digest, data: Buffer): Promise<void> {
    if (await this.guard.isBlobCondemned(digest)) await this.guard.pardonBlob(digest);
    await this.inner.putContent(digest, data);
  }

  override async commitFrom(sourcePath: string, digest: Digest, size: number): Promise<void> {
    await this.guard.pardonBlob(digest);
    await this.inner.commitFrom(sourcePath, digest, size);
  }
}

/** Revisions where a condemned one is hidden, and adding one pardons it first. */
class GuardedRevisions extends DelegatingRevisions {
  constructor(
    inner: RevisionIndex,
    private readonly guard: GcGuard,
  ) {
    super(inner);
  }

  override get hides(): boolean {
    return true;
  }

  override async has(name: RepositoryName, digest: Digest): Promise<boolean> {
    return (await this.inner.has(name, digest)) && !(await this.guard.isRevisionCondemned(name, digest));
  }

  /** Pardons before writing the link: online GC's delete re-checks the condemnation after moving the link away. */
  override async add(name: RepositoryName, digest: Digest): Promise<void> {
    if (await this.guard.isRevisionCondemned(name, digest)) await this.guard.pardonRevision(name, digest);
    await this.inner.add(name, digest);
  }

  override async hidden(name: RepositoryName, digests: readonly Digest[]): Promise<ReadonlySet<Digest>> {
    const out = new Set(await this.inner.hidden(name, digests));
    const unique = [...new Set(digests)].filter((d) => !out.has(d));
    const condemned = await Promise.all(unique.map((d) => this.guard.isRevisionCondemned(name, d)));
    unique.forEach((d, i) => condemned[i] === true && out.add(d));
    return out;
  }
}

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
