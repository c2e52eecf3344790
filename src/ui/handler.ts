/**
 * The UI's routes under `ui.path`: its static files and three small JSON endpoints of its own.
 *
 *   GET  <path>/                 index.html (no-cache); <path> redirects to <path>/
 *   GET  <path>/assets/<file>    hashed files (immutable)
 *   GET  <path>/api/session      who is logged in, their CSRF token, what the registry allows
 *                                (?repository=<name>: may they delete there)
 *   POST <path>/api/login        {"user","password"}: checked like Basic credentials, then a session cookie
 *   POST <path>/api/logout       (with the CSRF token) removes the cookie
 *
 * Everything else the UI shows comes from /berth/v1 and /v2, with the session as credentials
 * (session-access.ts). Errors are OciErrors for the app's one renderer.
 */
import { OciError } from '../oci/errors.js';
import type { AccessController, AuthRequest } from '../auth/access.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { AssetMap } from './assets.js';
import { isUserAuthorizer, requestSession } from './session-access.js';
import { CSRF_HEADER, sessionCookieHeader, UI_REQUEST_HEADER, type SessionCodec } from './session.js';

/** What the UI reads of a request (http/exchange.ts' RegistryRequest fits; ui/ imports nothing of http/). */
export interface UiRequest extends Readable {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly socket: AuthRequest['socket'] & object | null;
}

/** What the UI does with a response (RegistryResponse fits). */
export interface UiResponse {
  statusCode: number;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  end(body?: Buffer): unknown;
}

type RegistryRequest = UiRequest;
type RegistryResponse = UiResponse;

/** What the app asks of the UI (see http/app.ts). */
export interface UiHandler {
  /** `ui.path`. */
  readonly path: string;
  /** True when the request path is the UI's. */
  matches(pathname: string): boolean;
  /** Answers a request whose path matches; rejects with an OciError for the renderer. */
  serve(req: RegistryRequest, res: RegistryResponse, pathname: string): Promise<void>;
}

/** What the UI is built from. */
export interface UiOptions {
  readonly path: string;
  readonly assets: AssetMap;
  readonly codec: SessionCodec;
  /** The controller as configured: checks a login's credentials. */
  readonly login: AccessController;
  /** The controller the app uses (the session wrapper): what the session may do. */
  readonly access: AccessController;
  /** `htpasswd`, `token` or `none`: what the login form does. */
  readonly auth: 'htpasswd' | 'token' | 'none';
  readonly deleteEnabled: boolean;
  readonly readOnly: boolean;
}

/** Allows the page its own files and API only; nothing inline, nothing from elsewhere. */
const PAGE_SECURITY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Builds the UI's handler; see the module comment. */
export function createUiHandler(options: UiOptions): UiHandler {
  const { path } = options;
  return {
    path,
    matches: (pathname) => pathname === path || pathname.startsWith(`${path}/`),
    serve: async (req, res, pathname) => {
      const method = req.method ?? 'GET';
      const rest = pathname.slice(path.length);
      if (rest.startsWith('/api/')) return serveApi(options, req, res, method, rest.slice(5));
      if (method !== 'GET' && method !== 'HEAD') throw new OciError('UNSUPPORTED', { message: `method ${method.slice(0, 16)} not allowed`, headers: { Allow: 'GET, HEAD' } });
      if (rest === '') return send(res, method, 301, undefined, { Location: `${path}/` });
      const asset = options.assets.get(rest === '/' || rest === '/index.html' ? 'index.html' : rest.slice(1));
      if (asset === undefined) {
        if (options.assets.size === 0) throw new OciError('UNAVAILABLE', { message: 'the web UI is not built: run "npm run build"' });
        throw new OciError('NAME_UNKNOWN', { status: 404, message: 'no such file in the web UI' });
      }
      const headers: Record<string, string> = { 'Content-Type': asset.contentType, 'Cache-Control': asset.cacheControl, ETag: asset.etag };
      if (asset.contentType.startsWith('text/html')) Object.assign(headers, { 'Content-Security-Policy': PAGE_SECURITY, 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'same-origin' });
      if (req.headers['if-none-match'] === asset.etag) return send(res, method, 304, undefined, headers);
      send(res, method, 200, asset.body, headers);
    },
  };
}

async function serveApi(options: UiOptions, req: RegistryRequest, res: RegistryResponse, method: string, name: string): Promise<void> {
  const allowed = name === 'session' ? 'GET, HEAD' : name === 'login' || name === 'logout' ? 'POST' : undefined;
  if (allowed === undefined) throw new OciError('NAME_UNKNOWN', { status: 404, message: 'no such endpoint' });
  if (!allowed.split(', ').includes(method)) throw new OciError('UNSUPPORTED', { message: `method ${method.slice(0, 16)} not allowed`, headers: { Allow: allowed } });
  const noStore = { 'Cache-Control': 'no-store' };
  if (name === 'session') return sendJson(res, method, 200, await sessionInfo(options, req), noStore);
  // A form on another site cannot set this header without a CORS preflight, which Berth never grants.
  if (req.headers[UI_REQUEST_HEADER] === undefined) throw new OciError('DENIED', { message: `the request lacks the ${UI_REQUEST_HEADER} header` });
  const secure = isSecure(req);
  if (name === 'logout') {
    const session = requestSession(req, options.codec);
    if (session !== undefined && !options.codec.checkCsrf(session, req.headers[CSRF_HEADER])) throw new OciError('DENIED', { message: 'missing or wrong CSRF token (X-Berth-CSRF)' });
    return sendJson(res, method, 200, { user: null }, { ...noStore, 'Set-Cookie': sessionCookieHeader('', { secure, maxAgeMs: 0 }) });
  }
  const user = await login(options, req);
  const { value, session } = options.codec.issue(user);
  sendJson(res, method, 200, { user, csrf: options.codec.csrfToken(session) }, { ...noStore, 'Set-Cookie': sessionCookieHeader(value, { secure, maxAgeMs: options.codec.maxAgeMs }) });
}

/** Checks a login's credentials exactly as a Basic header on /v2/ would be (lockouts and all); resolves with the user. */
async function login(options: UiOptions, req: RegistryRequest): Promise<string> {
  if (options.auth !== 'htpasswd' || !isUserAuthorizer(options.login)) {
    throw new OciError('UNSUPPORTED', { message: options.auth === 'none' ? 'this registry has no users: nothing to log in to' : 'the UI cannot log in with token authentication yet (see docs/ui.md)' });
  }
  const { user, password } = await readCredentials(req);
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const basic: AuthRequest = { headers: { authorization }, socket: req.socket };
  try {
    const grant = await options.login.authorized(basic, []);
    if (grant.user === undefined) throw new OciError('UNAUTHORIZED');
    return grant.user;
  } catch (err) {
    // No challenge header: the browser must not show its own login dialog over the form.
    if (err instanceof OciError && err.code === 'UNAUTHORIZED') throw new OciError('UNAUTHORIZED', { message: 'wrong user name or password' });
    throw err;
  }
}

async function readCredentials(req: RegistryRequest): Promise<{ user: string; password: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Not `for await (const chunk of req)`: leaving early must not destroy the request (see http/request-body.ts).
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > 4096) throw new OciError('SIZE_INVALID', { status: 413, message: 'login request too large' });
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    body = undefined;
  }
  const { user, password } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof user !== 'string' || typeof password !== 'string' || user === '' || user.includes(':')) {
    throw new OciError('UNAUTHORIZED', { status: 400, message: 'expected {"user": "...", "password": "..."}' });
  }
  return { user, password };
}

/** The session endpoint's answer: who, their CSRF token, and what the registry allows them. */
async function sessionInfo(options: UiOptions, req: RegistryRequest): Promise<Record<string, unknown>> {
  const session = requestSession(req, options.codec);
  const repository = new URL(req.url ?? '/', 'http://ui').searchParams.get('repository');
  const info: Record<string, unknown> = {
    user: session?.user ?? null,
    csrf: session === undefined ? null : options.codec.csrfToken(session),
    expires: session === undefined ? null : new Date(session.expires).toISOString(),
    auth: options.auth,
    deleteEnabled: options.deleteEnabled && !options.readOnly,
  };
  if (repository !== null) info['canDelete'] = info['deleteEnabled'] === true && (await allows(options.access, req, repository, session === undefined ? undefined : options.codec.csrfToken(session)));
  return info;
}

/** True when the request's credentials (its session) may delete in `repository`. */
async function allows(access: AccessController, req: RegistryRequest, repository: string, csrf: string | undefined): Promise<boolean> {
  const headers = { ...req.headers, [UI_REQUEST_HEADER]: '1', ...(csrf !== undefined ? { [CSRF_HEADER]: csrf } : {}) };
  try {
    await access.authorized({ headers, socket: req.socket }, [{ type: 'repository', name: repository, action: 'delete' }]);
    return true;
  } catch {
    return false;
  }
}

function isSecure(req: RegistryRequest): boolean {
  const socket: object | null = req.socket;
  const forwarded = req.headers['x-forwarded-proto'];
  return (socket !== null && 'encrypted' in socket && socket.encrypted === true) || (typeof forwarded === 'string' && forwarded.split(',')[0]?.trim() === 'https');
}

function sendJson(res: RegistryResponse, method: string, status: number, value: unknown, headers: Record<string, string>): void {
  send(res, method, status, Buffer.from(JSON.stringify(value)), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}

function send(res: RegistryResponse, method: string, status: number, body: Buffer | undefined, headers: Record<string, string>): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (status !== 304) res.setHeader('Content-Length', body?.byteLength ?? 0);
  res.end(method === 'HEAD' || status === 304 ? undefined : body);
}
