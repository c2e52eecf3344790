import type { Readable } from 'node:stream';
import { opensRanges, sinkClosed, type ByteSink, type RangeSource, type StorageDriver } from './driver/driver.js';
import { isPathNotFound, StorageDriverError } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { BlobContent, BlobDescriptor, SendOptions } from './services.js';
import { blobDataPath } from './paths.js';
import { Lru } from './lru.js';

export type { BlobDescriptor, SendOptions } from './services.js';

/**
 * A cache of blob descriptors (digest → size). Blobs are immutable, so an entry is valid until
 * the blob is deleted; whatever deletes a blob must call `invalidate`.
 */
export interface BlobDescriptorCache {
  get(digest: Digest): Promise<BlobDescriptor | undefined>;
  set(descriptor: BlobDescriptor): Promise<void>;
  invalidate(digest: Digest): Promise<void>;
  /**
   * Forgets every entry. Optional: only a cache private to this process needs it (online GC calls it when
   * this process may have missed a deletion made by another replica); a shared cache is invalidated by
   * whoever deletes.
   */
  clear?(): Promise<void>;
}

/** Heap bytes of a cached descriptor beside its digest string, roughly (key, entry object, size). */
const DESCRIPTOR_BYTES = 120;

/** The default cache: a bounded in-process LRU. */
export class InMemoryBlobDescriptorCache implements BlobDescriptorCache {
  private readonly lru: Lru<Digest, BlobDescriptor>;
  /** `size`: descriptors kept (storage.cache.blobdescriptorsize). */
  constructor(size = 10_000) {
    this.lru = new Lru(Number.MAX_SAFE_INTEGER, (d) => DESCRIPTOR_BYTES + 2 * d.digest.length, size);
  }
  /** How full the cache is (berth_cache_entries / berth_cache_bytes). */
  usage(): { cache: string; entries: number; bytes: number } {
    return { cache: 'blobdescriptor', entries: this.lru.size, bytes: this.lru.weight };
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
  async clear(): Promise<void> {
    this.lru.clear();
  }
}

/**
 * The global, content-addressed blob store (`blobs/<alg>/<xx>/<hex>/data`), with a descriptor
 * cache. It knows nothing of repositories (linked-blobs.ts links blobs into them), nor of online
 * GC (src/gc/guard.ts wraps it).
 */
export class BlobStore implements BlobContent {
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

  /**
   * Writes bytes [offset, offset + length) of a blob into `dest` without ending it; BLOB_UNKNOWN
   * when absent. Drivers with local files send through reused buffers (OpensRanges), others
   * stream. Fails (StorageDriverError) when the stored blob ends before the range does.
   */
  async send(digest: Digest, dest: ByteSink, offset: number, length: number, options: SendOptions = {}): Promise<void> {
    const { signal, onBytes } = options;
    if (opensRanges(this.driver)) {
      let range: RangeSource;
      try {
        range = await this.driver.openRange(blobDataPath(digest), offset, length, signal);
      } catch (err) {
        if (isPathNotFound(err)) {
          await this.cache.invalidate(digest);
          throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
        }
        throw err;
      }
      await range.sendTo(dest, { signal, onBytes });
      return;
    }
    const stream = await this.open(digest, offset, signal);
    let sent = 0;
    // Leaving the loop (done, or a throw) destroys the stream; the driver's reader aborts with `signal`.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (dest.closed) throw sinkClosed();
      const piece = chunk.byteLength > length - sent ? chunk.subarray(0, length - sent) : chunk;
      sent += piece.byteLength;
      onBytes?.(piece.byteLength);
      if (!dest.write(piece, noop)) await dest.drained();
      if (sent === length) break;
    }
    if (sent < length) throw new StorageDriverError(this.driver.name, `${this.driver.name}: blob ${digest} ended after ${sent} of ${length} bytes`);
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

  /**
   * Stores small content already verified to have `digest` (atomically). Whether it is there is
   * asked of storage, not the cache, so content another process removed is always placed again.
   */
  async putContent(digest: Digest, data: Buffer): Promise<void> {
    if (await this.dataExists(digest)) return;
    await this.driver.putContent(blobDataPath(digest), data);
    await this.cache.set({ digest, size: data.byteLength });
  }

  /**
   * Makes verified upload data at `sourcePath` the content of `digest`. If the blob exists already
   * (another push won the race) the source is left for the caller to delete. The existence check asks
   * storage, not the cache, so data that online GC (or any other process) removed is always placed again.
   */
  async commitFrom(sourcePath: string, digest: Digest, size: number): Promise<void> {
    if (!(await this.dataExists(digest))) {
      await this.driver.move(sourcePath, blobDataPath(digest));
    }
    await this.cache.set({ digest, size });
  }

  /** Drops the cached descriptor of `digest` (online GC, after moving its data away). */
  async invalidate(digest: Digest): Promise<void> {
    await this.cache.invalidate(digest);
  }

  /** Empties the descriptor cache when it is private to this process (see BlobDescriptorCache.clear). */
  async clearCache(): Promise<void> {
    await this.cache.clear?.();
  }

  /** True when the blob's data is in storage, asked of the driver (no cache). */
  private async dataExists(digest: Digest): Promise<boolean> {
    try {
      return !(await this.driver.stat(blobDataPath(digest))).isDir;
    } catch (err) {
      if (isPathNotFound(err)) return false;
      throw err;
    }
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

function noop(): void {}
