/**
 * What `berth serve` wires of the lifecycle besides the immutable and quota layers: the pull-time
 * recorder (every manifest GET, flushed in the background) and the periodic retention run.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../storage/registry.js';
import { connectRedis } from '../cache/redis-client.js';
import { MemoryPullTimeStore, PullTimeRecorder, type PullTimeStore } from '../lifecycle/pull-times.js';
import { RedisPullTimeStore } from '../lifecycle/redis-pull-times.js';
import { pullTimesLayer } from '../lifecycle/pull-times-layer.js';
import { runRetention } from '../lifecycle/retention-runner.js';
import type { EventBridge } from '../notifications/bridge.js';
import type { RegistryMetrics } from '../metrics/metrics.js';
import { immutableLayer } from '../lifecycle/immutable-layer.js';
import { compileImmutableTags } from '../lifecycle/immutable.js';
import { LocalQuotaLedger, quotaLayer, scanReferences } from '../lifecycle/quota-layer.js';

/** The recorder the handlers record pulls in, and how to stop it (a last flush). */
export interface RunningPullTimes {
  readonly recorder: PullTimeRecorder;
  close(): Promise<void>;
}

/**
 * Pull times in Redis when a `redis` section is configured (shared by the replicas, kept across
 * restarts), else in this process's memory; deleted manifests' pulls are forgotten (a layer).
 */
export async function startPullTimes(config: Config, registry: Registry, logger: Logger): Promise<RunningPullTimes> {
  let store: PullTimeStore = new MemoryPullTimeStore();
  let disconnect = (): void => undefined;
  if (config.redis !== undefined) {
    const client = await connectRedis(config.redis, logger);
    store = new RedisPullTimeStore(client);
    disconnect = () => client.disconnect();
  }
  let reported = false;
  const recorder = new PullTimeRecorder({
    store,
    onError: (err) => {
      // Once per minute at most: a store that is down fails every flush (the pulls wait in memory).
      if (reported) return;
      reported = true;
      setTimeout(() => (reported = false), 60_000).unref();
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'pull times could not be written; they are kept in memory for the next flush');
    },
  });
  registry.use(pullTimesLayer(recorder));
  recorder.start();
  logger.info(config.redis !== undefined ? 'recording pull times in redis' : 'recording pull times in memory (lost at restart; configure redis to keep them)');
  return {
    recorder,
    async close(): Promise<void> {
      try {
        await recorder.close();
      } catch (err) {
        logger.warn({ err: err instanceof Error ? err.message : String(err), pending: recorder.pending }, 'the last pull times could not be written');
      } finally {
        disconnect();
      }
    },
  };
}

/** What the periodic retention run uses. */
export interface RetentionDeps {
  readonly registry: Registry;
  readonly logger: Logger;
  readonly metrics: RegistryMetrics;
  readonly pullTimes: PullTimeRecorder;
  readonly events: EventBridge | undefined;
  /** Worker 0 of `http.workers` (or the only process): the one that runs retention. */
  readonly firstWorker: boolean;
}

/**
 * Retention every `lifecycle.retention.interval` when rules exist, on the first worker only and not in
 * read-only mode (as online GC). The first run comes one interval after start: pull times kept in
 * memory start empty, and a run at once would not know what was pulled before the restart. `stop()`
 * clears the timer and waits for a run in progress, which stops before its next repository.
 */
export function startRetention(config: Config, deps: RetentionDeps): { stop(): Promise<void> } {
  const retention = config.lifecycle?.retention;
  const rules = retention?.rules ?? [];
  if (retention === undefined || rules.length === 0 || !deps.firstWorker || config.storage.maintenance.readonly.enabled) {
    if (rules.length > 0 && deps.firstWorker) deps.logger.info('retention does not run: the registry is read-only');
    return { stop: async () => undefined };
  }
  const { registry, logger, metrics, pullTimes, events } = deps;
  const abort = new AbortController();
  let running: Promise<unknown> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer = setTimeout(() => {
      running = runRetention({ registry, rules, immutable: config.lifecycle?.immutable ?? [], dryRun: retention.dryrun, logger, pullTimes, events, baseUrl: config.http.host, metrics, signal: abort.signal })
        .catch((err: unknown) => logger.error({ err }, 'retention run failed'))
        .finally(() => {
          running = undefined;
          if (!abort.signal.aborted) schedule();
        });
    }, retention.interval);
    timer.unref();
  };
  schedule();
  logger.info({ interval: retention.interval, dryRun: retention.dryrun, rules: rules.length }, 'retention scheduled');
  return {
    async stop(): Promise<void> {
      abort.abort();
      clearTimeout(timer);
      await running;
    },
  };
}

/** Installs the lifecycle's storage layers: immutable tags, then quotas (see startQuotas). */
export function installLifecycleLayers(config: Config, registry: Registry, logger: Logger): ReturnType<typeof startQuotas> {
  const immutable = config.lifecycle?.immutable ?? [];
  if (immutable.length > 0) registry.use(immutableLayer(compileImmutableTags(immutable)));
  return startQuotas(config, registry, logger);
}

/**
 * Quotas (lifecycle.quotas): the layer refusing pushes over a limit, over a ledger built from storage now
 * (pushes wait for it) and again after every online GC run. `rebuild` is undefined without quotas.
 */
function startQuotas(config: Config, registry: Registry, logger: Logger): { ledger: LocalQuotaLedger; rebuild(): void } | undefined {
  const rules = config.lifecycle?.quotas ?? [];
  if (rules.length === 0) return undefined;
  const ledger = new LocalQuotaLedger(rules);
  registry.use(quotaLayer(ledger, () => registry.content));
  const rebuild = (): void => {
    const started = Date.now();
    ledger.rebuild(scanReferences(registry)).then(
      async () => logger.info({ quotas: (await ledger.usage()).quotas, ms: Date.now() - started }, 'quota usage rebuilt from storage'),
      (err: unknown) => logger.error({ err }, 'quota usage could not be rebuilt from storage; pushes are checked against the previous usage'),
    );
  };
  rebuild();
  return { ledger, rebuild };
}
