import type { StorageDriver } from './driver/driver.js';
import type { RepositoryName } from '../oci/reference.js';
import { BlobStore, InMemoryBlobDescriptorCache, type BlobDescriptorCache } from './blob-store.js';
import { UploadStore } from './upload.js';
import { ManifestCache, Repository } from './repository.js';
import { CatalogIndex, findRepositories, type CatalogOptions, type SortedPage } from './catalog.js';
import { LinkCache, type LinkCacheLimits } from './link-cache.js';
import { TagLists } from './tag-list.js';
import { DEFAULT_MANIFEST_RULES, type ManifestRules } from './manifest-rules.js';

export interface RegistryOptions {
  readonly driver: StorageDriver;
  readonly blobDescriptorCache?: BlobDescriptorCache;
  readonly clock?: () => Date;
  /** How the in-memory catalog stays fresh: walk ages, and the store replicas share names through. */
  readonly catalog?: CatalogOptions;
  /** What pushed manifests must satisfy (default: Distribution's, see manifest-rules.ts). */
  readonly manifestRules?: ManifestRules;
  /** Bounds of the in-process caches (storage.cache.*; defaults in link-cache.ts and repository.ts). */
  readonly cacheLimits?: LinkCacheLimits & { readonly manifestBytes?: number };
}

/**
 * The storage service: every registry rule, written only against a StorageDriver. The HTTP layer
 * and the CLI (garbage collection, purging) use it; nothing else touches the driver directly.
 */
export class Registry {
  readonly driver: StorageDriver;
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  private readonly manifestCache: ManifestCache;
  private readonly catalogIndex: CatalogIndex;
  private readonly links: LinkCache;
  private readonly tagLists: TagLists;
  private readonly manifestRules: ManifestRules;

  constructor(options: RegistryOptions) {
    this.driver = options.driver;
    this.blobs = new BlobStore(options.driver, options.blobDescriptorCache ?? new InMemoryBlobDescriptorCache());
    this.uploads = new UploadStore(options.driver, this.blobs, options.clock);
    this.catalogIndex = new CatalogIndex(options.driver, options.catalog);
    this.links = new LinkCache(options.driver, undefined, options.cacheLimits);
    this.tagLists = new TagLists(options.driver, this.links, undefined, options.cacheLimits);
    this.manifestCache = new ManifestCache(options.cacheLimits?.manifestBytes);
    this.manifestRules = options.manifestRules ?? DEFAULT_MANIFEST_RULES;
  }

  /** How full the in-process caches of manifests, links and tag lists are. */
  cacheUsage(): Array<{ cache: string; entries: number; bytes: number }> {
    return [this.manifestCache.usage(), ...this.links.usage()];
  }

  repository(name: RepositoryName): Repository {
    return new Repository(name, this.driver, this.blobs, this.uploads, this.manifestCache, this.links, this.tagLists, this.manifestRules);
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
  async noteRepository(name: RepositoryName): Promise<void> {
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
}
