import type { RegistryResponse } from './exchange.js';
import type { Logger } from 'pino';
import { OciError } from '../oci/errors.js';
import { StorageDriverError, StorageUnavailableError } from '../storage/driver/errors.js';

/** Headers every response carries, set before any handler runs: the only ones an error keeps besides its own. */
export type BaseHeaders = ReadonlyArray<readonly [string, string | readonly string[]]>;

/**
 * Headers an error keeps when a stage before the renderer set them: they describe the client's
 * standing (a challenge, when to retry, its rate-limit budget), not the resource it asked for.
 */
const KEPT_ON_ERROR = /^(?:www-authenticate|retry-after|(?:x-)?ratelimit(?:-[a-z-]+)?|connection)$/;

/**
 * The one place an error becomes a response. An OciError is sent as the spec's JSON body with its
 * status and headers; anything else is logged with its cause and sent as UNKNOWN (500) with no
 * internal detail. Headers a handler set before it failed (`ETag`, `Docker-Content-Digest`,
 * `Cache-Control: max-age=31536000`, `Content-Range`, ...) are dropped, so that no cache keeps an
 * error as if it were the content: the response has `base`, the error's own headers and the few
 * of KEPT_ON_ERROR. After the headers have gone out, the connection is destroyed instead, so the
 * client sees a truncated response rather than a corrupt one.
 */
export function renderError(res: RegistryResponse, err: unknown, log: Logger, method: string, base: BaseHeaders = DEFAULT_BASE_HEADERS): void {
  const error = toOciError(err, log);
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const body = Buffer.from(JSON.stringify(error.toJSON()));
  for (const name of res.getHeaderNames()) if (!KEPT_ON_ERROR.test(name)) res.removeHeader(name);
  for (const [k, v] of base) res.setHeader(k, v);
  res.statusCode = error.status;
  for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.byteLength);
  res.end(method === 'HEAD' ? undefined : body);
}

/** What every response carries when the app adds nothing else (see buildApp). */
export const DEFAULT_BASE_HEADERS: BaseHeaders = [['Docker-Distribution-API-Version', 'registry/2.0']];

function toOciError(err: unknown, log: Logger): OciError {
  if (err instanceof OciError) {
    if (err.status >= 500) log.error({ err, cause: err.cause }, 'request failed');
    return err;
  }
  if (err instanceof StorageUnavailableError) {
    log.warn({ err: err.message, driver: err.driver }, 'storage unavailable');
    return new OciError('UNAVAILABLE', { message: 'storage backend unavailable', headers: { 'Retry-After': '10' } });
  }
  if (isClientAbort(err)) return new OciError('BLOB_UPLOAD_INVALID', { message: 'request body ended early' });
  log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack, name: err.name } : err, driver: err instanceof StorageDriverError ? err.driver : undefined }, 'internal error');
  return new OciError('UNKNOWN');
}

function isClientAbort(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  // AbortError: the request's signal, which aborts only when the client closes the connection.
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || err.name === 'AbortError' || err.message === 'aborted';
}
