/**
 * The transferred-bytes counters as a storage layer (Registry.use): bytes pushed into uploads and
 * manifests, and blob bytes sent to clients, counted as they pass through the services.
 */
import type { ByteSink } from '../storage/driver/driver.js';
import type { Digest } from '../oci/digest.js';
import type { ChunkExpectation, ManifestPush, PushedManifest, SendOptions, StorageLayer, UploadInfo } from '../storage/services.js';
import { DelegatingLinkedBlobs, DelegatingManifests, DelegatingUploads } from '../storage/delegating.js';
import { countBytes } from './count-bytes.js';

/** Where the counts go (RegistryMetrics.addBytes). */
export interface ByteCounter {
  addBytes(direction: 'pushed' | 'pulled', bytes: number): void;
}

/** The layer that counts transferred bytes into `counter`. */
export function meteredLayer(counter: ByteCounter): StorageLayer {
  return {
    blobs: (inner) =>
      new (class extends DelegatingLinkedBlobs {
        override send(digest: Digest, dest: ByteSink, offset: number, length: number, options: SendOptions = {}): Promise<void> {
          const { onBytes } = options;
          const count = (n: number): void => {
            counter.addBytes('pulled', n);
            onBytes?.(n);
          };
          return this.inner.send(digest, dest, offset, length, { ...options, onBytes: count });
        }
      })(inner),
    uploads: (inner) =>
      new (class extends DelegatingUploads {
        override append(uuid: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expect?: ChunkExpectation, signal?: AbortSignal): Promise<UploadInfo> {
          return this.inner.append(uuid, countBytes(source, (n) => counter.addBytes('pushed', n)), expect, signal);
        }
      })(inner),
    manifests: (inner) =>
      new (class extends DelegatingManifests {
        override async put(push: ManifestPush): Promise<PushedManifest> {
          const pushed = await this.inner.put(push);
          counter.addBytes('pushed', pushed.size);
          return pushed;
        }
      })(inner),
  };
}
