/**
 * The request rate limiter (`http.ratelimit`): per client, a token bucket for reads (GET, HEAD and any
 * other method) and one for writes (POST, PUT, PATCH, DELETE). A request over its class' budget is
 * refused with 429 TOOMANYREQUESTS and `Retry-After` (whole seconds until a token is back), rendered by
 * the one error renderer like every other error.
 *
 * The client is the peer address (see client-address.ts for trusted proxies and IPv6 prefixes), or with
 * `key: user` the authenticated user name (anonymous requests keep the address). Exempt paths (by
 * default the probes `/` and `/v2/`) are never counted.
 */
import { OciError } from '../oci/errors.js';
import { bucketLimit, retryAfterSeconds, type BucketLimit } from './gcra.js';
import { addressKey, clientAddress, trustedProxies, type TrustedProxies } from './client-address.js';
import type { RateLimitStore, RequestClass } from './store.js';

/** What the limiter reports to the metrics module. */
export interface RateLimiterMetrics {
  requestLimited(cls: RequestClass): void;
}

export interface RateLimiterOptions {
  readonly store: RateLimitStore;
  /** Requests per second and burst of each class; a rate of 0 leaves the class unlimited. */
  readonly reads: { readonly rate: number; readonly burst: number };
  readonly writes: { readonly rate: number; readonly burst: number };
  /** `address`: the client address; `user`: the authenticated user, else the address. */
  readonly key: 'address' | 'user';
  /** Paths (after `http.prefix`) never limited; a trailing slash does not matter. */
  readonly exempt: readonly string[];
  /** Peers whose `X-Forwarded-For` is believed (addresses or CIDR blocks). */
  readonly trustedProxies: readonly string[];
  /** IPv6 clients are keyed by this many leading bits of their address. */
  readonly ipv6PrefixBits: number;
  /** `http.prefix`: stripped before matching `exempt`. */
  readonly prefix: string;
  readonly metrics?: RateLimiterMetrics | undefined;
}

/** The parts of a request the limiter reads. */
export interface LimitedRequest {
  readonly method: string;
  /** The path without its query string, as received (with `http.prefix`). */
  readonly pathname: string;
  /** The TCP peer's address (undefined once the connection is gone). */
  readonly peer: string | undefined;
  readonly forwardedFor: string | string[] | undefined;
}

const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const CLASS_NAMES: Readonly<Record<RequestClass, string>> = { reads: 'read', writes: 'write' };

function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}

export class RequestRateLimiter {
  /** True when the limit applies after authorization (`key: user`), false when before it. */
  readonly afterAuthorization: boolean;
  readonly #options: RateLimiterOptions;
  readonly #limits: Readonly<Record<RequestClass, BucketLimit | undefined>>;
  readonly #exempt: ReadonlySet<string>;
  readonly #proxies: TrustedProxies;

  constructor(options: RateLimiterOptions) {
    this.#options = options;
    this.afterAuthorization = options.key === 'user';
    this.#limits = {
      reads: options.reads.rate > 0 ? bucketLimit(options.reads.rate, options.reads.burst) : undefined,
      writes: options.writes.rate > 0 ? bucketLimit(options.writes.rate, options.writes.burst) : undefined,
    };
    this.#exempt = new Set(options.exempt.map(withoutTrailingSlashes));
    this.#proxies = trustedProxies(options.trustedProxies);
  }

  /**
   * Counts one request; throws (or rejects with) TOOMANYREQUESTS when its class' budget is spent.
   * `user` is the authenticated user name with `key: user` (undefined: anonymous).
   */
  admit(request: LimitedRequest, user?: string): void | Promise<void> {
    const cls: RequestClass = WRITE_METHODS.has(request.method) ? 'writes' : 'reads';
    const limit = this.#limits[cls];
    if (limit === undefined || this.#isExempt(request.pathname)) return;
    let client: string;
    if (user !== undefined && this.afterAuthorization) {
      client = `u:${user}`;
    } else {
      const address = clientAddress(request.peer, request.forwardedFor, this.#proxies);
      if (address === undefined) return; // the client is gone: nothing to answer
      client = `a:${addressKey(address, this.#options.ipv6PrefixBits)}`;
    }
    const wait = this.#options.store.take(client, cls, limit);
    if (typeof wait === 'number') {
      if (wait > 0) throw this.#refuse(cls, wait);
      return;
    }
    return wait.then((ms) => {
      if (ms > 0) throw this.#refuse(cls, ms);
    });
  }

  /** Releases the store. */
  close(): Promise<void> {
    return this.#options.store.close();
  }

  #isExempt(pathname: string): boolean {
    if (this.#exempt.size === 0) return false;
    const prefix = this.#options.prefix;
    const path = prefix !== '' && pathname.startsWith(prefix) ? pathname.slice(prefix.length) : pathname;
    return this.#exempt.has(withoutTrailingSlashes(path));
  }

  #refuse(cls: RequestClass, waitMs: number): OciError {
    this.#options.metrics?.requestLimited(cls);
    const seconds = retryAfterSeconds(waitMs);
    return new OciError('TOOMANYREQUESTS', {
      message: `too many ${CLASS_NAMES[cls]} requests from this client; retry after ${seconds} s`,
      detail: { limit: cls, retryAfter: seconds },
      headers: { 'Retry-After': String(seconds) },
    });
  }
}
