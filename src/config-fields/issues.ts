/** Turns zod's issues into ConfigIssues whose messages speak YAML (mapping, list) and name the key path: the one place this is done. */
import type { z } from 'zod';
import { ConfigError, formatKeyPath, type ConfigIssue } from './config-error.js';
import { knownKeysAt } from './schema-tree.js';

/**
 * One ConfigIssue per problem (an issue about several unknown keys becomes one per key, with a "did you
 * mean" hint from the keys `root` accepts there), in schema order. `prefix`: the key path of `root` in the
 * whole configuration (`['storage', 's3']` when a section is parsed alone), put before every path;
 * `hidden`: key paths below `root` never suggested (see knownKeysAt).
 */
export function configIssuesFromZod(
  issues: readonly z.core.$ZodIssue[],
  root: z.core.$ZodType,
  options: { readonly prefix?: readonly PropertyKey[]; readonly hidden?: ReadonlySet<string> } = {},
): ConfigIssue[] {
  const prefix = options.prefix ?? [];
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(root, issue.path, options.hidden);
      for (const key of issue.keys) out.push({ path: formatKeyPath([...prefix, ...issue.path, key]), message: `unknown key${unknownKeyHint(key, known)}` });
    } else {
      out.push({ path: formatKeyPath([...prefix, ...issue.path]), message: describeIssue(issue) });
    }
  }
  return out;
}

/**
 * Parses `value` with a section's schema on its own (what the configuration tree does under `prefix`), for
 * callers that build one part directly (tests, tools). Throws ConfigError naming `prefix` and the key.
 */
export function parseSection<T extends z.ZodType>(schema: T, prefix: readonly PropertyKey[], value: unknown): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(configIssuesFromZod(result.error.issues, schema, { prefix }));
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'never') return issue.message; // a key that must not be set, with its own message
      return issue.input === undefined ? 'required' : `expected ${typeNoun(issue.expected)}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `expected ${issue.values.length === 1 ? String(issue.values[0]) : `one of ${issue.values.map(String).join(', ')}`}, got ${describeValue(issue.input)}`;
    case 'invalid_union': {
      const expected = [...new Set(issue.errors.flatMap((branch) => branch.filter((i) => i.code === 'invalid_type').map((i) => typeNoun(i.expected))))];
      if (expected.length === 0) return issue.message;
      const list = expected.length === 1 ? expected[0] : `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}`;
      return `expected ${list}, got ${describeValue(issue.input)}`;
    }
    case 'invalid_key':
      return issue.issues[0]?.message ?? issue.message;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return issue.input === '' ? 'required' : 'must not be empty';
      if (issue.origin === 'array' || issue.origin === 'string') return `must have at least ${issue.minimum} ${issue.origin === 'array' ? 'entries' : 'characters'}`;
      return issue.inclusive === false ? `must be greater than ${issue.minimum}` : `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array' || issue.origin === 'string') return `must have at most ${issue.maximum} ${issue.origin === 'array' ? 'entries' : 'characters'}`;
      return issue.inclusive === false ? `must be less than ${issue.maximum}` : `must be at most ${issue.maximum}`;
    default:
      return issue.message;
  }
}

function typeNoun(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
      return 'mapping';
    case 'array':
      return 'list';
    case 'int':
      return 'integer';
    default:
      return expected;
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'mapping';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return typeof value;
}

function unknownKeyHint(key: string, known: readonly string[]): string {
  if (known.length === 0) return '';
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(lower, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  if (best !== undefined && (bestDistance <= Math.max(1, Math.floor(best.length / 3)) || lower === best)) return ` (did you mean ${JSON.stringify(best)}?)`;
  return ` (known keys: ${known.join(', ')})`;
}

/** Levenshtein distance, for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
