import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { connectRedis, type RedisClient } from '../../src/cache/redis-client.js';
import { RedisBlobDescriptorCache } from '../../src/cache/redis-blob-descriptor-cache.js';
import { createLogger } from '../../src/log/logger.js';
import type { Digest } from '../../src/oci/digest.js';
import type { RedisSettings } from '../../src/cache/redis-schema.js';

const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
const D = `sha256:${'d'.repeat(64)}` as Digest;

function settings(addr: string): RedisSettings {
  return { addr, addrs: [], username: '', password: '', db: 0, dialtimeout: 1000, readtimeout: 500, writetimeout: 500, tls: { enabled: false, certificate: '', key: '', clientcas: [], insecureskipverify: false }, ttl: 60_000 };
}

describe('redis blob descriptor cache (real redis-server)', () => {
  let redis: RedisServer;
  let client: RedisClient;
  before(async () => {
    redis = await startRedis();
    client = await connectRedis(settings(redis.addr), logger);
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('stores, reads back and invalidates descriptors; two caches share them', async () => {
    const a = new RedisBlobDescriptorCache(client, 60_000, logger);
    const other = await connectRedis(settings(redis.addr), logger);
    try {
      const b = new RedisBlobDescriptorCache(other, 60_000, logger);
      assert.equal(await a.get(D), undefined);
      await a.set({ digest: D, size: 1234 });
      assert.deepEqual(await b.get(D), { digest: D, size: 1234 });
      await b.invalidate(D);
      assert.equal(await a.get(D), undefined);
    } finally {
      other.disconnect();
    }
  });

  it('entries expire after the TTL', async () => {
    const cache = new RedisBlobDescriptorCache(client, 100, logger);
    await cache.set({ digest: D, size: 1 });
    assert.ok(await cache.get(D));
    // Not a wait for background work: Redis expires keys by its wall clock, so after 250 ms of real time
    // the 100 ms entry is gone however loaded the machine is (expiry is checked when the key is read).
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await cache.get(D), undefined);
  });

  it('fails soft for reads and writes during an outage, hard for invalidation', async () => {
    const cache = new RedisBlobDescriptorCache(client, 60_000, logger);
    await redis.pause();
    try {
      assert.equal(await cache.get(D), undefined);
      await cache.set({ digest: D, size: 9 });
      await assert.rejects(cache.invalidate(D));
    } finally {
      await redis.resume();
    }
    // It reconnects by itself.
    const deadline = Date.now() + 30_000; // a generous bound on a poll, not an expected duration
    let ok = false;
    while (!ok && Date.now() < deadline) {
      await cache.set({ digest: D, size: 9 });
      ok = (await cache.get(D))?.size === 9;
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(ok, 'the cache works again after Redis comes back');
  });
});
