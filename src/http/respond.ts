import type { RequestContext } from './context.js';

/** Sends a response with no body (HEAD-safe), setting Content-Length: 0 unless given. */
export function sendEmpty(ctx: RequestContext, status: number, headers: Record<string, string | number | readonly string[]> = {}): void {
  const { res } = ctx;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (!res.hasHeader('Content-Length') && status !== 204 && status !== 304) res.setHeader('Content-Length', 0);
  res.end();
}

/** Sends bytes with the given type; the body is omitted for HEAD but Content-Length is kept. */
export function sendBytes(ctx: RequestContext, status: number, contentType: string, body: Buffer, headers: Record<string, string | number> = {}): void {
  const { res } = ctx;
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', body.byteLength);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(ctx.method === 'HEAD' ? undefined : body);
}

export function sendJson(ctx: RequestContext, status: number, value: unknown, headers: Record<string, string | number> = {}, contentType = 'application/json'): void {
  sendBytes(ctx, status, contentType, Buffer.from(JSON.stringify(value)), headers);
}

/**
 * An absolute URL (or a path, with relativeurls) for a registry path, as clients expect in
 * Location headers: from `http.host` when set, else from the request's Host and the forwarded
 * protocol when a proxy set one.
 */
export function urlFor(ctx: RequestContext, path: string): string {
  const { app, req } = ctx;
  const full = `${app.prefix}${path}`;
  if (app.relativeUrls) return full;
  if (app.host !== '') return `${app.host.replace(/\/+$/, '')}${full}`;
  const forwardedProto = headerValue(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim();
  const socket = req.socket;
  const encrypted = socket !== null && 'encrypted' in socket && socket.encrypted === true;
  const proto = forwardedProto === 'http' || forwardedProto === 'https' ? forwardedProto : encrypted ? 'https' : 'http';
  const host = headerValue(req.headers['x-forwarded-host'])?.split(',')[0]?.trim() || req.headers.host;
  if (host === undefined || host === '' || !/^[A-Za-z0-9.\-:[\]]+$/.test(host)) return full;
  return `${proto}://${host}${full}`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
