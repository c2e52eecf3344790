/**
 * The field helpers every configuration schema is written with: the root tree in src/config/ and the
 * sections feature folders own (auth, gc, health, notifications, the S3 and Azure drivers). This folder
 * is a leaf: it imports only zod and node, so any folder may use it and none of them depends on config/.
 *
 * The helpers encode how go-yaml, and so Distribution, reads values:
 * - a null value (`key:` with nothing after it) means "not set": the default applies;
 * - a string field accepts a number or boolean scalar and takes its text (`secret: 12345`);
 * - a boolean field also accepts YAML 1.1 words (`yes`, `no`, `on`, `off`, `y`, `n`), and with
 *   `strconv` also Go's strconv.ParseBool words (`1`, `0`, `t`, `f`), as Distribution's drivers do;
 * - a duration is a Go duration string ("168h", "1h30m") or an integer count of nanoseconds, and
 *   comes out as milliseconds.
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

/** null and '' mean not set (as go-yaml leaves a Go string empty; `REGISTRY_X=` gives ''). */
export function unsetIfEmpty(value: unknown): unknown {
  return value === null || value === '' ? undefined : value;
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

/** A string, lowercased; null and '' are not set (for case-insensitive enumerations). */
export function lowercase(value: unknown): unknown {
  if (value === null || value === '') return undefined;
  return typeof value === 'string' ? value.toLowerCase() : value;
}

// go-yaml v2 resolves these YAML 1.1 words as booleans, so Distribution configs may use them.
const YAML11_WORDS: ReadonlyArray<readonly [string, boolean]> = [
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'].map((w) => [w, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'].map((w) => [w, false] as const),
];
const YAML11_BOOLEANS: Readonly<Record<string, boolean>> = Object.fromEntries(YAML11_WORDS);
// Go's strconv.ParseBool adds these, which Distribution's drivers apply to string parameters.
const STRCONV_BOOLEANS: Readonly<Record<string, boolean>> = Object.fromEntries([
  ...YAML11_WORDS,
  ...['1', 't', 'T'].map((w) => [w, true] as const),
  ...['0', 'f', 'F'].map((w) => [w, false] as const),
]);

/**
 * A boolean. `strconv`: also Go's ParseBool words, and '' means not set (a driver parameter, which
 * Distribution reads from an untyped map).
 */
export function booleanField(defaultValue: boolean, options: { strconv?: boolean } = {}) {
  const words = options.strconv === true ? STRCONV_BOOLEANS : YAML11_BOOLEANS;
  return z.preprocess((value) => {
    if (options.strconv === true && value === '') return undefined;
    if (typeof value === 'string') return Object.hasOwn(words, value) ? words[value] : value;
    return unsetIfNull(value);
  }, z.boolean().default(defaultValue));
}

/**
 * An integer in [minimum, maximum]. `fromString`: a string of digits counts, and '' means not set
 * (a driver parameter: Distribution scans `%d` from any scalar).
 */
export function integerField(defaultValue: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER, options: { fromString?: boolean } = {}) {
  return z.preprocess(
    (value) => {
      if (options.fromString !== true) return unsetIfNull(value);
      if (value === null || value === '') return undefined;
      return typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
    },
    z.number().int().min(minimum).max(maximum).default(defaultValue),
  );
}

/** An integer in [minimum, maximum] that may be left out (null is not set): for keys whose absence matters. */
export function optionalInteger(minimum: number, maximum = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(unsetIfNull, z.number().int().min(minimum).max(maximum).optional());
}

/** A string with a default; `emptyMeansDefault`: '' is not set either. */
export function stringField(defaultValue: string, options: { emptyMeansDefault?: boolean } = {}) {
  return z.preprocess((value) => (options.emptyMeansDefault === true && value === '' ? undefined : scalarToString(value)), z.string().default(defaultValue));
}

/** A string that may be left out: null and '' mean not set (undefined in the output). */
export function optionalString() {
  return z.preprocess((value) => (value === '' ? undefined : scalarToString(value)), z.string().optional());
}

/**
 * A non-empty string. Unset is `required` and '' is `required` too, unless `what` is given: then
 * `required: <what>` and `must not be empty: <what>`.
 */
export function requiredString(what?: string) {
  if (what === undefined) return z.preprocess(scalarToString, z.string().min(1));
  return z.preprocess(
    scalarToString,
    z.string({ error: (issue) => (issue.input === undefined ? `required: ${what}` : undefined) }).min(1, { message: `must not be empty: ${what}` }),
  );
}

/**
 * An enumeration, case-insensitive (the value is lowercased first, as Distribution does for log levels,
 * unless `normalise` says otherwise), with aliases mapping accepted spellings onto the canonical ones.
 */
export function enumField<const V extends readonly [string, ...string[]]>(
  values: V,
  defaultValue: V[number],
  options: { aliases?: Readonly<Record<string, V[number]>>; normalise?: (text: string) => string } = {},
) {
  const normalise = options.normalise ?? ((text: string) => text.toLowerCase());
  const aliases = options.aliases ?? {};
  return z.preprocess((value) => {
    if (value === null || value === '') return undefined;
    if (typeof value !== 'string') return value;
    const text = normalise(value);
    return Object.hasOwn(aliases, text) ? aliases[text] : text;
  }, z.enum(values).default(defaultValue));
}

/** A list of strings; a single scalar is a one-element list. */
export function stringListField() {
  return z.preprocess(toStringList, z.array(z.string()).default(() => []));
}

/** A mapping whose keys are checked (unknown keys are errors); absent, null or '' (from `REGISTRY_X=`) means all defaults. */
export function section<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess((value) => (value === undefined || value === null || value === '' ? {} : value), z.strictObject(shape));
}

/** Like section, but absent, null or '' leaves the section undefined in the output. */
export function optionalSection<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess(unsetIfEmpty, z.strictObject(shape).optional());
}

/** A mapping passed through unchecked. A bare string `x` means `{x: {}}` (`auth: none`). */
export function looseSection() {
  return z.preprocess((value) => (typeof value === 'string' && value !== '' ? { [value]: {} } : unsetIfNull(value)), z.record(z.string(), z.unknown()).optional());
}

/**
 * The preprocessing of a Go duration field: a string or integer nanoseconds becomes milliseconds;
 * null (and '' with `emptyIsUnset`) is not set; a value that is neither is left for the schema to
 * report; a malformed string is an issue whose message suggests `examples`.
 */
export function goDuration(examples: string, options: { emptyIsUnset?: boolean } = {}) {
  return (value: unknown, ctx: z.RefinementCtx): unknown => {
    if (value === null || value === undefined || (options.emptyIsUnset === true && value === '')) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') return value;
    try {
      return parseDuration(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected a duration such as ${examples}`, input: value });
      return undefined;
    }
  };
}

/** What a duration field accepts below: `nonnegative` (the default), `positive`, `any`, or at least `min` ms, named `minText`. */
export type DurationBound = 'nonnegative' | 'positive' | 'any' | { readonly min: number; readonly minText: string };

/**
 * A Go duration (string, or integer nanoseconds) as milliseconds, defaulting to `defaultMs`.
 * `examples` goes into the message for a malformed value.
 */
export function durationField(defaultMs: number, options: { bound?: DurationBound; examples?: string; emptyIsUnset?: boolean } = {}) {
  const [test, message] = durationCheck(options.bound ?? 'nonnegative');
  const preprocess = goDuration(options.examples ?? '30s, 1h30m or 168h', { emptyIsUnset: options.emptyIsUnset ?? false });
  return z.preprocess(preprocess, z.number().refine(test, { message }).default(defaultMs));
}

function durationCheck(bound: DurationBound): [(ms: number) => boolean, string] {
  if (bound === 'nonnegative') return [(ms) => ms >= 0, 'must not be negative'];
  if (bound === 'positive') return [(ms) => ms > 0, 'must be a positive duration'];
  if (bound === 'any') return [() => true, ''];
  return [(ms) => ms >= bound.min, `must be at least ${bound.minText}`];
}

/** A non-negative Go duration as milliseconds that may be left out: for keys whose absence matters. */
export function optionalDuration(options: { examples?: string; emptyIsUnset?: boolean } = {}) {
  const preprocess = goDuration(options.examples ?? '30s, 1h30m or 168h', { emptyIsUnset: options.emptyIsUnset ?? false });
  return z.preprocess(preprocess, z.number().min(0, { message: 'must not be negative' }).optional());
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

/** A list of entries; absent or null is none. */
export function listField<T extends z.ZodType>(item: T) {
  return z.preprocess(unsetIfNull, z.array(item).default(() => []));
}
