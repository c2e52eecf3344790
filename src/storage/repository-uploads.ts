import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';
import type { UploadStore } from './upload.js';
import type { BlobContent, BlobDescriptor, ChunkExpectation, LinkedBlobs, RepositoryUploads, UploadInfo } from './services.js';

/** The upload sessions of one repository, over the registry's UploadStore. */
export class RepositoryUploadSessions implements RepositoryUploads {
  constructor(
    readonly name: RepositoryName,
    private readonly store: UploadStore,
    private readonly content: BlobContent,
    private readonly blobs: LinkedBlobs,
  ) {}

  start(): Promise<UploadInfo> {
    return this.store.start(this.name);
  }

  info(uuid: string): Promise<UploadInfo> {
    return this.store.info(this.name, uuid);
  }

  append(uuid: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expect?: ChunkExpectation, signal?: AbortSignal): Promise<UploadInfo> {
    return this.store.append(this.name, uuid, source, expect, signal);
  }

  async commit(uuid: string, digest: Digest, options: { readonly signal?: AbortSignal; readonly at?: number } = {}): Promise<BlobDescriptor> {
    const blob = await this.store.complete(this.name, uuid, digest, this.content, options.signal, options.at);
    await this.blobs.link(blob.digest);
    return blob;
  }

  cancel(uuid: string): Promise<void> {
    return this.store.cancel(this.name, uuid);
  }
}
