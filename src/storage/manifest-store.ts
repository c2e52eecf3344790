import type { StorageDriver } from './driver/driver.js';
import { listDigestDirs } from './listing.js';
import { OciError } from '../oci/errors.js';
import { digestOf, digestAlgorithm, type Digest } from '../oci/digest.js';
import type { ManifestReference, RepositoryName, Tag } from '../oci/reference.js';
import { parseManifest, type ParsedManifest } from '../oci/manifest.js';
import * as paths from './paths.js';
import { readManifestInfo, type ManifestInfo } from './manifest-info.js';
import type { ManifestCache } from './manifest-cache.js';
import { compareBytes } from './catalog.js';
import { checkLayerUrls, childMustExist, type ManifestRules } from './manifest-rules.js';
import type { BlobContent, LinkedBlobs, ManifestPush, ManifestStore, PushedManifest, Referrer, RepositoryRecorder, RevisionIndex, StoredManifest, TagStore } from './services.js';

/** What a repository's manifest store is built from (its peers as wrapped for this repository). */
export interface ManifestStoreDeps {
  readonly driver: StorageDriver;
  readonly content: BlobContent;
  readonly revisions: RevisionIndex;
  readonly blobs: LinkedBlobs;
  readonly tags: TagStore;
  readonly cache: ManifestCache;
  readonly recorder: RepositoryRecorder;
  readonly rules: ManifestRules;
}

/** Existence checks a manifest push, and manifests a referrers listing, reads at once. */
const CONCURRENCY = 16;

/** The manifests of one repository: content in the blob store, a revision link per manifest. */
export class RepositoryManifests implements ManifestStore {
  constructor(
    readonly name: RepositoryName,
    private readonly deps: ManifestStoreDeps,
  ) {}

  async get(ref: ManifestReference): Promise<StoredManifest> {
    const digest = ref.kind === 'tag' ? await this.deps.tags.get(ref.tag) : ref.digest;
    if (!(await this.deps.revisions.has(this.name, digest))) {
      throw new OciError('MANIFEST_UNKNOWN', { detail: ref.kind === 'tag' ? { tag: ref.tag, digest } : { digest } });
    }
    const { body, info } = await this.read(digest);
    return { digest, mediaType: info.mediaType, body };
  }

  /**
   * Which children of an index must be there, and which layer URLs are acceptable, follow the
   * ManifestRules. The revision is written before any tag; after the tags, it is written again if a
   * DELETE by digest (on any replica) removed it in between: this push then comes last, and must not
   * leave a tag naming a deleted revision (hidden by list, but listed by Distribution over the same storage).
   */
  async put(push: ManifestPush): Promise<PushedManifest> {
    const { body } = push;
    if (body.byteLength === 0) throw new OciError('MANIFEST_INVALID', { message: 'empty manifest' });
    const manifest = parseManifest(body, push.contentType);
    const digest = digestOf(body, push.digest !== undefined ? digestAlgorithm(push.digest) : 'sha256');
    if (push.digest !== undefined && push.digest !== digest) {
      throw new OciError('DIGEST_INVALID', { message: 'manifest digest does not match the content', detail: { expected: push.digest, actual: digest } });
    }
    checkLayerUrls(manifest, this.deps.rules);
    await this.verifyReferences(manifest);
    await this.deps.content.putContent(digest, body);
    this.deps.cache.set(digest, body, readManifestInfo(body));
    await this.deps.revisions.add(this.name, digest);
    for (const tag of push.tags) await this.deps.tags.tag(tag, digest);
    if (push.tags.length > 0 && !(await this.deps.revisions.has(this.name, digest))) await this.deps.revisions.add(this.name, digest);
    await this.deps.recorder.record(this.name);
    return { digest, manifest, size: body.byteLength, tags: push.tags };
  }

  /**
   * The revision goes first: from that moment a tag still pointing at it is dangling, which
   * neither tags/list nor GET shows, so a tag written concurrently (by any replica) can never be
   * listed and unresolvable. The tags found afterwards are removed so the layout stays what
   * Distribution expects; one a concurrent push writes after this scan stays dangling (and hidden).
   */
  async delete(digest: Digest): Promise<Tag[]> {
    if (!(await this.deps.revisions.remove(this.name, digest))) throw new OciError('MANIFEST_UNKNOWN', { detail: { digest } });
    const removed: Tag[] = [];
    for (const tag of await this.deps.tags.lookup(digest)) {
      try {
        await this.deps.tags.untag(tag);
        removed.push(tag);
      } catch (err) {
        // Another DELETE removed it first.
        if (!(err instanceof OciError && err.code === 'MANIFEST_UNKNOWN')) throw err;
      }
    }
    return removed;
  }

  /**
   * Computed from the manifests themselves (no separate index), so content written by any
   * registry is listed; parsed manifests are cached by digest.
   */
  async referrers(digest: Digest, artifactType?: string): Promise<Referrer[]> {
    const revisions = await this.enumerate();
    const out: Referrer[] = [];
    for (let i = 0; i < revisions.length; i += CONCURRENCY) {
      const batch = await Promise.all(revisions.slice(i, i + CONCURRENCY).map((rev) => this.referrer(rev, digest, artifactType)));
      for (const r of batch) if (r !== undefined) out.push(r);
    }
    out.sort((a, b) => compareBytes(a.digest, b.digest));
    return out;
  }

  enumerate(): Promise<Digest[]> {
    return listDigestDirs(this.deps.driver, paths.revisionsPath(this.name));
  }

  /** `rev` as a referrer of `subject`, when it is one (of `artifactType`, when given). */
  private async referrer(rev: Digest, subject: Digest, artifactType: string | undefined): Promise<Referrer | undefined> {
    let info: ManifestInfo;
    try {
      info = (await this.read(rev)).info;
    } catch (err) {
      if (err instanceof OciError && err.code === 'MANIFEST_UNKNOWN') return undefined;
      throw err;
    }
    if (info.subject !== subject || (artifactType !== undefined && info.artifactType !== artifactType)) return undefined;
    // Online GC leaves an empty revision directory behind on the filesystem driver: only a link counts.
    if (!(await this.deps.revisions.has(this.name, rev))) return undefined;
    const r: { -readonly [K in keyof Referrer]: Referrer[K] } = { mediaType: info.mediaType, digest: rev, size: info.size };
    if (info.artifactType !== undefined) r.artifactType = info.artifactType;
    if (info.annotations !== undefined) r.annotations = info.annotations;
    return r;
  }

  private async verifyReferences(manifest: ParsedManifest): Promise<void> {
    const missing: Array<{ digest: Digest; mediaType: string }> = [];
    const checks: Array<() => Promise<void>> = [];
    for (const d of manifest.blobs) {
      checks.push(async () => {
        try {
          const stat = await this.deps.blobs.stat(d.digest);
          if (stat.size !== d.size) missing.push({ digest: d.digest, mediaType: d.mediaType });
        } catch (err) {
          if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') missing.push({ digest: d.digest, mediaType: d.mediaType });
          else throw err;
        }
      });
    }
    for (const d of manifest.manifests) {
      if (!childMustExist(d, this.deps.rules)) continue;
      checks.push(async () => {
        if (!(await this.deps.revisions.has(this.name, d.digest))) missing.push({ digest: d.digest, mediaType: d.mediaType });
      });
    }
    for (let i = 0; i < checks.length; i += CONCURRENCY) {
      await Promise.all(checks.slice(i, i + CONCURRENCY).map((c) => c()));
    }
    if (missing.length > 0) throw new OciError('MANIFEST_BLOB_UNKNOWN', { detail: { missing: missing.slice(0, 20) } });
  }

  private async read(digest: Digest): Promise<{ body: Buffer; info: ManifestInfo }> {
    const cached = this.deps.cache.get(digest);
    if (cached !== undefined) return cached;
    let body: Buffer;
    try {
      body = await this.deps.content.getContent(digest);
    } catch (err) {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') throw new OciError('MANIFEST_UNKNOWN', { detail: { digest } });
      throw err;
    }
    const info = readManifestInfo(body);
    this.deps.cache.set(digest, body, info);
    return { body, info };
  }
}
