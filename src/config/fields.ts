/**
 * Field helpers shared by every configuration schema (the root one in schema.ts and the sections
 * other modules own: auth, gc, health, notifications). They encode how go-yaml, and so
 * Distribution, reads values:
 * - a null value (`key:` with nothing after it) means "not set": the default applies;
 * - a string field accepts a number or boolean scalar and takes its text (`secret: 12345`);
 * - a boolean field also accepts YAML 1.1 words (`yes`, `no`, `on`, `off`, `y`, `n`);
 * - a duration is a Go duration string ("168h", "1h30m") or an integer count of nanoseconds.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** null ("key:" with no value) means not set. */
export function unsetIfNull(value: unknown): unknown {
  return value === null ? undefined : value;
}

/** A scalar where a string is expected becomes its text, as go-yaml does for a string field. */
export function scalarToString(value: unknown): unknown {
  if (value === null) return undefined;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/** A single scalar becomes a one-element list (convenient from environment variables). */
export function toStringList(value: unknown): unknown {
  if (value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  if (Array.isArray(value)) return value.map(scalarToString);
  return value;
}

// go-yaml v2 resolves these YAML 1.1 words as booleans, so Distribution configs may use them.
const YAML11_BOOLEANS: Readonly<Record<string, boolean>> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'].map((w) => [w, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'].map((w) => [w, false] as const),
]);

export function booleanField(defaultValue: boolean) {
  return z.preprocess((value) => {
    if (typeof value === 'string') return Object.hasOwn(YAML11_BOOLEANS, value) ? YAML11_BOOLEANS[value] : value;
    return unsetIfNull(value);
  }, z.boolean().default(defaultValue));
}

export function integerField(defaultValue: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(unsetIfNull, z.number().int().min(minimum).max(maximum).default(defaultValue));
}

/** A list of strings; a single scalar is a one-element list. */
export function stringListField() {
  return z.preprocess(toStringList, z.array(z.string()).default(() => []));
}

/** A mapping whose keys are checked (unknown keys are errors); absent, null or '' (from `REGISTRY_X=`) means all defaults. */
export function section<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess((value) => (value === undefined || value === null || value === '' ? {} : value), z.strictObject(shape));
}

/**
 * The preprocessing of a Go duration field: a string or integer nanoseconds becomes milliseconds;
 * a value that is neither is left for the schema to report; a malformed string is an issue whose
 * message suggests `examples`.
 */
export function goDuration(examples: string) {
  return (value: unknown, ctx: z.RefinementCtx): unknown => {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') return value;
    try {
      return parseDuration(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected a duration such as ${examples}`, input: value });
      return undefined;
    }
  };
}

/** An absolute http:// or https:// URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
  } catch {
    return false;
  }
}

// RFC 9110 token: what a header name may contain.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** HTTP headers: name → list of values (a scalar is one value); names and values are checked. */
export function headersField(defaults: () => Record<string, string[]> = () => ({})) {
  return z.preprocess(
    (value) => {
      if (!isPlainObject(value)) return unsetIfNull(value);
      return Object.fromEntries(Object.entries(value).map(([name, v]) => [name, toStringList(v) ?? []]));
    },
    z
      .record(
        z.string().regex(HEADER_NAME, { message: 'invalid header name' }),
        z.array(z.string().refine((v) => !/[\r\n\0]/.test(v), { message: 'a header value must not contain CR, LF or NUL' })),
      )
      .default(defaults),
  );
}
