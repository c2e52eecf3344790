/** The shapes the inventory (inventory.ts) answers with: what the management API serializes. */
import type { Digest } from '../oci/digest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import type { ChildRef, ContentRef, ImageConfigSummary } from '../oci/image-summary.js';
import type { Referrer } from './services.js';

/** A repository: its tag count and the deduplicated bytes reachable from its manifests. */
export interface RepositorySummary {
  readonly name: RepositoryName;
  readonly tags: number;
  readonly size: number;
}

/** A tag and the image it names. */
export interface TagSummary {
  readonly name: Tag;
  readonly digest: Digest;
  readonly mediaType: string;
  /** Deduplicated bytes of the image: manifest, config and layers; for an index, every child's too. */
  readonly size: number;
  /** `os/architecture[/variant]`: an index's entries, or an image's config. */
  readonly platforms: readonly string[];
  /** When the tag was last pushed (its current link's modification time in storage). */
  readonly pushedAt: Date;
}

/** How a tag listing is ordered and paged. */
export interface TagQuery {
  /** `name`: byte-wise; `pushed`: newest push first (ties by name). */
  readonly sort: 'name' | 'pushed';
  readonly n: number | undefined;
  readonly last: string | undefined;
}

export interface TagPage {
  readonly items: readonly TagSummary[];
  /** The `last` of the next page, when there is one. */
  readonly next?: string;
}

/** An image config as the UI shows it: its descriptor and what it says. */
export type ConfigView = ContentRef & ImageConfigSummary;

/** A child of an index, with the deduplicated size of its image. */
export interface ChildView extends ChildRef {
  /** Bytes of the child manifest itself (the index entry's size). */
  readonly manifestSize: number;
}

/** Referrers of one artifact type. */
export interface ReferrerGroup {
  readonly artifactType: string;
  readonly manifests: readonly Referrer[];
}

/** One manifest for the UI. */
export interface ManifestSummary {
  readonly digest: Digest;
  readonly mediaType: string;
  /** Deduplicated bytes of the image (see TagSummary.size). */
  readonly size: number;
  /** Bytes of the manifest itself. */
  readonly manifestSize: number;
  readonly artifactType?: string;
  readonly subject?: Digest;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platforms: readonly string[];
  /** Image manifests: the config, read when it is an image config. */
  readonly config?: ConfigView;
  readonly layers: readonly ContentRef[];
  /** Indexes: the entries, each with its image's deduplicated size (`size`) and platform. */
  readonly manifests: readonly ChildView[];
  readonly referrers: readonly ReferrerGroup[];
}
