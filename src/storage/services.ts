/**
 * The storage services: every registry rule, as the HTTP handlers, the CLI and the features that
 * wrap the core see them. One repository is four services (linked blobs, manifests, tags, uploads);
 * beneath them, two registry-wide ones (blob content and the revision index) are where features
 * that must change what every repository sees (online GC's condemnations) wrap in.
 *
 * The implementations over the Distribution layout are linked-blobs.ts, manifest-store.ts,
 * tag-store.ts, repository-uploads.ts, blob-store.ts and revision-index.ts; registry.ts composes
 * them with the wrappers a StorageLayer installs. A wrapper implements the same interface and
 * delegates (see src/gc/guard.ts, src/notifications/notifying-repository.ts,
 * src/metrics/metered-repository.ts).
 *
 * Errors: methods reject with OciError for what a client did wrong or asked for that is not there
 * (the codes are named on each method); anything else (StorageDriverError, ...) is the storage
 * failing and becomes 500/503 in the renderer.
 */
import type { Readable } from 'node:stream';
import type { ByteSink } from './driver/driver.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import type { ParsedManifest } from '../oci/manifest.js';
import type { ManifestMediaType } from '../oci/media-types.js';
import type { SortedPage } from './catalog.js';
import type { ManifestReference } from '../oci/reference.js';

/** What the registry knows of a stored blob. */
export interface BlobDescriptor {
  readonly digest: Digest;
  readonly size: number;
}

/** Options of a blob send. */
export interface SendOptions {
  readonly signal?: AbortSignal;
  /** Called as bytes are handed to the destination (for the pulled-bytes counter). */
  readonly onBytes?: (bytes: number) => void;
}

/** A page of a sorted listing. */
export type Page = SortedPage;

/** A manifest as served: its bytes, digest and media type. */
export interface StoredManifest {
  readonly digest: Digest;
  readonly mediaType: ManifestMediaType;
  readonly body: Buffer;
}

/** A referrer as the referrers API lists it (an OCI descriptor). */
export interface Referrer {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An upload session as the storage layer sees it. */
export interface UploadInfo {
  readonly uuid: string;
  readonly startedAt: Date;
  /** Bytes received so far. */
  readonly size: number;
}

/** Where a PATCH's bytes must land, when the client said (Content-Range / Content-Length). */
export interface ChunkExpectation {
  readonly start?: number;
  readonly length?: number;
  /** The size the client's signed state says the upload has; BLOB_UPLOAD_INVALID (404) when it differs. */
  readonly at?: number;
}

// ---- registry-wide ----

/** The global, content-addressed blob store (`blobs/<alg>/<xx>/<hex>/data`); it knows nothing of repositories. */
export interface BlobContent {
  /** Size of a stored blob; BLOB_UNKNOWN when absent. */
  stat(digest: Digest): Promise<BlobDescriptor>;
  /** Writes bytes [offset, offset + length) into `dest` without ending it; BLOB_UNKNOWN when absent. */
  send(digest: Digest, dest: ByteSink, offset: number, length: number, options?: SendOptions): Promise<void>;
  /** Streams a blob from `offset`; BLOB_UNKNOWN when absent. */
  open(digest: Digest, offset?: number, signal?: AbortSignal): Promise<Readable>;
  /** Reads a whole small blob (a manifest); BLOB_UNKNOWN when absent. */
  getContent(digest: Digest): Promise<Buffer>;
  /** Stores small content already verified to have `digest`, atomically. */
  putContent(digest: Digest, data: Buffer): Promise<void>;
  /** Makes verified data at `sourcePath` the content of `digest` (moved; left in place when the blob exists). */
  commitFrom(sourcePath: string, digest: Digest, size: number): Promise<void>;
  /** A URL the client may fetch the blob from directly, when the driver offers one. */
  redirectUrl(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined>;
}

/** The manifest revisions of every repository (`_manifests/revisions/<alg>/<hex>/link`). */
export interface RevisionIndex {
  /** True when `digest` is a revision of `name` that clients may see. */
  has(name: RepositoryName, digest: Digest): Promise<boolean>;
  /** Records `digest` (whose content is stored) as a revision of `name`. */
  add(name: RepositoryName, digest: Digest): Promise<void>;
  /** Removes the revision; false when there was none. */
  remove(name: RepositoryName, digest: Digest): Promise<boolean>;
  /**
   * Of revisions known to be stored, the ones clients must not see. True `hides` means some may
   * be hidden (online GC's condemnations); false lets listings skip the question.
   */
  readonly hides: boolean;
  hidden(name: RepositoryName, digests: readonly Digest[]): Promise<ReadonlySet<Digest>>;
}

/** Where new repositories are recorded (the catalog, shared across replicas when configured). */
export interface RepositoryRecorder {
  /** Records a repository written through this process; resolves once recorded (never rejects). */
  record(name: RepositoryName): Promise<void>;
}

// ---- one repository ----

/** Blobs as one repository sees them: those linked into it, as layers or as manifests. */
export interface LinkedBlobs {
  /** The blob if it is linked into this repository; BLOB_UNKNOWN otherwise. */
  stat(digest: Digest): Promise<BlobDescriptor>;
  /** Writes a range of a linked blob (stat it first) into `dest` without ending it. */
  send(digest: Digest, dest: ByteSink, offset: number, length: number, options?: SendOptions): Promise<void>;
  redirectUrl(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined>;
  /** Links a stored blob into this repository and records the repository. */
  link(digest: Digest): Promise<void>;
  /** Removes the repository's link (the content stays until GC); BLOB_UNKNOWN when not linked. */
  unlink(digest: Digest): Promise<void>;
  /**
   * Cross-repository mount: links `digest` from `source` into this repository and records it.
   * Undefined when the source does not have the blob (the caller starts an ordinary upload).
   */
  mount(digest: Digest, source: RepositoryName): Promise<BlobDescriptor | undefined>;
  /** Every blob linked as a layer (or config) into this repository, stored or not. */
  enumerate(): Promise<Digest[]>;
}

/** What a manifest push stores and applies. */
export interface ManifestPush {
  readonly body: Buffer;
  /** The request's Content-Type (base media type). */
  readonly contentType: string;
  /** The digest the client addressed or computed; DIGEST_INVALID when the body does not match. */
  readonly digest?: Digest;
  /** Tags to point at the manifest once it is stored. */
  readonly tags: readonly Tag[];
}

/** A stored manifest push: its digest, the parsed manifest and the tags applied. */
export interface PushedManifest {
  readonly digest: Digest;
  readonly manifest: ParsedManifest;
  readonly size: number;
  readonly tags: readonly Tag[];
}

/** The manifests of one repository. */
export interface ManifestStore {
  /** The manifest a tag or digest names; MANIFEST_UNKNOWN when it is not in this repository. */
  get(ref: ManifestReference): Promise<StoredManifest>;
  /**
   * Verifies and stores a manifest, then tags it: MANIFEST_INVALID (bad body), DIGEST_INVALID,
   * MANIFEST_BLOB_UNKNOWN (a referenced blob or child manifest is not in this repository).
   * Records the repository. Tags move last, so no reader sees a tag naming a half-stored manifest.
   */
  put(push: ManifestPush): Promise<PushedManifest>;
  /** Deletes a revision, then every tag pointing at it (returned); MANIFEST_UNKNOWN when absent. */
  delete(digest: Digest): Promise<Tag[]>;
  /** Manifests whose `subject` is `digest`, optionally of one artifact type, sorted by digest. */
  referrers(digest: Digest, artifactType?: string): Promise<Referrer[]>;
  /** Every manifest digest stored in this repository. */
  enumerate(): Promise<Digest[]>;
}

/** The tags of one repository. */
export interface TagStore {
  /** The digest a tag points to; MANIFEST_UNKNOWN when there is no such tag. */
  get(tag: Tag): Promise<Digest>;
  /** Points `tag` at a stored revision `digest`. */
  tag(tag: Tag, digest: Digest): Promise<void>;
  /** Removes a tag (not the manifest); MANIFEST_UNKNOWN when absent. */
  untag(tag: Tag): Promise<void>;
  /** Tags in lexical order after `last`, at most `n`; NAME_UNKNOWN when the repository does not exist. */
  list(n: number | undefined, last: string | undefined): Promise<Page>;
  /** The tags pointing at `digest` (reading at most `storage.tag.concurrencylimit` tags at once). */
  lookup(digest: Digest): Promise<Tag[]>;
}

/** The upload sessions of one repository (resumable; any process sharing the storage may continue one). */
export interface RepositoryUploads {
  /** Starts a session. */
  start(): Promise<UploadInfo>;
  /** A session's state; BLOB_UPLOAD_UNKNOWN when there is none. */
  info(uuid: string): Promise<UploadInfo>;
  /** Appends a chunk; BLOB_UPLOAD_INVALID (416) out of order, SIZE_INVALID on a length mismatch. */
  append(uuid: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expect?: ChunkExpectation, signal?: AbortSignal): Promise<UploadInfo>;
  /**
   * Completes the session as `digest`: verifies the data hashes to it (DIGEST_INVALID otherwise,
   * and the session is gone), moves it into the blob store, links it into this repository and
   * records the repository. With `at`, BLOB_UPLOAD_INVALID (404) when the size is not `at`.
   */
  commit(uuid: string, digest: Digest, options?: { readonly signal?: AbortSignal; readonly at?: number }): Promise<BlobDescriptor>;
  /** Cancels a session; BLOB_UPLOAD_UNKNOWN when there is none. */
  cancel(uuid: string): Promise<void>;
}

/** One repository's services. */
export interface RepositoryServices {
  readonly name: RepositoryName;
  readonly blobs: LinkedBlobs;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly uploads: RepositoryUploads;
}

/**
 * Wrappers a feature installs around the services (Registry.use). Each gets the service as built
 * so far (the core, or an earlier layer's wrapper) and returns one with the same contract. A
 * repository's services are wrapped before they are given to each other: the manifest store
 * tags and untags through the wrapped tag store, uploads link through the wrapped linked blobs.
 */
export interface StorageLayer {
  readonly blobContent?: (inner: BlobContent) => BlobContent;
  readonly revisions?: (inner: RevisionIndex) => RevisionIndex;
  readonly blobs?: (inner: LinkedBlobs, name: RepositoryName) => LinkedBlobs;
  readonly tags?: (inner: TagStore, name: RepositoryName) => TagStore;
  /** `peers`: the repository's blobs and tags, fully wrapped. */
  readonly manifests?: (inner: ManifestStore, name: RepositoryName, peers: RepositoryPeers) => ManifestStore;
  readonly uploads?: (inner: RepositoryUploads, name: RepositoryName, peers: RepositoryPeers) => RepositoryUploads;
  /** Before a whole repository is deleted (Registry.deleteRepository), with its tags: throwing refuses it before anything goes. */
  readonly beforeRepositoryDelete?: (name: RepositoryName, tags: readonly Tag[]) => Promise<void> | void;
  /** After a whole repository was deleted. */
  readonly afterRepositoryDelete?: (name: RepositoryName) => Promise<void> | void;
}

/** What a manifest or upload wrapper may consult of its repository. */
export interface RepositoryPeers {
  readonly blobs: LinkedBlobs;
  readonly tags: TagStore;
}
