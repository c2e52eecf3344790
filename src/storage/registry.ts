import type { StorageDriver } from './driver/driver.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import { BlobStore, InMemoryBlobDescriptorCache, type BlobDescriptorCache } from './blob-store.js';
import { UploadStore } from './upload.js';
import { ManifestCache } from './manifest-cache.js';
import { CatalogIndex, findRepositories, type CatalogOptions, type SortedPage } from './catalog.js';
import { LinkCache, type LinkCacheLimits } from './link-cache.js';
import { TagLists } from './tag-list.js';
import { DEFAULT_MANIFEST_RULES, type ManifestRules } from './manifest-rules.js';
import { StoredRevisions } from './revision-index.js';
import { RepositoryBlobs } from './linked-blobs.js';
import { RepositoryTags } from './tag-store.js';
import { RepositoryManifests } from './manifest-store.js';
import { RepositoryUploadSessions } from './repository-uploads.js';
import { deleteRepositoryContent, type DeletedRepository } from './repository-deleter.js';
import * as paths from './paths.js';
import { Inventory } from './inventory.js';
import type { BlobContent, LinkedBlobs, RepositoryPeers, RepositoryRecorder, RepositoryServices, RevisionIndex, StorageLayer } from './services.js';

export interface RegistryOptions {
  readonly driver: StorageDriver;
  readonly blobDescriptorCache?: BlobDescriptorCache;
  readonly clock?: () => Date;
  /** How the in-memory catalog stays fresh: walk ages, and the store replicas share names through. */
  readonly catalog?: CatalogOptions;
  /** What pushed manifests must satisfy (default: Distribution's, see manifest-rules.ts). */
  readonly manifestRules?: ManifestRules;
  /** Bounds of the in-process caches (storage.cache.*; defaults in link-cache.ts and manifest-cache.ts). */
  readonly cacheLimits?: LinkCacheLimits & { readonly manifestBytes?: number };
  /** Tags read at once when finding a deleted manifest's tags (storage.tag.concurrencylimit, default 8). */
  readonly tagConcurrency?: number;
}

/**
 * The composition of the storage services (services.ts) over one StorageDriver, with the layers
 * features install (use). The HTTP layer asks it for a repository's services; the CLI (garbage
 * collection, purging) also uses the core blob store and uploads directly.
 */
export class Registry implements RepositoryRecorder {
  readonly driver: StorageDriver;
  /** The core blob store, unwrapped (garbage collection deletes through it). */
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  private readonly manifestCache: ManifestCache;
  private readonly catalogIndex: CatalogIndex;
  private readonly links: LinkCache;
  private readonly tagLists: TagLists;
  private readonly manifestRules: ManifestRules;
  private readonly tagConcurrency: number;
  /** What the management API reports of repositories (sizes, tags, platforms), through the layers. */
  readonly inventory: Inventory;
  readonly #layers: StorageLayer[] = [];
  #content: BlobContent;
  #revisions: RevisionIndex;

  constructor(options: RegistryOptions) {
    this.driver = options.driver;
    this.blobs = new BlobStore(options.driver, options.blobDescriptorCache ?? new InMemoryBlobDescriptorCache());
    this.uploads = new UploadStore(options.driver, options.clock);
    this.catalogIndex = new CatalogIndex(options.driver, options.catalog);
    this.links = new LinkCache(options.driver, undefined, options.cacheLimits);
    this.tagLists = new TagLists(options.driver, this.links, undefined, options.cacheLimits);
    this.manifestCache = new ManifestCache(options.cacheLimits?.manifestBytes);
    this.manifestRules = options.manifestRules ?? DEFAULT_MANIFEST_RULES;
    this.tagConcurrency = options.tagConcurrency ?? 8;
    this.#content = this.blobs;
    this.#revisions = new StoredRevisions(options.driver, this.links);
    this.inventory = new Inventory({ driver: options.driver, content: () => this.#content, revisions: () => this.#revisions, repository: (name) => this.repository(name) });
  }

  /**
   * Installs a feature's wrappers around the services (online GC's guard, quotas, ...), outside the
   * ones installed before. Done by the composition root at start-up; repositories handed out before
   * keep the layers they were built with.
   */
  use(layer: StorageLayer): void {
    this.#layers.push(layer);
    if (layer.blobContent !== undefined) this.#content = layer.blobContent(this.#content);
    if (layer.revisions !== undefined) this.#revisions = layer.revisions(this.#revisions);
  }

  /** Removes a layer installed by use (tests: a replica that stops honouring online GC). */
  unuse(layer: StorageLayer): void {
    const layers = this.#layers.splice(0);
    this.#content = this.blobs;
    this.#revisions = new StoredRevisions(this.driver, this.links);
    for (const l of layers) if (l !== layer) this.use(l);
  }

  /** Blob content as every repository sees it (wrapped by the layers). */
  get content(): BlobContent {
    return this.#content;
  }

  /** Manifest revisions as every repository sees them (wrapped by the layers). */
  get revisions(): RevisionIndex {
    return this.#revisions;
  }

  /** How full the in-process caches of manifests, links and tag lists are. */
  cacheUsage(): Array<{ cache: string; entries: number; bytes: number }> {
    return [this.manifestCache.usage(), ...this.links.usage()];
  }

  /** One repository's services, each wrapped by the installed layers before they are given to each other. */
  repository(name: RepositoryName): RepositoryServices {
    const { driver, links } = this;
    const content = this.#content;
    const revisions = this.#revisions;
    const blobs = this.wrap('blobs', new RepositoryBlobs(name, { driver, content, links, recorder: this, repositoryBlobs: (source) => this.linkedBlobs(source) }), name);
    const tags = this.wrap('tags', new RepositoryTags(name, { driver, links, tagLists: this.tagLists, revisions, concurrency: this.tagConcurrency }), name);
    const peers = { blobs, tags };
    const manifests = this.wrap(
      'manifests',
      new RepositoryManifests(name, { driver, content, revisions, blobs, tags, cache: this.manifestCache, recorder: this, rules: this.manifestRules }),
      name,
      peers,
    );
    const uploads = this.wrap('uploads', new RepositoryUploadSessions(name, this.uploads, content, blobs), name, peers);
    return { name, blobs, manifests, tags, uploads };
  }

  /** A repository's linked blobs alone (the source of a mount). */
  private linkedBlobs(name: RepositoryName): LinkedBlobs {
    return this.wrap('blobs', new RepositoryBlobs(name, { driver: this.driver, content: this.#content, links: this.links, recorder: this, repositoryBlobs: (source) => this.linkedBlobs(source) }), name);
  }

  private wrap<K extends 'blobs' | 'tags' | 'manifests' | 'uploads'>(kind: K, core: RepositoryServices[K], name: RepositoryName, peers?: RepositoryPeers): RepositoryServices[K] {
    let service = core;
    for (const layer of this.#layers) {
      const wrapper = layer[kind] as ((inner: RepositoryServices[K], name: RepositoryName, peers: RepositoryPeers | undefined) => RepositoryServices[K]) | undefined;
      if (wrapper !== undefined) service = wrapper(service, name, peers);
    }
    return service;
  }

  /** Every repository name, in catalog order. A repository is a directory holding `_layers` or `_manifests`. */
  async repositories(): Promise<readonly string[]> {
    return this.catalogIndex.all();
  }

  /** Repositories with an `_uploads` directory (possibly uploads in progress), for purging. */
  async repositoriesWithUploads(): Promise<RepositoryName[]> {
    return (await findRepositories(this.driver, ['_uploads'])) as RepositoryName[];
  }

  /** A page of the catalog: repositories after `last`, at most `n`, in Distribution's order. */
  async catalog(n: number | undefined, last: string | undefined): Promise<SortedPage> {
    return this.catalogIndex.page(n, last);
  }

  /**
   * Tells the catalog about a repository written through this process (and `onNewRepository`, when
   * it is new); resolves once the shared catalog has it (never rejects).
   */
  async record(name: RepositoryName): Promise<void> {
    if (await this.catalogIndex.add(name)) this.#onNewRepository?.(name);
  }

  /** Tells the catalog about a repository another process created (another worker of this host). */
  learnRepository(name: string): void {
    this.catalogIndex.learn(name);
  }

  /** Called with each repository this process creates (cluster workers tell the others). */
  onNewRepository(listener: (name: string) => void): void {
    this.#onNewRepository = listener;
  }

  #onNewRepository: ((name: string) => void) | undefined;

  /**
   * Deletes a whole repository through `repo` (its services, as the caller wrapped them: the
   * notifying wrapper emits an event per tag and manifest), see repository-deleter.ts; then drops
   * it from the catalog, in the shared store too, before resolving, and tells `onRemovedRepository`.
   * NAME_UNKNOWN when there is no such repository.
   */
  async deleteRepository(repo: RepositoryServices): Promise<DeletedRepository> {
    const checks = this.#layers.filter((l) => l.beforeRepositoryDelete !== undefined);
    if (checks.length > 0) {
      const tags = (await repo.tags.list(undefined, undefined)).items as readonly Tag[];
      for (const layer of checks) await layer.beforeRepositoryDelete?.(repo.name, tags);
    }
    const deleted = await deleteRepositoryContent(this.driver, repo);
    for (const layer of this.#layers) await layer.afterRepositoryDelete?.(repo.name);
    this.links.forget(paths.repositoryPath(repo.name));
    await this.catalogIndex.remove(repo.name);
    this.#onRemovedRepository?.(repo.name);
    return deleted;
  }

  /** Tells the catalog about a repository another process deleted (another worker of this host). */
  forgetRepository(name: string): void {
    this.catalogIndex.forget(name);
  }

  /** Called with each repository this process deletes (cluster workers tell the others). */
  onRemovedRepository(listener: (name: string) => void): void {
    this.#onRemovedRepository = listener;
  }

  #onRemovedRepository: ((name: string) => void) | undefined;
}
