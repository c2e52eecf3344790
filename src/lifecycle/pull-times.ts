/**
 * When each manifest was last pulled, per repository: what `keep.pulledwithin` and the management API's
 * `pulledAt` read. Recording must never slow a pull, so `PullTimeRecorder.record()` only sets an entry of
 * an in-memory map (synchronous, O(1), no I/O, never throws for a store's trouble); a timer flushes the
 * map in batches to a `PullTimeStore`, whose merge keeps the later of the stored and the new time, so
 * flushes from several replicas in any order give the latest pull.
 *
 * Stores: MemoryPullTimeStore (this process only: after a restart every pull before it is unknown, so
 * `pulledAt` is null and `pulledwithin` does not keep the tag until it is pulled again), and
 * RedisPullTimeStore (./redis-pull-times.ts: shared by the replicas and kept across restarts; only the
 * pulls of the last flush interval of a replica that dies without closing are lost).
 */
import type { Digest } from '../oci/digest.js';

/** One pull time: `at` in milliseconds since the epoch. */
export interface PullTime {
  readonly repository: string;
  readonly digest: Digest;
  readonly at: number;
}

/** Where pull times are kept. Every implementation passes the suite in test/suites/pull-time-store.ts. */
export interface PullTimeStore {
  /**
   * Merges `entries`: each (repository, digest) keeps the later of its stored time and the given one.
   * Rejects when the store cannot be written; then none, some or all entries may have been merged, and
   * merging them again is harmless.
   */
  merge(entries: readonly PullTime[]): Promise<void>;
  /** The last pull time (ms) of every manifest of `repository` pulled since the store knows; one never pulled is absent. */
  read(repository: string): Promise<Map<Digest, number>>;
  /** Forgets the given manifests of `repository` (deleted ones), or with no `digests` the whole repository. */
  forget(repository: string, digests?: readonly Digest[]): Promise<void>;
}

/** Pull times in this process's memory: shared by nothing, gone at exit. */
export class MemoryPullTimeStore implements PullTimeStore {
  readonly #times = new Map<string, Map<Digest, number>>();

  merge(entries: readonly PullTime[]): Promise<void> {
    for (const { repository, digest, at } of entries) setLater(this.#times, repository, digest, at);
    return Promise.resolve();
  }

  read(repository: string): Promise<Map<Digest, number>> {
    return Promise.resolve(new Map(this.#times.get(repository)));
  }

  forget(repository: string, digests?: readonly Digest[]): Promise<void> {
    const times = this.#times.get(repository);
    if (digests === undefined) this.#times.delete(repository);
    else if (times !== undefined) {
      for (const d of digests) times.delete(d);
      if (times.size === 0) this.#times.delete(repository);
    }
    return Promise.resolve();
  }
}

export interface PullTimeRecorderOptions {
  readonly store: PullTimeStore;
  /** Milliseconds between flushes (default 5000). */
  readonly flushInterval?: number;
  /** Most (repository, digest) pairs held between flushes (default 100000); a pull beyond waits for the next flush and is counted in `dropped`. */
  readonly maxPending?: number;
  /** The clock, ms since the epoch (default Date.now). */
  readonly now?: () => number;
  /** Told of a flush that failed (its entries are kept for the next one); default: ignored. */
  readonly onError?: (err: unknown) => void;
}

/**
 * Records pulls without slowing them (see the module comment): `record()` sets the latest time of
 * (repository, digest) in memory; `start()` flushes every `flushInterval` ms; `close()` stops the timer
 * and flushes what is left. A flush that fails keeps its entries for the next one.
 */
export class PullTimeRecorder {
  readonly #store: PullTimeStore;
  readonly #interval: number;
  readonly #maxPending: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  #pending = new Map<string, Map<Digest, number>>();
  #size = 0;
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(options: PullTimeRecorderOptions) {
    this.#store = options.store;
    this.#interval = options.flushInterval ?? 5000;
    this.#maxPending = options.maxPending ?? 100_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Notes a pull of `digest` from `repository` at `at` (default now; a time that is not finite is ignored). Synchronous, O(1), no I/O. */
  record(repository: string, digest: Digest, at: number = this.#now()): void {
    if (!Number.isFinite(at)) return;
    let times = this.#pending.get(repository);
    if (times === undefined) {
      if (this.#size >= this.#maxPending) {
        this.#dropped++;
        return;
      }
      this.#pending.set(repository, (times = new Map<Digest, number>()));
    }
    const old = times.get(digest);
    if (old === undefined) {
      if (this.#size >= this.#maxPending) {
        this.#dropped++;
        return;
      }
      this.#size++;
      times.set(digest, at);
    } else if (at > old) {
      times.set(digest, at);
    }
  }

  /** (repository, digest) pairs recorded and not yet flushed. */
  get pending(): number {
    return this.#size;
  }

  /** Pulls not recorded because `maxPending` pairs were waiting for a flush. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Writes what was recorded to the store, one batch. Rejects when the store does (the entries are
   * kept for the next flush); flushes never overlap: a call during one waits for it, then flushes.
   */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing.catch(() => undefined);
    if (this.#size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#size = 0;
    const entries: PullTime[] = [];
    for (const [repository, times] of batch) for (const [digest, at] of times) entries.push({ repository, digest, at });
    const flushing = this.#store.merge(entries).catch((err: unknown) => {
      for (const e of entries) this.record(e.repository, e.digest, e.at);
      throw err;
    });
    this.#flushing = flushing;
    try {
      await flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Starts flushing every `flushInterval` ms (the timer does not keep the process alive); failures go to `onError`. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.flush().catch(this.#onError), this.#interval);
    this.#timer.unref();
  }

  /** Stops the timer and flushes what is left; rejects when that last flush fails. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** The last pull times of `repository`: the store's, with this process's unflushed pulls merged in. */
  async read(repository: string): Promise<Map<Digest, number>> {
    const times = await this.#store.read(repository);
    for (const [digest, at] of this.#pending.get(repository) ?? []) {
      const stored = times.get(digest);
      if (stored === undefined || at > stored) times.set(digest, at);
    }
    return times;
  }

  /** The last pull of `digest` from `repository` (the store's or an unflushed one); undefined when none is known. */
  async lastPulled(repository: string, digest: Digest): Promise<Date | undefined> {
    return pulledAt(await this.read(repository), digest);
  }

  /**
   * Forgets the pulls of deleted manifests of `repository` (with no `digests`, of the whole repository):
   * unflushed ones at once, then the store's. Never rejects: a store failure goes to `onError` (a stale
   * entry only makes a later manifest of the same digest look pulled).
   */
  async forget(repository: string, digests?: readonly Digest[]): Promise<void> {
    const times = this.#pending.get(repository);
    if (times !== undefined) {
      for (const d of digests ?? [...times.keys()]) if (times.delete(d)) this.#size--;
      if (times.size === 0) this.#pending.delete(repository);
    }
    await this.#store.forget(repository, digests).catch(this.#onError);
  }
}

/** A pull time as the planner and the API take it: a Date, or undefined when never pulled (as far as the store knows). */
export function pulledAt(times: ReadonlyMap<Digest, number>, digest: Digest): Date | undefined {
  const at = times.get(digest);
  return at === undefined ? undefined : new Date(at);
}

function setLater(map: Map<string, Map<Digest, number>>, repository: string, digest: Digest, at: number): void {
  let times = map.get(repository);
  if (times === undefined) map.set(repository, (times = new Map<Digest, number>()));
  const old = times.get(digest);
  if (old === undefined || at > old) times.set(digest, at);
}
