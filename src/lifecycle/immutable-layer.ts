/**
 * Immutable tags as a storage layer (Registry.use): a manifest PUT that would move such a tag, a DELETE
 * of it, and a DELETE by digest of a manifest it points at are refused with 403 DENIED before anything
 * changes. The rules are pure (immutable.ts); this wrapper only asks the tag store where a tag points.
 */
import { OciError } from '../oci/errors.js';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import { DelegatingManifests, DelegatingTags } from '../storage/delegating.js';
import type { ManifestPush, ManifestStore, PushedManifest, RepositoryPeers, StorageLayer, TagStore } from '../storage/services.js';
import type { ImmutableTags } from './immutable.js';

/** The layer enforcing `rules` (compileImmutableTags of lifecycle.immutable). */
export function immutableLayer(rules: ImmutableTags): StorageLayer {
  return {
    // Repositories no rule covers are left unwrapped: no tag lookups added to their deletes.
    tags: (inner, name) => (rules.coversRepository(name) ? new ImmutableTagStore(inner, name, rules) : inner),
    manifests: (inner, name, peers) => (rules.coversRepository(name) ? new ImmutableManifestStore(inner, name, rules, peers) : inner),
    beforeRepositoryDelete: (name, tags) => rules.checkDelete(name, tags),
  };
}

/** Where `tag` points now, or undefined when it does not exist. */
async function currentDigest(tags: TagStore, tag: Tag): Promise<Digest | undefined> {
  try {
    return await tags.get(tag);
  } catch (err) {
    if (err instanceof OciError && err.code === 'MANIFEST_UNKNOWN') return undefined;
    throw err;
  }
}

class ImmutableTagStore extends DelegatingTags {
  constructor(
    inner: TagStore,
    private readonly name: RepositoryName,
    private readonly rules: ImmutableTags,
  ) {
    super(inner);
  }

  override async tag(tag: Tag, digest: Digest): Promise<void> {
    if (this.rules.ruleFor(this.name, tag) !== undefined) this.rules.checkPut(this.name, tag, await currentDigest(this.inner, tag), digest);
    await this.inner.tag(tag, digest);
  }

  /** An absent tag stays MANIFEST_UNKNOWN; an existing immutable one is DENIED. */
  override async untag(tag: Tag): Promise<void> {
    if (this.rules.ruleFor(this.name, tag) !== undefined && (await currentDigest(this.inner, tag)) !== undefined) this.rules.checkDelete(this.name, [tag]);
    await this.inner.untag(tag);
  }
}

class ImmutableManifestStore extends DelegatingManifests {
  constructor(
    inner: ManifestStore,
    private readonly name: RepositoryName,
    private readonly rules: ImmutableTags,
    private readonly peers: RepositoryPeers,
  ) {
    super(inner);
  }

  /** Checked before the manifest is stored, so a refused push leaves nothing behind. */
  override async put(push: ManifestPush): Promise<PushedManifest> {
    const guarded = push.tags.filter((tag) => this.rules.ruleFor(this.name, tag) !== undefined);
    if (guarded.length > 0) {
      const digest = digestOf(push.body, push.digest !== undefined ? digestAlgorithm(push.digest) : 'sha256');
      for (const tag of guarded) this.rules.checkPut(this.name, tag, await currentDigest(this.peers.tags, tag), digest);
    }
    return this.inner.put(push);
  }

  /** A manifest delete takes its tags along: refused when one of them is immutable. */
  override async delete(digest: Digest): Promise<Tag[]> {
    this.rules.checkDelete(this.name, await this.peers.tags.lookup(digest));
    return this.inner.delete(digest);
  }
}
