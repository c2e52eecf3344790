import { OciError } from '../oci/errors.js';
import { isRepositoryName } from '../oci/reference.js';
import { requiredAccess } from '../auth/access.js';
import type { AppContext, AppOptions, RequestContext } from './context.js';
import type { RegistryRequest, RegistryResponse, RequestHandler } from './exchange.js';
import { UploadSlots } from './upload-slots.js';
import { matchRoute, ROUTE_METHODS, type Route } from './router.js';
import { DEFAULT_BASE_HEADERS, renderError, type BaseHeaders } from './render-error.js';
import { settleBody } from './request-body.js';
import { sendJson, urlFor } from './respond.js';
import { UploadStateCodec } from './upload-state.js';
import { redactRequestUri } from '../log/redact.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { cancelUpload, getUploadStatus, patchUpload, putUpload, startUpload } from './handlers/uploads.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { catalog, listTags, referrers } from './handlers/listings.js';

type Handler = (ctx: RequestContext) => Promise<void>;

const HANDLERS: Readonly<Record<string, Handler>> = {
  'root GET': async (ctx) => sendJson(ctx, 200, {}),
  'base GET': async (ctx) => sendJson(ctx, 200, {}),
  'catalog GET': catalog,
  'tags GET': listTags,
  'manifest GET': getManifest,
  'manifest PUT': putManifest,
  'manifest DELETE': deleteManifest,
  'blob GET': getBlob,
  'blob DELETE': deleteBlob,
  'uploads POST': startUpload,
  'upload GET': getUploadStatus,
  'upload PATCH': patchUpload,
  'upload PUT': putUpload,
  'upload DELETE': cancelUpload,
  'referrers GET': referrers,
};

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

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

  const handle = (req: RegistryRequest, res: RegistryResponse): void => {
    const started = process.hrtime.bigint();
    inFlight++;
    for (const [k, v] of baseHeaders) res.setHeader(k, v);
    const method = req.method ?? 'GET';
    // Read now: once the connection is gone (a client that hung up), req.socket is null.
    const remoteAddress = req.socket?.remoteAddress;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathname = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    // The request's signal aborts when the client goes away before the response is complete.
    // Made on first use: most requests (a manifest GET, a blob HEAD) never ask for it.
    let abort: AbortController | undefined;
    let gone = false;
    const onClose = (): void => {
      if (res.writableFinished) return;
      gone = true;
      abort?.abort();
    };
    const signal = (): AbortSignal => {
      if (abort === undefined) {
        abort = new AbortController();
        if (gone) abort.abort();
      }
      return abort.signal;
    };
    res.once('close', onClose);
    const log = options.logger;
    let ctx: RequestContext | undefined;
    let routeKind = 'unknown';

    const run = async (): Promise<void> => {
      const limiter = app.rateLimiter;
      const limited = limiter === undefined ? undefined : { method, pathname, peer: remoteAddress, forwardedFor: req.headers['x-forwarded-for'] };
      const route = routeOf(pathname, app.prefix);
      if (route !== undefined) routeKind = route.kind;
      // Before authorization, so a flood costs one bucket lookup per request and no password check.
      if (limited !== undefined && limiter?.afterAuthorization === false) await limiter.admit(limited);
      if (route === undefined) throw new OciError('NAME_UNKNOWN', { status: 404, message: 'no such endpoint', detail: { path: pathname.slice(0, 200) } });
      const allowed = ROUTE_METHODS[route.kind];
      if (!allowed.includes(method)) {
        throw new OciError('UNSUPPORTED', { message: `method ${method.slice(0, 16)} not allowed`, headers: { Allow: allowed.join(', ') } });
      }
      ctx = {
        req,
        res,
        route,
        query,
        method,
        app,
        log,
        get signal() {
          return signal();
        },
        grant: {},
      };
      log.debug({ route: route.kind, method, name: route.name }, 'handling request');
      // `/` answers load-balancer probes without credentials, as Distribution does.
      if (route.kind !== 'root') {
        const wanted = requiredAccess(route, method, query);
        // A cross-repository mount also wants pull on the source. A client allowed to push here but
        // not to read the source gets an ordinary upload (the spec's fallback) rather than a refused
        // push; bad credentials, or a refusal of this repository, refuse the request (one check).
        const optional = wanted.filter((a) => a.type === 'repository' && a.name !== route.name);
        ctx.grant = await app.access.authorized(req, wanted, optional.length > 0 ? { optional } : undefined);
        if ((ctx.grant.refused?.length ?? 0) > 0) {
          log.debug({ from: query.get('from') }, 'mount source not readable by this client; uploading instead');
          query.delete('mount');
          query.delete('from');
        }
      }
      if (limited !== undefined && limiter?.afterAuthorization === true) await limiter.admit(limited, ctx.grant.user);
      if (app.events !== undefined) {
        const c = ctx;
        c.events = app.events.forRequest(req, { actor: c.grant.user, urlFor: (path) => urlFor(c, path) });
      }
      if (route.name !== undefined) {
        if (!isRepositoryName(route.name)) throw new OciError('NAME_INVALID', { detail: { name: route.name.slice(0, 300) } });
        ctx.name = route.name;
        ctx.repository = app.registry.repository(ctx.name);
      }
      if (WRITE_METHODS.has(method)) {
        if (app.readOnly) throw new OciError('UNSUPPORTED', { message: 'the registry is in read-only mode' });
        if (method === 'DELETE' && !app.deleteEnabled && route.kind !== 'upload') {
          throw new OciError('UNSUPPORTED', { message: 'deletion is disabled (storage.delete.enabled)' });
        }
      }
      const handler = HANDLERS[`${route.kind} ${method === 'HEAD' ? 'GET' : method}`];
      if (handler === undefined) throw new OciError('UNSUPPORTED');
      await handler(ctx);
    };

    run()
      .catch((err: unknown) => {
        settleBody(req, res);
        renderError(res, err, log, method, baseHeaders);
      })
      .finally(() => {
        res.off('close', onClose);
        const done = (): void => {
          inFlight--;
          app.metrics?.observeRequest(routeKind, method, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
          if (app.accessLog) {
            const ms = Number(process.hrtime.bigint() - started) / 1e6;
            log.info(
              {
                http: {
                  request: {
                    method,
                    uri: redactRequestUri(rawUrl).slice(0, 1024),
                    remoteaddr: remoteAddress,
                    useragent: req.headers['user-agent'],
                  },
                  response: { status: res.statusCode, duration: `${Math.round(ms * 1000) / 1000}ms` },
                },
                user: ctx?.grant.user,
              },
              'response completed',
            );
          }
        };
        if (res.writableFinished || res.destroyed) done();
        else res.once('close', done);
        // A handler that did not read all its body (an error before or while reading) must not
        // leave the connection waiting: discard what is left (settleBody bounded it, or asked for
        // the connection to close after the response).
        if (!req.readableEnded) req.resume();
      });
  };

  return { handle, inFlight: () => inFlight };
}

function routeOf(pathname: string, prefix: string): Route | undefined {
  if (prefix !== '') {
    if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return undefined;
    return matchRoute(pathname.slice(prefix.length) || '/');
  }
  return matchRoute(pathname);
}
