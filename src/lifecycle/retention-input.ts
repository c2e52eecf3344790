/**
 * What retention reads of storage, and how it becomes the planner's input (pure). The wiring implements
 * RetentionSource over the storage services (TagStore, ManifestStore) and the link files' times; this
 * module only assembles, so the planner's semantics stay in retention-plan.ts.
 */
import type { Digest } from '../oci/digest.js';
import type { ParsedManifest } from '../oci/manifest.js';
import type { ManifestState, TagState } from './retention-plan.js';

/** A tag as storage reports it: where it points and when it was last pushed (its link written). */
export interface StoredTag {
  readonly tag: string;
  readonly digest: Digest;
  readonly pushedAt: Date;
}

/** A manifest revision as storage reports it: parsed, with when it was pushed (its revision link written) if known. */
export interface StoredRevision {
  readonly digest: Digest;
  readonly manifest: ParsedManifest;
  readonly pushedAt?: Date | undefined;
}

/**
 * What retention needs of one repository. Rejects with NAME_UNKNOWN for a repository that does not
 * exist (deleted since it was listed: the run skips it).
 */
export interface RetentionSource {
  /** Every tag of the repository. */
  tags(repository: string): Promise<StoredTag[]>;
  /** Every manifest revision of the repository, tagged or not. */
  revisions(repository: string): Promise<StoredRevision[]>;
}

/**
 * The planner's view of one repository. `pulls`: the pull-time store's times (ms) by manifest digest.
 * A manifest's pull time is its own; a tag's is the latest pull of its manifest or of anything that
 * manifest reaches as an index (its platform images, recursively), because clients pull an image
 * index's images by digest, and deployments often pin one of them. Referrers' pulls do not count.
 */
export function repositoryState(tags: readonly StoredTag[], revisions: readonly StoredRevision[], pulls: ReadonlyMap<Digest, number>): { tags: TagState[]; manifests: ManifestState[] } {
  const children = new Map(revisions.map((r) => [r.digest, r.manifest.manifests.map((d) => d.digest)]));
  const lastPull = (digest: Digest): number | undefined => {
    let latest: number | undefined;
    const seen = new Set<Digest>();
    const queue = [digest];
    for (let d = queue.pop(); d !== undefined; d = queue.pop()) {
      if (seen.has(d)) continue;
      seen.add(d);
      const at = pulls.get(d);
      if (at !== undefined && (latest === undefined || at > latest)) latest = at;
      queue.push(...(children.get(d) ?? []));
    }
    return latest;
  };
  const date = (ms: number | undefined): { pulledAt?: Date } => (ms === undefined ? {} : { pulledAt: new Date(ms) });
  return {
    tags: tags.map((t) => ({ tag: t.tag, digest: t.digest, pushedAt: t.pushedAt, ...date(lastPull(t.digest)) })),
    manifests: revisions.map((r) => ({
      digest: r.digest,
      mediaType: r.manifest.mediaType,
      ...(r.pushedAt !== undefined ? { pushedAt: r.pushedAt } : {}),
      children: r.manifest.manifests.map((d) => d.digest),
      ...(r.manifest.subject !== undefined ? { subject: r.manifest.subject.digest } : {}),
      ...date(pulls.get(r.digest)),
    })),
  };
}
