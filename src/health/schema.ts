/**
 * The `health` configuration section, as Distribution writes it (configuration.Health):
 *
 *   health:
 *     storagedriver: { enabled: true, interval: 10s, threshold: 3 }
 *     file:
 *       - { file: /etc/berth/maintenance, interval: 10s }      # fails while the file exists
 *     http:
 *       - { uri: http://db.local/health, headers: {...}, statuscode: 200, timeout: 3s, interval: 10s, threshold: 3 }
 *     tcp:
 *       - { addr: redis.local:6379, timeout: 3s, interval: 10s, threshold: 3 }
 *
 * An interval of 0 (or unset) is Distribution's 10 s; a threshold of 0 means the first failure
 * counts; statuscode 0 (or unset) is 200; a timeout of 0 (or unset) means the check's interval.
 * Plugged into the root schema as `health: healthSchema`. Follows the conventions of
 * src/config/schema.ts; the field helpers are repeated here because that file does not export them.
 */
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';

/** Distribution's defaultCheckInterval. */
export const DEFAULT_CHECK_INTERVAL_MS = 10_000;

function unsetIfNull(value: unknown): unknown {
  return value === null ? undefined : value;
}

function scalarToString(value: unknown): unknown {
  if (value === null) return undefined;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const YAML11_BOOLEANS: Readonly<Record<string, boolean>> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'].map((w) => [w, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'].map((w) => [w, false] as const),
]);

function booleanField(defaultValue: boolean) {
  return z.preprocess((value) => {
    if (typeof value === 'string') return Object.hasOwn(YAML11_BOOLEANS, value) ? YAML11_BOOLEANS[value] : value;
    return unsetIfNull(value);
  }, z.boolean().default(defaultValue));
}

function integerField(defaultValue: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(unsetIfNull, z.number().int().min(minimum).max(maximum).default(defaultValue));
}

/** A non-negative Go duration (string, or integer nanoseconds) as milliseconds; unset is 0. */
function durationField() {
  return z.preprocess(
    (value, ctx) => {
      if (value === null || value === undefined) return undefined;
      if (typeof value !== 'string' && typeof value !== 'number') return value;
      try {
        return parseDuration(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected a duration such as 500ms, 10s or 1m`, input: value });
        return undefined;
      }
    },
    z
      .number()
      .refine((ms) => ms >= 0, { message: 'must not be negative' })
      .default(0),
  );
}

/** The check interval: 0 or unset is Distribution's 10 s. */
function intervalField() {
  return durationField().transform((ms) => (ms > 0 ? ms : DEFAULT_CHECK_INTERVAL_MS));
}

function requiredString(what: string) {
  return z.preprocess(scalarToString, z.string({ error: `required: ${what}` }).min(1, { message: `required: ${what}` }));
}

function toStringList(value: unknown): unknown {
  if (value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  if (Array.isArray(value)) return value.map(scalarToString);
  return value;
}

// RFC 9110 token: what a header name may contain.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const headersField = z.preprocess(
  (value) => {
    if (!isPlainObject(value)) return unsetIfNull(value);
    return Object.fromEntries(Object.entries(value).map(([name, v]) => [name, toStringList(v) ?? []]));
  },
  z
    .record(
      z.string().regex(HEADER_NAME, { message: 'invalid header name' }),
      z.array(z.string().refine((v) => !/[\r\n\0]/.test(v), { message: 'a header value must not contain CR, LF or NUL' })),
    )
    .default(() => ({})),
);

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
  } catch {
    return false;
  }
}

function section<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess((value) => (value === undefined || value === null || value === '' ? {} : value), z.strictObject(shape));
}

/** A list of checks; absent or null is none. */
function checkList<T extends z.ZodType>(item: T) {
  return z.preprocess(unsetIfNull, z.array(item).default(() => []));
}

const fileCheckSchema = section({
  file: requiredString('the path of the file'),
  interval: intervalField(),
  threshold: integerField(0, 0),
});

const httpCheckSchema = section({
  uri: requiredString('the URI to check').refine(isHttpUrl, { message: 'must be an absolute http:// or https:// URL' }),
  headers: headersField,
  statuscode: integerField(200, 0, 599).transform((code) => (code === 0 ? 200 : code)),
  timeout: durationField(),
  interval: intervalField(),
  threshold: integerField(0, 0),
});

const tcpCheckSchema = section({
  addr: requiredString('host:port to connect to').refine((v) => /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]*):\d{1,5}$/.test(v), { message: 'expected host:port' }),
  timeout: durationField(),
  interval: intervalField(),
  threshold: integerField(0, 0),
});

/** The `health` section. Output durations are milliseconds. */
export const healthSchema = section({
  storagedriver: section({
    enabled: booleanField(false),
    interval: intervalField(),
    threshold: integerField(0, 0),
  }),
  file: checkList(fileCheckSchema),
  http: checkList(httpCheckSchema),
  tcp: checkList(tcpCheckSchema),
}).check(
  z.superRefine((health, ctx) => {
    // Checks are named by their file, URI or address, and names must be unique (Distribution panics).
    const seen = new Set<string>();
    const lists = [
      ['file', health.file.map((c) => c.file)],
      ['http', health.http.map((c) => c.uri)],
      ['tcp', health.tcp.map((c) => c.addr)],
    ] as const;
    for (const [key, names] of lists) {
      names.forEach((name, i) => {
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [key, i], message: `duplicate health check ${JSON.stringify(name)}` });
        seen.add(name);
      });
    }
  }),
);

/** The parsed `health` section. */
export type HealthConfig = z.output<typeof healthSchema>;
