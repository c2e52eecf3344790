/**
 * What the management API reports of stored repositories: their tags, sizes, platforms and push
 * times (issue 14). A read-only service over the registry's services as the layers wrapped them
 * (online GC's condemned content is not counted), and never through a request's notifying wrapper:
 * browsing a repository is not a pull, so it emits no pull event.
 *
 * Sizes are deduplicated bytes: each digest (manifest, config, layer) counted once, with the sizes
 * the manifests' descriptors give (a push checks them against the stored blobs). Manifests and
 * configs are content-addressed, so what is read of them is cached by digest and never stale; a
 * repository's size is cached under a fingerprint of its visible revisions (a hash of their sorted
 * digests), so a request costs the listing of the revisions (two listings on a filesystem, the
 * pages of one LIST on S3) and reads only manifests it has not read before.
 */
import { createHash } from 'node:crypto';
import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { ManifestReference, RepositoryName, Tag } from '../oci/reference.js';
import { isImageConfigType, readFootprint, readImageConfig, storedBlobs, platformOf, type ImageConfigSummary, type ManifestFootprint } from '../oci/image-summary.js';
import * as paths from './paths.js';
import { Lru } from './lru.js';
import { compareBytes, pageAfter } from './catalog.js';
import { repositoryExists } from './repository-deleter.js';
import type { BlobContent, RepositoryServices, RevisionIndex } from './services.js';
import type { ManifestSummary, RepositorySummary, TagPage, TagQuery, TagSummary } from './inventory-types.js';
import { summarizeManifest } from './manifest-summary.js';

export type * from './inventory-types.js';

/** What the inventory reads through (getters: Registry.use may wrap the registry-wide services later). */
export interface InventoryDeps {
  readonly driver: StorageDriver;
  readonly content: () => BlobContent;
  readonly revisions: () => RevisionIndex;
  readonly repository: (name: RepositoryName) => RepositoryServices;
}

/** Repositories (or tags) summarized at once. */
const CONCURRENCY = 16;
/** Image configs larger than this are not read (they carry no platform worth 4 MiB of heap). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const CACHE_BYTES = 32 * 1024 * 1024;

/** The registry's inventory: one per Registry, shared by every request. */
export class Inventory {
  private readonly footprints = new Lru<Digest, ManifestFootprint>(CACHE_BYTES, footprintBytes, 100_000);
  private readonly configs = new Lru<Digest, ImageConfigSummary>(CACHE_BYTES, (c) => 200 + 2 * JSON.stringify(c).length, 100_000);
  private readonly sizes = new Lru<string, { readonly key: string; readonly size: number }>(Number.MAX_SAFE_INTEGER, () => 1, 20_000);

  constructor(private readonly deps: InventoryDeps) {}

  /** One repository: its tag count and size; NAME_UNKNOWN when there is no such repository. */
  async repository(name: RepositoryName): Promise<RepositorySummary> {
    if (!(await repositoryExists(this.deps.driver, name))) throw new OciError('NAME_UNKNOWN', { detail: { name } });
    const repo = this.deps.repository(name);
    const [tags, size] = await Promise.all([repo.tags.list(undefined, undefined), this.repositorySize(repo)]);
    return { name, tags: tags.items.length, size };
  }

  /** Summaries of `names`, in their order; a name that is no longer a repository is left out. */
  async repositories(names: readonly RepositoryName[]): Promise<RepositorySummary[]> {
    const out = await mapLimit(names, async (name) => {
      try {
        return await this.repository(name);
      } catch (err) {
        if (err instanceof OciError && err.code === 'NAME_UNKNOWN') return undefined;
        throw err;
      }
    });
    return out.filter((s): s is RepositorySummary => s !== undefined);
  }

  /** Deduplicated bytes of every blob and manifest reachable from the manifests of all `names`. */
  async total(names: readonly RepositoryName[]): Promise<number> {
    const all = new Map<Digest, number>();
    await mapLimit(names, async (name) => {
      for (const [digest, size] of await this.reachable(this.deps.repository(name))) all.set(digest, size);
    });
    let total = 0;
    for (const size of all.values()) total += size;
    return total;
  }

  /** A page of a repository's tags, by name or newest push first; NAME_UNKNOWN when there is no such repository. */
  async tags(name: RepositoryName, query: TagQuery): Promise<TagPage> {
    const repo = this.deps.repository(name);
    const tags = (await repo.tags.list(undefined, undefined)).items as readonly Tag[];
    if (query.sort === 'name') {
      const page = pageAfter(tags, query.n, query.last, compareBytes);
      const items = await mapLimit(page.items as readonly Tag[], (tag) => this.tag(repo, tag));
      return { items: items.filter((t): t is TagSummary => t !== undefined), ...(page.next !== undefined ? { next: page.next } : {}) };
    }
    const pushed = await mapLimit(tags, async (tag) => ({ tag, at: await this.pushedAt(name, tag) }));
    const order = pushed.filter((p): p is { tag: Tag; at: Date } => p.at !== undefined).sort((a, b) => b.at.getTime() - a.at.getTime() || compareBytes(a.tag, b.tag));
    const start = query.last === undefined ? 0 : order.findIndex((p) => p.tag === query.last) + 1;
    const slice = order.slice(start, query.n === undefined ? undefined : start + query.n);
    const items = await mapLimit(slice, (p) => this.tag(repo, p.tag));
    const more = query.n !== undefined && start + query.n < order.length && slice.length > 0;
    return { items: items.filter((t): t is TagSummary => t !== undefined), ...(more ? { next: (slice[slice.length - 1] as { tag: Tag }).tag } : {}) };
  }

  /** A manifest of the repository (by digest or tag) for the UI; MANIFEST_UNKNOWN when it is not there. */
  async manifest(name: RepositoryName, reference: ManifestReference): Promise<ManifestSummary> {
    const repo = this.deps.repository(name);
    const digest = reference.kind === 'digest' ? reference.digest : await repo.tags.get(reference.tag);
    const footprint = await this.visibleFootprint(name, digest);
    if (footprint === undefined) throw new OciError('MANIFEST_UNKNOWN', { detail: { digest } });
    const children = await mapLimit(footprint.children, (c) => this.footprint(c.digest));
    const config = footprint.config !== undefined ? await this.config(footprint.config.digest, footprint.config.mediaType, footprint.config.size) : undefined;
    const referrers = await repo.manifests.referrers(digest);
    return summarizeManifest({ digest, footprint, children, config, referrers, size: imageSize(digest, footprint, children) });
  }

  /**
   * Every tag of a repository with its manifest and push time (its link's modification time), for
   * retention; a tag deleted while it is read is left out. NAME_UNKNOWN when there is no such repository.
   */
  async tagTimes(name: RepositoryName): Promise<Array<{ tag: Tag; digest: Digest; pushedAt: Date }>> {
    if (!(await repositoryExists(this.deps.driver, name))) throw new OciError('NAME_UNKNOWN', { detail: { name } });
    const repo = this.deps.repository(name);
    const tags = (await repo.tags.list(undefined, undefined)).items as readonly Tag[];
    const out = await mapLimit(tags, async (tag) => {
      const [digest, pushedAt] = await Promise.all([repo.tags.get(tag).catch(unknownAsUndefined), this.pushedAt(name, tag)]);
      return digest === undefined || pushedAt === undefined ? undefined : { tag, digest, pushedAt };
    });
    return out.filter((t) => t !== undefined);
  }

  /**
   * Every visible manifest revision of a repository with when it was pushed (its revision link's
   * modification time; undefined when the link went away meanwhile), for retention.
   */
  async revisionTimes(name: RepositoryName): Promise<Array<{ digest: Digest; pushedAt: Date | undefined }>> {
    const digests = await this.visibleRevisions(this.deps.repository(name));
    return mapLimit(digests, async (digest) => ({ digest, pushedAt: await this.modTime(paths.revisionLinkPath(name, digest)) }));
  }

  /** A tag's summary; undefined when it went away meanwhile. */
  private async tag(repo: RepositoryServices, tag: Tag): Promise<TagSummary | undefined> {
    let digest: Digest;
    try {
      digest = await repo.tags.get(tag);
    } catch (err) {
      if (err instanceof OciError && err.code === 'MANIFEST_UNKNOWN') return undefined;
      throw err;
    }
    const [footprint, pushedAt] = await Promise.all([this.footprint(digest), this.pushedAt(repo.name, tag)]);
    if (footprint === undefined || pushedAt === undefined) return undefined;
    const children = await mapLimit(footprint.children, (c) => this.footprint(c.digest));
    return { name: tag, digest, mediaType: footprint.mediaType, size: imageSize(digest, footprint, children), platforms: await this.platforms(footprint), pushedAt };
  }

  /** The modification time of the tag's current link: when it was last pushed (or moved). */
  private async pushedAt(name: RepositoryName, tag: Tag): Promise<Date | undefined> {
    return this.modTime(paths.tagCurrentLinkPath(name, tag));
  }

  private async modTime(path: string): Promise<Date | undefined> {
    try {
      return (await this.deps.driver.stat(path)).modTime;
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
  }

  /** An index's platforms from its entries; an image's from its config. */
  private async platforms(f: ManifestFootprint): Promise<string[]> {
    if (f.children.length > 0) return [...new Set(f.children.map((c) => c.platform).filter((p): p is string => p !== undefined))];
    if (f.config === undefined) return [];
    const config = await this.config(f.config.digest, f.config.mediaType, f.config.size);
    const platform = config === undefined ? undefined : platformOf(config);
    return platform === undefined ? [] : [platform];
  }

  private async repositorySize(repo: RepositoryServices): Promise<number> {
    const revisions = await this.visibleRevisions(repo);
    const key = createHash('sha256').update([...revisions].sort().join(',')).digest('base64');
    const cached = this.sizes.get(repo.name);
    if (cached?.key === key) return cached.size;
    let size = 0;
    for (const bytes of (await this.reachableFrom(revisions)).values()) size += bytes;
    this.sizes.set(repo.name, { key, size });
    return size;
  }

  private async reachable(repo: RepositoryServices): Promise<Map<Digest, number>> {
    return this.reachableFrom(await this.visibleRevisions(repo));
  }

  /** Every manifest (children are revisions too), config and stored layer of `revisions`, with its size. */
  private async reachableFrom(revisions: readonly Digest[]): Promise<Map<Digest, number>> {
    const out = new Map<Digest, number>();
    const footprints = await mapLimit(revisions, (d) => this.footprint(d));
    revisions.forEach((digest, i) => {
      const f = footprints[i];
      if (f === undefined) return;
      out.set(digest, f.size);
      for (const b of storedBlobs(f)) out.set(b.digest, b.size);
    });
    return out;
  }

  private async visibleRevisions(repo: RepositoryServices): Promise<Digest[]> {
    const all = await repo.manifests.enumerate();
    const revisions = this.deps.revisions();
    if (!revisions.hides || all.length === 0) return all;
    const hidden = await revisions.hidden(repo.name, all);
    return all.filter((d) => !hidden.has(d));
  }

  private async visibleFootprint(name: RepositoryName, digest: Digest): Promise<ManifestFootprint | undefined> {
    if (!(await this.deps.revisions().has(name, digest))) return undefined;
    return this.footprint(digest);
  }

  /** The manifest's footprint; undefined when its content is not stored. */
  private async footprint(digest: Digest): Promise<ManifestFootprint | undefined> {
    const cached = this.footprints.get(digest);
    if (cached !== undefined) return cached;
    const body = await this.readBlob(digest);
    if (body === undefined) return undefined;
    const f = readFootprint(body);
    this.footprints.set(digest, f);
    return f;
  }

  private async config(digest: Digest, mediaType: string, size: number): Promise<ImageConfigSummary | undefined> {
    if (!isImageConfigType(mediaType) || size > MAX_CONFIG_BYTES) return undefined;
    const cached = this.configs.get(digest);
    if (cached !== undefined) return cached;
    const body = await this.readBlob(digest);
    if (body === undefined) return undefined;
    const config = readImageConfig(body);
    this.configs.set(digest, config);
    return config;
  }

  private async readBlob(digest: Digest): Promise<Buffer | undefined> {
    try {
      return await this.deps.content().getContent(digest);
    } catch (err) {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') return undefined;
      throw err;
    }
  }
}

/** The manifest, its blobs and its children's (an index's images), each digest once. */
function imageSize(digest: Digest, f: ManifestFootprint, children: ReadonlyArray<ManifestFootprint | undefined>): number {
  const seen = new Map<Digest, number>([[digest, f.size]]);
  for (const b of storedBlobs(f)) seen.set(b.digest, b.size);
  f.children.forEach((c, i) => {
    const child = children[i];
    if (child === undefined) return;
    seen.set(c.digest, child.size);
    for (const b of storedBlobs(child)) seen.set(b.digest, b.size);
  });
  let size = 0;
  for (const s of seen.values()) size += s;
  return size;
}

function footprintBytes(f: ManifestFootprint): number {
  return 300 + 200 * (f.layers.length + f.children.length) + (f.annotations === undefined ? 0 : 2 * JSON.stringify(f.annotations).length);
}

function unknownAsUndefined(err: unknown): undefined {
  if (err instanceof OciError && err.code === 'MANIFEST_UNKNOWN') return undefined;
  throw err;
}

async function mapLimit<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  for (let i = 0; i < items.length; i += CONCURRENCY) {
    const batch = await Promise.all(items.slice(i, i + CONCURRENCY).map(fn));
    batch.forEach((r, j) => (out[i + j] = r));
  }
  return out;
}
