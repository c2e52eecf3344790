import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/http/app.js';
import type { AppOptions } from '../../src/http/context.js';
import { Registry } from '../../src/storage/registry.js';
import { meteredLayer } from '../../src/metrics/metered-repository.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import type { StorageDriver } from '../../src/storage/driver/driver.js';
import type { ManifestRules } from '../../src/storage/manifest-rules.js';
import type { CatalogOptions } from '../../src/storage/catalog.js';
import { AllowAll } from '../../src/auth/access.js';
import { createLogger } from '../../src/log/logger.js';

/** A registry app served over a real socket on an ephemeral port, for integration tests. */
export interface TestRegistry {
  readonly url: string;
  readonly registry: Registry;
  readonly driver: StorageDriver;
  readonly server: Server;
  readonly logs: string[];
  close(): Promise<void>;
}

export async function startTestRegistry(overrides: Partial<Omit<AppOptions, 'registry' | 'logger'>> & { driver?: StorageDriver; manifestRules?: ManifestRules; catalog?: CatalogOptions } = {}): Promise<TestRegistry> {
  const driver = overrides.driver ?? new InMemoryDriver();
  const registry = new Registry({
    driver,
    ...(overrides.manifestRules !== undefined ? { manifestRules: overrides.manifestRules } : {}),
    ...(overrides.catalog !== undefined ? { catalog: overrides.catalog } : {}),
  });
  if (overrides.metrics !== undefined) registry.use(meteredLayer(overrides.metrics));
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', formatter: 'json', destination: { write: (l: string) => logs.push(l) } });
  const { driver: _unused, manifestRules: _rules, catalog: _catalog, ...rest } = overrides;
  const app = buildApp({
    registry,
    logger,
    access: new AllowAll(),
    secret: 'test-secret',
    prefix: '',
    host: '',
    relativeUrls: false,
    headers: { 'X-Content-Type-Options': ['nosniff'] },
    deleteEnabled: true,
    readOnly: false,
    redirect: true,
    maxManifestBytes: 4 * 1024 * 1024,
    catalogMaxEntries: 1000,
    accessLog: true,
    ...rest,
  });
  const server = createServer({ requestTimeout: 0 }, app.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    registry,
    driver,
    server,
    logs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
