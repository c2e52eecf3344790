import type { Digest } from '../oci/digest.js';
import type { BlobDescriptor, BlobDescriptorCache } from '../storage/blob-store.js';

/** What instrumentBlobDescriptorCache needs of the metrics; RegistryMetrics provides it. */
export interface CacheMetrics {
  cache(name: string, hit: boolean): void;
}

/**
 * Wraps a blob descriptor cache so every lookup counts as a hit or a miss in
 * berth_cache_requests_total{cache=<name>}. Writes, invalidations and clear() pass through.
 */
export function instrumentBlobDescriptorCache(cache: BlobDescriptorCache, metrics: CacheMetrics, name = 'blobdescriptor'): BlobDescriptorCache {
  return {
    async get(digest: Digest): Promise<BlobDescriptor | undefined> {
      const found = await cache.get(digest);
      metrics.cache(name, found !== undefined);
      return found;
    },
    set: (descriptor: BlobDescriptor) => cache.set(descriptor),
    invalidate: (digest: Digest) => cache.invalidate(digest),
    // Only a cache private to this process has clear(); the wrapper keeps that shape.
    ...(cache.clear !== undefined ? { clear: () => (cache.clear as () => Promise<void>).call(cache) } : {}),
  };
}
