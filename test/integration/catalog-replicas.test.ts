/**
 * Issue 10 item 6: with Redis, the catalog is exact across replicas (two registries over one
 * storage root, each with its own Redis client), a starting replica reads Redis instead of
 * walking, a flushed Redis is seeded again, and a Redis outage falls back to walking storage.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { assertStatus, pushBlob } from '../helpers/oci-client.js';
import { until } from '../helpers/wait.js';
import { connectRedis, type RedisClient } from '../../src/cache/redis-client.js';
import { RedisSharedCatalog } from '../../src/cache/redis-catalog.js';
import type { RedisSettings } from '../../src/cache/redis-schema.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import { createLogger } from '../../src/log/logger.js';

const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });

function settings(addr: string): RedisSettings {
  return { addr, addrs: [], username: '', password: '', db: 0, dialtimeout: 1000, readtimeout: 500, writetimeout: 500, tls: { enabled: false, certificate: '', key: '', clientcas: [], insecureskipverify: false }, ttl: 60_000 };
}

/** A filesystem driver that counts listings (a catalog walk lists every repository directory). */
class CountingDriver extends FilesystemDriver {
  lists = 0;
  override async list(path: string, signal?: AbortSignal): Promise<string[]> {
    this.lists++;
    return super.list(path, signal);
  }
}

async function catalog(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/_catalog?n=100000`);
  assertStatus(res, 200);
  return ((await res.json()) as { repositories: string[] }).repositories;
}

describe('the catalog shared through Redis (real redis-server)', () => {
  let redis: RedisServer;
  let root: string;
  const clients: RedisClient[] = [];
  const registries: TestRegistry[] = [];

  /** A replica over the shared root, with its own Redis client; a long refresh, so only Redis can tell it anything. */
  async function replica(): Promise<{ registry: TestRegistry; driver: CountingDriver; errors: unknown[] }> {
    const client = await connectRedis(settings(redis.addr), logger);
    clients.push(client);
    const driver = new CountingDriver({ rootdirectory: root });
    const errors: unknown[] = [];
    const registry = await startTestRegistry({
      driver,
      catalog: { refreshMs: 3_600_000, maxStaleMs: 3_600_000, shared: new RedisSharedCatalog(client), onSharedError: (err) => errors.push(err) },
    });
    registries.push(registry);
    return { registry, driver, errors };
  }

  before(async () => {
    redis = await startRedis();
    root = await mkdtemp(join(tmpdir(), 'berth-catalog-replicas-'));
  });
  after(async () => {
    for (const r of registries) await r.close();
    for (const c of clients) c.disconnect();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('lists on one replica, at once, the 100 repositories pushed through the other', async () => {
    await pushBlob((await replica()).registry.url, 'seeded/before', Buffer.from('before'));
    const a = registries[0] as TestRegistry;
    const b = (await replica()).registry;
    // Both indexes built (the first page seeds Redis from a walk): neither can learn by a first build now.
    assert.deepEqual(await catalog(a.url), ['seeded/before']);
    assert.deepEqual(await catalog(b.url), ['seeded/before']);
    const pushed = Array.from({ length: 100 }, (_, i) => `pushed/r${String(i).padStart(3, '0')}`);
    for (const name of pushed) assertStatus(await pushBlob(a.url, name, Buffer.from(name)), 201);
    const listed = await catalog(b.url);
    assert.deepEqual(pushed.filter((n) => !listed.includes(n)), []);
    assert.equal(listed.length, 101);
  });

  it('a starting replica reads Redis, not a walk of storage', async () => {
    const { registry, driver } = await replica();
    const listed = await catalog(registry.url);
    assert.equal(listed.length, 101);
    assert.equal(driver.lists, 0, 'no listing of storage');
  });

  it('a flushed Redis is seeded again from one walk, and stays exact', async () => {
    const a = registries[0] as TestRegistry;
    const b = registries[1] as TestRegistry;
    await (clients[0] as RedisClient).flushall();
    assertStatus(await pushBlob(a.url, 'after/flush', Buffer.from('after flush')), 201);
    assert.equal((await catalog(b.url)).length, 102);
    assertStatus(await pushBlob(b.url, 'after/flush2', Buffer.from('after flush 2')), 201);
    const listed = await catalog(a.url);
    assert.ok(listed.includes('after/flush2'), 'a sees what b pushed after the re-seeding');
    assert.equal(listed.length, 103);
    const { registry, driver } = await replica();
    assert.equal((await catalog(registry.url)).length, 103);
    assert.equal(driver.lists, 0);
  });

  it('a Redis outage never fails _catalog: it falls back to a walk, and Redis learns what it missed', async () => {
    const a = registries[0] as TestRegistry;
    await redis.pause();
    try {
      assertStatus(await pushBlob(a.url, 'during/outage', Buffer.from('during outage')), 201);
      const res = await fetch(`${a.url}/v2/_catalog?n=100000`);
      assert.equal(res.status, 200);
      assert.ok(((await res.json()) as { repositories: string[] }).repositories.includes('during/outage'));
    } finally {
      await redis.resume();
    }
    // Redis came back empty (no persistence): a replica that starts now still lists everything.
    const { registry } = await replica();
    let listed: string[] = [];
    // The first page to find Redis empty seeds it from a walk (or the replica that saw the outage records
    // the names it could not write, on its retry timer): either way, the name comes back.
    await until('Redis to learn the repository pushed during the outage', async () => {
      listed = await catalog(registry.url);
      return listed.includes('during/outage');
    });
    assert.equal(listed.length, 104);
  });
});
