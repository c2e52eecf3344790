/**
 * The registry's routes as one pure function: method-independent path matching. Repository names
 * contain slashes, so each pattern anchors on its fixed suffix and the name is what precedes it.
 */

export type RouteKind = 'root' | 'base' | 'catalog' | 'tags' | 'manifest' | 'blob' | 'uploads' | 'upload' | 'referrers' | ManagementRouteKind;

/** The management API's routes (`/berth/v1/...`, handlers/management.ts). */
export type ManagementRouteKind = 'mgmt-repositories' | 'mgmt-repository' | 'mgmt-tags' | 'mgmt-manifest' | 'mgmt-usage';

export interface Route {
  readonly kind: RouteKind;
  /** Repository name as it appeared (decoded, not yet validated). */
  readonly name?: string;
  /** Tag or digest for manifests, digest for blobs and referrers, upload id for uploads. */
  readonly reference?: string;
}

/** Methods each route answers; anything else gets 405 with an Allow header. */
export const ROUTE_METHODS: Readonly<Record<RouteKind, readonly string[]>> = {
  root: ['GET', 'HEAD'],
  base: ['GET', 'HEAD'],
  catalog: ['GET', 'HEAD'],
  tags: ['GET', 'HEAD'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET', 'HEAD'],
  'mgmt-repositories': ['GET', 'HEAD'],
  'mgmt-repository': ['GET', 'HEAD', 'DELETE'],
  'mgmt-tags': ['GET', 'HEAD'],
  'mgmt-manifest': ['GET', 'HEAD'],
  'mgmt-usage': ['GET', 'HEAD'],
};

const PATTERNS: ReadonlyArray<readonly [RouteKind, RegExp]> = [
  ['tags', /^(.+)\/tags\/list$/],
  ['manifest', /^(.+)\/manifests\/([^/]+)$/],
  ['uploads', /^(.+)\/blobs\/uploads\/?$/],
  ['upload', /^(.+)\/blobs\/uploads\/([^/]+)$/],
  ['blob', /^(.+)\/blobs\/([^/]+)$/],
  ['referrers', /^(.+)\/referrers\/([^/]+)$/],
];

/**
 * Matches a request path (without query, after the configured prefix) to a route, or undefined.
 * Percent-encoded segments are decoded; a malformed encoding does not match.
 */
export function matchRoute(path: string): Route | undefined {
  if (path === '/' || path === '') return { kind: 'root' };
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (path.startsWith('/berth/v1/')) return matchManagementRoute(path.slice('/berth/v1/'.length));
  if (!path.startsWith('/v2/')) return undefined;
  const rest = path.slice(4);
  if (rest === '_catalog' || rest === '_catalog/') return { kind: 'catalog' };
  for (const [kind, pattern] of PATTERNS) {
    const m = pattern.exec(rest);
    if (m === null) continue;
    const name = decode(m[1] as string);
    if (name === undefined) return undefined;
    if (m[2] === undefined) return { kind, name };
    const reference = decode(m[2]);
    if (reference === undefined) return undefined;
    return { kind, name, reference };
  }
  return undefined;
}

/**
 * `/berth/v1/` routes: `usage`, `repositories`, and below `repositories/` a name followed by
 * nothing, `/tags` or `/manifests/<reference>`. As for `/v2`, the suffix wins: a repository whose
 * last component is `tags` is listed by `repositories`, but `repositories/<name>/tags` names the
 * tags of its parent.
 */
function matchManagementRoute(rest: string): Route | undefined {
  if (rest === 'usage') return { kind: 'mgmt-usage' };
  if (rest === 'repositories' || rest === 'repositories/') return { kind: 'mgmt-repositories' };
  if (!rest.startsWith('repositories/')) return undefined;
  const tail = rest.slice('repositories/'.length);
  const manifest = /^(.+)\/manifests\/([^/]+)$/.exec(tail);
  const tags = manifest === null ? /^(.+)\/tags\/?$/.exec(tail) : null;
  const raw = manifest?.[1] ?? tags?.[1] ?? tail.replace(/\/$/, '');
  if (raw === '') return undefined;
  const name = decode(raw);
  if (name === undefined) return undefined;
  if (manifest !== null) {
    const reference = decode(manifest[2] as string);
    return reference === undefined ? undefined : { kind: 'mgmt-manifest', name, reference };
  }
  return { kind: tags !== null ? 'mgmt-tags' : 'mgmt-repository', name };
}

function decode(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
