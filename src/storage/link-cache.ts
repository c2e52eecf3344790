import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import { Lru } from './lru.js';

/**
 * Link files (a tag's `current/link` above all) read on every manifest GET, kept in memory with
 * the file's version (see FileInfo.version) and validated with one stat per read, instead of an
 * open/read/close: never stale, whoever wrote the file, replicas included. Existence checks are
 * not cached at all (a plain stat), so a deletion through any replica is seen at once. Drivers
 * that report no version are read every time.
 */
export class LinkCache {
  private readonly links = new Lru<string, { digest: Digest; version: string }>(50_000);
  /** Learned from the first stat: a driver without versions is read directly (no extra stat). */
  private versioned: boolean | undefined;

  constructor(private readonly driver: StorageDriver) {}

  /** The digest a link file holds, or undefined when it is absent or not a digest. */
  async readLink(path: string): Promise<Digest | undefined> {
    try {
      if (this.versioned === false) return tryParseDigest((await this.driver.getContent(path)).toString('utf8').trim());
      const cached = this.links.get(path);
      const before = (await this.driver.stat(path)).version;
      this.versioned ??= before !== undefined;
      if (cached !== undefined && before !== undefined && before === cached.version) return cached.digest;
      const content = (await this.driver.getContent(path)).toString('utf8').trim();
      const digest = tryParseDigest(content);
      if (digest === undefined) return undefined;
      // Cache only when no write slipped in between the two stats: the content read then belongs
      // to that version, so a cached entry is never stale.
      if (before !== undefined && (await this.driver.stat(path)).version === before) this.links.set(path, { digest, version: before });
      return digest;
    } catch (err) {
      if (isPathNotFound(err)) {
        this.links.delete(path);
        return undefined;
      }
      throw err;
    }
  }

  /** True when a link file exists. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.driver.stat(path);
      return true;
    } catch (err) {
      if (isPathNotFound(err)) return false;
      throw err;
    }
  }

  /** Forgets a link this process wrote or deleted (or everything below a deleted directory). */
  forget(pathOrDir: string): void {
    this.links.delete(pathOrDir);
    if (!pathOrDir.endsWith('/link')) {
      const prefix = `${pathOrDir}/`;
      this.links.deleteWhere((k) => k.startsWith(prefix));
    }
  }
}
