import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import type { RepositoryName } from '../oci/reference.js';
import { isRepositoryName } from '../oci/reference.js';
import { BlobStore, InMemoryBlobDescriptorCache, type BlobDescriptorCache } from './blob-store.js';
import { UploadStore } from './upload.js';
import { ManifestCache, Repository, compareBytes, paginate, type Page } from './repository.js';
import { REPOSITORIES_ROOT } from './paths.js';

export interface RegistryOptions {
  readonly driver: StorageDriver;
  readonly blobDescriptorCache?: BlobDescriptorCache;
  readonly clock?: () => Date;
}

/**
 * The storage service: every registry rule, written only against a StorageDriver. The HTTP layer
 * and the CLI (garbage collection, purging) use it; nothing else touches the driver directly.
 */
export class Registry {
  readonly driver: StorageDriver;
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  private readonly manifestCache = new ManifestCache();

  constructor(options: RegistryOptions) {
    this.driver = options.driver;
    this.blobs = new BlobStore(options.driver, options.blobDescriptorCache ?? new InMemoryBlobDescriptorCache());
    this.uploads = new UploadStore(options.driver, this.blobs, options.clock);
  }

  repository(name: RepositoryName): Repository {
    return new Repository(name, this.driver, this.blobs, this.uploads, this.manifestCache);
  }

  /** Every repository name, byte-wise sorted. A repository is a directory holding `_manifests`. */
  async repositories(): Promise<string[]> {
    return this.namesHolding('_manifests');
  }

  /** Repositories with an `_uploads` directory (possibly uploads in progress), for purging. */
  async repositoriesWithUploads(): Promise<RepositoryName[]> {
    return (await this.namesHolding('_uploads')) as RepositoryName[];
  }

  private async namesHolding(marker: string): Promise<string[]> {
    const out: string[] = [];
    const visit = async (dir: string, prefix: string): Promise<void> => {
      let children: string[];
      try {
        children = await this.driver.list(dir);
      } catch (err) {
        if (isPathNotFound(err)) return;
        throw err;
      }
      const names = children.map((c) => c.slice(c.lastIndexOf('/') + 1));
      if (prefix !== '' && names.includes(marker) && isRepositoryName(prefix)) out.push(prefix);
      await Promise.all(
        names
          .filter((n) => !n.startsWith('_'))
          .map((n) => visit(`${dir}/${n}`, prefix === '' ? n : `${prefix}/${n}`)),
      );
    };
    await visit(REPOSITORIES_ROOT, '');
    return out.sort(compareBytes);
  }

  /** A page of the catalog: repositories after `last`, at most `n`. */
  async catalog(n: number | undefined, last: string | undefined): Promise<Page> {
    return paginate(await this.repositories(), n, last);
  }
}
