/**
 * Loading a configuration: choose the file, read its YAML, apply REGISTRY_* overrides, validate once, freeze.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../config-fields/config-error.js';
import { configIssuesFromZod } from '../config-fields/issues.js';
import { applyEnvOverrides, cloneTree, collectEnvOverrides, CONFIGURATION_PATH_VARIABLE, type EnvOverride } from './env.js';
import { configSchema, HIDDEN_KEYS, type Config } from './schema.js';

export { ConfigError, type ConfigIssue } from '../config-fields/config-error.js';
export type { Config } from './schema.js';

/**
 * The configuration used when no file is given (no path and no REGISTRY_CONFIGURATION_PATH): a registry for
 * local use, storing under ./data with deletes enabled, on :5000. Environment overrides still apply to it.
 */
export const DEFAULT_CONFIG_YAML = `# Berth's built-in configuration, used when no configuration file is given.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ./data
  delete:
    enabled: true
http:
  addr: ":5000"
  headers:
    X-Content-Type-Options: [nosniff]
`;

/** Where loadConfig takes its configuration from. */
export interface LoadConfigOptions {
  /** The configuration file; when absent, REGISTRY_CONFIGURATION_PATH, else DEFAULT_CONFIG_YAML. */
  readonly path?: string;
  /** The environment: REGISTRY_* overrides and REGISTRY_CONFIGURATION_PATH (usually process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Colon-separated configuration files tried in order when neither a path nor REGISTRY_CONFIGURATION_PATH is
 * given; the first that exists is used. The container image sets it to registry:2's path, then its own
 * (`/etc/docker/registry/config.yml:/etc/distribution/config.yml`), so a file mounted at either works.
 */
export const CONFIG_SEARCH_VARIABLE = 'BERTH_CONFIG_SEARCH';

/** The file loadConfig reads for these options, or undefined when it uses the embedded default. */
export function resolveConfigPath(options: LoadConfigOptions): string | undefined {
  if (options.path !== undefined && options.path !== '') return options.path;
  const fromEnv = options.env[CONFIGURATION_PATH_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const search = options.env[CONFIG_SEARCH_VARIABLE];
  if (search === undefined || search === '') return undefined;
  return search.split(':').find((candidate) => candidate !== '' && existsSync(candidate));
}

/**
 * Reads, overrides, validates and deep-freezes the configuration (see resolveConfigPath for which).
 * Rejects with ConfigError when the file cannot be read, is not valid YAML (the message gives file:line:column),
 * or does not satisfy the schema (one line per problem, each naming its key path).
 */
export async function loadConfig(options: LoadConfigOptions): Promise<Config> {
  const path = resolveConfigPath(options);
  let text = DEFAULT_CONFIG_YAML;
  if (path !== undefined) {
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError([{ path, message: `cannot read the configuration file: ${(err as Error).message}` }], { cause: err });
    }
  }
  const tree = parseConfigYaml(text, path ?? '<default configuration>');
  try {
    return parseConfig(applyEnvOverrides(tree, options.env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(explainIssues(err.issues, collectEnvOverrides(options.env).overrides), { cause: err });
  }
}

/**
 * Issues as a reader should see them: an unknown key (the usual cause: a typo) before what follows from it
 * ("exactly one storage driver"), and each issue that a REGISTRY_* variable produced naming that variable: the
 * most specific one (REGISTRY_STORAGE_S3_CHUNKSIZE rather than REGISTRY_STORAGE=s3 for `storage.s3.chunksize`).
 */
export function explainIssues(issues: readonly ConfigIssue[], overrides: readonly EnvOverride[]): ConfigIssue[] {
  const named = issues.map((issue) => {
    const from = sourceOf(issue.path.toLowerCase(), overrides);
    return from === undefined ? issue : { ...issue, message: `${issue.message} (from the environment variable ${from.name})` };
  });
  const cause = (issue: ConfigIssue): number => (issue.message.startsWith('unknown key') ? 0 : 1);
  return named.map((issue, i) => ({ issue, i })).sort((a, b) => cause(a.issue) - cause(b.issue) || a.i - b.i).map(({ issue }) => issue);
}

/** The override that set `path` or the deepest one above it; else one that set a key below it. */
function sourceOf(path: string, overrides: readonly EnvOverride[]): EnvOverride | undefined {
  let best: EnvOverride | undefined;
  for (const o of overrides) {
    const keyPath = o.path.join('.').toLowerCase();
    const above = path === keyPath || path.startsWith(`${keyPath}.`) || path.startsWith(`${keyPath}[`);
    if (above && (best === undefined || o.path.length > best.path.length)) best = o;
  }
  return best ?? overrides.find((o) => o.path.join('.').toLowerCase().startsWith(`${path}.`));
}

/**
 * Parses configuration YAML into a plain tree (merge keys `<<` allowed, duplicate keys refused), before any
 * validation. Throws ConfigError naming `<source>:<line>:<column>` for each syntax error.
 */
export function parseConfigYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((err) => {
      const at = err.linePos?.[0];
      const message = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
      return { path: at === undefined ? source : `${source}:${at.line}:${at.col}`, message };
    });
    throw new ConfigError(issues);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([{ path: source, message: (err as Error).message }], { cause: err });
  }
}

/**
 * Validates a configuration tree (parsed YAML after overrides) against the schema, applies defaults and returns
 * the result deep-frozen. Throws ConfigError listing every problem, one `config: <key path>: <message>` line each.
 */
export function parseConfig(tree: unknown): Config {
  // Loose sections come through by reference: copy first so freezing never reaches the caller's tree.
  const result = configSchema.safeParse(cloneTree(tree), { reportInput: true });
  if (!result.success) throw new ConfigError(configIssuesFromZod(result.error.issues, configSchema, { hidden: HIDDEN_KEYS }));
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
