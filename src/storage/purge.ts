import type { Logger } from 'pino';
import type { Registry } from './registry.js';
import { purgesAbandonedWriters } from './driver/driver.js';

export interface UploadPurgingSettings {
  readonly enabled: boolean;
  /** Uploads older than this (ms) are removed. */
  readonly age: number;
  /** How often to look (ms). */
  readonly interval: number;
  readonly dryrun: boolean;
}

/**
 * Removes abandoned uploads periodically, as Distribution's upload purging does. The first run
 * starts after a random delay (up to the interval, at most 30 minutes) so replicas do not all
 * walk storage at once.
 */
export function startUploadPurging(registry: Registry, settings: UploadPurgingSettings, readOnly: boolean, logger: Logger): { stop(): void } {
  if (!settings.enabled || readOnly) return { stop: () => undefined };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (delay: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      purgeUploads(registry, new Date(Date.now() - settings.age), settings.dryrun, logger)
        .catch((err: unknown) => logger.error({ err }, 'upload purge failed'))
        .finally(() => schedule(settings.interval));
    }, delay);
    timer.unref();
  };
  const first = Math.floor(Math.random() * Math.min(settings.interval, 30 * 60_000));
  logger.info(`Starting upload purge in ${Math.round(first / 1000)}s`);
  schedule(first);
  return {
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/** One purge pass over every repository; returns how many uploads were (or would be) removed. */
export async function purgeUploads(registry: Registry, olderThan: Date, dryRun: boolean, logger: Logger): Promise<number> {
  let count = 0;
  for (const name of await registry.repositoriesWithUploads()) {
    const purged = await registry.uploads.purge(name, olderThan, dryRun);
    for (const uuid of purged) logger.info({ repository: name, uuid, dryRun }, dryRun ? 'would purge upload' : 'purged upload');
    count += purged.length;
  }
  if (purgesAbandonedWriters(registry.driver)) {
    const aborted = await registry.driver.purgeUploads(olderThan, { dryRun });
    for (const key of aborted) logger.info({ key, dryRun }, dryRun ? 'would abort abandoned multipart upload' : 'aborted abandoned multipart upload');
    count += aborted.length;
  }
  return count;
}
