/**
 * REGISTRY_* environment overrides, with Distribution's rules (configuration/parser.go), as a pure function
 * over the YAML tree: `REGISTRY_HTTP_ADDR=:5001` sets `http.addr`, `REGISTRY_STORAGE=s3` switches driver.
 */
import { parseDocument } from 'yaml';
import { ConfigError } from '../config-fields/config-error.js';
import { isPlainObject } from '../config-fields/fields.js';
import { STORAGE_DRIVER_KEYS, TOP_LEVEL_KEYS } from './schema.js';

const PREFIX = 'REGISTRY_';
/** The variable that names the configuration file; never an override. */
export const CONFIGURATION_PATH_VARIABLE = 'REGISTRY_CONFIGURATION_PATH';

/** One REGISTRY_* variable read as an override. */
export interface EnvOverride {
  /** The variable's name, e.g. `REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY`. */
  readonly name: string;
  /** The key path it addresses, as written in the name: `['STORAGE', 'FILESYSTEM', 'ROOTDIRECTORY']`. */
  readonly path: readonly string[];
  /** The raw value, parsed as YAML when applied. */
  readonly value: string;
}

/**
 * Picks the overrides out of an environment, in the order they are applied: fewer path segments first,
 * then by name, so `REGISTRY_STORAGE=s3` (a whole section) lands before `REGISTRY_STORAGE_S3_BUCKET` (a key in it).
 * `ignored` lists REGISTRY_* variables that are not overrides: an empty segment (`REGISTRY_HTTP__ADDR`), or a
 * first segment that is no top-level key. The latter keeps Kubernetes' service variables for a Service named
 * "registry" (REGISTRY_PORT, REGISTRY_SERVICE_HOST, ...) from breaking start-up; Distribution ignores them too.
 */
export function collectEnvOverrides(env: Readonly<Record<string, string | undefined>>): { overrides: EnvOverride[]; ignored: string[] } {
  const overrides: EnvOverride[] = [];
  const ignored: string[] = [];
  const roots = new Set(TOP_LEVEL_KEYS.map((k) => k.toLowerCase()));
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith(PREFIX) || name === CONFIGURATION_PATH_VARIABLE) continue;
    const path = name.slice(PREFIX.length).split('_');
    const first = path[0];
    if (path.some((segment) => segment === '') || first === undefined || !roots.has(first.toLowerCase())) {
      ignored.push(name);
      continue;
    }
    overrides.push({ name, path, value });
  }
  overrides.sort((a, b) => a.path.length - b.path.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { overrides, ignored: ignored.sort() };
}

/**
 * Returns a copy of `tree` (the parsed YAML; the input is not modified) with every REGISTRY_* variable of `env`
 * applied, except REGISTRY_CONFIGURATION_PATH and those collectEnvOverrides ignores.
 *
 * - The name after `REGISTRY_` is a key path split on `_`. At each level a segment matches an existing key
 *   case-insensitively and keeps that key's spelling; several segments joined by `_` may match an existing key
 *   that contains underscores (`REGISTRY_STORAGE_AZURE_MAX_RETRIES` finds `max_retries`). A missing key is
 *   created in lowercase, with mappings created along the way; a segment may contain dashes
 *   (`REGISTRY_HTTP_HEADERS_X-FRAME-OPTIONS`). A numeric segment indexes a list, its length appends, and where
 *   nothing is set yet it starts one (`REGISTRY_HTTP_TLS_CLIENTCAS_0=/ca.pem`).
 * - The value is parsed as YAML: `true` is a boolean, `5` a number, `[a, b]` a list, `{a: 1}` a mapping; an empty
 *   value is the empty string; a value that is not valid YAML, or that is only a comment, is taken literally.
 * - `REGISTRY_STORAGE=<driver>` switches the storage driver: any other driver key is removed and `<driver>: {}`
 *   created (kept if already there); delete, maintenance, cache, redirect, gc and tag stay.
 *
 * Throws ConfigError for an index past the end of a list or a non-numeric segment where a list is.
 */
export function applyEnvOverrides(tree: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  const { overrides } = collectEnvOverrides(env);
  let root = cloneTree(tree);
  if (overrides.length === 0) return root;
  if (root === null || root === undefined) root = {};
  if (!isPlainObject(root)) return root; // not a mapping: the schema reports it
  for (const override of overrides) {
    const value = parseEnvValue(override.value);
    const [first, ...rest] = override.path;
    if (first !== undefined && rest.length === 0 && first.toLowerCase() === 'storage' && typeof value === 'string' && value !== '') {
      switchStorageDriver(root, value.toLowerCase());
    } else {
      assign(root, override.path, value, override.name, 0);
    }
  }
  return root;
}

/** An override's value: YAML, except that an empty value is '' and text YAML cannot read is kept as text. */
export function parseEnvValue(raw: string): unknown {
  if (raw.trim() === '') return '';
  const doc = parseDocument(raw, { logLevel: 'silent' });
  if (doc.errors.length > 0) return raw;
  let value: unknown;
  try {
    value = doc.toJS();
  } catch {
    return raw;
  }
  // `#x` is all comment and would read as null; only an explicit null is one.
  if (value === null && !/^(?:~|null|Null|NULL)$/.test(raw.trim())) return raw;
  return value;
}

type Mapping = Record<string, unknown>;

/** A deep copy of the mappings and lists of a YAML tree (other values are immutable and shared). */
export function cloneTree(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneTree);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cloneTree(v)]));
  return value;
}

// Own, enumerable data property even for a key such as "__proto__", which plain assignment would not create.
function setOwn(map: Mapping, key: string, value: unknown): void {
  Object.defineProperty(map, key, { value, writable: true, enumerable: true, configurable: true });
}

function getOwn(map: Mapping, key: string): unknown {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** The existing key that the leading segments name (longest match first), else the first segment in lowercase. */
function matchKey(map: Mapping, segments: readonly string[]): { key: string; consumed: number } {
  const keys = Object.keys(map);
  for (let n = segments.length; n >= 1; n--) {
    const wanted = segments.slice(0, n).join('_').toLowerCase();
    const key = keys.find((k) => k.toLowerCase() === wanted);
    if (key !== undefined) return { key, consumed: n };
  }
  return { key: (segments[0] ?? '').toLowerCase(), consumed: 1 };
}

/** Sets `value` at `segments` below `node` (mutating the copy), and returns the node to store in its parent. */
function assign(node: unknown, segments: readonly string[], value: unknown, name: string, depth: number): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  const isIndex = /^\d+$/.test(head);
  // Nothing here yet and an index next: start a list, as Distribution does for an empty slice field.
  if (isIndex && (node === undefined || node === null)) node = [];
  if (Array.isArray(node)) {
    if (!isIndex) throw new ConfigError([{ path: name, message: `${JSON.stringify(head)} is not a list index` }]);
    const index = Number(head);
    if (index > node.length) throw new ConfigError([{ path: name, message: `index ${index} is past the end of the list (length ${node.length})` }]);
    node[index] = assign(node[index], rest, value, name, depth + 1);
    return node;
  }
  let map: Mapping;
  if (isPlainObject(node)) map = node;
  else if (depth === 1 && typeof node === 'string' && node !== '') map = { [node]: {} }; // `storage: inmemory`, `auth: none`
  else map = {};
  const { key, consumed } = matchKey(map, segments);
  setOwn(map, key, assign(getOwn(map, key), segments.slice(consumed), value, name, depth + 1));
  return map;
}

function switchStorageDriver(root: Mapping, driver: string): void {
  const storageKey = Object.keys(root).find((k) => k.toLowerCase() === 'storage') ?? 'storage';
  let storage = getOwn(root, storageKey);
  if (typeof storage === 'string' && storage !== '') storage = { [storage]: {} };
  const next: Mapping = {};
  let present = false;
  for (const [key, value] of Object.entries(isPlainObject(storage) ? storage : {})) {
    const lower = key.toLowerCase();
    if (lower === driver) present = true;
    else if (STORAGE_DRIVER_KEYS.includes(lower)) continue;
    setOwn(next, key, value);
  }
  if (!present) setOwn(next, driver, {});
  setOwn(root, storageKey, next);
}
