import { OciError } from '../oci/errors.js';
import { isRepositoryName, type RepositoryName } from '../oci/reference.js';
import { requiredAccess, type Grant } from '../auth/access.js';
import type { AppContext, AppOptions, RequestContext } from './context.js';
import type { RegistryRequest, RegistryResponse, RequestHandler } from './exchange.js';
import { UploadSlots } from './upload-slots.js';
import { matchRoute, ROUTE_METHODS, type Route, type RouteKind } from './router.js';
import { DEFAULT_BASE_HEADERS, renderError, type BaseHeaders } from './render-error.js';
import { settleBody } from './request-body.js';
import { sendBytes, sendEmpty, urlFor } from './respond.js';
import { UploadStateCodec } from './upload-state.js';
import { redactRequestUri } from '../log/redact.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { cancelUpload, getUploadStatus, patchUpload, putUpload, startUpload } from './handlers/uploads.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { catalog, listTags, referrers } from './handlers/listings.js';
import { deleteRepository, getManifestSummary, getRepository, getUsage, listRepositories, listTagSummaries } from './handlers/management.js';
import type { Logger } from 'pino';
import { notifyingRepository } from '../notifications/notifying-repository.js';
import type { RepositoryServices } from '../storage/services.js';

type Handler = (ctx: RequestContext) => Promise<void>;

/** Each route's handlers by method; HEAD is served by the GET handler. */
const HANDLERS: Readonly<Record<RouteKind, Readonly<Partial<Record<string, Handler>>>>> = {
  root: { GET: root },
  base: { GET: async (ctx) => sendBytes(ctx, 200, 'application/json', EMPTY_OBJECT) },
  catalog: { GET: catalog },
  tags: { GET: listTags },
  manifest: { GET: getManifest, PUT: putManifest, DELETE: deleteManifest },
  blob: { GET: getBlob, DELETE: deleteBlob },
  uploads: { POST: startUpload },
  upload: { GET: getUploadStatus, PATCH: patchUpload, PUT: putUpload, DELETE: cancelUpload },
  referrers: { GET: referrers },
  'mgmt-repositories': { GET: listRepositories },
  'mgmt-repository': { GET: getRepository, DELETE: deleteRepository },
  'mgmt-tags': { GET: listTagSummaries },
  'mgmt-manifest': { GET: getManifestSummary },
  'mgmt-usage': { GET: getUsage },
};

/** `/`: 200 for probes; a browser asking for a page is sent to the web UI when it is on. */
async function root(ctx: RequestContext): Promise<void> {
  const ui = ctx.app.ui;
  if (ui !== undefined && ctx.req.headers.accept?.includes('text/html') === true) return sendEmpty(ctx, 302, { Location: `${ui.path}/` });
  sendBytes(ctx, 200, 'application/json', EMPTY_OBJECT);
}

/** The body of `GET /v2/` (and `/`): an empty JSON object, as Distribution answers. */
const EMPTY_OBJECT = Buffer.from('{}');

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The grant of a request before (or without) authorization. */
const ANONYMOUS: Grant = Object.freeze({});

/** The request handler of a registry, plus what it needs to stop cleanly. */
export interface App {
  readonly handle: RequestHandler;
  /** Requests being handled right now. */
  readonly inFlight: () => number;
}

/**
 * Builds the registry's request handler from its dependencies. It never listens: serve.ts (or a
 * test) attaches it to a server. Each request goes route → authorize → validate → handle, and any
 * stage's error goes to the one renderer.
 */
export function buildApp(options: AppOptions): App {
  const app: AppContext = { ...options, states: new UploadStateCodec(options.secret), uploadSlots: new UploadSlots(options.maxUploads) };
  // Set on every response before routing; an error response keeps these and drops what a handler set.
  const baseHeaders: BaseHeaders = [
    ...DEFAULT_BASE_HEADERS,
    ...Object.entries(options.headers).map(([k, v]): readonly [string, string | readonly string[]] => [k, v.length === 1 ? (v[0] as string) : [...v]]),
  ];
  let inFlight = 0;
  const ended = (x: Exchange): void => {
    inFlight--;
    recordExchange(app, x);
  };
  const handle = (req: RegistryRequest, res: RegistryResponse): void => {
    inFlight++;
    void serve(new Exchange(app, baseHeaders, req, res, ended));
  };
  return { handle, inFlight: () => inFlight };
}

/**
 * One request from its arrival to the close of its response: what the lifecycle, the metrics and
 * the access log need of it. One object with a fixed shape instead of closures per request: the
 * hot path (a manifest GET) allocates as little as it can.
 */
class Exchange {
  readonly started = performance.now();
  readonly method: string;
  readonly rawUrl: string;
  readonly pathname: string;
  /** Read at once: once the connection is gone (a client that hung up), req.socket is null. */
  readonly remoteAddress: string | undefined;
  readonly route: Route | undefined;
  /** Set once the route is known to be served (after the method check). */
  ctx: Context | undefined;
  readonly #queryString: string;
  #query: URLSearchParams | undefined;
  #abort: AbortController | undefined;
  /** The client went away before the response was complete. */
  #gone = false;
  /** The lifecycle has answered (or rendered its error). */
  #settled = false;
  #closed = false;
  #ended = false;

  constructor(
    readonly app: AppContext,
    readonly baseHeaders: BaseHeaders,
    readonly req: RegistryRequest,
    readonly res: RegistryResponse,
    private readonly onEnd: (x: Exchange) => void,
  ) {
    for (const [k, v] of baseHeaders) res.setHeader(k, v);
    this.method = req.method ?? 'GET';
    this.remoteAddress = req.socket?.remoteAddress;
    const rawUrl = req.url ?? '/';
    this.rawUrl = rawUrl;
    const q = rawUrl.indexOf('?');
    this.pathname = q === -1 ? rawUrl : rawUrl.slice(0, q);
    this.#queryString = q === -1 ? '' : rawUrl.slice(q + 1);
    this.route = routeOf(this.pathname, app.prefix);
    res.on('close', this.#onClose);
  }

  /** Parsed on first use: most requests (a manifest GET, a blob HEAD) have no query. */
  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.#queryString);
    return this.#query;
  }

  /** Aborts when the client goes away before the response is complete; made on first use. */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#gone) this.#abort.abort();
    }
    return this.#abort.signal;
  }

  readonly #onClose = (): void => {
    this.#closed = true;
    if (this.#settled) this.#end();
    else if (!this.res.writableFinished) {
      this.#gone = true;
      this.#abort?.abort();
    }
  };

  /** The lifecycle is over: the exchange ends now if the response is done, else when it closes. */
  settle(): void {
    this.#settled = true;
    if (this.#closed || this.res.writableFinished || this.res.destroyed) this.#end();
    // A handler that did not read all its body (an error before or while reading) must not
    // leave the connection waiting: discard what is left (settleBody bounded it, or asked for
    // the connection to close after the response).
    if (!this.req.readableEnded) this.req.resume();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.onEnd(this);
  }
}

/** A request's RequestContext, once its route is known to be served. */
class Context implements RequestContext {
  readonly req: RegistryRequest;
  readonly res: RegistryResponse;
  readonly method: string;
  readonly app: AppContext;
  readonly log: Logger;
  grant: Grant = ANONYMOUS;
  name?: RepositoryName;
  repository?: RepositoryServices;

  constructor(
    private readonly exchange: Exchange,
    readonly route: Route,
  ) {
    this.req = exchange.req;
    this.res = exchange.res;
    this.method = exchange.method;
    this.app = exchange.app;
    this.log = exchange.app.logger;
  }

  get query(): URLSearchParams {
    return this.exchange.query;
  }

  get signal(): AbortSignal {
    return this.exchange.signal;
  }
}

async function serve(x: Exchange): Promise<void> {
  try {
    await lifecycle(x);
  } catch (err) {
    settleBody(x.req, x.res);
    renderError(x.res, err, x.app.logger, x.method, x.baseHeaders);
  } finally {
    x.settle();
  }
}

/** route → rate limit → authorize → validate → handle; any error goes to the caller's renderer. */
async function lifecycle(x: Exchange): Promise<void> {
  const { app, method, route, req } = x;
  const log = app.logger;
  const limiter = app.rateLimiter;
  const limited = limiter === undefined ? undefined : { method, pathname: x.pathname, peer: x.remoteAddress, forwardedFor: req.headers['x-forwarded-for'] };
  // Before authorization, so a flood costs one bucket lookup per request and no password check.
  if (limited !== undefined && limiter?.afterAuthorization === false) await limiter.admit(limited);
  // The web UI (src/ui/) answers its own paths; its errors go to the same renderer.
  if (route === undefined && app.ui?.matches(x.pathname) === true) return app.ui.serve(req, x.res, x.pathname);
  if (route === undefined) throw new OciError('NAME_UNKNOWN', { status: 404, message: 'no such endpoint', detail: { path: x.pathname.slice(0, 200) } });
  const allowed = ROUTE_METHODS[route.kind];
  if (!allowed.includes(method)) {
    throw new OciError('UNSUPPORTED', { message: `method ${method.slice(0, 16)} not allowed`, headers: { Allow: allowed.join(', ') } });
  }
  const ctx = new Context(x, route);
  x.ctx = ctx;
  if (log.isLevelEnabled('debug')) log.debug({ route: route.kind, method, name: route.name }, 'handling request');
  // `/` answers load-balancer probes without credentials, as Distribution does.
  if (route.kind !== 'root') {
    const wanted = requiredAccess(route, method, ctx.query);
    // A cross-repository mount also wants pull on the source. A client allowed to push here but
    // not to read the source gets an ordinary upload (the spec's fallback) rather than a refused
    // push; bad credentials, or a refusal of this repository, refuse the request (one check).
    // The management API's repository listing asks for nothing beyond authentication (the catalog
    // scope optionally, so anonymous callers get through): it lists what the caller may pull.
    const optional = route.kind === 'mgmt-repositories' ? wanted : wanted.filter((a) => a.type === 'repository' && a.name !== route.name);
    ctx.grant = await app.access.authorized(req, wanted, optional.length > 0 ? { optional } : undefined);
    if ((ctx.grant.refused?.length ?? 0) > 0 && route.kind !== 'mgmt-repositories') {
      log.debug({ from: ctx.query.get('from') }, 'mount source not readable by this client; uploading instead');
      ctx.query.delete('mount');
      ctx.query.delete('from');
    }
  }
  if (limited !== undefined && limiter?.afterAuthorization === true) await limiter.admit(limited, ctx.grant.user);
  const events = app.events?.forRequest(req, { actor: ctx.grant.user, urlFor: (path) => urlFor(ctx, path) });
  if (route.name !== undefined) {
    if (!isRepositoryName(route.name)) throw new OciError('NAME_INVALID', { detail: { name: route.name.slice(0, 300) } });
    ctx.name = route.name;
    const repository = app.registry.repository(ctx.name);
    ctx.repository = events === undefined ? repository : notifyingRepository(repository, events);
  }
  if (WRITE_METHODS.has(method)) {
    if (app.readOnly) throw new OciError('UNSUPPORTED', { message: 'the registry is in read-only mode' });
    if (method === 'DELETE' && !app.deleteEnabled && route.kind !== 'upload') {
      throw new OciError('UNSUPPORTED', { message: 'deletion is disabled (storage.delete.enabled)' });
    }
  }
  const handler = HANDLERS[route.kind][method === 'HEAD' ? 'GET' : method];
  if (handler === undefined) throw new OciError('UNSUPPORTED');
  await handler(ctx);
}

/** The metrics and the access log line of an exchange whose response has closed. */
function recordExchange(app: AppContext, x: Exchange): void {
  const ms = performance.now() - x.started;
  const status = x.res.statusCode;
  app.metrics?.observeRequest(x.route?.kind ?? 'unknown', x.method, status, ms / 1000);
  if (!app.accessLog) return;
  app.logger.info(
    {
      http: {
        request: {
          method: x.method,
          uri: redactRequestUri(x.rawUrl).slice(0, 1024),
          remoteaddr: x.remoteAddress,
          useragent: x.req.headers['user-agent'],
        },
        response: { status, duration: `${Math.round(ms * 1000) / 1000}ms` },
      },
      user: x.ctx?.grant.user,
    },
    'response completed',
  );
}

function routeOf(pathname: string, prefix: string): Route | undefined {
  if (prefix !== '') {
    if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return undefined;
    return matchRoute(pathname.slice(prefix.length) || '/');
  }
  return matchRoute(pathname);
}
