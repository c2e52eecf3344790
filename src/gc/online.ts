/**
 * Online garbage collection: runs inside the serving registry, on any driver, with any number of
 * replicas. The design and its safety argument are in docs/garbage-collection.md; in short:
 *
 * - A run never deletes on first sight. Run N condemns (writes a marker for) every unreferenced blob,
 *   and with deleteUntagged every unreachable manifest revision, older than `delay`. A later run deletes
 *   it only if its marker is older than `delay` and it is still unreferenced in that run's full mark,
 *   by the trash protocol of trash.ts (which a concurrent pardon cannot lose).
 * - While condemned, an object is unknown to clients (CondemnedGuard, installed in the storage layer),
 *   so a push re-uploads it, which pardons it (removes the marker) before placing the content.
 * - Markers of objects referenced again are removed by the next run, and a run that condemned anything
 *   re-checks those objects once every replica's snapshot includes the new markers ("settle"), so a push
 *   that raced the mark is only briefly affected.
 * - A lock (GcLock) keeps replicas from sweeping at the same time; safety does not depend on it.
 */
import type { Logger } from 'pino';
import type { Registry } from '../storage/registry.js';
import type { ManifestInfo } from '../storage/manifest-info.js';
import type { Digest } from '../oci/digest.js';
import { CondemnedGuard, guardLayer, snapshotTtlFor } from './guard.js';
import type { StorageLayer } from '../storage/services.js';
import { StorageGcLock, type GcLock } from './lock.js';
import { Counters, sweep } from './online-sweep.js';
import { emptyOnlineSummary, type OnlineSummary } from './summary.js';

export type { OnlineSummary } from './summary.js';

/** The `storage.gc` settings, durations in milliseconds (see src/gc/schema.ts). */
export interface OnlineGcSettings {
  /** Run sweeps periodically. When false, startOnlineGc only installs the guard (markers are honoured). */
  readonly enabled: boolean;
  /** Time between the end of one run and the start of the next. */
  readonly interval: number;
  /** The grace period: nothing younger is condemned, nothing condemned more recently is deleted. */
  readonly delay: number;
  /** Also condemn and delete manifest revisions no tag reaches (as `garbage-collect --delete-untagged`). */
  readonly deleteUntagged?: boolean;
}

/** Dependencies and tuning of startOnlineGc; tests inject the clock, the lock and the waits. */
export interface OnlineGcOptions {
  readonly clock?: () => Date;
  /** Default: a StorageGcLock in the registry's storage. */
  readonly lock?: GcLock;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Calls `run` after `delayMs` and returns a function that cancels it: how runs are scheduled (default: an
   * unref'd setTimeout). Tests inject one they fire by hand, so a schedule is checked without waiting.
   */
  readonly schedule?: (run: () => void, delayMs: number) => () => void;
  /** Lifetime of the guard's snapshot of condemned digests (default: snapshotTtlFor(delay)). */
  readonly snapshotTtlMs?: number;
  /** How long a lock lasts without renewal (default 60 s; renewed every third of it). */
  readonly lockTtlMs?: number;
  /** StorageGcLock's write-then-read-back wait (default 250 ms). */
  readonly lockSettleMs?: number;
  /** Delay before the first run (default: random, up to the interval and at most 30 minutes). */
  readonly firstRunDelayMs?: number;
  /** Called after every run (metrics, tests). */
  readonly onRun?: (summary: OnlineSummary) => void;
  /** Called when a scheduled run fails (not when it is interrupted by stop()), with how long it ran. */
  readonly onFailure?: (err: unknown, durationMs: number) => void;
}

/** A started online GC. */
export interface OnlineGc {
  /** The condemnations this process honours. */
  readonly guard: CondemnedGuard;
  /** The storage layer that honours them, installed in the registry (Registry.use). */
  readonly layer: StorageLayer;
  /** Runs a sweep now (or joins the one in progress in this process). */
  runOnce(): Promise<OnlineSummary>;
  /**
   * Stops scheduling; a run in progress ends at its next checkpoint (between phases, before each
   * deletion), which is awaited. The guard stays installed: the process still honours condemnations.
   */
  stop(): Promise<void>;
}

/**
 * Installs online GC's guard in `registry` (always: a replica that does not sweep must still honour the
 * markers another one writes) and, when `settings.enabled`, sweeps every `settings.interval`. Every
 * replica sharing the storage must call this with the same `delay`.
 */
export function startOnlineGc(registry: Registry, settings: OnlineGcSettings, logger: Logger, options: OnlineGcOptions = {}): OnlineGc {
  const clock = options.clock ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const ttlMs = options.snapshotTtlMs ?? snapshotTtlFor(settings.delay);
  const guard = new CondemnedGuard(registry.driver, registry.blobs, { ttlMs, staleAfterMs: Math.max(ttlMs, settings.delay / 2), clock });
  const layer = guardLayer(guard);
  registry.use(layer);
  const lockSettings = { clock, sleep, ...(options.lockSettleMs !== undefined ? { settleMs: options.lockSettleMs } : {}) };
  const collector = new OnlineCollector(registry, settings, logger, {
    clock,
    sleep,
    guard,
    ttlMs,
    lock: options.lock ?? new StorageGcLock(registry.driver, lockSettings),
    lockTtlMs: options.lockTtlMs ?? 60_000,
  });

  let current: Promise<OnlineSummary> | undefined;
  const runOnce = (): Promise<OnlineSummary> => {
    current ??= collector.run().finally(() => {
      current = undefined;
    });
    return current;
  };
  const stopRuns = settings.enabled ? scheduleRuns(runOnce, settings, logger, clock, options) : undefined;
  return {
    guard,
    layer,
    runOnce,
    async stop(): Promise<void> {
      stopRuns?.();
      collector.stopping = true;
      await current?.catch(() => undefined);
      collector.stopping = false; // runOnce() still works, e.g. for a last sweep by hand
    },
  };
}

/** Calls `runOnce` after the first delay, then `settings.interval` after each run ends, until the returned function is called. */
function scheduleRuns(runOnce: () => Promise<OnlineSummary>, settings: OnlineGcSettings, logger: Logger, clock: () => Date, options: OnlineGcOptions): () => void {
  const setTimer =
    options.schedule ??
    ((run: () => void, delayMs: number): (() => void) => {
      const timer = setTimeout(run, delayMs);
      timer.unref();
      return () => clearTimeout(timer);
    });
  let cancelTimer: (() => void) | undefined;
  let stopped = false;
  const schedule = (delayMs: number): void => {
    if (stopped) return;
    cancelTimer = setTimer(() => {
      cancelTimer = undefined;
      const started = clock().getTime();
      runOnce()
        .then((summary) => options.onRun?.(summary))
        .catch((err: unknown) => {
          if (err instanceof RunInterrupted) {
            logger.info(err.message);
            return;
          }
          logger.error({ err }, 'online garbage collection failed');
          options.onFailure?.(err, clock().getTime() - started);
        })
        .finally(() => schedule(settings.interval));
    }, delayMs);
  };
  const first = options.firstRunDelayMs ?? Math.floor(Math.random() * Math.min(settings.interval, 30 * 60_000));
  logger.info({ interval: settings.interval, delay: settings.delay, deleteUntagged: settings.deleteUntagged ?? false }, `online garbage collection starts in ${Math.round(first / 1000)}s`);
  schedule(first);
  return () => {
    stopped = true;
    cancelTimer?.();
    cancelTimer = undefined;
  };
}

interface CollectorDeps {
  readonly clock: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly guard: CondemnedGuard;
  readonly ttlMs: number;
  readonly lock: GcLock;
  readonly lockTtlMs: number;
}

/** Ends a run early: its lock was lost, or stop() was called. What it did so far stays valid. */
class RunInterrupted extends Error {
  constructor(reason: string) {
    super(`online garbage collection ${reason}; this run stops`);
    this.name = 'RunInterrupted';
  }
}

/** One replica's sweeps. */
class OnlineCollector {
  /** Manifests read by earlier runs (content is immutable per digest), bounded. */
  private readonly manifests = new Map<Digest, ManifestInfo>();
  /** Set by stop(): the run in progress ends at its next checkpoint (as safe as a crash, and tidier). */
  stopping = false;

  constructor(
    private readonly registry: Registry,
    private readonly settings: OnlineGcSettings,
    private readonly logger: Logger,
    private readonly deps: CollectorDeps,
  ) {}

  /** One run under the lock; a summary with `ran: false` when another replica holds it. */
  async run(): Promise<OnlineSummary> {
    const started = performance.now();
    if (this.manifests.size > MAX_KNOWN_MANIFESTS) this.manifests.clear();
    const { lock, lockTtlMs } = this.deps;
    if (!(await lock.acquire(lockTtlMs))) {
      this.logger.debug('online garbage collection: another replica holds the lock');
      return emptyOnlineSummary(Math.round(performance.now() - started));
    }
    let lost = false;
    const renewal = setInterval(() => {
      lock.renew(lockTtlMs).then(
        (held) => {
          if (!held) lost = true;
        },
        (err: unknown) => {
          lost = true;
          this.logger.warn({ err }, 'online garbage collection could not renew its lock');
        },
      );
    }, Math.max(1, Math.floor(lockTtlMs / 3)));
    renewal.unref();
    try {
      const counters = new Counters();
      await this.sweep(counters, () => {
        if (lost) throw new RunInterrupted('lost its lock to another replica');
        if (this.stopping) throw new RunInterrupted('is stopping');
      });
      const summary = counters.summary(Math.round(performance.now() - started));
      const changed = summary.manifests.deleted + summary.blobs.deleted + summary.condemned.blobs + summary.condemned.manifests + summary.released.blobs + summary.released.manifests > 0;
      if (changed) this.logger.info({ ...summary }, 'online garbage collection run finished');
      else this.logger.debug({ ...summary }, 'online garbage collection run finished');
      return summary;
    } finally {
      clearInterval(renewal);
      await lock.release().catch((err: unknown) => this.logger.warn({ err }, 'online garbage collection could not release its lock'));
    }
  }

  private sweep(c: Counters, held: () => void): Promise<void> {
    const { clock, sleep, guard, ttlMs, lockTtlMs } = this.deps;
    const { registry, logger, manifests } = this;
    return sweep({ registry, logger, clock, sleep, guard, ttlMs, lockTtlMs, delay: this.settings.delay, deleteUntagged: this.settings.deleteUntagged ?? false, manifests }, c, held);
  }
}

/** How many parsed manifests a replica keeps between runs (a few hundred bytes each). */
const MAX_KNOWN_MANIFESTS = 200_000;
