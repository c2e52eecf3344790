import type { RegistryRequest, RegistryResponse } from './exchange.js';

/**
 * The request body as chunks. Unlike `for await (const chunk of req)`, leaving the loop early (a
 * size limit, a storage error) does not destroy the request: a destroyed request stops reading
 * its socket, and the next request on a keep-alive connection would wait for an answer until the
 * connection timed out. What is left is for settleBody to handle.
 */
export function bodyChunks(req: RegistryRequest): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]: (): AsyncIterator<Buffer> => req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>,
  };
}

/**
 * The largest remainder of a request body read and discarded after an error so that the
 * connection can serve another request (Go's net/http, hence Distribution, allows 256 KiB).
 */
export const DRAIN_LIMIT = 256 * 1024;

/**
 * Decides, before an error response goes out, what happens to a request body that has not fully
 * arrived: when it is small and of known length, the connection is kept and the rest is read
 * and discarded after the response; otherwise (a large or chunked body: a 413, a storage
 * failure mid-upload) the response says `Connection: close`, the rest is discarded while the
 * response is sent, and the connection closes after it. Either way the client gets its answer
 * at once and no later request waits behind the body. HTTP/2 needs neither: each request is its
 * own stream, and ending the response ends it.
 */
export function settleBody(req: RegistryRequest, res: RegistryResponse): void {
  if (req.httpVersionMajor >= 2 || res.headersSent) return;
  if (req.complete && !req.destroyed) return;
  const header = req.headers['content-length'];
  // Neither header: the request has no body (RFC 9112 section 6.3), whatever the parser's state.
  if (header === undefined && req.headers['transfer-encoding'] === undefined) return;
  const declared = header === undefined ? Number.NaN : Number(header);
  if (!req.destroyed && Number.isSafeInteger(declared) && declared <= DRAIN_LIMIT) return;
  res.setHeader('Connection', 'close');
}
