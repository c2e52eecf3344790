import type { RequestContext } from '../context.js';
import { parseDigest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import { sendJson, urlFor } from '../respond.js';
import { nextLink, pageSize, repositoryOf } from './common.js';

/** end-8a/8b: GET /v2/<name>/tags/list with `n` and `last`. */
export async function listTags(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const n = pageSize(ctx);
  const page = await repo.tags.list(n, ctx.query.get('last') ?? undefined);
  const headers: Record<string, string> = {};
  if (page.next !== undefined && n !== undefined) headers['Link'] = nextLink(urlFor(ctx, `/v2/${repo.name}/tags/list`), n, page.next);
  sendJson(ctx, 200, { name: repo.name, tags: page.items }, headers);
}

/** Entries per catalog page when the client does not say (Distribution's default). */
const DEFAULT_CATALOG_ENTRIES = 100;

/** GET /v2/_catalog with `n` and `last`: repository names in Distribution's order, from the in-memory index. */
export async function catalog(ctx: RequestContext): Promise<void> {
  const n = pageSize(ctx, ctx.app.catalogMaxEntries, Math.min(DEFAULT_CATALOG_ENTRIES, ctx.app.catalogMaxEntries));
  const page = await ctx.app.registry.catalog(n, ctx.query.get('last') ?? undefined);
  const headers: Record<string, string> = {};
  if (page.next !== undefined && n !== undefined) headers['Link'] = nextLink(urlFor(ctx, '/v2/_catalog'), n, page.next);
  sendJson(ctx, 200, { repositories: page.items }, headers);
}

/** end-12a/12b: GET /v2/<name>/referrers/<digest>, optionally filtered by `artifactType`. */
export async function referrers(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const digest = parseDigest(ctx.route.reference ?? '');
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  const manifests = await repo.manifests.referrers(digest, artifactType === '' ? undefined : artifactType);
  const headers: Record<string, string> = {};
  if (artifactType !== undefined && artifactType !== '') headers['OCI-Filters-Applied'] = 'artifactType';
  sendJson(ctx, 200, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, headers, MediaType.OciIndex);
}
