import type { Logger } from 'pino';
import type { BlobDescriptor, BlobDescriptorCache } from '../storage/blob-store.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import type { RedisClient } from './redis-client.js';

/**
 * Blob descriptors shared by every replica through Redis (`storage.cache.blobdescriptor: redis`).
 * Entries expire after `ttlMs`. Reads and writes fail soft (a Redis outage means a storage lookup);
 * invalidation fails hard, so a blob is never deleted while Redis may still claim it exists.
 */
export class RedisBlobDescriptorCache implements BlobDescriptorCache {
  constructor(
    private readonly client: RedisClient,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly prefix = 'berth:blob:',
    private readonly onLookup?: (hit: boolean) => void,
  ) {}

  async get(digest: Digest): Promise<BlobDescriptor | undefined> {
    try {
      const value = await this.client.get(this.prefix + digest);
      const hit = value !== null;
      this.onLookup?.(hit);
      if (!hit) return undefined;
      const size = Number(value);
      return Number.isSafeInteger(size) && size >= 0 ? { digest, size } : undefined;
    } catch (err) {
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'redis cache get failed');
      return undefined;
    }
  }

  async set(descriptor: BlobDescriptor): Promise<void> {
    if (tryParseDigest(descriptor.digest) === undefined) return;
    try {
      await this.client.set(this.prefix + descriptor.digest, String(descriptor.size), 'PX', this.ttlMs);
    } catch (err) {
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'redis cache set failed');
    }
  }

  async invalidate(digest: Digest): Promise<void> {
    await this.client.del(this.prefix + digest);
  }
}
