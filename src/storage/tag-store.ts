import pLimit from 'p-limit';
import type { StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import * as paths from './paths.js';
import type { LinkCache } from './link-cache.js';
import type { TagLists } from './tag-list.js';
import { compareBytes, pageAfter } from './catalog.js';
import type { Page, RevisionIndex, TagStore } from './services.js';
import { repositoryExists } from './repository-deleter.js';

/** What a repository's tag store is built from. */
export interface TagStoreDeps {
  readonly driver: StorageDriver;
  readonly links: LinkCache;
  readonly tagLists: TagLists;
  readonly revisions: RevisionIndex;
  /** Tags read at once by lookup (storage.tag.concurrencylimit). */
  readonly concurrency: number;
}

/** The tags of one repository (`_manifests/tags/<tag>/{current,index}`), as Distribution lays them out. */
export class RepositoryTags implements TagStore {
  constructor(
    readonly name: RepositoryName,
    private readonly deps: TagStoreDeps,
  ) {}

  async get(tag: Tag): Promise<Digest> {
    const digest = await this.deps.links.readLink(paths.tagCurrentLinkPath(this.name, tag));
    if (digest === undefined) throw new OciError('MANIFEST_UNKNOWN', { detail: { tag } });
    return digest;
  }

  /**
   * Records the tag in its index first, as Distribution does. A crash between the two writes
   * leaves a tag directory without a current link: not a tag (list and get both need the current
   * link), so the tag is absent, never half there.
   */
  async tag(tag: Tag, digest: Digest): Promise<void> {
    const { driver, links } = this.deps;
    await driver.putContent(paths.tagIndexLinkPath(this.name, tag, digest), Buffer.from(digest));
    const current = paths.tagCurrentLinkPath(this.name, tag);
    await driver.putContent(current, Buffer.from(digest));
    links.forget(current);
  }

  async untag(tag: Tag): Promise<void> {
    this.deps.links.forget(paths.tagPath(this.name, tag));
    try {
      await this.deps.driver.delete(paths.tagPath(this.name, tag));
    } catch (err) {
      if (isPathNotFound(err)) throw new OciError('MANIFEST_UNKNOWN', { detail: { tag } });
      throw err;
    }
  }

  /**
   * A tag is listed only when it resolves: its current link names a revision stored in this
   * repository and not hidden. A tag directory left without a current link by a crash, or pointing
   * at a revision deleted concurrently, is neither listed nor resolvable, on every replica. Which
   * tags are stored comes from TagLists (see tag-list.ts); hidden revisions are asked of the
   * revision index only for the tags of the page (and one more, for the Link header).
   */
  async list(n: number | undefined, last: string | undefined): Promise<Page> {
    const { tags, digests } = (await this.deps.tagLists.stored(this.name)) ?? { tags: [], digests: [] };
    if (tags.length === 0 && !(await this.repositoryExists())) throw new OciError('NAME_UNKNOWN', { detail: { name: this.name } });
    const revisions = this.deps.revisions;
    if (!revisions.hides) return pageAfter(tags, n, last, compareBytes);
    let i = tags.length - pageAfter(tags, undefined, last, compareBytes).items.length;
    const wanted = n === undefined ? Infinity : n + 1;
    const out: string[] = [];
    while (i < tags.length && out.length < wanted) {
      const end = Math.min(tags.length, i + (wanted - out.length));
      const hidden = await revisions.hidden(this.name, digests.slice(i, end));
      for (; i < end; i++) if (!hidden.has(digests[i] as Digest)) out.push(tags[i] as string);
    }
    return pageAfter(out, n, undefined, compareBytes);
  }

  /** Reads every tag's current link from storage (not the cache: a delete must see the latest). */
  async lookup(digest: Digest): Promise<Tag[]> {
    const limit = pLimit(this.deps.concurrency);
    const tags = await this.allTags();
    const current = await Promise.all(tags.map((tag) => limit(() => this.readLink(paths.tagCurrentLinkPath(this.name, tag as Tag)))));
    return tags.filter((_, i) => current[i] === digest) as Tag[];
  }

  private async allTags(): Promise<readonly string[]> {
    try {
      return await this.deps.links.sortedNames(paths.tagsPath(this.name), compareBytes);
    } catch (err) {
      if (isPathNotFound(err)) return [];
      throw err;
    }
  }

  private async readLink(path: string): Promise<Digest | undefined> {
    try {
      return tryParseDigest((await this.deps.driver.getContent(path)).toString('utf8').trim());
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
  }

  private repositoryExists(): Promise<boolean> {
    return repositoryExists(this.deps.driver, this.name);
  }
}
