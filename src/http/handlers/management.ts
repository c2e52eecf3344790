/**
 * The management API (`/berth/v1/`, issue 14; docs/management-api.md): repositories with their
 * tag counts and sizes, tags with their images, one manifest's summary, usage, and deleting a
 * whole repository. Authorized like the OCI API (auth/access.ts requiredAccess), errors through the
 * one renderer. Reads go through the registry's inventory, never through the request's notifying
 * wrapper (browsing is not pulling); a repository delete goes through it, so each tag and
 * manifest deleted is notified.
 */
import type { RequestContext } from '../context.js';
import { OciError } from '../../oci/errors.js';
import { parseManifestReference, type RepositoryName } from '../../oci/reference.js';
import { compareRepositoryNames, pageAfter, type SortedPage } from '../../storage/catalog.js';
import type { TagSummary } from '../../storage/inventory.js';
import { sendJson, urlFor } from '../respond.js';
import { pageSize, repositoryOf } from './common.js';

/** Entries per page when the client does not say (as for _catalog). */
const DEFAULT_ENTRIES = 100;

function pageSizeOf(ctx: RequestContext): number | undefined {
  const max = ctx.app.catalogMaxEntries;
  return pageSize(ctx, max, Math.min(DEFAULT_ENTRIES, max));
}

/** A `Link: <url>; rel="next"` value carrying the listing's other parameters (q, sort). */
function nextLink(ctx: RequestContext, path: string, n: number, last: string, keep: readonly string[]): string {
  const params = new URLSearchParams({ n: String(n), last });
  for (const key of keep) {
    const value = ctx.query.get(key);
    if (value !== null && value !== '') params.set(key, value);
  }
  return `<${urlFor(ctx, path)}?${params.toString()}>; rel="next"`;
}

function nameOf(ctx: RequestContext): RepositoryName {
  if (ctx.name === undefined) throw new OciError('NAME_INVALID');
  return ctx.name;
}

/** GET /berth/v1/repositories?n=&last=&q=: a catalog page (names containing `q`), each with its tag count and size. */
export async function listRepositories(ctx: RequestContext): Promise<void> {
  const n = pageSizeOf(ctx);
  const q = ctx.query.get('q') ?? '';
  const all = await ctx.app.registry.repositories();
  // A scan of the in-memory index: 10,000 names in well under a millisecond.
  const names = q === '' ? all : all.filter((name) => name.includes(q));
  const last = ctx.query.get('last') ?? undefined;
  const page = await pullablePage(ctx, names, n, last);
  const repositories = await ctx.app.registry.inventory.repositories(page.items as readonly RepositoryName[]);
  const headers: Record<string, string> = {};
  if (page.next !== undefined && n !== undefined) headers['Link'] = nextLink(ctx, '/berth/v1/repositories', n, page.next, ['q']);
  sendJson(ctx, 200, { repositories: repositories.map((r) => ({ name: r.name, tags: r.tags, size: r.size })) }, headers);
}

/**
 * The page of the names the caller may pull: the listing shows each user what policies let them
 * read (the catalog scope alone shows nothing more). Asks the access controller name by name from
 * `last` until the page (and one more, for the Link) is full.
 */
async function pullablePage(ctx: RequestContext, names: readonly string[], n: number | undefined, last: string | undefined): Promise<SortedPage> {
  const candidates = pageAfter(names, undefined, last, compareRepositoryNames).items;
  const wanted = n === undefined ? Infinity : n + 1;
  const out: string[] = [];
  for (const name of candidates) {
    if (out.length >= wanted) break;
    const allowed = await ctx.app.access.authorized(ctx.req, [{ type: 'repository', name, action: 'pull' }]).then(
      () => true,
      (err: unknown) => {
        if (err instanceof OciError && (err.code === 'DENIED' || err.code === 'UNAUTHORIZED')) return false;
        throw err;
      },
    );
    if (allowed) out.push(name);
  }
  return pageAfter(out, n, undefined, compareRepositoryNames);
}

/** GET /berth/v1/repositories/<name>: one repository's tag count and size. */
export async function getRepository(ctx: RequestContext): Promise<void> {
  const r = await ctx.app.registry.inventory.repository(nameOf(ctx));
  sendJson(ctx, 200, { name: r.name, tags: r.tags, size: r.size });
}

/**
 * DELETE /berth/v1/repositories/<name>: every tag, manifest revision and layer link, through the
 * request's services (notified per tag and manifest); the blobs are left to garbage collection.
 * The lifecycle refused it already when deletes are disabled or the registry is read-only.
 */
export async function deleteRepository(ctx: RequestContext): Promise<void> {
  const deleted = await ctx.app.registry.deleteRepository(repositoryOf(ctx));
  await ctx.app.pullTimes?.forget(deleted.name);
  ctx.log.info({ repository: deleted.name, tags: deleted.tags.length, manifests: deleted.manifests.length, user: ctx.grant.user }, 'repository deleted');
  sendJson(ctx, 202, { name: deleted.name, tags: deleted.tags, manifests: deleted.manifests });
}

/** GET /berth/v1/repositories/<name>/tags?n=&last=&sort=name|pushed: tags with their images. */
export async function listTagSummaries(ctx: RequestContext): Promise<void> {
  const name = nameOf(ctx);
  const sort = ctx.query.get('sort') ?? 'name';
  if (sort !== 'name' && sort !== 'pushed') {
    throw new OciError('UNSUPPORTED', { status: 400, message: 'sort must be name or pushed', detail: { sort: sort.slice(0, 50) } });
  }
  const n = pageSizeOf(ctx);
  const page = await ctx.app.registry.inventory.tags(name, { sort, n, last: ctx.query.get('last') ?? undefined });
  const pullTimes = ctx.app.pullTimes;
  const tags = await Promise.all(
    page.items.map(async (t: TagSummary) => ({
      name: t.name,
      digest: t.digest,
      mediaType: t.mediaType,
      size: t.size,
      platforms: t.platforms,
      pushedAt: t.pushedAt.toISOString(),
      pulledAt: (await pullTimes?.lastPulled(name, t.digest))?.toISOString() ?? null,
    })),
  );
  const headers: Record<string, string> = {};
  if (page.next !== undefined && n !== undefined) headers['Link'] = nextLink(ctx, `/berth/v1/repositories/${name}/tags`, n, page.next, ['sort']);
  sendJson(ctx, 200, { tags }, headers);
}

/** GET /berth/v1/repositories/<name>/manifests/<digest or tag>: the manifest's summary for the UI. */
export async function getManifestSummary(ctx: RequestContext): Promise<void> {
  const reference = parseManifestReference(ctx.route.reference ?? '');
  sendJson(ctx, 200, await ctx.app.registry.inventory.manifest(nameOf(ctx), reference));
}

/** GET /berth/v1/usage: the quotas (none until configured) and the deduplicated bytes of everything. */
export async function getUsage(ctx: RequestContext): Promise<void> {
  const { registry, quotas } = ctx.app;
  const [usage, total] = await Promise.all([quotas?.usage() ?? [], registry.inventory.total((await registry.repositories()) as readonly RepositoryName[])]);
  sendJson(ctx, 200, { quotas: usage.map((q) => ({ repositories: q.repositories, limit: q.limit, used: q.used })), total });
}
