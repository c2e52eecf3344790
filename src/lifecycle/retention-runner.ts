/**
 * One retention run over the catalog (issue #14): for each repository a rule of
 * `lifecycle.retention.rules` matches, read its state from storage (tags with their push times,
 * revisions parsed with theirs, pull times from the recorder), plan it (retention-plan.ts), log every
 * decision, then apply the plan unless it is a dry run.
 *
 * Applying goes through the same services as the API's deletes: `tags.untag` for each deleted tag
 * (DELETE /v2/<name>/manifests/<tag>), then `manifests.delete` for each deleted manifest (DELETE by
 * digest), on `registry.repository(name)` with the layers installed (immutable tags, quotas, pull
 * times) and, when notifications are configured, wrapped by the notifying wrapper for a synthetic
 * request (DELETE, user agent `berth-retention`, actor `retention`): webhooks see what they see of an
 * API delete. Reading never goes through that wrapper: planning is not pulling.
 *
 * Races: a repository deleted since the catalog listed it (NAME_UNKNOWN) and a tag or manifest another
 * client deleted first (MANIFEST_UNKNOWN) are skipped, not failures. A tag pushed again (moved) since
 * the plan was made is not deleted, nor is a manifest a tag points at again when its turn comes; a push
 * in the few milliseconds between that check and the delete can still lose its tag, as with any two
 * clients deleting and pushing at once.
 */
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { parseManifest } from '../oci/manifest.js';
import type { RepositoryName, Tag } from '../oci/reference.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../storage/registry.js';
import type { RepositoryServices } from '../storage/services.js';
import type { EventBridge } from '../notifications/bridge.js';
import { notifyingRepository } from '../notifications/notifying-repository.js';
import type { ImmutableRule, RetentionRule } from './schema.js';
import { repositoryMatcher } from './patterns.js';
import { describeManifestDecision, describeTagDecision, planRetention, type RetentionPlan } from './retention-plan.js';
import { repositoryState, type StoredRevision } from './retention-input.js';

/** Where retention reads pull times (PullTimeRecorder: the store's, with unflushed pulls). */
export interface PullTimeReader {
  read(repository: string): Promise<Map<Digest, number>>;
}

/** What a run counts into metrics (RegistryMetrics.retentionRun). */
export interface RetentionRunMetrics {
  retentionRun(run: { ok: boolean; dryRun: boolean; tagsDeleted: number; manifestsDeleted: number; tagsKept: number; seconds: number }): void;
}

export interface RetentionRunOptions {
  readonly registry: Registry;
  readonly rules: readonly RetentionRule[];
  readonly immutable: readonly ImmutableRule[];
  /** Plan and report, delete nothing. */
  readonly dryRun: boolean;
  readonly logger: Logger;
  /** Pull times for `keep.pulledwithin`; absent: no tag counts as pulled. */
  readonly pullTimes?: PullTimeReader | undefined;
  /** Webhook events of the deletes; absent: none. */
  readonly events?: EventBridge | undefined;
  /** The registry's base URL for the events' target URLs ('' : relative paths). */
  readonly baseUrl?: string;
  readonly metrics?: RetentionRunMetrics | undefined;
  /** The clock (default: the system's). */
  readonly now?: () => Date;
  /** Stops the run between two repositories (serve's shutdown); the summary counts what was done. */
  readonly signal?: AbortSignal;
  /** Told of each repository planned (and applied), in catalog order. */
  readonly onRepository?: (result: RepositoryRetention) => void;
}

/** What happened to one repository. */
export interface RepositoryRetention {
  readonly repository: string;
  readonly plan: RetentionPlan;
  readonly dryRun: boolean;
  /** What was deleted (empty in a dry run). */
  readonly deleted: { readonly tags: readonly string[]; readonly manifests: readonly Digest[] };
  /** Planned deletions that did not happen: gone already, moved, tagged again, or refused (DENIED). */
  readonly skipped: { readonly tags: readonly string[]; readonly manifests: readonly Digest[] };
}

/** A run's totals. */
export interface RetentionSummary {
  readonly dryRun: boolean;
  /** Repositories a rule matched and that were planned. */
  readonly repositories: number;
  readonly tagsKept: number;
  /** Deleted, or in a dry run planned for deletion. */
  readonly tagsDeleted: number;
  readonly manifestsDeleted: number;
  /** Repositories whose run failed (storage errors); the run goes on with the others. */
  readonly failures: number;
  readonly durationMs: number;
}

/** Manifests read at once when planning a repository. */
const READ_CONCURRENCY = 16;
/** Deletes in flight at once in one repository: each is independent, and a manifest delete reads the remaining tags. */
const DELETE_CONCURRENCY = 8;

/** Runs retention once over every repository of the catalog a rule matches. Rejects only when the catalog cannot be listed. */
export async function runRetention(options: RetentionRunOptions): Promise<RetentionSummary> {
  const started = Date.now();
  const { registry, rules, logger, dryRun } = options;
  const matches = rules.map((r) => repositoryMatcher(r.repositories));
  const totals = { repositories: 0, tagsKept: 0, tagsDeleted: 0, manifestsDeleted: 0, failures: 0 };
  const finish = (): RetentionSummary => {
    const summary = { dryRun, ...totals, durationMs: Date.now() - started };
    const { tagsDeleted, manifestsDeleted, tagsKept } = summary;
    options.metrics?.retentionRun({ ok: summary.failures === 0, dryRun, tagsDeleted, manifestsDeleted, tagsKept, seconds: summary.durationMs / 1000 });
    return summary;
  };
  let names: readonly string[];
  try {
    names = await registry.repositories();
  } catch (err) {
    totals.failures++;
    finish();
    throw err;
  }
  for (const name of names) {
    if (options.signal?.aborted === true) break;
    if (!matches.some((m) => m(name))) continue;
    try {
      const result = await retainRepository(options, name as RepositoryName);
      if (result === undefined) continue;
      totals.repositories++;
      totals.tagsKept += result.plan.keptTags.length;
      totals.tagsDeleted += dryRun ? result.plan.deletedTags.length : result.deleted.tags.length;
      totals.manifestsDeleted += dryRun ? result.plan.deletedManifests.length : result.deleted.manifests.length;
      options.onRepository?.(result);
    } catch (err) {
      totals.failures++;
      logger.error({ err, repository: name }, 'retention failed for a repository; the run goes on with the others');
    }
  }
  const summary = finish();
  logger.info(
    { ...summary, event: 'retention' },
    `retention ${dryRun ? 'dry run' : 'run'} finished: ${summary.repositories} repositories, ${summary.tagsKept} tags kept, ${summary.tagsDeleted} tags and ${summary.manifestsDeleted} manifests ${dryRun ? 'would be deleted' : 'deleted'}${summary.failures > 0 ? `, ${summary.failures} failed` : ''} in ${summary.durationMs} ms`,
  );
  return summary;
}

/** Plans (and applies) one repository; undefined when it no longer exists. */
async function retainRepository(options: RetentionRunOptions, name: RepositoryName): Promise<RepositoryRetention | undefined> {
  const { registry, logger, dryRun } = options;
  let plan: RetentionPlan;
  try {
    plan = await planRepository(options, name);
  } catch (err) {
    if (isCode(err, 'NAME_UNKNOWN')) {
      logger.info({ repository: name }, 'retention: repository deleted meanwhile, skipped');
      return undefined;
    }
    throw err;
  }
  logPlan(logger, plan, dryRun);
  if (dryRun) return { repository: name, plan, dryRun, deleted: { tags: [], manifests: [] }, skipped: { tags: [], manifests: [] } };
  const repo = deletingRepository(options, registry.repository(name));
  const tags = await deleteTags(repo, plan, logger);
  const manifests = await deleteManifests(repo, plan, logger);
  return { repository: name, plan, dryRun, deleted: { tags: tags.deleted, manifests: manifests.deleted }, skipped: { tags: tags.skipped, manifests: manifests.skipped } };
}

/** Reads the repository's state and plans it. */
async function planRepository(options: RetentionRunOptions, name: RepositoryName): Promise<RetentionPlan> {
  const { registry } = options;
  const tags = await registry.inventory.tagTimes(name);
  const times = await registry.inventory.revisionTimes(name);
  const repo = registry.repository(name);
  const revisions: StoredRevision[] = [];
  for (let i = 0; i < times.length; i += READ_CONCURRENCY) {
    const read = await Promise.all(times.slice(i, i + READ_CONCURRENCY).map((t) => readRevision(repo, t.digest, t.pushedAt, options.logger)));
    for (const r of read) if (r !== undefined) revisions.push(r);
  }
  const pulls = (await options.pullTimes?.read(name)) ?? new Map<Digest, number>();
  const state = repositoryState(tags, revisions, pulls);
  return planRetention({ repository: name, rules: options.rules, immutable: options.immutable, tags: state.tags, manifests: state.manifests, now: options.now?.() ?? new Date() });
}

/**
 * A revision parsed; undefined when it went away meanwhile or cannot be parsed (then it is left alone:
 * a manifest retention cannot read is never deleted, though what it lists may be).
 */
async function readRevision(repo: RepositoryServices, digest: Digest, pushedAt: Date | undefined, logger: Logger): Promise<StoredRevision | undefined> {
  try {
    const stored = await repo.manifests.get({ kind: 'digest', digest });
    return { digest, manifest: parseManifest(stored.body, stored.mediaType), pushedAt };
  } catch (err) {
    if (isCode(err, 'MANIFEST_UNKNOWN')) return undefined;
    if (err instanceof OciError) {
      logger.warn({ repository: repo.name, digest, err: err.message }, 'retention: a stored manifest cannot be parsed; it is left alone');
      return undefined;
    }
    throw err;
  }
}

/** Every decision at info, with its reason. */
function logPlan(logger: Logger, plan: RetentionPlan, dryRun: boolean): void {
  const { repository } = plan;
  const mode = dryRun ? { dryRun } : {};
  for (const d of plan.keptTags) logger.info({ repository, tag: d.tag, digest: d.digest, decision: 'kept', reason: d.reason, ...mode }, describeTagDecision(repository, d));
  for (const d of plan.deletedTags) logger.info({ repository, tag: d.tag, digest: d.digest, decision: 'deleted', reason: d.reason, ...mode }, describeTagDecision(repository, d));
  for (const d of plan.deletedManifests) logger.info({ repository, digest: d.digest, decision: 'deleted', reason: d.reason, ...mode }, describeManifestDecision(repository, d));
}

/** The services deletes go through: notified as a request of the `retention` actor when events are configured. */
function deletingRepository(options: RetentionRunOptions, repo: RepositoryServices): RepositoryServices {
  if (options.events === undefined) return repo;
  const base = options.baseUrl ?? '';
  const events = options.events.forRequest({ method: 'DELETE', headers: { 'user-agent': 'berth-retention' } }, { actor: 'retention', urlFor: (path) => `${base}${path}` });
  return notifyingRepository(repo, events);
}

interface Outcome<T> {
  deleted: T[];
  skipped: T[];
}

async function deleteTags(repo: RepositoryServices, plan: RetentionPlan, logger: Logger): Promise<Outcome<string>> {
  const out: Outcome<string> = { deleted: [], skipped: [] };
  await eachLimit(plan.deletedTags, async (d) => {
    const tag = d.tag as Tag;
    const done = await skippingRaces(logger, { repository: repo.name, tag }, async () => {
      // Pushed again since the plan was made: a new push, not what the plan judged.
      if ((await repo.tags.get(tag)) !== d.digest) return false;
      await repo.tags.untag(tag);
      return true;
    });
    (done ? out.deleted : out.skipped).push(d.tag);
  });
  return out;
}

async function deleteManifests(repo: RepositoryServices, plan: RetentionPlan, logger: Logger): Promise<Outcome<Digest>> {
  const out: Outcome<Digest> = { deleted: [], skipped: [] };
  if (plan.deletedManifests.length === 0) return out;
  // A delete by digest also removes the tags pointing at it: one tagged since the plan stays.
  const tagged = new Set<Digest>();
  const current = await repo.tags.list(undefined, undefined).catch((err: unknown) => (isCode(err, 'NAME_UNKNOWN') ? { items: [] } : Promise.reject(err)));
  for (const tag of current.items as readonly Tag[]) {
    const digest = await repo.tags.get(tag).catch((err: unknown) => (isCode(err, 'MANIFEST_UNKNOWN') ? undefined : Promise.reject(err)));
    if (digest !== undefined) tagged.add(digest);
  }
  await eachLimit(plan.deletedManifests, async (d) => {
    const done =
      !tagged.has(d.digest) &&
      (await skippingRaces(logger, { repository: repo.name, digest: d.digest }, async () => {
        await repo.manifests.delete(d.digest);
        return true;
      }));
    (done ? out.deleted : out.skipped).push(d.digest);
  });
  return out;
}

/** Runs one delete; false when another client won the race (MANIFEST_UNKNOWN, NAME_UNKNOWN) or a layer refused it (DENIED). */
async function skippingRaces(logger: Logger, target: Record<string, string>, op: () => Promise<boolean>): Promise<boolean> {
  try {
    const done = await op();
    if (!done) logger.info(target, 'retention: pushed again since planned, not deleted');
    return done;
  } catch (err) {
    if (isCode(err, 'MANIFEST_UNKNOWN') || isCode(err, 'NAME_UNKNOWN')) {
      logger.info(target, 'retention: deleted meanwhile by another client, skipped');
      return false;
    }
    if (isCode(err, 'DENIED')) {
      logger.warn({ ...target, err: err instanceof Error ? err.message : String(err) }, 'retention: the delete was refused, kept');
      return false;
    }
    throw err;
  }
}

/** Runs `fn` on every item, at most DELETE_CONCURRENCY at once; rejects with the first failure once all settled. */
async function eachLimit<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i] as T);
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(DELETE_CONCURRENCY, items.length) }, worker));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof OciError && err.code === code;
}
