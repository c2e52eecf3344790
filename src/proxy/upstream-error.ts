/**
 * The failures of a request to an upstream registry, as the cache tells them apart. The cause (a socket
 * error, a status) is kept for the log; the message never holds credentials or a token.
 */
import { OciError } from '../oci/errors.js';

/**
 * - `not-found`: the upstream has no such manifest or blob (404) → MANIFEST_UNKNOWN / BLOB_UNKNOWN;
 * - `unauthorized`: the upstream refused our credentials, or anonymous access (401/403 after the retry);
 * - `unavailable`: cannot be reached, timed out, or answered 5xx or 429 → serve what is cached, else 503;
 * - `invalid`: answered something unusable (content not matching its digest, an oversized manifest, an
 *   unexpected status).
 */
export type UpstreamErrorKind = 'not-found' | 'unauthorized' | 'unavailable' | 'invalid';

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly kind: UpstreamErrorKind;
  /** The upstream's name (proxy.upstreams[].name), for logs and metrics. */
  readonly upstream: string;
  /** The HTTP status the upstream answered, when it answered. */
  readonly status: number | undefined;

  constructor(kind: UpstreamErrorKind, upstream: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(`upstream ${upstream}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.upstream = upstream;
    this.status = options.status;
  }
}

export function isUpstreamError(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError;
}

/**
 * What a client is answered when an upstream failed and nothing is cached: not-found is the resource's
 * unknown code, unauthorized DENIED (the client's own credentials would not help), the rest 503 UNAVAILABLE.
 */
export function upstreamToOciError(err: UpstreamError, resource: 'manifest' | 'blob', detail?: unknown): OciError {
  switch (err.kind) {
    case 'not-found':
      return new OciError(resource === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', { detail, cause: err });
    case 'unauthorized':
      return new OciError('DENIED', { message: 'the upstream registry refused access', detail, cause: err });
    default:
      return new OciError('UNAVAILABLE', { message: 'the upstream registry is unavailable', detail, cause: err });
  }
}
