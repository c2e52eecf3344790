/**
 * Notifications as a wrapper of a repository's services (as Distribution's notifications package wraps
 * its repository): each operation that succeeds through the wrapper emits the event Distribution
 * emits for it. Built per request, around the services the handlers use, so the events carry the
 * request; what the stores do among themselves (a manifest delete untagging) emits nothing twice.
 */
import type { Digest } from '../oci/digest.js';
import type { ManifestReference, RepositoryName, Tag } from '../oci/reference.js';
import { parseManifest } from '../oci/manifest.js';
import type { BlobDescriptor, ManifestPush, PushedManifest, RepositoryServices, StoredManifest } from '../storage/services.js';
import { DelegatingLinkedBlobs, DelegatingManifests, DelegatingTags, DelegatingUploads } from '../storage/delegating.js';
import type { LinkedBlobs, ManifestStore, RepositoryUploads, TagStore } from '../storage/services.js';
import { manifestReferences, type RequestEvents } from './bridge.js';

/** `repo` with every successful push, pull, mount and delete reported to `events`. */
export function notifyingRepository(repo: RepositoryServices, events: RequestEvents): RepositoryServices {
  return {
    name: repo.name,
    blobs: new NotifyingBlobs(repo.blobs, repo.name, events),
    manifests: new NotifyingManifests(repo.manifests, repo.name, events),
    tags: new NotifyingTags(repo.tags, repo.name, events),
    uploads: new NotifyingUploads(repo.uploads, repo.name, events),
  };
}

/**
 * A blob pull is its stat: GET and HEAD both begin with it, redirects included, as Distribution reports
 * a pull once ServeBlob returns (abandoned downloads included).
 */
class NotifyingBlobs extends DelegatingLinkedBlobs {
  constructor(
    inner: LinkedBlobs,
    private readonly name: RepositoryName,
    private readonly events: RequestEvents,
  ) {
    super(inner);
  }

  override async stat(digest: Digest): Promise<BlobDescriptor> {
    const blob = await this.inner.stat(digest);
    this.events.blobPulled(this.name, blob);
    return blob;
  }

  override async unlink(digest: Digest): Promise<void> {
    await this.inner.unlink(digest);
    this.events.blobDeleted(this.name, digest);
  }

  override async mount(digest: Digest, source: RepositoryName): Promise<BlobDescriptor | undefined> {
    const blob = await this.inner.mount(digest, source);
    if (blob !== undefined) this.events.blobMounted(this.name, blob, source);
    return blob;
  }
}

class NotifyingManifests extends DelegatingManifests {
  constructor(
    inner: ManifestStore,
    private readonly name: RepositoryName,
    private readonly events: RequestEvents,
  ) {
    super(inner);
  }

  /** Emitted for GET and HEAD alike, as Distribution does. */
  override async get(ref: ManifestReference): Promise<StoredManifest> {
    const m = await this.inner.get(ref);
    this.events.manifestPulled(this.name, {
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.body.byteLength,
      tag: ref.kind === 'tag' ? ref.tag : undefined,
      references: () => manifestReferences(parseManifest(m.body, m.mediaType)),
    });
    return m;
  }

  /** One push event per tag, as that many pushes by tag would emit; one without a tag otherwise. */
  override async put(push: ManifestPush): Promise<PushedManifest> {
    const pushed = await this.inner.put(push);
    for (const tag of pushed.tags.length > 0 ? pushed.tags : [undefined]) {
      this.events.manifestPushed(this.name, {
        digest: pushed.digest,
        mediaType: pushed.manifest.mediaType,
        size: pushed.size,
        tag,
        references: () => manifestReferences(pushed.manifest),
      });
    }
    return pushed;
  }

  override async delete(digest: Digest): Promise<Tag[]> {
    const tags = await this.inner.delete(digest);
    this.events.manifestDeleted(this.name, digest);
    for (const tag of tags) this.events.tagDeleted(this.name, tag);
    return tags;
  }
}

class NotifyingTags extends DelegatingTags {
  constructor(
    inner: TagStore,
    private readonly name: RepositoryName,
    private readonly events: RequestEvents,
  ) {
    super(inner);
  }

  override async untag(tag: Tag): Promise<void> {
    await this.inner.untag(tag);
    this.events.tagDeleted(this.name, tag);
  }
}

class NotifyingUploads extends DelegatingUploads {
  constructor(
    inner: RepositoryUploads,
    private readonly name: RepositoryName,
    private readonly events: RequestEvents,
  ) {
    super(inner);
  }

  override async commit(uuid: string, digest: Digest, options?: { readonly signal?: AbortSignal; readonly at?: number }): Promise<BlobDescriptor> {
    const blob = await this.inner.commit(uuid, digest, options);
    this.events.blobPushed(this.name, blob);
    return blob;
  }
}
