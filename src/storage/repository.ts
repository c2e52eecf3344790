import type { ByteSink, StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import { digestOf, digestAlgorithm, tryParseDigest, type Digest } from '../oci/digest.js';
import type { ManifestReference, RepositoryName, Tag } from '../oci/reference.js';
import { parseManifest, type ParsedManifest } from '../oci/manifest.js';
import type { ManifestMediaType } from '../oci/media-types.js';
import * as paths from './paths.js';
import type { BlobDescriptor, BlobStore, SendOptions } from './blob-store.js';
import type { UploadStore } from './upload.js';
import { readManifestInfo, type ManifestInfo } from './manifest-info.js';
import { Lru } from './lru.js';
import type { LinkCache } from './link-cache.js';
import type { TagLists } from './tag-list.js';
import { pageAfter, type SortedPage } from './catalog.js';
import { checkLayerUrls, childMustExist, DEFAULT_MANIFEST_RULES, type ManifestRules } from './manifest-rules.js';

/** A manifest as served: its bytes, digest and media type. */
export interface StoredManifest {
  readonly digest: Digest;
  readonly mediaType: ManifestMediaType;
  readonly body: Buffer;
}

/** A page of a sorted listing. */
export type Page = SortedPage;

/** A referrer as the referrers API lists it (an OCI descriptor). */
export interface Referrer {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The default bound of the manifest cache (storage.cache.manifestbytes). */
export const DEFAULT_MANIFEST_CACHE_BYTES = 64 * 1024 * 1024;

/** Caches shared by all repositories of a registry: manifest content is immutable per digest. */
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

/** How many existence checks a manifest push runs at once. */
const CHECK_CONCURRENCY = 16;

/**
 * One repository: its blob links, manifests, tags, uploads and referrers, over the Distribution
 * layout (see paths.ts). All rules about what may be stored live here; the HTTP layer only
 * translates requests.
 */
export class Repository {
  constructor(
    readonly name: RepositoryName,
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    readonly uploads: UploadStore,
    private readonly manifestCache: ManifestCache,
    private readonly links: LinkCache,
    private readonly tagLists: TagLists,
    private readonly rules: ManifestRules = DEFAULT_MANIFEST_RULES,
  ) {}

  // ---- blobs ----

  /** The blob if it is linked into this repository (as a layer or a manifest); else BLOB_UNKNOWN. */
  async statBlob(digest: Digest): Promise<BlobDescriptor> {
    if (!(await this.isLinked(digest))) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
    return this.blobs.stat(digest);
  }

  /** Writes a range of a blob into `dest` without ending it (see BlobStore.send). */
  async sendBlob(digest: Digest, dest: ByteSink, offset: number, length: number, options?: SendOptions): Promise<void> {
    return this.blobs.send(digest, dest, offset, length, options);
  }

  async blobRedirect(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    return this.blobs.redirectUrl(digest, method);
  }

  /** Links an existing blob into this repository (after an upload or a mount). */
  async linkBlob(digest: Digest): Promise<void> {
    const path = paths.layerLinkPath(this.name, digest);
    await this.driver.putContent(path, Buffer.from(digest));
    this.links.forget(path);
  }

  /** Removes the repository's link to a blob (the content stays until garbage collection). */
  async unlinkBlob(digest: Digest): Promise<void> {
    const path = paths.layerLinkPath(this.name, digest);
    this.links.forget(path);
    try {
      await this.driver.delete(path);
    } catch (err) {
      if (isPathNotFound(err)) throw new OciError('BLOB_UNKNOWN', { detail: { digest } });
      throw err;
    }
  }

  /**
   * Cross-repository mount: links `digest` from `source` into this repository. Returns undefined
   * when the source does not have the blob (the caller then starts an ordinary upload).
   */
  async mountBlob(digest: Digest, source: Repository): Promise<BlobDescriptor | undefined> {
    let descriptor: BlobDescriptor;
    try {
      descriptor = await source.statBlob(digest);
    } catch (err) {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') return undefined;
      throw err;
    }
    await this.linkBlob(digest);
    return descriptor;
  }

  private async isLinked(digest: Digest): Promise<boolean> {
    if (await this.links.exists(paths.layerLinkPath(this.name, digest))) return true;
    return this.links.exists(paths.revisionLinkPath(this.name, digest));
  }

  // ---- manifests ----

  /** Resolves a tag to the digest it points to; MANIFEST_UNKNOWN when there is no such tag. */
  async resolveTag(tag: Tag): Promise<Digest> {
    const digest = await this.links.readLink(paths.tagCurrentLinkPath(this.name, tag));
    if (digest === undefined) throw new OciError('MANIFEST_UNKNOWN', { detail: { tag } });
    return digest;
  }

  /** The manifest a tag or digest names; MANIFEST_UNKNOWN when it is not in this repository. */
  async getManifest(ref: ManifestReference): Promise<StoredManifest> {
    const digest = ref.kind === 'tag' ? await this.resolveTag(ref.tag) : ref.digest;
    // A revision condemned by online GC is unknown, so a client pushes it again (which pardons it).
    if (!(await this.links.exists(paths.revisionLinkPath(this.name, digest))) || (await this.isRevisionCondemned(digest))) {
      throw new OciError('MANIFEST_UNKNOWN', { detail: ref.kind === 'tag' ? { tag: ref.tag, digest } : { digest } });
    }
    const { body, info } = await this.readManifest(digest);
    return { digest, mediaType: info.mediaType, body };
  }

  /**
   * Stores a manifest under a tag or its digest. Verifies the body parses as `contentType`, that
   * a digest reference matches the content, and that every referenced blob and child manifest is
   * in this repository (MANIFEST_BLOB_UNKNOWN otherwise; which children of an index must be there, and
   * which layer URLs are acceptable (MANIFEST_INVALID otherwise), follow the ManifestRules). The tag moves last, so a reader never
   * sees a tag pointing at a manifest that is not fully stored.
   */
  async putManifest(ref: ManifestReference, body: Buffer, contentType: string): Promise<{ digest: Digest; manifest: ParsedManifest }> {
    if (body.byteLength === 0) throw new OciError('MANIFEST_INVALID', { message: 'empty manifest' });
    const manifest = parseManifest(body, contentType);
    const algorithm = ref.kind === 'digest' ? digestAlgorithm(ref.digest) : 'sha256';
    const digest = digestOf(body, algorithm);
    if (ref.kind === 'digest' && ref.digest !== digest) {
      throw new OciError('DIGEST_INVALID', { message: 'manifest digest does not match the content', detail: { expected: ref.digest, actual: digest } });
    }
    checkLayerUrls(manifest, this.rules);
    await this.verifyReferences(manifest);
    await this.blobs.putContent(digest, body);
    this.manifestCache.set(digest, body, readManifestInfo(body));
    // Pardon before writing the link: online GC's delete re-checks the condemnation after moving the link away.
    if (await this.isRevisionCondemned(digest)) await this.blobs.guard?.pardonRevision(this.name, digest);
    const revision = paths.revisionLinkPath(this.name, digest);
    await this.driver.putContent(revision, Buffer.from(digest));
    this.links.forget(revision);
    if (ref.kind === 'tag') {
      await this.tag(ref.tag, digest);
      // A DELETE by digest (on any replica) may have removed the revision between the two writes:
      // this push then comes last, so it stores the revision again rather than leave a tag that names
      // a deleted revision (hidden by listTags, but listed by Distribution over the same storage).
      if (!(await this.links.exists(revision))) {
        await this.driver.putContent(revision, Buffer.from(digest));
        this.links.forget(revision);
      }
    }
    return { digest, manifest };
  }

  private async verifyReferences(manifest: ParsedManifest): Promise<void> {
    const missing: Array<{ digest: Digest; mediaType: string }> = [];
    const checks: Array<() => Promise<void>> = [];
    for (const d of manifest.blobs) {
      checks.push(async () => {
        try {
          const stat = await this.statBlob(d.digest);
          if (stat.size !== d.size) missing.push({ digest: d.digest, mediaType: d.mediaType });
        } catch (err) {
          if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') missing.push({ digest: d.digest, mediaType: d.mediaType });
          else throw err;
        }
      });
    }
    for (const d of manifest.manifests) {
      if (!childMustExist(d, this.rules)) continue;
      checks.push(async () => {
        if (!(await this.links.exists(paths.revisionLinkPath(this.name, d.digest))) || (await this.isRevisionCondemned(d.digest))) {
          missing.push({ digest: d.digest, mediaType: d.mediaType });
        }
      });
    }
    for (let i = 0; i < checks.length; i += CHECK_CONCURRENCY) {
      await Promise.all(checks.slice(i, i + CHECK_CONCURRENCY).map((c) => c()));
    }
    if (missing.length > 0) {
      throw new OciError('MANIFEST_BLOB_UNKNOWN', { detail: { missing: missing.slice(0, 20) } });
    }
  }

  /**
   * Deletes a manifest revision, then every tag pointing at it; returns those tags. The revision
   * goes first: from that moment a tag still pointing at it is dangling, which neither tags/list
   * nor GET shows (see listTags), so a tag written concurrently (by any replica) can never be
   * listed and unresolvable. The tags found afterwards are removed so the layout stays what
   * Distribution expects; one a concurrent push writes after this scan stays dangling (and hidden).
   */
  async deleteManifest(digest: Digest): Promise<Tag[]> {
    const link = paths.revisionLinkPath(this.name, digest);
    if (!(await this.exists(link))) throw new OciError('MANIFEST_UNKNOWN', { detail: { digest } });
    const dir = link.slice(0, -'/link'.length);
    this.links.forget(dir);
    await this.driver.delete(dir).catch((err: unknown) => {
      if (!isPathNotFound(err)) throw err;
    });
    const removed: Tag[] = [];
    for (const tag of await this.allTags()) {
      const current = await this.readLink(paths.tagCurrentLinkPath(this.name, tag as Tag));
      if (current !== digest) continue;
      try {
        await this.deleteTag(tag as Tag);
        removed.push(tag as Tag);
      } catch (err) {
        // Another DELETE removed it first.
        if (!(err instanceof OciError && err.code === 'MANIFEST_UNKNOWN')) throw err;
      }
    }
    return removed;
  }

  // ---- tags ----

  /**
   * Points `tag` at `digest`, recording it in the tag's index first, as Distribution does. A crash
   * between the two writes leaves a tag directory without a current link: not a tag (listTags
   * and resolveTag both need the current link), so the tag is absent, never half there.
   */
  async tag(tag: Tag, digest: Digest): Promise<void> {
    await this.driver.putContent(paths.tagIndexLinkPath(this.name, tag, digest), Buffer.from(digest));
    const current = paths.tagCurrentLinkPath(this.name, tag);
    await this.driver.putContent(current, Buffer.from(digest));
    this.links.forget(current);
  }

  /** Removes a tag (not the manifest); MANIFEST_UNKNOWN when absent. */
  async deleteTag(tag: Tag): Promise<void> {
    this.links.forget(paths.tagPath(this.name, tag));
    try {
      await this.driver.delete(paths.tagPath(this.name, tag));
    } catch (err) {
      if (isPathNotFound(err)) throw new OciError('MANIFEST_UNKNOWN', { detail: { tag } });
      throw err;
    }
  }

  /** True when the repository exists (has ever had a manifest, a layer or an upload). */
  async exists(path?: string): Promise<boolean> {
    try {
      await this.driver.stat(path ?? paths.repositoryPath(this.name));
      return true;
    } catch (err) {
      if (isPathNotFound(err)) return false;
      throw err;
    }
  }

  private async allTags(): Promise<readonly string[]> {
    try {
      return await this.links.sortedNames(paths.tagsPath(this.name), compareBytes);
    } catch (err) {
      if (isPathNotFound(err)) return [];
      throw err;
    }
  }

  /**
   * Tags in lexical order, after `last`, at most `n`; NAME_UNKNOWN when the repository does not
   * exist. A tag is listed only when it resolves: its current link names a revision stored (and
   * not condemned) in this repository. A tag directory left without a current link by a crash, or
   * pointing at a revision deleted concurrently, is therefore neither listed nor resolvable, on
   * every replica. Which tags are stored comes from TagLists (validated by a few directory
   * versions, or two walks on object stores; see tag-list.ts); condemnation is checked here, for
   * the tags of the page (and one more, for the Link header) only.
   */
  async listTags(n: number | undefined, last: string | undefined): Promise<Page> {
    const { tags, digests } = (await this.tagLists.stored(this.name)) ?? { tags: [], digests: [] };
    if (tags.length === 0 && !(await this.exists())) throw new OciError('NAME_UNKNOWN', { detail: { name: this.name } });
    if (this.blobs.guard === undefined) return pageAfter(tags, n, last, compareBytes);
    const start = tags.length - pageAfter(tags, undefined, last, compareBytes).items.length;
    const wanted = n === undefined ? Infinity : n + 1;
    const condemned = new Map<Digest, Promise<boolean>>();
    const out: string[] = [];
    for (let i = start; i < tags.length && out.length < wanted; i++) {
      const digest = digests[i] as Digest;
      let known = condemned.get(digest);
      if (known === undefined) {
        known = this.isRevisionCondemned(digest);
        condemned.set(digest, known);
      }
      if (!(await known)) out.push(tags[i] as string);
    }
    return pageAfter(out, n, undefined, compareBytes);
  }

  // ---- referrers ----

  /**
   * Manifests in this repository whose `subject` is `digest`, optionally only those of one
   * artifact type. Computed from the manifests themselves (no separate index), so content written
   * by any registry is listed; parsed manifests are cached by digest.
   */
  async referrers(digest: Digest, artifactType?: string): Promise<Referrer[]> {
    const revisions = await this.listRevisions();
    const out: Referrer[] = [];
    const CONCURRENCY = 16;
    for (let i = 0; i < revisions.length; i += CONCURRENCY) {
      const batch = await Promise.all(
        revisions.slice(i, i + CONCURRENCY).map(async (rev) => {
          try {
            return { rev, info: (await this.readManifest(rev)).info };
          } catch (err) {
            if (err instanceof OciError && err.code === 'MANIFEST_UNKNOWN') return undefined;
            throw err;
          }
        }),
      );
      for (const entry of batch) {
        if (entry === undefined || entry.info.subject !== digest) continue;
        if (artifactType !== undefined && entry.info.artifactType !== artifactType) continue;
        // Online GC leaves an empty revision directory behind on the filesystem driver: only a link counts.
        if (!(await this.exists(paths.revisionLinkPath(this.name, entry.rev)))) continue;
        const r: { -readonly [K in keyof Referrer]: Referrer[K] } = { mediaType: entry.info.mediaType, digest: entry.rev, size: entry.info.size };
        if (entry.info.artifactType !== undefined) r.artifactType = entry.info.artifactType;
        if (entry.info.annotations !== undefined) r.annotations = entry.info.annotations;
        out.push(r);
      }
    }
    out.sort((a, b) => compareBytes(a.digest, b.digest));
    return out;
  }

  /** Every manifest digest stored in this repository. */
  async listRevisions(): Promise<Digest[]> {
    const out: Digest[] = [];
    let algorithms: string[];
    try {
      algorithms = await this.driver.list(paths.revisionsPath(this.name));
    } catch (err) {
      if (isPathNotFound(err)) return [];
      throw err;
    }
    for (const algPath of algorithms) {
      const alg = algPath.slice(algPath.lastIndexOf('/') + 1);
      const hexes = await this.driver.list(algPath).catch((err: unknown) => {
        if (isPathNotFound(err)) return [];
        throw err;
      });
      for (const hexPath of hexes) {
        const digest = tryParseDigest(`${alg}:${hexPath.slice(hexPath.lastIndexOf('/') + 1)}`);
        if (digest !== undefined) out.push(digest);
      }
    }
    return out;
  }

  // ---- helpers ----

  private async isRevisionCondemned(digest: Digest): Promise<boolean> {
    const guard = this.blobs.guard;
    return guard !== undefined && (await guard.isRevisionCondemned(this.name, digest));
  }

  private async readManifest(digest: Digest): Promise<{ body: Buffer; info: ManifestInfo }> {
    const cached = this.manifestCache.get(digest);
    if (cached !== undefined) return cached;
    let body: Buffer;
    try {
      body = await this.blobs.getContent(digest);
    } catch (err) {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') throw new OciError('MANIFEST_UNKNOWN', { detail: { digest } });
      throw err;
    }
    const info = readManifestInfo(body);
    this.manifestCache.set(digest, body, info);
    return { body, info };
  }

  private async readLink(path: string): Promise<Digest | undefined> {
    try {
      const content = (await this.driver.getContent(path)).toString('utf8').trim();
      return tryParseDigest(content);
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
  }
}

/** Byte-wise comparison, the order Distribution's listings use. */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

