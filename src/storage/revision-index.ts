import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';
import * as paths from './paths.js';
import type { LinkCache } from './link-cache.js';
import type { RevisionIndex } from './services.js';

const NONE: ReadonlySet<Digest> = new Set();

/** The revision links of the Distribution layout; none is ever hidden (see GuardedRevisions for online GC). */
export class StoredRevisions implements RevisionIndex {
  readonly hides = false;

  constructor(
    private readonly driver: StorageDriver,
    private readonly links: LinkCache,
  ) {}

  has(name: RepositoryName, digest: Digest): Promise<boolean> {
    return this.links.exists(paths.revisionLinkPath(name, digest));
  }

  async add(name: RepositoryName, digest: Digest): Promise<void> {
    const link = paths.revisionLinkPath(name, digest);
    await this.driver.putContent(link, Buffer.from(digest));
    this.links.forget(link);
  }

  async remove(name: RepositoryName, digest: Digest): Promise<boolean> {
    const link = paths.revisionLinkPath(name, digest);
    if (!(await this.links.exists(link))) return false;
    const dir = link.slice(0, -'/link'.length);
    this.links.forget(dir);
    try {
      await this.driver.delete(dir);
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
    return true;
  }

  async hidden(): Promise<ReadonlySet<Digest>> {
    return NONE;
  }
}
