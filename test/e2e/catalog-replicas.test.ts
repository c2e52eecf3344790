/**
 * Issue 10 item 6 across processes: two Berth replicas over one Ceph RGW (S3) bucket. With Redis,
 * the 100 repositories pushed through one are in the other's catalog at once, and a replica that
 * starts later lists them too. Without Redis, another replica's repository is listed by any page
 * requested `catalog.maxstale` after its push.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ensureCeph, createTestBucket, removeTestBucket, s3StorageYaml, type CephS3 } from '../helpers/ceph.js';
import { startRedis } from '../helpers/redis.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { assertStatus, pushBlob } from '../helpers/oci-client.js';
import { until } from '../helpers/wait.js';

async function replica(s3: CephS3, bucket: string, extra: string): Promise<RegistryHandle> {
  const port = await freePort();
  return startBerth({
    port,
    configYaml: `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
${s3StorageYaml(s3, bucket, ['rootdirectory: /registry'])}
  redirect:
    disable: true
http:
  addr: 127.0.0.1:${port}
  secret: shared-replica-secret
${extra}`,
  });
}

async function catalog(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/_catalog?n=1000`);
  assertStatus(res, 200);
  return ((await res.json()) as { repositories: string[] }).repositories;
}

describe('the catalog across replicas over one S3 bucket', { timeout: 10 * 60_000 }, () => {
  it('with Redis: 100 repositories pushed through one replica are in the other\'s catalog at once', async () => {
    const s3 = await ensureCeph();
    const bucket = await createTestBucket('berth-catalog');
    const redis = await startRedis();
    // A refresh far away: only Redis can tell b about a's repositories during the test.
    const extra = `redis:\n  addr: ${redis.addr}\ncatalog:\n  refresh: 1h\n  maxstale: 2h\n`;
    const replicas: RegistryHandle[] = [];
    try {
      const a = await replica(s3, bucket, extra);
      replicas.push(a);
      assertStatus(await pushBlob(a.url, 'first/repo', Buffer.from('first')), 201);
      const b = await replica(s3, bucket, extra);
      replicas.push(b);
      assert.deepEqual(await catalog(a.url), ['first/repo']);
      assert.deepEqual(await catalog(b.url), ['first/repo']);
      const pushed = Array.from({ length: 100 }, (_, i) => `pushed/r${String(i).padStart(3, '0')}`);
      for (const name of pushed) assertStatus(await pushBlob(a.url, name, Buffer.from(name)), 201);
      const listed = await catalog(b.url);
      assert.deepEqual(pushed.filter((n) => !listed.includes(n)), [], 'missing from the other replica');
      const c = await replica(s3, bucket, extra);
      replicas.push(c);
      assert.equal((await catalog(c.url)).length, 101, 'a replica started later');
    } finally {
      for (const r of replicas) await r.stop();
      await redis.stop();
      await removeTestBucket(bucket).catch(() => undefined);
    }
  });

  it('without Redis: a page requested catalog.maxstale after a push on another replica lists it', async () => {
    const s3 = await ensureCeph();
    const bucket = await createTestBucket('berth-catalog-stale');
    const extra = 'catalog:\n  refresh: 1s\n  maxstale: 2s\n';
    const replicas: RegistryHandle[] = [];
    try {
      const a = await replica(s3, bucket, extra);
      const b = await replica(s3, bucket, extra);
      replicas.push(a, b);
      assert.deepEqual(await catalog(b.url), []);
      assertStatus(await pushBlob(a.url, 'late/repo', Buffer.from('late')), 201);
      const pushedAt = Date.now();
      // The bound is a configured duration, not a speed: wait until it has passed, then ask once.
      await until('catalog.maxstale to pass since the push', () => Date.now() - pushedAt > 2_000);
      assert.deepEqual(await catalog(b.url), ['late/repo']);
    } finally {
      for (const r of replicas) await r.stop();
      await removeTestBucket(bucket).catch(() => undefined);
    }
  });
});
