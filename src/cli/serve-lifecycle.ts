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
