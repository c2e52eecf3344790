/**
 * The UI's session as credentials: wraps the configured access controller so that a request carrying a
 * valid session cookie (and no Authorization header of its own) is authorized as the session's user, by the
 * same policy as that user's Basic credentials would be. It wraps rather than changes the controllers, so
 * /v2, /berth/v1 and whatever else asks `app.access` see the session alike.
 *
 * - A request that changes something (not GET or HEAD, or wanting push or delete) with the cookie must carry the session's CSRF token
 *   in `X-Berth-CSRF`, else 403 DENIED: a page on another site cannot forge the header (and SameSite=Strict
 *   keeps the cookie off its requests in the first place).
 * - The UI's own requests (header `X-Berth-UI`) get their 401s without `WWW-Authenticate`, so the browser
 *   shows the UI's login form rather than its own Basic dialog.
 * - A forged, expired or unreadable cookie counts as no cookie: the request is anonymous.
 */
import { OciError } from '../oci/errors.js';
import type { Access, AccessController, AuthorizeOptions, AuthRequest, Grant } from '../auth/access.js';
import { cookieValue, CSRF_HEADER, SESSION_COOKIE, UI_REQUEST_HEADER, type Session, type SessionCodec } from './session.js';

/** A controller that can decide for a user authenticated by other means (the htpasswd controller). */
export interface UserAuthorizer {
  authorizedAs(user: string, req: AuthRequest, wanted: readonly Access[], options?: AuthorizeOptions): Promise<Grant>;
}

/** True when `access` can decide for a session's user. */
export function isUserAuthorizer(access: AccessController): access is AccessController & UserAuthorizer {
  return typeof (access as Partial<UserAuthorizer>).authorizedAs === 'function';
}

/** The session a request carries, when its cookie is valid and it has no Authorization header. */
export function requestSession(req: AuthRequest, codec: SessionCodec): Session | undefined {
  if (req.headers.authorization !== undefined) return undefined;
  return codec.verify(cookieValue(req.headers.cookie, SESSION_COOKIE));
}

/** A request that changes something: a method other than GET and HEAD, or push or delete access wanted. */
function isChange(req: AuthRequest, wanted: readonly Access[]): boolean {
  const method = req.method ?? 'GET';
  return (method !== 'GET' && method !== 'HEAD') || wanted.some((a) => a.type === 'repository' && a.action !== 'pull');
}

/** See the module comment. */
export class SessionAccessController implements AccessController {
  constructor(
    private readonly inner: AccessController,
    private readonly codec: SessionCodec,
  ) {}

  async authorized(req: AuthRequest, wanted: readonly Access[], options?: AuthorizeOptions): Promise<Grant> {
    const session = isUserAuthorizer(this.inner) ? requestSession(req, this.codec) : undefined;
    try {
      if (session === undefined || !isUserAuthorizer(this.inner)) return await this.inner.authorized(req, wanted, options);
      if (isChange(req, wanted) && !this.codec.checkCsrf(session, req.headers[CSRF_HEADER])) {
        throw new OciError('DENIED', { message: 'missing or wrong CSRF token (X-Berth-CSRF) for a change made with the UI session' });
      }
      return await this.inner.authorizedAs(session.user, req, wanted, options);
    } catch (err) {
      if (err instanceof OciError && err.code === 'UNAUTHORIZED' && req.headers[UI_REQUEST_HEADER] !== undefined) {
        const { 'WWW-Authenticate': _challenge, ...headers } = err.headers;
        throw new OciError('UNAUTHORIZED', { message: err.message, detail: err.detail, headers });
      }
      throw err;
    }
  }
}
