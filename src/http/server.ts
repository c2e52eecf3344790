import { createServer as createHttpServer } from 'node:http';
import { createSecureServer, type Http2Session } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { App } from './app.js';
import type { TLSSocket } from 'node:tls';
import { readTlsMaterial, refuseUnverifiedClientCert, tlsServerOptions, verifiesGivenClientCert, watchTlsFiles, type TlsSettings } from './tls.js';

export interface ServerSettings {
  readonly tls?: TlsSettings;
  /** Offer HTTP/2 over TLS (ALPN), with HTTP/1.1 for clients that do not ask for it. */
  readonly http2: boolean;
  /** Largest request head accepted (bytes); larger ones get 431. */
  readonly maxHeaderSize: number;
  /** How long a client may take to send its request head. */
  readonly headersTimeoutMs: number;
  /** A connection idle (nothing sent or received) for this long is closed. */
  readonly idleTimeoutMs: number;
}

/** A listening-capable server for the app, and how to stop it without cutting requests short. */
export interface RegistryServer {
  readonly server: NetServer;
  /** Stops accepting, lets requests in flight finish for up to `drainMs`, then closes every connection. */
  shutdown: (drainMs: number) => Promise<void>;
}

/**
 * Creates the HTTP server for an app: plain HTTP/1.1, or TLS (HTTP/2 with HTTP/1.1 fallback unless
 * disabled) with certificate reloading. It does not listen.
 */
export async function createRegistryServer(app: App, settings: ServerSettings, logger: Logger): Promise<RegistryServer> {
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  let server: NetServer;
  let stopWatching = (): void => undefined;
  const common = { maxHeaderSize: settings.maxHeaderSize, requestTimeout: 0, headersTimeout: settings.headersTimeoutMs, keepAliveTimeout: 75_000 };

  if (settings.tls === undefined) {
    const http = createHttpServer(common, app.handle);
    http.setTimeout(settings.idleTimeoutMs, (socket: Socket) => socket.destroy());
    server = http;
  } else {
    const material = await readTlsMaterial(settings.tls);
    const options = { ...tlsServerOptions(settings.tls), ...material };
    if (settings.http2) {
      // The compatibility API gives HTTP/2 requests the surface the app reads (RegistryRequest).
      const h2 = createSecureServer({ ...options, allowHTTP1: true, maxSessionMemory: 64, settings: { maxHeaderListSize: settings.maxHeaderSize } }, app.handle);
      h2.on('session', (session: Http2Session) => {
        session.setTimeout(settings.idleTimeoutMs, () => session.destroy());
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
      });
      server = h2;
      stopWatching = watchTlsFiles(settings.tls, (m) => h2.setSecureContext({ ...options, ...m }), logger).stop;
    } else {
      const https = createHttpsServer({ ...common, ...options }, app.handle);
      https.setTimeout(settings.idleTimeoutMs, (socket: Socket) => socket.destroy());
      server = https;
      stopWatching = watchTlsFiles(settings.tls, (m) => https.setSecureContext({ ...options, ...m }), logger).stop;
    }
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  if (settings.tls !== undefined && verifiesGivenClientCert(settings.tls)) {
    server.on('secureConnection', (socket: TLSSocket) => {
      refuseUnverifiedClientCert(socket, logger);
    });
  }
  server.on('tlsClientError', (err: Error, socket: Socket) => {
    logger.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
  });

  return {
    server,
    async shutdown(drainMs: number): Promise<void> {
      stopWatching();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      closeIdle(server);
      const deadline = Date.now() + drainMs;
      while (app.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function closeIdle(server: NetServer): void {
  const maybe = server as NetServer & { closeIdleConnections?: () => void };
  if (typeof maybe.closeIdleConnections === 'function') maybe.closeIdleConnections();
}

