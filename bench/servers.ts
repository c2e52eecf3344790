/**
 * Starts the registries under test, Berth and Distribution, with the same configuration: the
 * test helpers' Distribution-style config (filesystem storage, deletes on, log level warn,
 * access log off, 127.0.0.1, a fixed http.secret) plus the in-memory blob descriptor cache
 * that Distribution's shipped config.yml (Debian's and the registry:2 image's) turns on.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Kind } from './figures.js';
import { freePort } from '../test/helpers/ports.js';
import { startServer } from '../test/helpers/processes.js';
import { HTTP_SECRET, repoRoot, startBerth, startDistribution } from '../test/helpers/registries.js';

/** A registry under test. */
export interface Target {
  readonly kind: Kind;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `127.0.0.1:PORT`, for skopeo references. */
  readonly host: string;
  /** The server process (its descendants are measured too). */
  readonly pid: number;
  /** The storage root directory. */
  readonly dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/** How to start a target. */
export interface StartOptions {
  /** storage.filesystem.rootdirectory (created if missing). */
  readonly dataDir: string;
  /** When set, Berth runs under `node --cpu-prof` writing its profiles here (ignored for Distribution). */
  readonly cpuProfDir?: string | undefined;
  /** Berth's http.workers (ignored for Distribution); default 1. */
  readonly berthWorkers?: number;
}

/** The configuration both registries get, as YAML (Berth's `http.workers` aside, when asked for). */
export function benchConfig(port: number, dataDir: string, workers = 1): string {
  return stringify({
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: dataDir },
      delete: { enabled: true },
      cache: { blobdescriptor: 'inmemory' },
    },
    http: { addr: `127.0.0.1:${port}`, secret: HTTP_SECRET, ...(workers > 1 ? { workers } : {}) },
  });
}

/** What startTarget needs of a started server. */
interface Started {
  readonly url: string;
  readonly host: string;
  readonly pid: number;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  output(): string;
}

/**
 * Berth under `node --cpu-prof` (a flag NODE_OPTIONS refuses, hence this spawn instead of
 * startBerth): the profile is written into `profDir` when the server exits.
 */
async function startProfiledBerth(port: number, configYaml: string, profDir: string): Promise<Started> {
  const configDir = await mkdtemp(join(tmpdir(), 'berth-bench-config-'));
  const configPath = join(configDir, 'config.yml');
  await writeFile(configPath, configYaml);
  const server = await startServer({
    name: 'berth --cpu-prof',
    command: process.execPath,
    args: ['--cpu-prof', '--cpu-prof-dir', profDir, join(repoRoot, 'bin', 'berth.js'), 'serve', configPath],
    cwd: repoRoot,
    readyUrl: `http://127.0.0.1:${port}/v2/`,
  }).catch(async (err: unknown) => {
    await rm(configDir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: server.url,
    host: `127.0.0.1:${port}`,
    pid: server.pid,
    output: () => server.output(),
    stop: async (signal, timeoutMs) => {
      try {
        return await server.stop(signal, timeoutMs);
      } finally {
        await rm(configDir, { recursive: true, force: true });
      }
    },
  };
}

/** Starts a registry of `kind` on a free loopback port; resolves once `GET /v2/` answers 200. */
export async function startTarget(kind: Kind, options: StartOptions): Promise<Target> {
  await mkdir(options.dataDir, { recursive: true });
  const port = await freePort();
  const configYaml = benchConfig(port, options.dataDir);
  let handle: Started;
  if (kind === 'distribution') {
    // The whole file, deep-merged over the helper's identical base: the same config as Berth's.
    handle = await startDistribution({ rootdirectory: options.dataDir, port, extraYaml: configYaml });
  } else {
    const berthYaml = benchConfig(port, options.dataDir, options.berthWorkers ?? 1);
    handle = options.cpuProfDir !== undefined ? await startProfiledBerth(port, berthYaml, options.cpuProfDir) : await startBerth({ port, configYaml: berthYaml });
  }
  return {
    kind,
    url: handle.url,
    host: handle.host,
    pid: handle.pid,
    dataDir: options.dataDir,
    stop: async () => {
      const code = await handle.stop('SIGTERM', 10_000);
      if (code !== 0 && code !== null && kind === 'berth') {
        throw new Error(`berth exited with code ${code}:\n${handle.output()}`);
      }
    },
  };
}

/** Starts a registry of `kind`, runs `fn` against it, and stops it whatever `fn` did. */
export async function withTarget<T>(kind: Kind, options: StartOptions, fn: (target: Target) => Promise<T>): Promise<T> {
  const target = await startTarget(kind, options);
  try {
    return await fn(target);
  } finally {
    await target.stop();
  }
}
