/**
 * Issue 14: DELETE /berth/v1/repositories/<name>. Afterwards tags/list answers NAME_UNKNOWN and
 * _catalog omits it at once (in this process; with two replicas sharing Redis, on the other one
 * too), a nested repository and the blobs stay, one delete event per tag and manifest is emitted;
 * refused with 405 UNSUPPORTED when deletes are disabled or the registry is read-only.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { assertStatus, errorCode, pushBlob, pushImage } from '../helpers/oci-client.js';
import { getJson } from '../helpers/management.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import { EventBridge } from '../../src/notifications/bridge.js';
import type { EventSink } from '../../src/notifications/sink.js';
import type { RegistryEvent } from '../../src/notifications/event.js';
import { connectRedis, type RedisClient } from '../../src/cache/redis-client.js';
import { RedisSharedCatalog } from '../../src/cache/redis-catalog.js';
import type { RedisSettings } from '../../src/cache/redis-schema.js';
import { createLogger } from '../../src/log/logger.js';

class CollectingSink implements EventSink {
  readonly events: RegistryEvent[] = [];
  emit(event: RegistryEvent): void {
    this.events.push(event);
  }
}

async function catalog(url: string): Promise<string[]> {
  return (await getJson<{ repositories: string[] }>(`${url}/v2/_catalog?n=1000`)).body.repositories;
}

async function managed(url: string): Promise<string[]> {
  return (await getJson<{ repositories: Array<{ name: string }> }>(`${url}/berth/v1/repositories?n=1000`)).body.repositories.map((r) => r.name);
}

describe('DELETE /berth/v1/repositories/<name>', () => {
  let root: string;
  let r: TestRegistry;
  const sink = new CollectingSink();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-mgmt-delete-'));
    r = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }), events: new EventBridge({ sink, source: { addr: 'test:5000', instanceID: 'test' }, includeReferences: false }) });
  });
  after(async () => {
    await r.close();
    await rm(root, { recursive: true, force: true });
  });

  it('removes every tag, manifest and layer link; tags/list is NAME_UNKNOWN and _catalog omits it at once', async () => {
    const a = await pushImage(r.url, 'doomed', 'v1', { layers: 2 });
    const b = await pushImage(r.url, 'doomed', 'v2');
    assertStatus(await fetch(`${r.url}/v2/doomed/manifests/v3`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: b.body }), 201);
    await pushImage(r.url, 'doomed/nested', 'keep');
    // The same layer in another repository: the blob must stay for it.
    const keeper = await pushImage(r.url, 'keeper', 'v1');
    assertStatus(await fetch(`${r.url}/v2/keeper/blobs/uploads/?mount=${a.blobs[1] ?? ''}&from=doomed`, { method: 'POST' }), 201);
    assert.deepEqual(await catalog(r.url), ['doomed', 'doomed/nested', 'keeper']);
    sink.events.length = 0;

    const res = await fetch(`${r.url}/berth/v1/repositories/doomed`, { method: 'DELETE' });
    const body = (await res.json()) as { name: string; tags: string[]; manifests: string[] };
    assert.equal(res.status, 202);
    assert.equal(body.name, 'doomed');
    assert.deepEqual([...body.tags].sort(), ['v1', 'v2', 'v3']);
    assert.deepEqual([...body.manifests].sort(), [a.digest, b.digest].sort());

    const tags = await fetch(`${r.url}/v2/doomed/tags/list`);
    assert.equal(tags.status, 404);
    assert.equal(await errorCode(tags), 'NAME_UNKNOWN');
    assert.equal((await fetch(`${r.url}/v2/doomed/manifests/${a.digest}`)).status, 404);
    assert.equal((await fetch(`${r.url}/v2/doomed/blobs/${a.blobs[0] ?? ''}`)).status, 404, 'the layer link is gone');
    assert.deepEqual(await catalog(r.url), ['doomed/nested', 'keeper']);
    assert.deepEqual(await managed(r.url), ['doomed/nested', 'keeper']);
    const one = await fetch(`${r.url}/berth/v1/repositories/doomed`);
    assert.equal(one.status, 404);
    assert.equal(await errorCode(one), 'NAME_UNKNOWN');
    // What another repository links stays, the nested repository too, and the storage directory is gone.
    assert.equal((await fetch(`${r.url}/v2/keeper/blobs/${a.blobs[1] ?? ''}`)).status, 200);
    assert.equal((await fetch(`${r.url}/v2/keeper/manifests/${keeper.digest}`)).status, 200);
    assert.equal((await fetch(`${r.url}/v2/doomed/nested/manifests/keep`)).status, 200);
    assert.deepEqual((await readdir(join(root, 'docker/registry/v2/repositories/doomed'))).sort(), ['nested']);

    const deletes = sink.events.filter((e) => e.action === 'delete').map((e) => (e.target.tag !== undefined ? `tag ${e.target.tag}` : `manifest ${e.target.digest ?? ''}`));
    assert.deepEqual(deletes.sort(), ['tag v1', 'tag v2', 'tag v3', `manifest ${a.digest}`, `manifest ${b.digest}`].sort());
    const again = await fetch(`${r.url}/berth/v1/repositories/doomed`, { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.equal(await errorCode(again), 'NAME_UNKNOWN');
  });

  it('a repository pushed again after its deletion is listed again', async () => {
    await pushImage(r.url, 'phoenix', 'v1');
    assertStatus(await fetch(`${r.url}/berth/v1/repositories/phoenix`, { method: 'DELETE' }), 202);
    assert.ok(!(await catalog(r.url)).includes('phoenix'));
    await pushImage(r.url, 'phoenix', 'v2');
    assert.ok((await catalog(r.url)).includes('phoenix'));
    assert.deepEqual((await getJson<{ tags: string[] }>(`${r.url}/v2/phoenix/tags/list`)).body.tags, ['v2']);
  });
});

describe('DELETE /berth/v1/repositories/<name> refused', () => {
  for (const [what, options] of [
    ['deletes are disabled (storage.delete.enabled: false)', { deleteEnabled: false }],
    ['the registry is read-only', { readOnly: true }],
  ] as const) {
    it(`with 405 UNSUPPORTED when ${what}`, async () => {
      const seed = await startTestRegistry();
      await pushImage(seed.url, 'kept', 'v1');
      const r = await startTestRegistry({ driver: seed.driver, ...options });
      try {
        const res = await fetch(`${r.url}/berth/v1/repositories/kept`, { method: 'DELETE' });
        assert.equal(res.status, 405);
        assert.equal(await errorCode(res), 'UNSUPPORTED');
        assert.equal((await fetch(`${r.url}/v2/kept/manifests/v1`)).status, 200);
        assert.deepEqual(await catalog(r.url), ['kept']);
      } finally {
        await r.close();
        await seed.close();
      }
    });
  }
});

describe('DELETE /berth/v1/repositories/<name> with two replicas sharing Redis (real redis-server)', () => {
  let redis: RedisServer;
  let root: string;
  const clients: RedisClient[] = [];
  const registries: TestRegistry[] = [];
  const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
  const settings = (addr: string): RedisSettings => ({ addr, addrs: [], username: '', password: '', db: 0, dialtimeout: 1000, readtimeout: 500, writetimeout: 500, tls: { enabled: false, certificate: '', key: '', clientcas: [], insecureskipverify: false }, ttl: 60_000 });

  /** A replica over the shared root that never walks on its own (an hour's refresh): only Redis can tell it. */
  async function replica(): Promise<TestRegistry> {
    const client = await connectRedis(settings(redis.addr), logger);
    clients.push(client);
    const registry = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }), catalog: { refreshMs: 3_600_000, maxStaleMs: 3_600_000, shared: new RedisSharedCatalog(client) } });
    registries.push(registry);
    return registry;
  }

  before(async () => {
    redis = await startRedis();
    root = await mkdtemp(join(tmpdir(), 'berth-mgmt-replicas-'));
  });
  after(async () => {
    for (const r of registries) await r.close();
    for (const c of clients) c.disconnect();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("drops the repository from the other replica's catalog at once, and a push brings it back", async () => {
    const a = await replica();
    const b = await replica();
    await pushImage(a.url, 'shared/app', 'v1');
    assertStatus(await pushBlob(a.url, 'shared/other', Buffer.from('other')), 201);
    assert.deepEqual(await catalog(b.url), ['shared/app', 'shared/other']);
    assert.deepEqual(await managed(b.url), ['shared/app', 'shared/other']);
    assertStatus(await fetch(`${a.url}/berth/v1/repositories/shared/app`, { method: 'DELETE' }), 202);
    assert.deepEqual(await catalog(b.url), ['shared/other']);
    assert.deepEqual(await managed(b.url), ['shared/other']);
    const tags = await fetch(`${b.url}/v2/shared/app/tags/list`);
    assert.equal(tags.status, 404);
    assert.equal(await errorCode(tags), 'NAME_UNKNOWN');
    // A replica that starts now reads Redis: the deleted name is not in it.
    assert.deepEqual(await catalog((await replica()).url), ['shared/other']);
    await pushImage(b.url, 'shared/app', 'v2');
    assert.deepEqual(await catalog(a.url), ['shared/app', 'shared/other']);
  });
});
