/** Assembles a manifest's summary for the management API from what the inventory read (pure). */
import type { Digest } from '../oci/digest.js';
import { platformOf, storedBlobs, type ImageConfigSummary, type ManifestFootprint } from '../oci/image-summary.js';
import { compareBytes } from './catalog.js';
import type { Referrer } from './services.js';
import type { ChildView, ManifestSummary, ReferrerGroup } from './inventory-types.js';

export interface ManifestParts {
  readonly digest: Digest;
  readonly footprint: ManifestFootprint;
  /** The footprint of each of `footprint.children`, in order (undefined: not stored). */
  readonly children: ReadonlyArray<ManifestFootprint | undefined>;
  readonly config: ImageConfigSummary | undefined;
  readonly referrers: readonly Referrer[];
  /** The image's deduplicated size. */
  readonly size: number;
}

export function summarizeManifest(parts: ManifestParts): ManifestSummary {
  const { digest, footprint: f } = parts;
  const manifests: ChildView[] = f.children.map((c, i) => {
    const child = parts.children[i];
    const blobs = new Map<Digest, number>();
    if (child !== undefined) for (const b of storedBlobs(child)) blobs.set(b.digest, b.size);
    let size = c.size;
    for (const bytes of blobs.values()) size += bytes;
    return { ...c, size, manifestSize: c.size };
  });
  const configPlatform = parts.config === undefined ? undefined : platformOf(parts.config);
  const platforms = f.children.length > 0 ? [...new Set(f.children.map((c) => c.platform).filter((p): p is string => p !== undefined))] : configPlatform === undefined ? [] : [configPlatform];
  const out: { -readonly [K in keyof ManifestSummary]: ManifestSummary[K] } = {
    digest,
    mediaType: f.mediaType,
    size: parts.size,
    manifestSize: f.size,
    platforms,
    layers: f.layers,
    manifests,
    referrers: groupReferrers(parts.referrers),
  };
  if (f.artifactType !== undefined) out.artifactType = f.artifactType;
  if (f.subject !== undefined) out.subject = f.subject;
  if (f.annotations !== undefined) out.annotations = f.annotations;
  if (f.config !== undefined) out.config = { ...f.config, ...(parts.config ?? {}) };
  return out;
}

/** Referrers grouped by artifact type (sorted; `''` for those that declare none), each group sorted by digest. */
function groupReferrers(referrers: readonly Referrer[]): ReferrerGroup[] {
  const groups = new Map<string, Referrer[]>();
  for (const r of referrers) {
    const type = r.artifactType ?? '';
    const group = groups.get(type);
    if (group === undefined) groups.set(type, [r]);
    else group.push(r);
  }
  return [...groups.keys()].sort(compareBytes).map((artifactType) => ({ artifactType, manifests: groups.get(artifactType) ?? [] }));
}
