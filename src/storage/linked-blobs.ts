import type { ByteSink, StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';
import * as paths from './paths.js';
import { listDigestDirs } from './listing.js';
import type { LinkCache } from './link-cache.js';
import type { BlobContent, BlobDescriptor, LinkedBlobs, RepositoryRecorder, SendOptions } from './services.js';

/** What a repository's linked blobs are built from. */
export interface LinkedBlobsDeps {
  readonly driver: StorageDriver;
  readonly content: BlobContent;
  readonly links: LinkCache;
  readonly recorder: RepositoryRecorder;
  /** Another repository's linked blobs (the source of a mount), wrapped as this one is. */
  readonly repositoryBlobs: (name: RepositoryName) => LinkedBlobs;
}

/** A repository's blob links (`_layers/<alg>/<hex>/link`, and its manifests' revision links). */
export class RepositoryBlobs implements LinkedBlobs {
  constructor(
    readonly name: RepositoryName,
    private readonly deps: LinkedBlobsDeps,
  ) {}

  async stat(digest: Digest): Promise<BlobDescriptor> {
    if (!(await this.isLinked(digest))) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
    return this.deps.content.stat(digest);
  }

  send(digest: Digest, dest: ByteSink, offset: number, length: number, options?: SendOptions): Promise<void> {
    return this.deps.content.send(digest, dest, offset, length, options);
  }

  redirectUrl(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    return this.deps.content.redirectUrl(digest, method);
  }

  async link(digest: Digest): Promise<void> {
    const path = paths.layerLinkPath(this.name, digest);
    await this.deps.driver.putContent(path, Buffer.from(digest));
    this.deps.links.forget(path);
    await this.deps.recorder.record(this.name);
  }

  async unlink(digest: Digest): Promise<void> {
    const path = paths.layerLinkPath(this.name, digest);
    this.deps.links.forget(path);
    try {
      await this.deps.driver.delete(path);
    } catch (err) {
      if (isPathNotFound(err)) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
      throw err;
    }
  }

  async mount(digest: Digest, source: RepositoryName): Promise<BlobDescriptor | undefined> {
    let descriptor: BlobDescriptor;
    try {
      descriptor = await this.deps.repositoryBlobs(source).stat(digest);
    } catch (err) {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') return undefined;
      throw err;
    }
    await this.link(digest);
    return descriptor;
  }

  enumerate(): Promise<Digest[]> {
    return listDigestDirs(this.deps.driver, paths.layersPath(this.name));
  }

  private async isLinked(digest: Digest): Promise<boolean> {
    if (await this.deps.links.exists(paths.layerLinkPath(this.name, digest))) return true;
    return this.deps.links.exists(paths.revisionLinkPath(this.name, digest));
  }
}
