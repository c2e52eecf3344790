import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { loadConfig, ConfigError, resolveConfigPath } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { createDriver } from '../storage/driver/factory.js';
import { Registry } from '../storage/registry.js';
import type { BlobDescriptorCache } from '../storage/blob-store.js';
import { connectRedis } from '../cache/redis-client.js';
import { RedisBlobDescriptorCache } from '../cache/redis-blob-descriptor-cache.js';
import { garbageCollect } from '../gc/collect.js';
import type { GcProgress, Summary } from '../gc/summary.js';
import { VERSION } from './version.js';

const USAGE = `Usage: berth garbage-collect [--dry-run|-d] [--delete-untagged|-m] [--quiet|-q] config.yml

Deletes blobs and manifests nothing references, as Distribution's "registry garbage-collect".
Run it with the registry stopped or read-only (storage.maintenance.readonly.enabled: true);
storage.gc enables online garbage collection instead.

  -d, --dry-run          report what would be deleted, delete nothing
  -m, --delete-untagged  also delete manifests no tag reaches (and what only they reference)
  -q, --quiet            no progress line, only warnings and the summary
`;

const GC_OPTIONS = {
  'dry-run': { type: 'boolean', short: 'd' },
  'delete-untagged': { type: 'boolean', short: 'm' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where the command writes: standard output for the summary, standard error for progress and logs. */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
}

/**
 * `berth garbage-collect [--dry-run] [--delete-untagged] [--quiet] config.yml`: loads the configuration
 * (the file argument, else REGISTRY_CONFIGURATION_PATH; overrides from `env`), runs garbageCollect on
 * its storage (invalidating the redis blob descriptor cache when one is configured) and prints a
 * summary. Resolves with the exit code: 0 done, 1 failure, 2 usage.
 */
export async function garbageCollectCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = process): Promise<number> {
  const parsed = parseGcArgs(args, env, io);
  if (typeof parsed === 'number') return parsed;
  const release: Array<() => void | Promise<void>> = [];
  try {
    const config = await loadConfig(parsed.options);
    const logger = createLogger({
      level: parsed.quiet ? 'warn' : config.log.level,
      formatter: config.log.formatter,
      fields: { service: 'registry', version: VERSION, ...config.log.fields },
      destination: io.stderr,
    });
    const driver = await createDriver(config.storage);
    // Object-store drivers hold connection pools that would keep the process alive.
    release.push(() => driver.close());
    // With a shared (redis) descriptor cache, deletions must invalidate it, or replicas would go on
    // claiming the deleted blobs; the in-process cache of this command dies with it.
    let blobDescriptorCache: BlobDescriptorCache | undefined;
    if (config.storage.cache.blobdescriptor === 'redis' && config.redis !== undefined && !parsed.dryRun) {
      const redis = await connectRedis(config.redis, logger);
      release.push(() => redis.disconnect());
      blobDescriptorCache = new RedisBlobDescriptorCache(redis, config.redis.ttl, logger);
    }
    const registry = new Registry(blobDescriptorCache !== undefined ? { driver, blobDescriptorCache } : { driver });
    await collectWithProgress(registry, parsed, logger, io);
    return 0;
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : `garbage collection failed: ${err instanceof Error ? err.message : String(err)}`;
    io.stderr.write(`berth garbage-collect: ${message}\n`);
    return 1;
  } finally {
    for (const close of release) await close();
  }
}

/** What the command line asks for, or the exit code when it asks for nothing to run (help, a usage error). */
interface GcArgs {
  readonly options: { readonly path?: string; readonly env: NodeJS.ProcessEnv };
  readonly dryRun: boolean;
  readonly deleteUntagged: boolean;
  readonly quiet: boolean;
}

function parseGcArgs(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo): GcArgs | number {
  // Not strict, so that an unknown flag or a value given to a flag gets this command's own message.
  const { values, positionals: positional, tokens } = parseArgs({ args: [...args], options: GC_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const bad = tokens.find((t) => t.kind === 'option' && (!Object.hasOwn(GC_OPTIONS, t.name) || t.value !== undefined));
  if (values.help === true && bad === undefined) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (bad?.kind === 'option') {
    io.stderr.write(`berth garbage-collect: unknown flag ${args[bad.index] ?? bad.rawName}\n\n${USAGE}`);
    return 2;
  }
  if (positional.length > 1) {
    io.stderr.write(`berth garbage-collect: expected one configuration file, got ${positional.length}\n\n${USAGE}`);
    return 2;
  }
  const options = positional[0] !== undefined ? { path: positional[0], env } : { env };
  // Never fall back to the built-in configuration: collecting ./data by accident is not a default.
  if (resolveConfigPath(options) === undefined) {
    io.stderr.write(
      `berth garbage-collect: a configuration file is required: the one your registry runs with (an argument or REGISTRY_CONFIGURATION_PATH); for the built-in default's ./data, printf "version: 0.1\\nstorage: {filesystem: {rootdirectory: ./data}}\\n" > config.yml\n\n${USAGE}`,
    );
    return 2;
  }
  return { options, dryRun: values['dry-run'] === true, deleteUntagged: values['delete-untagged'] === true, quiet: values.quiet === true };
}

/** Runs the collection, printing progress every second (unless quiet) and the summary at the end. */
async function collectWithProgress(registry: Registry, parsed: GcArgs, logger: Logger, io: CommandIo): Promise<void> {
  let latest: GcProgress | undefined;
  const tty = io.stderr.isTTY === true;
  const progressTimer = parsed.quiet
    ? undefined
    : setInterval(() => {
        if (latest !== undefined) io.stderr.write(`${tty ? '\r\x1b[K' : ''}${formatProgress(latest)}${tty ? '' : '\n'}`);
      }, 1000);
  progressTimer?.unref();
  try {
    const summary = await garbageCollect(registry, {
      dryRun: parsed.dryRun,
      deleteUntagged: parsed.deleteUntagged,
      logger,
      onProgress: (p) => {
        latest = p;
      },
    });
    clearInterval(progressTimer);
    if (!parsed.quiet && tty && latest !== undefined) io.stderr.write('\r\x1b[K');
    io.stdout.write(formatSummary(summary, parsed.dryRun));
  } finally {
    clearInterval(progressTimer);
  }
}

/** The progress line: `mark: 12 repositories, 340 manifests marked, 0 blobs swept`. */
export function formatProgress(p: GcProgress): string {
  return `garbage-collect ${p.phase}: ${p.repositories} repositories scanned, ${p.manifestsMarked} manifests marked, ${p.blobsScanned} blobs checked, ${p.blobsDeleted} blobs swept`;
}

/** The summary printed at the end (a dry run says "would delete"). */
export function formatSummary(s: Summary, dryRun: boolean): string {
  const verb = dryRun ? 'would delete' : 'deleted';
  return [
    `${dryRun ? 'dry run: nothing was changed' : 'garbage collection finished'} in ${(s.durationMs / 1000).toFixed(1)}s`,
    `repositories: ${s.repositories}`,
    `manifests: ${s.manifests.kept} kept, ${verb} ${s.manifests.deleted}`,
    `blobs: ${s.blobs.kept} kept, ${verb} ${s.blobs.deleted} (${formatBytes(s.bytesFreed)}${dryRun ? ' to free' : ' freed'})`,
    `layer links: ${verb} ${s.layerLinksDeleted}`,
    '',
  ].join('\n');
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
