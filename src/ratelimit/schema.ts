/**
 * The `http.ratelimit` configuration section (Berth only; Distribution has no request rate limits),
 * written in the conventions of src/config/schema.ts so it plugs into the http section as
 * `ratelimit: rateLimitSchema`:
 *
 *   http:
 *     ratelimit:
 *       enabled: true          # default false: Distribution limits nothing, and neither does Berth unless asked
 *       reads: {rate: 50, burst: 300}    # GET, HEAD: requests per second per client, and the burst
 *       writes: {rate: 10, burst: 100}   # POST, PUT, PATCH, DELETE
 *       key: address           # or user (authenticated user name; anonymous clients by address)
 *       exempt: [/, /v2/]      # paths never limited (load-balancer and liveness probes)
 *       trustedproxies: []     # peers whose X-Forwarded-For names the client
 *       ipv6prefix: 64         # IPv6 clients are keyed by their /64
 *       maxclients: 10000      # clients tracked in process (LRU); more are forgotten, oldest first
 *       store: auto            # auto (redis when the redis section is set), inmemory, redis
 *       redistimeout: 50ms     # the longest a decision waits for redis before allowing the request
 *
 * docs/hardening.md ("Request rate limits") says how to choose the numbers.
 */
import { z } from 'zod';
import { booleanField, goDuration, integerField, toStringList, unsetIfNull } from '../config-fields/fields.js';
import { checkProxyEntry } from './client-address.js';

/** The defaults of the section, also what docs/hardening.md quotes. */
export const RATE_LIMIT_DEFAULTS = {
  reads: { rate: 50, burst: 300 },
  writes: { rate: 10, burst: 100 },
  exempt: ['/', '/v2/'],
  ipv6prefix: 64,
  maxclients: 10_000,
  redistimeoutMs: 50,
} as const;

function rateField(defaultValue: number) {
  return z.preprocess(unsetIfNull, z.number().min(0).max(1_000_000).default(defaultValue));
}

function classSection(defaults: { rate: number; burst: number }) {
  return z.preprocess(
    (value) => (value === undefined || value === null || value === '' ? {} : value),
    z.strictObject({ rate: rateField(defaults.rate), burst: integerField(defaults.burst, 1, 1_000_000) }),
  );
}

/** A list of strings with a default; '' (from `REGISTRY_HTTP_RATELIMIT_EXEMPT=`) is the empty list. */
function listField(defaults: () => string[]) {
  return z.preprocess((value) => (value === '' ? [] : toStringList(value)), z.array(z.string()).default(defaults));
}

function lowercaseEnum<const V extends readonly [string, ...string[]]>(values: V, defaultValue: V[number]) {
  return z.preprocess((value) => (value === null || value === '' ? undefined : typeof value === 'string' ? value.toLowerCase() : value), z.enum(values).default(defaultValue));
}

/** `http.ratelimit`: absent, null or '' means all defaults (rate limiting off). */
export const rateLimitSchema = z.preprocess(
  (value) => (value === undefined || value === null || value === '' ? {} : value),
  z.strictObject({
    enabled: booleanField(false),
    reads: classSection(RATE_LIMIT_DEFAULTS.reads),
    writes: classSection(RATE_LIMIT_DEFAULTS.writes),
    key: lowercaseEnum(['address', 'user'], 'address'),
    exempt: listField(() => [...RATE_LIMIT_DEFAULTS.exempt]).refine((paths) => paths.every((p) => p.startsWith('/')), { message: 'each exempt path must start with /' }),
    trustedproxies: listField(() => []).check(
      z.superRefine((entries, ctx) => {
        for (const [i, entry] of entries.entries()) {
          const problem = checkProxyEntry(entry);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [i], message: problem });
        }
      }),
    ),
    ipv6prefix: integerField(RATE_LIMIT_DEFAULTS.ipv6prefix, 1, 128),
    maxclients: integerField(RATE_LIMIT_DEFAULTS.maxclients, 1, 10_000_000),
    store: lowercaseEnum(['auto', 'inmemory', 'redis'], 'auto'),
    redistimeout: z.preprocess(
      goDuration('20ms, 50ms or 1s'),
      z
        .number()
        .refine((ms) => ms > 0, { message: 'must be a positive duration' })
        .default(RATE_LIMIT_DEFAULTS.redistimeoutMs),
    ),
  }),
);

/** The parsed `http.ratelimit` section. */
export type RateLimitConfig = z.output<typeof rateLimitSchema>;
