/**
 * Docker token scopes (pure): `repository:samalba/my-app:pull,push`, `registry:catalog:*`.
 *
 * The grammar is Distribution's (docs/content/spec/auth/scope.md):
 *
 *   scope         := resourcescope [ ' ' resourcescope ]*
 *   resourcescope := resourcetype ":" resourcename ":" action [ ',' action ]*
 *   resourcetype  := [a-z0-9]+ [ '(' [a-z0-9]+ ')' ]
 *   action        := [a-z*]*   (a regular expression)
 *
 * A resource name may itself contain a `:` (a registry host with a port, `localhost:5000/app`), so
 * the type ends at the first `:` and the actions start after the last one. A resource class
 * (`repository(plugin)`) is deprecated: it is parsed and kept, but ignored when comparing access,
 * as the spec says `repository` and `repository(plugin)` are equal when authorizing a token.
 */
import type { Access } from '../access.js';

/** One resource and the actions asked for (a challenge scope) or granted (a token's `access` entry). */
export interface ResourceScope {
  /** Resource type without its class: `repository`, `registry`. */
  readonly type: string;
  /** The deprecated resource class (`plugin` in `repository(plugin)`), when one was given. */
  readonly class?: string;
  readonly name: string;
  readonly actions: readonly string[];
}

const TYPE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
const ACTION = /^[a-z*]*$/;

/**
 * Parses one resource scope (`type[(class)]:name:actions`). Returns undefined when it breaks the
 * grammar: a bad type, an empty name, whitespace, or an action other than lowercase letters and `*`.
 * Empty actions (`repository:foo:` or a trailing comma) are dropped.
 */
export function parseScope(text: string): ResourceScope | undefined {
  if (/\s/.test(text)) return undefined;
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const typeMatch = TYPE.exec(text.slice(0, first));
  if (typeMatch === null) return undefined;
  const name = text.slice(first + 1, last);
  if (name === '') return undefined;
  const actions = text.slice(last + 1).split(',');
  if (!actions.every((a) => ACTION.test(a))) return undefined;
  const type = typeMatch[1] as string;
  const cls = typeMatch[2];
  const scope: ResourceScope = { type, name, actions: dedupe(actions.filter((a) => a !== '')) };
  return cls === undefined ? scope : { ...scope, class: cls };
}

/**
 * Parses a `scope` value that may hold several resource scopes separated by spaces (the challenge
 * parameter, or a token request's POST form). Entries that break the grammar are skipped, as
 * Distribution's token server ignores scopes it cannot read.
 */
export function parseScopes(text: string): ResourceScope[] {
  const out: ResourceScope[] = [];
  for (const part of text.split(' ')) {
    if (part === '') continue;
    const scope = parseScope(part);
    if (scope !== undefined) out.push(scope);
  }
  return out;
}

/** `type[(class)]:name:action,action`, the inverse of {@link parseScope}. */
export function formatScope(scope: ResourceScope): string {
  const type = scope.class === undefined || scope.class === '' ? scope.type : `${scope.type}(${scope.class})`;
  return `${type}:${scope.name}:${scope.actions.join(',')}`;
}

/**
 * Groups wanted access per resource, keeping first-seen order of resources and actions:
 * pull+push on `foo` and pull on `bar` give `repository:foo:pull,push` and `repository:bar:pull`.
 */
export function scopesForAccess(wanted: readonly Access[]): ResourceScope[] {
  const groups = new Map<string, { type: string; name: string; actions: string[] }>();
  for (const access of wanted) {
    const key = resourceKey(access.type, access.name);
    let group = groups.get(key);
    if (group === undefined) {
      group = { type: access.type, name: access.name, actions: [] };
      groups.set(key, group);
    }
    if (!group.actions.includes(access.action)) group.actions.push(access.action);
  }
  return [...groups.values()];
}

/**
 * The `scope` parameter of a Bearer challenge for `wanted`: one resource scope per resource,
 * separated by spaces (RFC 6750 section 3), or '' when nothing is wanted (then the parameter is left out).
 */
export function challengeScope(wanted: readonly Access[]): string {
  return scopesForAccess(wanted).map(formatScope).join(' ');
}

/**
 * Reads a token's `access` claim: a list of `{type, name, actions}` objects (plus an optional
 * deprecated `class`). A missing or null claim grants nothing; a value of the wrong shape returns
 * undefined, so the caller can reject the token as Distribution does when it cannot decode its claims.
 */
export function parseAccessClaim(value: unknown): ResourceScope[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return undefined;
  const out: ResourceScope[] = [];
  for (const entry of value) {
    if (entry === null) continue; // Go decodes a null element to a nil pointer and skips it
    if (typeof entry !== 'object' || Array.isArray(entry)) return undefined;
    const record = entry as Record<string, unknown>;
    const type = optionalString(record['type']);
    const name = optionalString(record['name']);
    const cls = optionalString(record['class']);
    const actions = record['actions'];
    if (type === null || name === null || cls === null) return undefined;
    if (actions !== undefined && actions !== null && !(Array.isArray(actions) && actions.every((a) => typeof a === 'string'))) return undefined;
    // A class written into the type (`repository(plugin)`) is split off so it compares equal.
    const typeMatch = TYPE.exec(type);
    const scope: ResourceScope = {
      type: typeMatch !== null ? (typeMatch[1] as string) : type,
      name,
      actions: Array.isArray(actions) ? dedupe(actions) : [],
    };
    const entryClass = cls !== '' ? cls : typeMatch?.[2];
    out.push(entryClass === undefined ? scope : { ...scope, class: entryClass });
  }
  return out;
}

/**
 * Whether granted scopes cover one wanted access: some entry names the same resource type and
 * name (the class is ignored) and lists the action or `*`. A wanted `*` (the catalog) therefore
 * needs a granted `*`, as in Distribution's actionSet.
 */
export function covers(granted: readonly ResourceScope[], wanted: Access): boolean {
  return granted.some((g) => g.type === wanted.type && g.name === wanted.name && (g.actions.includes('*') || g.actions.includes(wanted.action)));
}

/** The wanted access that granted scopes do not cover (empty when the token suffices). */
export function missingAccess(granted: readonly ResourceScope[], wanted: readonly Access[]): Access[] {
  return wanted.filter((w) => !covers(granted, w));
}

function resourceKey(type: string, name: string): string {
  return `${type}\u0000${name}`;
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** A string, '' for absent/null (Go's zero value), or null when it has the wrong type. */
function optionalString(value: unknown): string | null {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : null;
}
