import type { RequestContext } from '../context.js';
import type { RepositoryServices } from '../../storage/services.js';
import { OciError } from '../../oci/errors.js';

/** The request's repository, validated by the lifecycle before any handler runs. */
export function repositoryOf(ctx: RequestContext): RepositoryServices {
  if (ctx.repository === undefined) throw new OciError('NAME_INVALID');
  return ctx.repository;
}

/**
 * Parses the `n` pagination parameter: `fallback` when absent, else a non-negative integer
 * (PAGINATION_NUMBER_INVALID otherwise), capped at `max` when given.
 */
export function pageSize(ctx: RequestContext, max?: number, fallback?: number): number | undefined {
  const raw = ctx.query.get('n');
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new OciError('PAGINATION_NUMBER_INVALID', { detail: { n: raw.slice(0, 20) } });
  const n = Number(raw);
  return max !== undefined ? Math.min(n, max) : n;
}

/** A `Link: <url>; rel="next"` header value for a paginated listing. */
export function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}
