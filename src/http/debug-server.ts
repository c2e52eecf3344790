/**
 * The debug listener (`http.debug.addr`): health for load balancers and Prometheus metrics, on a
 * port that should stay private. Separate from the registry's server so a flood of API requests,
 * TLS or authentication never stand between a probe and its answer.
 *
 *   GET /debug/health   Distribution's format: 200 `{}`, or 503 `{"<check>": "<error>", ...}`
 *   GET /debug/ready    readiness: 200 / 503 `{"ready": bool, "reason"?, "checks": {<check>: {ok, message?, since, ...}}}`
 *                       (503 also while shutting down: HealthMonitor.drain())
 *   GET /debug/live     liveness: 200 `{"live": true}` as long as the process answers
 *   GET /debug/vars     notification endpoint state, in the shape of Distribution's expvar output
 *   GET <path>          Prometheus text format, when metrics are enabled (default /metrics)
 *
 * HEAD is answered like GET without a body; other methods get 405, unknown paths 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { HealthMonitor } from '../health/monitor.js';
import type { RegistryMetrics } from '../metrics/metrics.js';
import type { EndpointStats } from '../notifications/endpoint.js';
import { formatListenAddress, parseListenAddress } from './listen-address.js';

/** What the debug server serves. */
export interface DebugServerOptions {
  /** `http.debug.addr`: `host:port` or `:port` (port 0 picks a free port, for tests). */
  readonly addr: string;
  /** `http.debug.prometheus`, with the metrics to render. */
  readonly metrics?: { readonly enabled: boolean; readonly path: string; readonly metrics: Pick<RegistryMetrics, 'render'> } | undefined;
  readonly health: HealthMonitor;
  /** Notification endpoints for /debug/vars (the Notifier); omitted: an empty list. */
  readonly notifications?: { stats(): readonly EndpointStats[] } | undefined;
  readonly logger: Logger;
}

/** A listening debug server. */
export interface DebugServer {
  /** Where it listens (the real port when `addr` asked for port 0). */
  readonly address: { readonly host: string; readonly port: number };
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Starts the debug server; rejects when it cannot listen (address in use, bad address). */
export async function startDebugServer(options: DebugServerOptions): Promise<DebugServer> {
  const listen = parseListenAddress(options.addr, 'tcp');
  if (listen.kind !== 'tcp') throw new Error('http.debug.addr: expected host:port');
  const metricsPath = options.metrics?.enabled === true ? options.metrics.path : undefined;
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    handle(options, metricsPath, req, res).catch((err: unknown) => {
      options.logger.error({ err: (err as Error).message, path: req.url }, 'debug server: request failed');
      if (!res.headersSent) send(res, req, 500, JSON_TYPE, JSON.stringify({ error: 'internal error' }));
      else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => options.logger.error({ err: err.message }, 'debug server error'));
  const bound = server.address();
  const address = typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : { host: listen.host ?? '', port: listen.port };
  options.logger.info(`debug server listening on ${formatListenAddress({ kind: 'tcp', host: address.host, port: address.port })}${metricsPath !== undefined ? `, metrics at ${metricsPath}` : ''}`);

  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * Answers one debug request: 404 for an unknown path, 405 for a method other than GET or HEAD,
 * else the metrics (at `metricsPath`, when enabled), health, readiness, liveness or vars.
 */
async function handle(options: DebugServerOptions, metricsPath: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  const known = path === metricsPath || path === '/debug/health' || path === '/debug/ready' || path === '/debug/live' || path === '/debug/vars';
  if (!known) {
    send(res, req, 404, 'text/plain; charset=utf-8', '404 page not found\n');
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, req, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  if (path === metricsPath && options.metrics !== undefined) {
    const { contentType, body } = await options.metrics.metrics.render();
    send(res, req, 200, contentType, body);
    return;
  }
  switch (path) {
    case '/debug/health': {
      const failures = options.health.failures();
      send(res, req, Object.keys(failures).length === 0 ? 200 : 503, JSON_TYPE, `${JSON.stringify(failures)}\n`);
      return;
    }
    case '/debug/ready': {
      const readiness = options.health.readiness();
      const body = { ready: readiness.ready, ...(readiness.reason !== undefined ? { reason: readiness.reason } : {}), checks: readiness.checks };
      send(res, req, readiness.ready ? 200 : 503, JSON_TYPE, `${JSON.stringify(body)}\n`);
      return;
    }
    case '/debug/live':
      send(res, req, 200, JSON_TYPE, '{"live":true}\n');
      return;
    case '/debug/vars':
      send(res, req, 200, JSON_TYPE, `${JSON.stringify(vars(options.notifications?.stats() ?? []))}\n`);
      return;
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Distribution's /debug/vars shape for notification endpoints (its expvar "notifications" map),
 * without header values, which often hold credentials.
 */
function vars(endpoints: readonly EndpointStats[]): { notifications: { endpoints: unknown[] } } {
  return {
    notifications: {
      endpoints: endpoints.map((e) => ({
        name: e.name,
        url: e.url,
        Failing: e.failing,
        Metrics: {
          Pending: e.pending,
          Events: e.events,
          Successes: e.delivered,
          Failures: e.failures,
          Errors: e.errors,
          Dropped: e.dropped,
          Statuses: e.statuses,
        },
        ...(e.lastError !== undefined ? { LastError: e.lastError } : {}),
      })),
    },
  };
}
