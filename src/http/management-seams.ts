/**
 * What the management API asks of features other than storage, declared here so they can be
 * added without touching the handlers: pull times (the lifecycle's pull recorder) and quotas.
 * Both are optional app options; without them, `pulledAt` is null and `quotas` is empty.
 */
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';

/**
 * When an image was last pulled, as recorded by whatever records pulls (src/lifecycle/pull-times.ts
 * PullTimeRecorder): the manifest GET handler records, the management API reads.
 */
export interface PullTimes {
  /** The last pull of `digest` from `name` that was recorded; undefined when none was. */
  lastPulled(name: RepositoryName, digest: Digest): Promise<Date | undefined>;
  /** Notes a pull of `digest` from `name` now: synchronous, O(1), no I/O, never throws. */
  record(name: RepositoryName, digest: Digest): void;
  /** Forgets the pulls of deleted manifests of `name`, or with no `digests` of the whole repository; never rejects. */
  forget(name: RepositoryName, digests?: readonly Digest[]): Promise<void>;
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
