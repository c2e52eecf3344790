/**
 * Quotas as a storage layer (Registry.use). A blob counts against the quotas covering a repository
 * from the moment it is linked there (an upload's commit, a mount, a manifest push: the manifest's own
 * bytes) until its link goes (a blob or manifest delete, garbage collection); each blob once per quota
 * however many of its repositories link it. The push that would take a quota over its limit is refused
 * with 403 DENIED `{quota, used, limit}` before the repository gains the link.
 *
 * The ledger is in process (LocalQuotaLedger), rebuilt from storage at start-up and after every online
 * GC run; see docs/lifecycle.md for what that means with several processes.
 */
import { OciError } from '../oci/errors.js';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import { DelegatingLinkedBlobs, DelegatingManifests } from '../storage/delegating.js';
import type { BlobContent, BlobDescriptor, LinkedBlobs, ManifestPush, ManifestStore, PushedManifest, StorageLayer } from '../storage/services.js';
import type { Registry } from '../storage/registry.js';
import type { QuotaRule } from './schema.js';
import { quotaExceededError, UsageLedger, type AddedBlob, type QuotaUsage } from './quota.js';

/** A reference from a repository to a stored blob, as a usage scan finds it. */
export interface BlobReference {
  readonly repository: string;
  readonly digest: Digest;
  readonly size: number;
}

/** The usage API's answer: each quota, and the deduplicated bytes of everything. */
export interface UsageReport {
  readonly quotas: readonly QuotaUsage[];
  readonly total: number;
}

/**
 * Deduplicated usage with all-or-nothing reservations. A repository either references a blob or not
 * (linking it twice is one reference), so reserving what is held already costs nothing.
 */
export class LocalQuotaLedger {
  #ledger: UsageLedger;
  /** The ledger a rebuild in progress fills; every change is made to it too. */
  #next: UsageLedger | undefined;
  /** Settles when the first rebuild has: until then there is nothing to check against. */
  #ready: Promise<void> | undefined;
  #rebuilding: Promise<void> | undefined;

  constructor(private readonly quotas: readonly QuotaRule[]) {
    this.#ledger = new UsageLedger(quotas);
  }

  /**
   * Records the blobs `repository` does not reference yet; throws the DENIED of quotaExceededError,
   * recording nothing, when that would take a covering quota over its limit. Returns what it recorded.
   */
  async reserve(repository: string, blobs: readonly AddedBlob[]): Promise<AddedBlob[]> {
    await this.#ready;
    const ledger = this.#ledger;
    const fresh = blobs.filter((b, i) => ledger.references(repository, b.digest) === 0 && blobs.findIndex((o) => o.digest === b.digest) === i);
    const over = ledger.check(repository, fresh);
    if (over !== undefined) throw quotaExceededError(over.exceeded, over.adding);
    for (const b of fresh) {
      ledger.add(repository, b.digest, b.size);
      if (this.#next !== undefined && this.#next.references(repository, b.digest) === 0) this.#next.add(repository, b.digest, b.size);
    }
    return fresh;
  }

  /** `repository` no longer references these blobs. */
  async release(repository: string, digests: Iterable<Digest>): Promise<void> {
    await this.#ready;
    for (const digest of digests) {
      this.#ledger.remove(repository, digest);
      this.#next?.remove(repository, digest);
    }
  }

  /** `repository` was deleted: it references nothing any more. */
  async releaseRepository(repository: string): Promise<void> {
    await this.#ready;
    this.#ledger.removeRepository(repository);
    this.#next?.removeRepository(repository);
  }

  async usage(): Promise<UsageReport> {
    await this.#ready;
    return { quotas: this.#ledger.usage(), total: this.#ledger.total() };
  }

  /**
   * Replaces the ledger with one built from `references` (a storage scan). The first rebuild holds
   * every check until it is done; later ones run beside them, each change made to both ledgers, so none
   * is lost. One at a time: a call during a rebuild joins it. Resolves when the new ledger is in place.
   */
  rebuild(references: AsyncIterable<BlobReference>): Promise<void> {
    if (this.#rebuilding !== undefined) return this.#rebuilding;
    const next = new UsageLedger(this.quotas);
    this.#next = next;
    const building = (async () => {
      for await (const r of references) if (next.references(r.repository, r.digest) === 0) next.add(r.repository, r.digest, r.size);
      this.#ledger = next;
    })().finally(() => {
      this.#next = undefined;
      this.#rebuilding = undefined;
    });
    this.#rebuilding = building;
    this.#ready ??= building.catch(() => undefined);
    return building;
  }
}

/** Every (repository, blob) link in storage whose blob is stored: layers, configs and manifests. */
export async function* scanReferences(registry: Registry): AsyncGenerator<BlobReference> {
  for (const name of await registry.repositories()) {
    const repo = registry.repository(name as RepositoryName);
    const digests = new Set<Digest>([...(await repo.blobs.enumerate()), ...(await repo.manifests.enumerate())]);
    for (const digest of digests) {
      const size = await sizeOf(registry.content, digest);
      if (size !== undefined) yield { repository: name, digest, size };
    }
  }
}

async function sizeOf(content: BlobContent, digest: Digest): Promise<number | undefined> {
  try {
    return (await content.stat(digest)).size;
  } catch (err) {
    if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') return undefined;
    throw err;
  }
}

/** The layer charging links to `ledger`; `content` is the registry's (wrapped) blob content. */
export function quotaLayer(ledger: LocalQuotaLedger, content: () => BlobContent): StorageLayer {
  return {
    blobs: (inner, name) => new QuotaBlobs(inner, name, ledger, content),
    manifests: (inner, name) => new QuotaManifests(inner, name, ledger),
    afterRepositoryDelete: (name) => ledger.releaseRepository(name),
  };
}

class QuotaBlobs extends DelegatingLinkedBlobs {
  constructor(
    inner: LinkedBlobs,
    private readonly name: RepositoryName,
    private readonly ledger: LocalQuotaLedger,
    private readonly content: () => BlobContent,
  ) {
    super(inner);
  }

  /** An upload's commit links here: its data is in the blob store, not yet in this repository. */
  override async link(digest: Digest): Promise<void> {
    const { size } = await this.content().stat(digest);
    await this.charged([{ digest, size }], () => this.inner.link(digest));
  }

  override async mount(digest: Digest, source: RepositoryName): Promise<BlobDescriptor | undefined> {
    const size = await sizeOf(this.content(), digest);
    if (size === undefined) return this.inner.mount(digest, source);
    let mounted: BlobDescriptor | undefined;
    await this.charged([{ digest, size }], async () => {
      mounted = await this.inner.mount(digest, source);
      if (mounted === undefined) throw NOT_MOUNTED;
    }).catch((err: unknown) => {
      if (err !== NOT_MOUNTED) throw err;
    });
    return mounted;
  }

  override async unlink(digest: Digest): Promise<void> {
    await this.inner.unlink(digest);
    await this.ledger.release(this.name, [digest]);
  }

  /** Runs `write` with `blobs` reserved; a failing write gives back what this reservation added. */
  private async charged(blobs: AddedBlob[], write: () => Promise<void>): Promise<void> {
    const added = await this.ledger.reserve(this.name, blobs);
    try {
      await write();
    } catch (err) {
      await this.ledger.release(this.name, added.map((b) => b.digest));
      throw err;
    }
  }
}

/** Thrown inside a charged mount the source could not serve: the reservation is given back. */
const NOT_MOUNTED = new Error('not mounted');

class QuotaManifests extends DelegatingManifests {
  constructor(
    inner: ManifestStore,
    private readonly name: RepositoryName,
    private readonly ledger: LocalQuotaLedger,
  ) {
    super(inner);
  }

  override async put(push: ManifestPush): Promise<PushedManifest> {
    const digest = digestOf(push.body, push.digest !== undefined ? digestAlgorithm(push.digest) : 'sha256');
    const added = await this.ledger.reserve(this.name, [{ digest, size: push.body.byteLength }]);
    try {
      return await this.inner.put(push);
    } catch (err) {
      await this.ledger.release(this.name, added.map((b) => b.digest));
      throw err;
    }
  }

  override async delete(digest: Digest): Promise<Tag[]> {
    const tags = await this.inner.delete(digest);
    await this.ledger.release(this.name, [digest]);
    return tags;
  }
}
