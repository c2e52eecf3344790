import { parseArgs } from 'node:util';
import { loadConfig, ConfigError, resolveConfigPath } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { createDriver } from '../storage/driver/factory.js';
import { Registry } from '../storage/registry.js';
import { connectRedis } from '../cache/redis-client.js';
import { immutableLayer } from '../lifecycle/immutable-layer.js';
import { compileImmutableTags } from '../lifecycle/immutable.js';
import { RedisPullTimeStore } from '../lifecycle/redis-pull-times.js';
import { runRetention, type RepositoryRetention, type PullTimeReader } from '../lifecycle/retention-runner.js';
import { describeManifestDecision, describeTagDecision } from '../lifecycle/retention-plan.js';
import { Notifier } from '../notifications/notifier.js';
import { EventBridge } from '../notifications/bridge.js';
import { sourceRecord } from '../notifications/event.js';
import { VERSION } from './version.js';
import type { CommandIo } from './garbage-collect.js';

const USAGE = `Usage: berth retention [--dry-run|-d] [--json] config.yml

Runs the retention rules of lifecycle.retention once against the storage of config.yml, as
berth serve does every lifecycle.retention.interval: prints every decision (kept and why, deleted
and why), deletes what the plan deletes (with the same webhook events as the API's deletes), and a
summary. Pull times (keep.pulledwithin) are read from redis; without a redis section they live in
the server's memory only, so a run that would delete refuses rules using pulledwithin.

  -d, --dry-run  plan and print, delete nothing (also lifecycle.retention.dryrun: true)
      --json     one JSON object per repository on standard output instead of lines
`;

/** A configuration this command cannot run with, though the registry can (exit 1, the message alone). */
class SettingError extends Error {}

const OPTIONS = { 'dry-run': { type: 'boolean', short: 'd' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

/** `berth retention [--dry-run] [--json] config.yml`: resolves with the exit code: 0 done, 1 failure or configuration error, 2 usage. */
export async function retentionCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = process): Promise<number> {
  const { values, positionals, tokens } = parseArgs({ args: [...args], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const bad = tokens.find((t) => t.kind === 'option' && (!Object.hasOwn(OPTIONS, t.name) || t.value !== undefined));
  if (values.help === true && bad === undefined) return void io.stdout.write(USAGE), 0;
  if (bad?.kind === 'option') return void io.stderr.write(`berth retention: unknown flag ${args[bad.index] ?? bad.rawName}\n\n${USAGE}`), 2;
  if (positionals.length > 1) return void io.stderr.write(`berth retention: expected one configuration file, got ${positionals.length}\n\n${USAGE}`), 2;
  const options = positionals[0] !== undefined ? { path: positionals[0], env } : { env };
  if (resolveConfigPath(options) === undefined) {
    io.stderr.write(`berth retention: a configuration file is required: the one your registry runs with (an argument or REGISTRY_CONFIGURATION_PATH)\n\n${USAGE}`);
    return 2;
  }
  const release: Array<() => void | Promise<void>> = [];
  try {
    return await run(options, { dryRunFlag: values['dry-run'] === true, json: values.json === true }, io, release);
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof SettingError ? err.message : `retention failed: ${err instanceof Error ? err.message : String(err)}`;
    io.stderr.write(`berth retention: ${message}\n`);
    return 1;
  } finally {
    for (const close of release.reverse()) await close();
  }
}

async function run(options: { path?: string; env: NodeJS.ProcessEnv }, flags: { dryRunFlag: boolean; json: boolean }, io: CommandIo, release: Array<() => void | Promise<void>>): Promise<number> {
  const config = await loadConfig(options);
  const retention = config.lifecycle?.retention;
  const rules = retention?.rules ?? [];
  const dryRun = flags.dryRunFlag || retention?.dryrun === true;
  if (rules.length === 0) {
    io.stderr.write('berth retention: no retention rules (lifecycle.retention.rules): nothing to do\n');
    return 0;
  }
  if (!dryRun && config.storage.maintenance.readonly.enabled) throw new SettingError('the storage is read-only (storage.maintenance.readonly.enabled): nothing can be deleted; use --dry-run');
  const usesPulls = rules.findIndex((r) => r.keep.pulledwithin !== undefined);
  if (config.redis === undefined && usesPulls >= 0) {
    if (!dryRun) throw new SettingError(`lifecycle.retention.rules[${usesPulls}].keep.pulledwithin: pull times are kept in the server's memory without a redis section, so this command cannot see them and would delete pulled tags; configure redis, or use --dry-run`);
    io.stderr.write(`berth retention: warning: without redis no pull time is known here: keep.pulledwithin keeps nothing in this plan\n`);
  }
  const logger = createLogger({ level: 'warn', formatter: config.log.formatter, fields: { service: 'registry', version: VERSION, ...config.log.fields }, destination: io.stderr });
  const driver = await createDriver(config.storage);
  release.push(() => driver.close());
  const registry = new Registry({ driver });
  const immutable = config.lifecycle?.immutable ?? [];
  if (immutable.length > 0) registry.use(immutableLayer(compileImmutableTags(immutable)));
  let pullTimes: PullTimeReader | undefined;
  if (config.redis !== undefined) {
    const client = await connectRedis(config.redis, logger);
    release.push(() => client.disconnect());
    pullTimes = new RedisPullTimeStore(client);
  }
  const notifier = Notifier.fromConfig(config.notifications, { logger, userAgent: `berth/${VERSION}` });
  release.push(() => notifier.close(10_000));
  const events = notifier.enabled && !dryRun ? new EventBridge({ sink: notifier, source: sourceRecord(config.http.addr), includeReferences: config.notifications.events.includereferences }) : undefined;
  const summary = await runRetention({
    registry, rules, immutable, dryRun, logger, pullTimes, events, baseUrl: config.http.host,
    onRepository: (result) => io.stdout.write(flags.json ? `${JSON.stringify(toJson(result))}\n` : describe(result)),
  });
  const verb = dryRun ? 'would delete' : 'deleted';
  if (!flags.json) io.stdout.write(`${dryRun ? 'dry run: nothing was changed; ' : ''}${summary.repositories} repositories: ${summary.tagsKept} tags kept, ${verb} ${summary.tagsDeleted} tags and ${summary.manifestsDeleted} manifests${summary.failures > 0 ? `, ${summary.failures} failed (see the log)` : ''}\n`);
  return summary.failures > 0 ? 1 : 0;
}

/** The human-readable lines of one repository: every decision, then what was skipped. */
function describe(result: RepositoryRetention): string {
  const { plan } = result;
  const lines = [
    ...[...plan.keptTags, ...plan.deletedTags].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)).map((d) => describeTagDecision(plan.repository, d)),
    ...plan.deletedManifests.map((d) => describeManifestDecision(plan.repository, d)),
    ...result.skipped.tags.map((t) => `${plan.repository}:${t} not deleted (deleted meanwhile, pushed again, or refused)`),
    ...result.skipped.manifests.map((d) => `${plan.repository}@${d} not deleted (deleted meanwhile, tagged again, or refused)`),
  ];
  return lines.map((l) => (result.dryRun ? l.replace(' deleted (', ' would be deleted (') : l)).join('\n') + (lines.length > 0 ? '\n' : '');
}

/** One repository as `--json` prints it. */
function toJson(result: RepositoryRetention): Record<string, unknown> {
  const { plan } = result;
  return {
    repository: plan.repository,
    rule: plan.rule ?? null,
    dryRun: result.dryRun,
    kept: plan.keptTags.map((d) => ({ tag: d.tag, digest: d.digest, reason: d.reason })),
    deletedTags: plan.deletedTags.map((d) => ({ tag: d.tag, digest: d.digest, reason: d.reason })),
    deletedManifests: plan.deletedManifests.map((d) => ({ digest: d.digest, mediaType: d.mediaType, reason: d.reason })),
    skipped: result.skipped,
  };
}
