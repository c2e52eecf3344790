import { availableParallelism } from 'node:os';
import type { Server } from 'node:net';
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import { collectEnvOverrides } from '../config/env.js';
import { ConfigError } from '../config-fields/config-error.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log/logger.js';
import { createDriver } from '../storage/driver/factory.js';
import { transferBuffers } from '../storage/buffer-pool.js';
import { Registry } from '../storage/registry.js';
import { compileManifestRules } from '../storage/manifest-rules.js';
import { InMemoryBlobDescriptorCache, type BlobDescriptorCache } from '../storage/blob-store.js';
import { connectRedis, pingRedis, type RedisClient } from '../cache/redis-client.js';
import { Circuit } from '../cache/circuit.js';
import { RedisBlobDescriptorCache } from '../cache/redis-blob-descriptor-cache.js';
import { buildApp } from '../http/app.js';
import { AllowAll, type AccessController } from '../auth/access.js';
import { effectiveListenAddress, formatListenAddress, parseListenAddress } from '../http/listen-address.js';
import { createRegistryServer } from '../http/server.js';
import { startUploadPurging } from '../storage/purge.js';
import { startOnlineGc, type OnlineGc } from '../gc/online.js';
import { onlineGcSettings } from '../gc/schema.js';
import { VERSION } from './version.js';
import { joinCluster, runPrimary, workerCount, workerIndex } from './cluster.js';
import { RegistryMetrics } from '../metrics/metrics.js';
import { meteredLayer } from '../metrics/metered-repository.js';
import type { LocalQuotaLedger } from '../lifecycle/quota-layer.js';
import { instrumentDriver } from '../metrics/instrument-driver.js';
import { instrumentBlobDescriptorCache } from '../metrics/instrument-cache.js';
import { Notifier } from '../notifications/notifier.js';
import { EventBridge } from '../notifications/bridge.js';
import { sourceRecord } from '../notifications/event.js';
import { HealthMonitor } from '../health/monitor.js';
import { buildHealthChecks, storageDriverProbe } from '../health/checks.js';
import { startDebugServer, type DebugServer } from '../http/debug-server.js';
import { createRateLimiter } from '../ratelimit/from-config.js';
import { RedisSharedCatalog } from '../cache/redis-catalog.js';
import { catalogSettings as toCatalogSettings, type CatalogSettings } from '../storage/catalog-settings.js';
import type { CatalogOptions } from '../storage/catalog.js';
import type { UiHandler } from '../ui/handler.js';
import { startUi } from './serve-ui.js';
import { installLifecycleLayers, startPullTimes, startRetention } from './serve-lifecycle.js';
import type { PullTimes } from '../http/management-seams.js';

/** The largest manifest Berth accepts (the distribution spec's recommended minimum limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A running registry: its server, and how to stop it. */
export interface RunningRegistry {
  readonly server: Server;
  readonly logger: Logger;
  /** Stops accepting connections, waits for requests in flight up to the drain timeout, then closes. */
  stop(): Promise<void>;
}

/** `berth serve [config.yml]`: loads the configuration, builds the registry and listens. */
export async function serveCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Flags are ignored, as before: the configuration file is the first operand.
  const path = parseArgs({ args: [...args], strict: false, allowPositionals: true }).positionals[0];
  const options = path === undefined ? { env } : { path, env };
  const config = await loadConfig(options);
  const workers = workerCount(config.http.workers);
  if (workers > 1 && cluster.isPrimary) {
    const logger = createLogger({ level: config.log.level, formatter: config.log.formatter, fields: { service: 'registry', version: VERSION, ...config.log.fields } });
    return runPrimary({ count: workers, secret: config.http.secret, logger });
  }
  const running = await startRegistry(config);
  const file = resolveConfigPath(options);
  running.logger.info(file === undefined ? 'using the built-in default configuration' : `using configuration file ${file}`);
  warnIgnoredVariables(env, running.logger);
  let stopping = false;
  const shutdown = (signal: string): void => {
    // Once: a worker of `http.workers` gets Ctrl-C's SIGINT from the terminal and SIGTERM from its primary.
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  watchParent(() => shutdown('parent exited'));
  return new Promise<number>(() => {
    // Runs until a signal stops the process.
  });
}

/**
 * Names each REGISTRY_* variable that configures nothing (`REGISTRY_STORGE=inmemory`), as Distribution
 * does; Kubernetes' variables for a Service named "registry" (REGISTRY_PORT, REGISTRY_SERVICE_HOST, ...)
 * only at debug level.
 */
function warnIgnoredVariables(env: NodeJS.ProcessEnv, logger: Logger): void {
  for (const name of collectEnvOverrides(env).ignored) {
    if (/^REGISTRY_(PORT|SERVICE_HOST|SERVICE_PORT)(_|$)/.test(name)) logger.debug(`Ignoring unrecognized environment variable ${name}`);
    else logger.warn(`Ignoring unrecognized environment variable ${name}: it names no configuration key`);
  }
}

/**
 * Stops the registry when the process that started it goes away: `npm start` or `npx berth serve` under a
 * service manager gets SIGTERM and exits without passing it on, which would leave the server running and
 * listening with nobody to stop it. The parent is gone when this process is handed to another one (init).
 */
function watchParent(onGone: () => void): void {
  const parent = process.ppid;
  // PID 0 or 1: started by init or as a container's PID 1 (or its init), which outlive us.
  if (parent <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone();
    }
  }, 1000);
  timer.unref();
}

/**
 * The `proxy` section validates (src/proxy/schema.ts), but the cache is not in the request path yet:
 * refuse it rather than serve a writable hosted registry where a read-only mirror was configured.
 */
function refuseUnservedProxy(config: Config): void {
  if (config.proxy === undefined) return;
  throw new ConfigError([{ path: 'proxy', message: 'the pull-through cache is not served by this version of Berth yet (the section is valid); remove it' }]);
}

/** Starts a registry from a parsed configuration (used by serve and by tests). */
export async function startRegistry(config: Config): Promise<RunningRegistry> {
  refuseUnservedProxy(config);
  // A worker of `http.workers`: worker 0 alone sweeps, purges uploads and serves the debug endpoints.
  const worker = workerIndex();
  const logger = createLogger({
    level: config.log.level,
    formatter: config.log.formatter,
    fields: { service: 'registry', version: VERSION, ...(worker !== undefined ? { worker } : {}), ...config.log.fields },
  });
  const secret = httpSecret(config, logger);
  const metrics = new RegistryMetrics();
  const { rawDriver, driver, cache, catalog, registry, quotas } = await openRegistry(config, logger, metrics);
  const link = worker === undefined ? undefined : await joinWorkers(registry, metrics);
  const firstWorker = worker === undefined || worker === 0;
  const gc = startGc(config, registry, logger, metrics, firstWorker, () => quotas?.rebuild());
  const notifier = Notifier.fromConfig(config.notifications, { logger, metrics, userAgent: `berth/${VERSION}` });
  const auth = await createAccessController(config, logger, metrics);
  const rateLimiter = await createRateLimiter(config.http.ratelimit, { logger, metrics, prefix: config.http.prefix, redis: config.redis });
  const ui = await startUi(config, auth.access, secret, logger);
  const pulls = await startPullTimes(config, registry, logger);
  const events = notifier.enabled
    ? new EventBridge({ sink: notifier, source: sourceRecord(config.http.addr), includeReferences: config.notifications.events.includereferences })
    : undefined;
  const access = ui?.access ?? auth.access;
  const app = buildRegistryApp(config, { registry, logger, secret, metrics, events, access, rateLimiter, pullTimes: pulls.recorder, quotas: quotas?.ledger, ui: ui?.handler });
  const retention = startRetention(config, { registry, logger, metrics, pullTimes: pulls.recorder, events, firstWorker });
  metrics.trackInFlight(app.inFlight);
  const health = new HealthMonitor(buildHealthChecks(config.health, { name: config.storage.driver, probe: storageDriverProbe(rawDriver) }), { logger });
  void health.start();
  const debug = firstWorker ? await startDebug(config, { link, metrics, health, notifier, logger }) : undefined;
  const { server, shutdown } = await listen(config, app, logger);
  const purging = startUploadPurging(
    registry,
    firstWorker ? config.storage.maintenance.uploadpurging : { ...config.storage.maintenance.uploadpurging, enabled: false },
    config.storage.maintenance.readonly.enabled,
    logger,
  );

  return {
    server,
    logger,
    async stop(): Promise<void> {
      health.drain();
      purging.stop();
      await retention.stop();
      await gc.stop();
      await shutdown(config.http.draintimeout);
      await pulls.close();
      await notifier.close(5000);
      health.stop();
      await debug?.close();
      await cache.close();
      await rateLimiter?.close();
      catalog.close();
      auth.close();
      await driver.close();
    },
  };
}

/** The debug server (`http.debug`), when configured: metrics (with workers, every worker's summed through the primary) and health. */
async function startDebug(
  config: Config,
  deps: { link: Awaited<ReturnType<typeof joinCluster>> | undefined; metrics: RegistryMetrics; health: HealthMonitor; notifier: Notifier; logger: Logger },
): Promise<DebugServer | undefined> {
  if (config.http.debug === undefined) return undefined;
  const { addr, prometheus } = config.http.debug;
  const { link, metrics } = deps;
  const rendered = link === undefined ? metrics : { render: async () => ({ contentType: metrics.registry.contentType, body: await link.clusterMetrics() }) };
  return startDebugServer({ addr, metrics: { enabled: prometheus.enabled, path: prometheus.path, metrics: rendered }, health: deps.health, notifications: deps.notifier, logger: deps.logger });
}

/** A worker of `http.workers`: the catalog's additions and deletions are told to the other workers, and metrics summed. */
async function joinWorkers(registry: Registry, metrics: RegistryMetrics): Promise<Awaited<ReturnType<typeof joinCluster>>> {
  const link = await joinCluster({
    onRepository: (name) => registry.learnRepository(name),
    onRepositoryRemoved: (name) => registry.forgetRepository(name),
    registries: [metrics.registry],
  });
  registry.onNewRepository((name) => link.announceRepository(name));
  registry.onRemovedRepository((name) => link.announceRemoval(name));
  return link;
}

/** `http.secret`, or a random one (with a warning: uploads then fail across replicas). */
function httpSecret(config: Config, logger: Logger): string {
  if (config.http.secret !== '') return config.http.secret;
  logger.warn(
    'No HTTP secret provided - generated random secret. This may cause problems with uploads if multiple registries are behind a load-balancer. To provide a shared secret, fill in http.secret in the configuration file or set the REGISTRY_HTTP_SECRET environment variable.',
  );
  return randomBytes(32).toString('hex');
}

/** The storage driver (instrumented), the blob descriptor cache, the catalog and the registry over them. */
async function openRegistry(config: Config, logger: Logger, metrics: RegistryMetrics) {
  const rawDriver = await createDriver(config.storage, { buffers: transferBuffers });
  logger.info(describeStorage(config.storage));
  const driver = instrumentDriver(rawDriver, metrics);
  const cache = await createBlobDescriptorCache(config, logger, metrics);
  const limits = config.storage.cache;
  const catalogSettings = toCatalogSettings(config.catalog);
  const catalog = await createCatalogOptions(config, catalogSettings, logger);
  const registry = new Registry({
    driver,
    blobDescriptorCache: instrumentBlobDescriptorCache(cache.cache, metrics),
    manifestRules: compileManifestRules(config.validation),
    catalog: catalog.options,
    cacheLimits: { manifestBytes: limits.manifestbytes, links: limits.linksize, tagLists: limits.taglistsize, tagListBytes: limits.taglistbytes },
    tagConcurrency: config.storage.tag.concurrencylimit,
  });
  registry.use(meteredLayer(metrics));
  const quotas = installLifecycleLayers(config, registry, logger);
  metrics.trackCaches(() => (cache.cache instanceof InMemoryBlobDescriptorCache ? [cache.cache.usage(), ...registry.cacheUsage()] : registry.cacheUsage()));
  if (config.validation.manifests.indexes.platforms !== 'all') {
    logger.warn('image index completeness validation is disabled (validation.manifests.indexes.platforms); other tools may expect every image of an index to be present');
  }
  return { rawDriver, driver, cache, catalog, registry, quotas };
}

/** Online GC: always started, as a replica that does not sweep still honours what another one condemned. */
function startGc(config: Config, registry: Registry, logger: Logger, metrics: RegistryMetrics, firstWorker: boolean, afterRun: () => void): OnlineGc {
  return startOnlineGc(
    registry,
    { ...onlineGcSettings(config.storage.gc), enabled: config.storage.gc.enabled && !config.storage.maintenance.readonly.enabled && firstWorker },
    logger,
    {
      onRun: (summary) => {
        if (summary.ran) afterRun();
        if (summary.ran) metrics.gcRun({ blobsDeleted: summary.blobs.deleted, manifestsDeleted: summary.manifests.deleted, bytesFreed: summary.bytesFreed, seconds: summary.durationMs / 1000, ok: true });
      },
      onFailure: (_err, durationMs) => metrics.gcRun({ blobsDeleted: 0, manifestsDeleted: 0, bytesFreed: 0, seconds: durationMs / 1000, ok: false }),
    },
  );
}

/** The HTTP application, configured from `http.*`, `storage.*` and the notification sink. */
function buildRegistryApp(
  config: Config,
  deps: {
    registry: Registry;
    logger: Logger;
    secret: string;
    metrics: RegistryMetrics;
    events: EventBridge | undefined;
    access: AccessController;
    rateLimiter: Awaited<ReturnType<typeof createRateLimiter>>;
    pullTimes: PullTimes;
    quotas: LocalQuotaLedger | undefined;
    ui: UiHandler | undefined;
  },
): ReturnType<typeof buildApp> {
  const { registry, logger, secret, metrics, events, access, rateLimiter, pullTimes, quotas, ui } = deps;
  return buildApp({
    registry,
    logger,
    access,
    secret,
    prefix: config.http.prefix,
    host: config.http.host,
    relativeUrls: config.http.relativeurls,
    headers: config.http.headers,
    deleteEnabled: config.storage.delete.enabled,
    readOnly: config.storage.maintenance.readonly.enabled,
    redirect: !config.storage.redirect.disable,
    maxManifestBytes: MAX_MANIFEST_BYTES,
    catalogMaxEntries: config.catalog.maxentries,
    maxUploads: config.http.maxuploads,
    accessLog: !config.log.accesslog.disabled,
    metrics,
    rateLimiter,
    ui,
    pullTimes,
    ...(events !== undefined ? { events } : {}),
    ...(quotas !== undefined ? { quotas: { usage: async () => (await quotas.usage()).quotas } } : {}),
  });
}

/** Creates the registry's server and listens on `http.addr` (TCP or unix socket). */
async function listen(config: Config, app: ReturnType<typeof buildApp>, logger: Logger): Promise<Awaited<ReturnType<typeof createRegistryServer>>> {
  const tls = config.http.tls;
  const created = await createRegistryServer(
    app,
    {
      ...(tls !== undefined ? { tls } : {}),
      http2: !config.http.http2.disabled,
      maxHeaderSize: 64 * 1024,
      headersTimeoutMs: 60_000,
      idleTimeoutMs: 5 * 60_000,
    },
    logger,
  );
  const { server } = created;
  const address = parseListenAddress(effectiveListenAddress(config.http.addr, tls !== undefined), config.http.net);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (address.kind === 'unix') server.listen(address.path, resolve);
    else server.listen(address.port, address.host, resolve);
  });
  const bound = server.address();
  const shown = typeof bound === 'object' && bound !== null && address.kind === 'tcp' ? { ...address, port: bound.port } : address;
  logger.info(`listening on ${formatListenAddress(shown)}${tls !== undefined ? ', tls' : ''}`);
  return created;
}

/**
 * The configured access controller: htpasswd (with policies), token, or none. Each is loaded only
 * when configured (bcrypt and JOSE are a few MiB of memory a registry without them does not need).
 */
async function createAccessController(config: Config, logger: Logger, metrics: RegistryMetrics): Promise<{ access: AccessController; close(): void }> {
  const htpasswd = config.auth?.htpasswd;
  if (htpasswd !== undefined) {
    const { HtpasswdAccessController } = await import('../auth/htpasswd/controller.js');
    const controller = await HtpasswdAccessController.create({
      realm: htpasswd.realm,
      path: htpasswd.path,
      policies: config.auth?.policies,
      logger,
      metrics,
      limits: {
        workers: htpasswd.workers,
        processes: config.http.workers === 'auto' ? availableParallelism() : config.http.workers,
        maxConcurrentChecks: htpasswd.maxconcurrentchecks,
        windowMs: htpasswd.failures.window,
        lockoutMs: htpasswd.failures.lockout,
        perAddress: htpasswd.failures.peraddress,
        perUser: htpasswd.failures.peruser,
      },
    });
    logger.info({ path: htpasswd.path }, 'using htpasswd authentication');
    return { access: controller, close: () => controller.close() };
  }
  const token = config.auth?.token;
  if (token !== undefined) {
    const { createTokenAccessController } = await import('../auth/token/controller.js');
    const controller = await createTokenAccessController(token, { logger });
    logger.info({ realm: token.realm, service: token.service }, 'using token authentication');
    return { access: controller, close: () => undefined };
  }
  return { access: new AllowAll(), close: () => undefined };
}

/** The configured blob descriptor cache: redis when asked for, else the bounded in-process LRU (the default). */
async function createBlobDescriptorCache(config: Config, logger: Logger, metrics: RegistryMetrics): Promise<{ cache: BlobDescriptorCache; close(): Promise<void> }> {
  if (config.storage.cache.blobdescriptor === 'redis') {
    if (config.redis === undefined) throw new Error('config: storage.cache.blobdescriptor: redis needs the redis section');
    const conn: { client?: RedisClient } = {}; // set once connected; the circuit's probe reads it
    // A Redis that is down costs nothing: the circuit skips it until a background PING answers.
    const circuit = new Circuit({
      name: 'redis',
      logger,
      metrics,
      probe: async () => {
        if (conn.client === undefined) throw new Error('not connected yet');
        await pingRedis(conn.client);
      },
    });
    const connected = await connectRedis(config.redis, logger, circuit);
    conn.client = connected;
    logger.info('using redis blob descriptor cache');
    return {
      cache: new RedisBlobDescriptorCache(connected, config.redis.ttl, logger, undefined, undefined, circuit),
      close: async () => {
        circuit.close();
        connected.disconnect();
      },
    };
  }
  if (config.redis === undefined) logger.info('redis not configured');
  const size = config.storage.cache.blobdescriptorsize;
  logger.info('using inmemory blob descriptor cache');
  return { cache: new InMemoryBlobDescriptorCache(size === 0 ? Number.MAX_SAFE_INTEGER : size), close: async () => undefined };
}

/** Where data lives, for the start-up log: a path for the filesystem driver, the bucket or container otherwise. */
export function describeStorage(storage: Config['storage']): string {
  switch (storage.driver) {
    case 'filesystem':
      return `storing data under ${resolve(storage.filesystem?.rootdirectory ?? '/var/lib/registry')} (filesystem driver)`;
    case 'inmemory':
      return 'storing data in memory (inmemory driver): it is lost when the process stops';
    default:
      return `storing data with the ${storage.driver} driver`;
  }
}

/**
 * How the catalog index stays fresh: with a `redis` section (and `catalog.redis` not false), replicas
 * share repository names through Redis (src/cache/redis-catalog.ts); otherwise walks of storage.
 */
async function createCatalogOptions(config: Config, settings: CatalogSettings, logger: Logger): Promise<{ options: CatalogOptions; close(): void }> {
  const walks = { refreshMs: settings.refreshMs, maxStaleMs: settings.maxStaleMs };
  if (config.redis === undefined || !settings.redis) return { options: walks, close: () => undefined };
  const client = await connectRedis(config.redis, logger);
  let reported = false;
  logger.info('sharing the catalog through redis');
  return {
    options: {
      ...walks,
      shared: new RedisSharedCatalog(client),
      onSharedError: (err) => {
        // Once per outage burst: the catalog walks storage meanwhile.
        if (reported) return;
        reported = true;
        setTimeout(() => (reported = false), 60_000).unref();
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis catalog unavailable: listing repositories from storage walks');
      },
    },
    close: () => client.disconnect(),
  };
}
