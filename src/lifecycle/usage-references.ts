/**
 * What counts toward a quota, pure: the references the wiring adds to and removes from the UsageLedger
 * (quota.ts), so pushes, deletes and `berth usage --rebuild` count alike. A repository references
 *
 * - each blob linked into it (a layer link: an upload commit or a mount adds one, an unlink removes it);
 * - each manifest revision, with its own bytes and the blobs it names (config and layers; foreign layers,
 *   whose bytes are elsewhere, excluded): a manifest push adds these, a manifest delete removes them.
 *
 * An index's children are manifests of the repository in their own right, counted when they are pushed,
 * so an index references only its own bytes. A blob referenced both by its link and by manifests stays
 * counted until the last reference goes; it counts once per quota either way.
 */
import type { Digest } from '../oci/digest.js';
import type { ParsedManifest } from '../oci/manifest.js';
import type { AddedBlob } from './quota.js';

/** The references a manifest revision brings: itself (`size` bytes) and its config and layers, each blob once. */
export function manifestReferences(digest: Digest, size: number, manifest: ParsedManifest): AddedBlob[] {
  const seen = new Set<Digest>([digest]);
  const out: AddedBlob[] = [{ digest, size }];
  for (const blob of manifest.blobs) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    out.push({ digest: blob.digest, size: blob.size });
  }
  return out;
}
