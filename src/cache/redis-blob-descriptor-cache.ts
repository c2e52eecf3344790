import type { Logger } from 'pino';
import type { BlobDescriptor, BlobDescriptorCache } from '../storage/blob-store.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { RedisClient } from './redis-client.js';
import type { Circuit } from './circuit.js';

/** Retry-After (seconds) of a delete refused while Redis is down. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Blob descriptors shared by every replica through Redis (`storage.cache.blobdescriptor: redis`).
 * Entries expire after `ttlMs`. Reads and writes fail soft: a failure opens the circuit, and while
 * it is open they skip Redis at once (a storage lookup instead). Invalidation fails hard, so a
 * blob is never deleted while Redis may still claim it exists: while Redis is down, a delete is
 * refused with 503 UNAVAILABLE and Retry-After.
 */
export class RedisBlobDescriptorCache implements BlobDescriptorCache {
  constructor(
    private readonly client: RedisClient,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly prefix = 'berth:blob:',
    private readonly onLookup?: (hit: boolean) => void,
    private readonly circuit?: Circuit,
  ) {}

  async get(digest: Digest): Promise<BlobDescriptor | undefined> {
    if (this.circuit?.closed === false) return undefined;
    try {
      const value = await this.client.get(this.prefix + digest);
      const hit = value !== null;
      this.onLookup?.(hit);
      if (!hit) return undefined;
      const size = Number(value);
      return Number.isSafeInteger(size) && size >= 0 ? { digest, size } : undefined;
    } catch (err) {
      this.failed(err, 'get');
      return undefined;
    }
  }

  async set(descriptor: BlobDescriptor): Promise<void> {
    if (tryParseDigest(descriptor.digest) === undefined) return;
    if (this.circuit?.closed === false) return;
    try {
      await this.client.set(this.prefix + descriptor.digest, String(descriptor.size), 'PX', this.ttlMs);
    } catch (err) {
      this.failed(err, 'set');
    }
  }

  async invalidate(digest: Digest): Promise<void> {
    const unavailable = (cause?: unknown): OciError =>
      new OciError('UNAVAILABLE', {
        message: 'the blob descriptor cache (redis) is unavailable; try again later',
        headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
        ...(cause !== undefined ? { cause } : {}),
      });
    if (this.circuit?.closed === false) throw unavailable();
    try {
      await this.client.del(this.prefix + digest);
    } catch (err) {
      this.failed(err, 'del');
      throw this.circuit !== undefined ? unavailable(err) : err;
    }
  }

  private failed(err: unknown, op: string): void {
    if (this.circuit !== undefined) this.circuit.trip(err);
    else this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, `redis cache ${op} failed`);
  }
}
