import type { IncomingHttpHeaders } from 'node:http';
import type { Route } from '../http/router.js';

/** An action on a resource, as the Docker token scopes spell it. */
export interface Access {
  readonly type: 'repository' | 'registry';
  /** Repository name, or `catalog` for the registry resource. */
  readonly name: string;
  readonly action: 'pull' | 'push' | 'delete' | '*';
}

/** Who a request was authorized as. */
export interface Grant {
  readonly user?: string;
  /** The optional accesses (see AuthorizeOptions) that were refused; absent or empty when none was. */
  readonly refused?: readonly Access[];
}

/** How a request may be authorized. */
export interface AuthorizeOptions {
  /**
   * Wanted accesses the request can do without (the source of a cross-repository mount): refusing one of
   * them does not refuse the request; the grant lists it in `refused`. Bad or missing credentials still
   * refuse the whole request, so a failed login costs one check and one log line.
   */
  readonly optional?: readonly Access[];
}

/** What an access controller reads of a request (an HTTP/1 or HTTP/2 request fits). */
export interface AuthRequest {
  readonly headers: IncomingHttpHeaders;
  /** The request's method, when the caller has one (the app passes the request itself). */
  readonly method?: string | undefined;
  /** The connection, for logging the peer; null once it is gone. */
  readonly socket?: { readonly remoteAddress?: string | undefined } | null;
}

/**
 * Decides whether a request may perform `wanted`. Resolves with a grant covering all of it, or
 * rejects with an OciError (UNAUTHORIZED with a WWW-Authenticate challenge, or DENIED).
 */
export interface AccessController {
  authorized(req: AuthRequest, wanted: readonly Access[], options?: AuthorizeOptions): Promise<Grant>;
}

/** True when `a` is one of `list` (same type, name and action). */
export function includesAccess(list: readonly Access[] | undefined, a: Access): boolean {
  return list?.some((b) => b.type === a.type && b.name === a.name && b.action === a.action) === true;
}

/** The controller used when `auth` is not configured: everything is allowed, anonymously. */
export class AllowAll implements AccessController {
  async authorized(): Promise<Grant> {
    return {};
  }
}

/**
 * The access a request needs (pure). GET/HEAD pull; POST/PUT/PATCH pull and push; DELETE delete;
 * a cross-repository mount also pulls from the source repository; the catalog needs the registry
 * catalog scope, as do the management API's repository listing and usage (its per-repository routes
 * follow the method: GET pull, DELETE delete); the base and root endpoints need nothing beyond authentication.
 */
export function requiredAccess(route: Route, method: string, query: URLSearchParams): Access[] {
  if (route.kind === 'root' || route.kind === 'base') return [];
  // The management API's registry-wide listings (every repository, usage of everything) read what _catalog does.
  if (route.kind === 'catalog' || route.kind === 'mgmt-repositories' || route.kind === 'mgmt-usage') return [{ type: 'registry', name: 'catalog', action: '*' }];
  const name = route.name ?? '';
  switch (method) {
    case 'GET':
    case 'HEAD':
      return [{ type: 'repository', name, action: 'pull' }];
    case 'DELETE':
      return [{ type: 'repository', name, action: 'delete' }];
    case 'POST':
    case 'PUT':
    case 'PATCH': {
      const out: Access[] = [
        { type: 'repository', name, action: 'pull' },
        { type: 'repository', name, action: 'push' },
      ];
      const from = query.get('from');
      if (route.kind === 'uploads' && query.has('mount') && from !== null && from !== name) {
        out.push({ type: 'repository', name: from, action: 'pull' });
      }
      return out;
    }
    default:
      return [{ type: 'repository', name, action: 'push' }];
  }
}
