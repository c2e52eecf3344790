/**
 * What the management API asks of features other than storage, declared here so they can be
 * added without touching the handlers: pull times (the lifecycle's pull recorder) and quotas.
 * Both are optional app options; without them, `pulledAt` is null and `quotas` is empty.
 */
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';

/** When an image was last pulled, as recorded by whatever records pulls. */
export interface PullTimes {
  /** The last pull of `digest` from `name` that was recorded; undefined when none was. */
  lastPulled(name: RepositoryName, digest: Digest): Promise<Date | undefined>;
}

/** One quota and how much of it is used, as `GET /berth/v1/usage` lists it. */
export interface QuotaUsage {
  /** The repositories (names or patterns, as configured) the quota covers. */
  readonly repositories: readonly string[];
  /** Bytes allowed. */
  readonly limit: number;
  /** Deduplicated bytes the covered repositories use. */
  readonly used: number;
}

/** The configured quotas with their usage. */
export interface QuotaReport {
  usage(): Promise<readonly QuotaUsage[]>;
}
