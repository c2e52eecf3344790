/**
 * Issue 14: `berth serve` runs retention by itself every `lifecycle.retention.interval` (its minimum,
 * 1m, so this file waits a little over a minute): a tag aged past every keep clause is deleted by
 * the server, the run's summary is logged, and the pull recorded by a GET keeps another tag
 * (`pulledwithin`, pull times in the server's memory). Then SIGTERM stops it cleanly.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { buildImageLayout } from '../helpers/images.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { copyToRegistry, listTags } from '../helpers/skopeo.js';
import * as paths from '../../src/storage/paths.js';
import type { RepositoryName, Tag } from '../../src/oci/reference.js';

const DAY = 86_400_000;

describe('berth serve runs retention every interval', { timeout: 300_000 }, () => {
  let dir: string;
  let registry: RegistryHandle;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-retention-serve-'));
    const root = join(dir, 'data');
    const port = await freePort();
    const configYaml = stringify({
      version: 0.1,
      log: { level: 'info', formatter: 'json', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}`, secret: 'berth-test-http-secret-0123456789' },
      lifecycle: { retention: { interval: '1m', rules: [{ repositories: ['ci/**'], tags: ['**'], keep: { latest: 1, pulledwithin: '1h' } }] } },
    });
    registry = await startBerth({ port, configYaml });
    for (const [tag, days] of Object.entries({ new: 1, pulled: 5, old: 9 })) {
      const layout = join(dir, `layout-${tag}`);
      await buildImageLayout(layout, { layers: 1, layerSize: 4096 });
      await copyToRegistry(layout, `${registry.host}/ci/app:${tag}`);
      const at = new Date(Date.now() - days * DAY);
      await utimes(join(root, paths.tagCurrentLinkPath('ci/app' as RepositoryName, tag as Tag)), at, at);
    }
    const res = await fetch(`${registry.url}/v2/ci/app/manifests/pulled`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('deletes what no clause keeps within about one interval, logs the run, and stops on SIGTERM', async () => {
    assert.match(registry.output(), /retention scheduled/);
    const deadline = Date.now() + 150_000;
    while (!/retention run finished/.test(registry.output()) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 500));
    assert.match(registry.output(), /retention run finished: 1 repositories, 2 tags kept, 1 tags and 0 manifests deleted/);
    assert.match(registry.output(), /ci\/app:pulled kept \(rules\[0\] keep.pulledwithin\)/);
    assert.deepEqual((await listTags(`${registry.host}/ci/app`)).sort(), ['new', 'pulled']);
    assert.equal(await registry.stop(), 0);
  });
});
