import type { Readable } from 'node:stream';
import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import { blobDataPath } from './paths.js';
import { Lru } from './lru.js';

/** What the registry knows of a stored blob. */
export interface BlobDescriptor {
  readonly digest: Digest;
  readonly size: number;
}

/**
 * A cache of blob descriptors (digest → size). Blobs are immutable, so an entry is valid until
 * the blob is deleted; whatever deletes a blob must call `invalidate`.
 */
export interface BlobDescriptorCache {
  get(digest: Digest): Promise<BlobDescriptor | undefined>;
  set(descriptor: BlobDescriptor): Promise<void>;
  invalidate(digest: Digest): Promise<void>;
}

/** The default cache: a bounded in-process LRU. */
export class InMemoryBlobDescriptorCache implements BlobDescriptorCache {
  private readonly lru: Lru<Digest, BlobDescriptor>;
  constructor(size = 10_000) {
    this.lru = new Lru(size);
  }
  async get(digest: Digest): Promise<BlobDescriptor | undefined> {
    return this.lru.get(digest);
  }
  async set(descriptor: BlobDescriptor): Promise<void> {
    this.lru.set(descriptor.digest, descriptor);
  }
  async invalidate(digest: Digest): Promise<void> {
    this.lru.delete(digest);
  }
}

/**
 * The global, content-addressed blob store (`blobs/<alg>/<xx>/<hex>/data`). It knows nothing of
 * repositories: linking a blob into a repository is the Repository's job.
 */
export class BlobStore {
  constructor(
    readonly driver: StorageDriver,
    private readonly cache: BlobDescriptorCache,
  ) {}

  /** Size of a stored blob; throws BLOB_UNKNOWN when absent. */
  async stat(digest: Digest): Promise<BlobDescriptor> {
    const cached = await this.cache.get(digest);
    if (cached !== undefined) return cached;
    try {
      const info = await this.driver.stat(blobDataPath(digest));
      if (info.isDir) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
      const descriptor = { digest, size: info.size };
      await this.cache.set(descriptor);
      return descriptor;
    } catch (err) {
      if (isPathNotFound(err)) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
      throw err;
    }
  }

  async exists(digest: Digest): Promise<boolean> {
    try {
      await this.stat(digest);
      return true;
    } catch (err) {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') return false;
      throw err;
    }
  }

  /** Streams a blob from `offset`; throws BLOB_UNKNOWN when absent. */
  async open(digest: Digest, offset = 0, signal?: AbortSignal): Promise<Readable> {
    try {
      return await this.driver.reader(blobDataPath(digest), offset, signal);
    } catch (err) {
      if (isPathNotFound(err)) {
        await this.cache.invalidate(digest);
        throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
      }
      throw err;
    }
  }

  /** Reads a whole small blob (a manifest); throws BLOB_UNKNOWN when absent. */
  async getContent(digest: Digest): Promise<Buffer> {
    try {
      return await this.driver.getContent(blobDataPath(digest));
    } catch (err) {
      if (isPathNotFound(err)) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
      throw err;
    }
  }

  /** Stores small content already verified to have `digest` (atomically). */
  async putContent(digest: Digest, data: Buffer): Promise<void> {
    if (await this.exists(digest)) return;
    await this.driver.putContent(blobDataPath(digest), data);
    await this.cache.set({ digest, size: data.byteLength });
  }

  /**
   * Makes verified upload data at `sourcePath` the content of `digest`. If the blob exists already
   * (another push won the race) the source is left for the caller to delete.
   */
  async commitFrom(sourcePath: string, digest: Digest, size: number): Promise<void> {
    if (!(await this.exists(digest))) {
      await this.driver.move(sourcePath, blobDataPath(digest));
    }
    await this.cache.set({ digest, size });
  }

  async redirectUrl(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    return this.driver.redirectUrl(blobDataPath(digest), method);
  }

  /** Deletes blob content (garbage collection only). */
  async delete(digest: Digest): Promise<void> {
    await this.cache.invalidate(digest);
    try {
      await this.driver.delete(blobDataPath(digest).slice(0, -'/data'.length));
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }
}
