import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry } from '../helpers/app.js';
import { startBerth } from '../helpers/registries.js';
import { conformanceSuite } from './suite.js';

// The OCI conformance suite against Berth in process (inmemory driver) ...
conformanceSuite('Berth in process, inmemory storage', async () => {
  const registry = await startTestRegistry();
  return { url: registry.url, close: () => registry.close() };
});

// ... and against `berth serve` as a process on the filesystem driver.
conformanceSuite('Berth process, filesystem storage', async () => {
  const rootdirectory = await mkdtemp(join(tmpdir(), 'berth-conformance-'));
  const server = await startBerth({ rootdirectory });
  return {
    url: server.url,
    close: async () => {
      await server.stop();
      await rm(rootdirectory, { recursive: true, force: true });
    },
  };
});
