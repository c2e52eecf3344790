/**
 * One delivery attempt: POST an envelope to an endpoint and classify the outcome as Distribution's
 * httpSink does. Any 2xx or 3xx is accepted; 307 and 308 are followed (re-POSTing the body, up to
 * 10 hops, as Go's client does), other 3xx are accepted without following (Go would turn them into
 * a GET without the events). The timeout covers the whole exchange, redirects included.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { EVENTS_MEDIA_TYPE } from './event.js';

/** Why an attempt failed: an unaccepted status, a connection problem, or the timeout. */
export type DeliveryFailure = 'status' | 'network' | 'timeout';

/** A failed delivery attempt. `status` is set for a `status` failure. */
export class DeliveryError extends Error {
  readonly reason: DeliveryFailure;
  readonly status: number | undefined;
  constructor(reason: DeliveryFailure, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DeliveryError';
    this.reason = reason;
    this.status = options.status;
  }
}

/** Keep-alive connections to one endpoint (one at a time: deliveries to an endpoint are serial). */
export class EndpointAgents {
  readonly http = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 1 });

  /** Closes every connection, idle or not. */
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** How to POST. */
export interface PostOptions {
  /** Static headers of the endpoint (`headers` in its configuration); Content-Type and Content-Length are Berth's. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly timeoutMs: number;
  readonly agents: EndpointAgents;
  /** Aborts the attempt (a `network` failure), e.g. when shutting down. */
  readonly signal?: AbortSignal;
  readonly userAgent?: string;
}

const MAX_REDIRECTS = 10;

/**
 * POSTs `body` (a serialized envelope) to `url`. Resolves with the accepted status (2xx or 3xx);
 * rejects with a DeliveryError otherwise.
 */
export async function postEnvelope(url: URL, body: string, options: PostOptions): Promise<number> {
  const payload = Buffer.from(body);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, values] of Object.entries(options.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'content-type' || lower === 'content-length' || lower === 'host' || lower === 'transfer-encoding') continue;
    headers[name] = values.length === 1 ? values[0] : [...values];
  }
  if (options.userAgent !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'user-agent')) headers['User-Agent'] = options.userAgent;
  headers['Content-Type'] = EVENTS_MEDIA_TYPE;
  headers['Content-Length'] = payload.byteLength;

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onAbort = (): void => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let target = url;
    for (let hop = 0; ; hop++) {
      let response: { status: number; headers: IncomingHttpHeaders };
      try {
        response = await once(target, payload, headers, options.agents, controller.signal);
      } catch (err) {
        if (timedOut) throw new DeliveryError('timeout', `no response within ${options.timeoutMs} ms`, { cause: err });
        throw new DeliveryError('network', `error posting: ${(err as Error).message}`, { cause: err });
      }
      const { status } = response;
      const location = response.headers.location;
      if ((status === 307 || status === 308) && location !== undefined && hop < MAX_REDIRECTS) {
        try {
          target = new URL(location, target);
        } catch {
          return status;
        }
        if (target.protocol !== 'http:' && target.protocol !== 'https:') return status;
        continue;
      }
      if (status >= 200 && status < 400) return status;
      throw new DeliveryError('status', `response status ${status} unaccepted`, { status });
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function once(url: URL, payload: Buffer, headers: OutgoingHttpHeaders, agents: EndpointAgents, signal: AbortSignal): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers, agent: secure ? agents.https : agents.http, signal }, (res) => {
      // The body is not used, but must be read for the connection to be reused.
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.once('error', reject);
      res.once('close', () => {
        if (!res.complete) reject(new Error('connection closed before the response ended'));
      });
    });
    req.once('error', reject);
    req.end(payload);
  });
}
