import type { Digest } from '../oci/digest.js';
import type { ManifestInfo } from './manifest-info.js';
import { Lru } from './lru.js';

/** The default bound of the manifest cache (storage.cache.manifestbytes). */
export const DEFAULT_MANIFEST_CACHE_BYTES = 64 * 1024 * 1024;

/** Manifests by digest, shared by all repositories of a registry: content is immutable per digest. */
export class ManifestCache {
  private readonly lru: Lru<Digest, { body: Buffer; info: ManifestInfo }>;
  /** `maxBytes`: manifest bytes kept, each entry counting 256 bytes more for its parsed summary. */
  constructor(maxBytes = DEFAULT_MANIFEST_CACHE_BYTES) {
    this.lru = new Lru(maxBytes, (e) => e.body.byteLength + 256);
  }
  /** How full the cache is (berth_cache_entries / berth_cache_bytes). */
  usage(): { cache: string; entries: number; bytes: number } {
    return { cache: 'manifests', entries: this.lru.size, bytes: this.lru.weight };
  }
  get(digest: Digest): { body: Buffer; info: ManifestInfo } | undefined {
    return this.lru.get(digest);
  }
  set(digest: Digest, body: Buffer, info: ManifestInfo): void {
    this.lru.set(digest, { body, info });
  }
  invalidate(digest: Digest): void {
    this.lru.delete(digest);
  }
}
