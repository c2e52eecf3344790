import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A load balancer for tests: each request goes to the next backend in turn. */
export interface RoundRobinProxy {
  readonly url: string;
  readonly host: string;
  /** How many requests each backend received, by backend URL. */
  readonly hits: Map<string, number>;
  /** Per request: method, path and which backend served it. */
  readonly log: Array<{ method: string; path: string; backend: string }>;
  close(): Promise<void>;
}

/**
 * Starts a round-robin HTTP proxy on 127.0.0.1 in front of `backends` (origins like
 * http://127.0.0.1:5001). It streams bodies both ways and passes Host through, so Location
 * headers the backends build point back at the proxy.
 */
export async function startRoundRobinProxy(backends: readonly string[]): Promise<RoundRobinProxy> {
  let next = 0;
  const hits = new Map<string, number>(backends.map((b) => [b, 0]));
  const log: Array<{ method: string; path: string; backend: string }> = [];
  const server: Server = createServer((req, res) => {
    const backend = backends[next++ % backends.length] as string;
    hits.set(backend, (hits.get(backend) ?? 0) + 1);
    log.push({ method: req.method ?? 'GET', path: req.url ?? '/', backend });
    const target = new URL(req.url ?? '/', backend);
    const upstream = request(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${err.message}`);
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    hits,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
