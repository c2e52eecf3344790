/**
 * Pull times follow deletions (Registry.use): a manifest deleted by digest, through the API, a
 * repository delete or retention, takes its recorded pulls with it, so a manifest pushed again later
 * under the same digest does not look pulled. The deletion itself never waits on the store's trouble.
 */
import type { Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import { DelegatingManifests } from '../storage/delegating.js';
import type { ManifestStore, StorageLayer } from '../storage/services.js';

/** What the layer needs of the recorder (PullTimeRecorder). */
export interface ForgetsPulls {
  forget(repository: string, digests?: readonly Digest[]): Promise<void>;
}

/** The layer forgetting a deleted manifest's pulls in `pulls`. */
export function pullTimesLayer(pulls: ForgetsPulls): StorageLayer {
  return { manifests: (inner, name) => new ForgettingManifests(inner, name, pulls) };
}

class ForgettingManifests extends DelegatingManifests {
  constructor(
    inner: ManifestStore,
    private readonly name: RepositoryName,
    private readonly pulls: ForgetsPulls,
  ) {
    super(inner);
  }

  override async delete(digest: Digest): Promise<Tag[]> {
    const untagged = await this.inner.delete(digest);
    await this.pulls.forget(this.name, [digest]);
    return untagged;
  }
}
