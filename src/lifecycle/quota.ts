/**
 * Quotas (`lifecycle.quotas`), pure: which quotas cover a repository, a deduplicated usage ledger, and
 * the 403 DENIED of a push that would exceed one.
 *
 * A quota limits the deduplicated bytes of the blobs its repositories reach: a blob that two
 * repositories of one quota both reference counts once in it. Every quota whose `repositories` match a
 * repository covers it (quotas nest: `team-a/**` and `**` may both apply), so a push must fit all of them.
 *
 * The ledger counts references: `add(repository, digest, size)` is one more reference from the
 * repository to the blob (a link, or a manifest naming it: the caller decides what counts, and removes
 * what it added), `remove` one fewer. A repository's first reference to a blob adds its size to every
 * quota covering the repository that no other of its repositories already holds it in, and to the
 * total; its last reference takes it out again. No I/O: sharing the ledger across replicas (Redis) and
 * rebuilding it from storage are the caller's.
 */
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { QuotaRule } from './schema.js';
import { repositoryMatcher, type NameMatcher } from './patterns.js';

/** The indexes (into `lifecycle.quotas`) of every quota whose `repositories` match `repository`, in order. */
export function quotasFor(quotas: readonly QuotaRule[], repository: string): number[] {
  return quotas.flatMap((quota, index) => (repositoryMatcher(quota.repositories)(repository) ? [index] : []));
}

/** A blob a push would add: its digest and size in bytes. */
export interface AddedBlob {
  readonly digest: Digest;
  readonly size: number;
}

/** The detail of the 403 DENIED for a push over a quota (also what the usage API lists per quota, with `used`). */
export interface QuotaExceeded {
  /** Which quota: its index in `lifecycle.quotas` and its patterns. */
  readonly quota: { readonly index: number; readonly repositories: readonly string[] };
  /** Bytes the quota holds now, before the push. */
  readonly used: number;
  /** Its limit in bytes. */
  readonly limit: number;
}

/** One quota's usage, for the usage API: `{repositories, limit, used}` and its index. */
export interface QuotaUsage {
  readonly index: number;
  readonly repositories: readonly string[];
  readonly limit: number;
  readonly used: number;
}

/** Bytes held by one group of repositories: each blob counted once, with how many of the group's repositories reference it. */
class Pool {
  used = 0;
  readonly holders = new Map<Digest, number>();

  hold(digest: Digest, size: number): void {
    const n = this.holders.get(digest) ?? 0;
    if (n === 0) this.used += size;
    this.holders.set(digest, n + 1);
  }

  release(digest: Digest, size: number): void {
    const n = this.holders.get(digest) ?? 0;
    if (n <= 1) {
      if (n === 1) this.used -= size;
      this.holders.delete(digest);
    } else {
      this.holders.set(digest, n - 1);
    }
  }

  /** The bytes `added` would bring: those of its distinct digests this pool does not hold yet. */
  extra(added: Iterable<AddedBlob>): number {
    const seen = new Set<Digest>();
    let bytes = 0;
    for (const { digest, size } of added) {
      if (seen.has(digest) || this.holders.has(digest)) continue;
      seen.add(digest);
      bytes += size;
    }
    return bytes;
  }
}

/**
 * The usage of every quota and of the whole registry, kept incrementally (see the module comment).
 * Not safe to share between processes; one instance per process, fed by the pushes and deletes it sees.
 */
export class UsageLedger {
  readonly #quotas: readonly QuotaRule[];
  readonly #matchers: readonly NameMatcher[];
  readonly #pools: readonly Pool[];
  readonly #total = new Pool();
  /** repository → digest → references. */
  readonly #refs = new Map<string, Map<Digest, number>>();
  /** digest → size, while any repository references it. */
  readonly #sizes = new Map<Digest, number>();
  readonly #covering = new Map<string, readonly number[]>();

  constructor(quotas: readonly QuotaRule[]) {
    this.#quotas = quotas;
    this.#matchers = quotas.map((q) => repositoryMatcher(q.repositories));
    this.#pools = quotas.map(() => new Pool());
  }

  /** The indexes of the quotas covering `repository` (as quotasFor, cached). */
  quotasOf(repository: string): readonly number[] {
    let found = this.#covering.get(repository);
    if (found === undefined) {
      found = this.#matchers.flatMap((matches, index) => (matches(repository) ? [index] : []));
      this.#covering.set(repository, found);
    }
    return found;
  }

  /**
   * One more reference from `repository` to the blob. Throws a TypeError for a size that is not a
   * non-negative integer, or that differs from the size the ledger already has for the digest.
   */
  add(repository: string, digest: Digest, size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`UsageLedger.add: invalid size ${size} for ${digest}`);
    const known = this.#sizes.get(digest);
    if (known !== undefined && known !== size) throw new TypeError(`UsageLedger.add: ${digest} has size ${known}, not ${size}`);
    let refs = this.#refs.get(repository);
    if (refs === undefined) this.#refs.set(repository, (refs = new Map<Digest, number>()));
    const n = refs.get(digest) ?? 0;
    refs.set(digest, n + 1);
    if (n > 0) return;
    this.#sizes.set(digest, size);
    for (const pool of this.#poolsOf(repository)) pool.hold(digest, size);
  }

  /** One reference fewer from `repository` to the blob; false (and nothing changes) when it had none. */
  remove(repository: string, digest: Digest): boolean {
    const refs = this.#refs.get(repository);
    const n = refs?.get(digest) ?? 0;
    if (refs === undefined || n === 0) return false;
    if (n > 1) {
      refs.set(digest, n - 1);
      return true;
    }
    refs.delete(digest);
    if (refs.size === 0) this.#refs.delete(repository);
    this.#release(repository, digest);
    return true;
  }

  /** Drops every reference of `repository` (a deleted repository); returns how many blobs it referenced. */
  removeRepository(repository: string): number {
    const refs = this.#refs.get(repository);
    if (refs === undefined) return 0;
    this.#refs.delete(repository);
    for (const digest of refs.keys()) this.#release(repository, digest);
    return refs.size;
  }

  /** How many references `repository` has to the blob (0: none). */
  references(repository: string, digest: Digest): number {
    return this.#refs.get(repository)?.get(digest) ?? 0;
  }

  /** The deduplicated bytes quota `index` holds. Throws a RangeError for an index no quota has. */
  used(index: number): number {
    return this.#pool(index).used;
  }

  /** The deduplicated bytes of every blob any repository references. */
  total(): number {
    return this.#total.used;
  }

  /** Every quota's usage, in configuration order. */
  usage(): QuotaUsage[] {
    return this.#quotas.map((q, index) => ({ index, repositories: q.repositories, limit: q.limit, used: this.#pool(index).used }));
  }

  /**
   * Whether adding `added` (blobs a push brings; duplicates and blobs the quota already holds cost
   * nothing) to quota `index` would take it over its limit: the detail of the refusal, or undefined
   * when it fits (reaching the limit exactly fits).
   */
  wouldExceed(index: number, added: Iterable<AddedBlob>): QuotaExceeded | undefined {
    const pool = this.#pool(index);
    const quota = this.#quotas[index];
    if (quota === undefined) throw new RangeError(`no quota ${index}`);
    if (pool.used + pool.extra(added) <= quota.limit) return undefined;
    return { quota: { index, repositories: quota.repositories }, used: pool.used, limit: quota.limit };
  }

  /** The first quota covering `repository` that `added` would exceed (see wouldExceed), with the bytes it would add, or undefined. */
  check(repository: string, added: readonly AddedBlob[]): { exceeded: QuotaExceeded; adding: number } | undefined {
    for (const index of this.quotasOf(repository)) {
      const exceeded = this.wouldExceed(index, added);
      if (exceeded !== undefined) return { exceeded, adding: this.#pool(index).extra(added) };
    }
    return undefined;
  }

  #pool(index: number): Pool {
    const pool = this.#pools[index];
    if (pool === undefined) throw new RangeError(`no quota ${index}`);
    return pool;
  }

  #poolsOf(repository: string): Pool[] {
    return [...this.quotasOf(repository).map((i) => this.#pool(i)), this.#total];
  }

  #release(repository: string, digest: Digest): void {
    const size = this.#sizes.get(digest) ?? 0;
    for (const pool of this.#poolsOf(repository)) pool.release(digest, size);
    if (!this.#total.holders.has(digest)) this.#sizes.delete(digest);
  }
}

/**
 * The 403 DENIED of a push that would exceed a quota, before anything becomes visible:
 * `push would exceed quota lifecycle.quotas[0] (team-a/**): 10737418000 of 10737418240 bytes used, the push adds 1000`,
 * with `exceeded` (`{quota, used, limit}`) as its detail.
 */
export function quotaExceededError(exceeded: QuotaExceeded, adding: number): OciError {
  const { quota, used, limit } = exceeded;
  return new OciError('DENIED', {
    message: `push would exceed quota lifecycle.quotas[${quota.index}] (${quota.repositories.join(', ')}): ${used} of ${limit} bytes used, the push adds ${adding}`,
    detail: { quota: { index: quota.index, repositories: quota.repositories }, used, limit },
  });
}
