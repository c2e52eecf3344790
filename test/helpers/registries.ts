import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { freePort } from './ports.js';
import { startServer, type ServerHandle } from './processes.js';

/** A registry server started by this module: the process handle plus its `host:port`. */
export interface RegistryHandle extends ServerHandle {
  /** `127.0.0.1:PORT`, what skopeo references start with. */
  readonly host: string;
  /** The config file it was started with (in a temporary directory removed on stop). */
  readonly configPath: string;
}

/** Options for {@link startDistribution}. */
export interface DistributionOptions {
  /** storage.filesystem.rootdirectory. */
  rootdirectory: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /**
   * More configuration, as YAML, deep-merged over the generated file (mappings merge key by
   * key; anything else replaces), e.g. `"log:\n  level: debug\n"`.
   */
  extraYaml?: string;
  /** A readiness probe replacing `GET /v2/` answering 200 (e.g. 401 once auth is configured). */
  ready?: () => Promise<boolean>;
}

/** Options for {@link startBerth}. */
export interface BerthOptions {
  /** storage.filesystem.rootdirectory; without it, storage is `inmemory`. */
  rootdirectory?: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /**
   * The whole config file instead of the generated one. It must listen where `port` says
   * (or set REGISTRY_HTTP_ADDR through `env`), since readiness is polled there.
   */
  configYaml?: string;
  /** Extra environment variables, e.g. REGISTRY_* overrides. */
  env?: Readonly<Record<string, string>>;
  /** A readiness probe replacing `GET http://127.0.0.1:PORT/v2/` (e.g. for TLS). */
  ready?: () => Promise<boolean>;
}

/** The registries the e2e tests can run against. */
export type RegistryKind = 'berth' | 'distribution';

/** The repository root (this file is compiled to dist/test/helpers/). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The shared secret every test registry uses, so uploads survive a restart between servers. */
export const HTTP_SECRET = 'berth-test-http-secret-0123456789';

type YamlMap = Record<string, unknown>;

function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: YamlMap, over: YamlMap): YamlMap {
  const out: YamlMap = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isMap(current) && isMap(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** The Distribution-style config both servers are started with by default. */
function baseConfig(port: number, storage: YamlMap): YamlMap {
  return {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { ...storage, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: HTTP_SECRET },
  };
}

async function startWithConfig(
  kind: RegistryKind,
  port: number,
  configText: string,
  spawnFor: (configPath: string) => { command: string; args: string[] },
  env?: Readonly<Record<string, string>>,
  ready?: () => Promise<boolean>,
): Promise<RegistryHandle> {
  const dir = await mkdtemp(join(tmpdir(), `berth-${kind}-config-`));
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, configText);
  const { command, args } = spawnFor(configPath);
  let server: ServerHandle;
  try {
    server = await startServer({
      name: kind,
      command,
      args,
      env,
      cwd: repoRoot,
      readyUrl: `http://127.0.0.1:${port}/v2/`,
      ...(ready !== undefined ? { ready } : {}),
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = async (signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null> => {
    try {
      return await server.stop(signal, timeoutMs);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  return {
    url: server.url,
    pid: server.pid,
    exited: server.exited,
    output: server.output,
    stop,
    kill: () => stop('SIGKILL'),
    host: `127.0.0.1:${port}`,
    configPath,
  };
}

/**
 * Starts CNCF Distribution (`docker-registry serve config.yml`, the Debian package) with
 * filesystem storage at `rootdirectory`, deletes enabled, log level warn, access log off,
 * listening on 127.0.0.1 and the fixed {@link HTTP_SECRET}. Resolves once `GET /v2/` is 200.
 */
export async function startDistribution(options: DistributionOptions): Promise<RegistryHandle> {
  const port = options.port ?? (await freePort());
  let config = baseConfig(port, { filesystem: { rootdirectory: options.rootdirectory } });
  if (options.extraYaml !== undefined) {
    const extra: unknown = parse(options.extraYaml);
    if (!isMap(extra)) throw new Error('startDistribution: extraYaml must be a YAML mapping');
    config = deepMerge(config, extra);
  }
  return startWithConfig(
    'distribution',
    port,
    stringify(config),
    (configPath) => ({ command: 'docker-registry', args: ['serve', configPath] }),
    undefined,
    options.ready,
  );
}

/**
 * Starts Berth (`node bin/berth.js serve config.yml` from this repository, which must be
 * built) with the same generated config as {@link startDistribution}, or `configYaml` when
 * given; storage is filesystem at `rootdirectory`, or inmemory without one. Resolves once
 * `GET /v2/` is 200.
 */
export async function startBerth(options: BerthOptions = {}): Promise<RegistryHandle> {
  const port = options.port ?? (await freePort());
  const storage: YamlMap =
    options.rootdirectory === undefined ? { inmemory: {} } : { filesystem: { rootdirectory: options.rootdirectory } };
  const configText = options.configYaml ?? stringify(baseConfig(port, storage));
  return startWithConfig(
    'berth',
    port,
    configText,
    (configPath) => ({
      command: process.execPath,
      args: [join(repoRoot, 'bin', 'berth.js'), 'serve', configPath],
    }),
    options.env,
    options.ready,
  );
}

/**
 * The registry the e2e tests target: env BERTH_E2E_TARGET, `berth` (default) or
 * `distribution` (to validate the tests themselves against the registry Berth replaces).
 */
export function e2eTarget(): RegistryKind {
  const value = process.env.BERTH_E2E_TARGET ?? 'berth';
  if (value !== 'berth' && value !== 'distribution') {
    throw new Error(`BERTH_E2E_TARGET must be "berth" or "distribution", not ${JSON.stringify(value)}`);
  }
  return value;
}

/** Starts a registry of `kind` with filesystem storage at `rootdirectory`. */
export function startRegistry(kind: RegistryKind, rootdirectory: string): Promise<RegistryHandle> {
  return kind === 'berth' ? startBerth({ rootdirectory }) : startDistribution({ rootdirectory });
}
