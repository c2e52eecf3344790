/**
 * The bucket math of the request rate limiter: GCRA (the generic cell rate algorithm), a token bucket
 * kept as one number per client, its "theoretical arrival time" (TAT). Pure: the caller passes the clock.
 *
 * A bucket refills one token every `intervalMs` (1000 / rate) and holds at most `burst` tokens. A request
 * is allowed when taking a token leaves the TAT at most `burst` intervals ahead of now; a refused request
 * does not change the state, so a client that keeps retrying too early is not pushed further back.
 */

/** One class of requests' limit: a token every `intervalMs`, at most `burst` at once. */
export interface BucketLimit {
  /** Milliseconds between two tokens: 1000 / requests per second. */
  readonly intervalMs: number;
  /** Requests allowed at once after an idle period (the bucket's size), at least 1. */
  readonly burst: number;
}

/** The outcome of one request against a bucket. */
export interface BucketDecision {
  readonly allowed: boolean;
  /** The state to keep: the new TAT when allowed, the old one when refused. */
  readonly tat: number;
  /** When refused, milliseconds until the request would be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
}

/** A limit of `rate` requests per second with bursts of `burst`. */
export function bucketLimit(rate: number, burst: number): BucketLimit {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive number, got ${rate}`);
  if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be a whole number of at least 1, got ${burst}`);
  return { intervalMs: 1000 / rate, burst };
}

/** Takes one token from a bucket whose state is `tat` (0 for a client never seen), at time `now` (ms). */
export function takeToken(tat: number, now: number, limit: BucketLimit): BucketDecision {
  const next = Math.max(tat, now) + limit.intervalMs;
  const wait = next - now - limit.burst * limit.intervalMs;
  // A tolerance far below a microsecond absorbs floating-point error (rate 3/s: intervals of 333.33... ms).
  if (wait > 1e-6) return { allowed: false, tat, retryAfterMs: wait };
  return { allowed: true, tat: next, retryAfterMs: 0 };
}

/** A refusal's `Retry-After`: whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
