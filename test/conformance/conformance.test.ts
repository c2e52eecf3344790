import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry } from '../helpers/app.js';
import { startBerth } from '../helpers/registries.js';
import { conformanceSuite } from './suite.js';
import { compileManifestRules } from '../../src/storage/manifest-rules.js';
import { parseConfig } from '../../src/config/load.js';

// The non-distributable layers workflow pushes layers fetched from https://store.example.com/; as in
// Distribution, layer URLs are refused unless validation.manifests.urls.allow lets them in.
const ALLOW = ['^https://store\\.example\\.com/'];

// The OCI conformance suite against Berth in process (inmemory driver) ...
conformanceSuite('Berth in process, inmemory storage', async () => {
  const validation = { manifests: { urls: { allow: ALLOW } } };
  const registry = await startTestRegistry({ manifestRules: compileManifestRules(parseConfig({ version: '0.1', storage: { inmemory: {} }, validation }).validation) });
  return { url: registry.url, close: () => registry.close() };
});

// ... and against `berth serve` as a process on the filesystem driver.
conformanceSuite('Berth process, filesystem storage', async () => {
  const rootdirectory = await mkdtemp(join(tmpdir(), 'berth-conformance-'));
  const server = await startBerth({ rootdirectory, env: { REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW: JSON.stringify(ALLOW) } });
  return {
    url: server.url,
    close: async () => {
      await server.stop();
      await rm(rootdirectory, { recursive: true, force: true });
    },
  };
});
