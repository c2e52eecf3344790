/**
 * Base classes for wrappers of the storage services (services.ts): each method delegates to the
 * wrapped service, so a wrapper extends one and overrides only what its feature changes.
 */
import type { Readable } from 'node:stream';
import type { ByteSink } from './driver/driver.js';
import type { Digest } from '../oci/digest.js';
import type { ManifestReference, RepositoryName, Tag } from '../oci/reference.js';
import type {
  BlobContent,
  BlobDescriptor,
  ChunkExpectation,
  LinkedBlobs,
  ManifestPush,
  ManifestStore,
  Page,
  PushedManifest,
  Referrer,
  RepositoryUploads,
  RevisionIndex,
  SendOptions,
  StoredManifest,
  TagStore,
  UploadInfo,
} from './services.js';

export class DelegatingBlobContent implements BlobContent {
  constructor(protected readonly inner: BlobContent) {}
  stat(digest: Digest): Promise<BlobDescriptor> {
    return this.inner.stat(digest);
  }
  send(digest: Digest, dest: ByteSink, offset: number, length: number, options?: SendOptions): Promise<void> {
    return this.inner.send(digest, dest, offset, length, options);
  }
  open(digest: Digest, offset?: number, signal?: AbortSignal): Promise<Readable> {
    return this.inner.open(digest, offset, signal);
  }
  getContent(digest: Digest): Promise<Buffer> {
    return this.inner.getContent(digest);
  }
  putContent(digest: Digest, data: Buffer): Promise<void> {
    return this.inner.putContent(digest, data);
  }
  commitFrom(sourcePath: string, digest: Digest, size: number): Promise<void> {
    return this.inner.commitFrom(sourcePath, digest, size);
  }
  redirectUrl(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    return this.inner.redirectUrl(digest, method);
  }
}

export class DelegatingRevisions implements RevisionIndex {
  constructor(protected readonly inner: RevisionIndex) {}
  get hides(): boolean {
    return this.inner.hides;
  }
  has(name: RepositoryName, digest: Digest): Promise<boolean> {
    return this.inner.has(name, digest);
  }
  add(name: RepositoryName, digest: Digest): Promise<void> {
    return this.inner.add(name, digest);
  }
  remove(name: RepositoryName, digest: Digest): Promise<boolean> {
    return this.inner.remove(name, digest);
  }
  hidden(name: RepositoryName, digests: readonly Digest[]): Promise<ReadonlySet<Digest>> {
    return this.inner.hidden(name, digests);
  }
}

export class DelegatingLinkedBlobs implements LinkedBlobs {
  constructor(protected readonly inner: LinkedBlobs) {}
  stat(digest: Digest): Promise<BlobDescriptor> {
    return this.inner.stat(digest);
  }
  send(digest: Digest, dest: ByteSink, offset: number, length: number, options?: SendOptions): Promise<void> {
    return this.inner.send(digest, dest, offset, length, options);
  }
  redirectUrl(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    return this.inner.redirectUrl(digest, method);
  }
  link(digest: Digest): Promise<void> {
    return this.inner.link(digest);
  }
  unlink(digest: Digest): Promise<void> {
    return this.inner.unlink(digest);
  }
  mount(digest: Digest, source: RepositoryName): Promise<BlobDescriptor | undefined> {
    return this.inner.mount(digest, source);
  }
  enumerate(): Promise<Digest[]> {
    return this.inner.enumerate();
  }
}

export class DelegatingManifests implements ManifestStore {
  constructor(protected readonly inner: ManifestStore) {}
  get(ref: ManifestReference): Promise<StoredManifest> {
    return this.inner.get(ref);
  }
  put(push: ManifestPush): Promise<PushedManifest> {
    return this.inner.put(push);
  }
  delete(digest: Digest): Promise<Tag[]> {
    return this.inner.delete(digest);
  }
  referrers(digest: Digest, artifactType?: string): Promise<Referrer[]> {
    return this.inner.referrers(digest, artifactType);
  }
  enumerate(): Promise<Digest[]> {
    return this.inner.enumerate();
  }
}

export class DelegatingTags implements TagStore {
  constructor(protected readonly inner: TagStore) {}
  get(tag: Tag): Promise<Digest> {
    return this.inner.get(tag);
  }
  tag(tag: Tag, digest: Digest): Promise<void> {
    return this.inner.tag(tag, digest);
  }
  untag(tag: Tag): Promise<void> {
    return this.inner.untag(tag);
  }
  list(n: number | undefined, last: string | undefined): Promise<Page> {
    return this.inner.list(n, last);
  }
  lookup(digest: Digest): Promise<Tag[]> {
    return this.inner.lookup(digest);
  }
}

export class DelegatingUploads implements RepositoryUploads {
  constructor(protected readonly inner: RepositoryUploads) {}
  start(): Promise<UploadInfo> {
    return this.inner.start();
  }
  info(uuid: string): Promise<UploadInfo> {
    return this.inner.info(uuid);
  }
  append(uuid: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expect?: ChunkExpectation, signal?: AbortSignal): Promise<UploadInfo> {
    return this.inner.append(uuid, source, expect, signal);
  }
  commit(uuid: string, digest: Digest, options?: { readonly signal?: AbortSignal; readonly at?: number }): Promise<BlobDescriptor> {
    return this.inner.commit(uuid, digest, options);
  }
  cancel(uuid: string): Promise<void> {
    return this.inner.cancel(uuid);
  }
}
