/**
 * Scale-out: three Berth replicas over Ceph RGW (S3) and Redis, behind a round-robin proxy, sharing
 * http.secret. skopeo and a chunked-upload client push through the proxy, so consecutive requests
 * of one upload land on different replicas; every image pulls back from every replica.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCeph, createTestBucket, removeTestBucket, s3StorageYaml } from '../helpers/ceph.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { buildImageLayout, buildIndexLayout, verifyLayoutBlobs } from '../helpers/images.js';
import { skopeo } from '../helpers/skopeo.js';
import { randomBlob, resolve, sha256 } from '../helpers/oci-client.js';

describe('three replicas over S3 (Ceph RGW) and Redis behind a round-robin proxy', { timeout: 10 * 60_000 }, () => {
  let redis: RedisServer;
  let bucket: string;
  const replicas: RegistryHandle[] = [];
  let proxy: RoundRobinProxy;
  let work: string;

  before(async () => {
    const s3 = await ensureCeph();
    bucket = await createTestBucket('berth-replicas');
    redis = await startRedis();
    work = await mkdtemp(join(tmpdir(), 'berth-replicas-'));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
${s3StorageYaml(s3, bucket, ['rootdirectory: /registry', 'chunksize: 5242880'])}
  cache:
    blobdescriptor: redis
  delete:
    enabled: true
  redirect:
    disable: true
redis:
  addr: ${redis.addr}
http:
  addr: 127.0.0.1:${port}
  secret: shared-replica-secret
`;
      replicas.push(await startBerth({ port, configYaml: config }));
    }
    proxy = await startRoundRobinProxy(replicas.map((r) => r.url));
  });
  after(async () => {
    await proxy?.close();
    for (const r of replicas) await r.stop();
    await redis?.stop();
    if (bucket !== undefined) await removeTestBucket(bucket).catch(() => undefined);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('a chunked upload whose PATCHes land on different replicas completes with the right digest', async () => {
    const chunk = 5 * 1024 * 1024 + 17;
    const { data, digest } = randomBlob(chunk * 4 + 1000);
    const start = await fetch(`${proxy.url}/v2/scale/chunked/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    let location = resolve(proxy.url, start.headers.get('location'));
    const before = proxy.log.length;
    for (let offset = 0; offset < data.length; offset += chunk) {
      const part = data.subarray(offset, offset + chunk);
      const res = await fetch(location, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + part.length - 1}` },
        body: part,
      });
      assert.equal(res.status, 202, await res.text());
      location = resolve(proxy.url, res.headers.get('location'));
    }
    const put = await fetch(`${location}&digest=${digest}`, { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
    const patchBackends = new Set(proxy.log.slice(before).filter((l) => l.method === 'PATCH').map((l) => l.backend));
    assert.ok(patchBackends.size >= 2, 'PATCHes of one upload were served by several replicas');
    for (const replica of replicas) {
      const res = await fetch(`${replica.url}/v2/scale/chunked/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
    }
  });

  it('skopeo pushes an image and a multi-arch index through the proxy; every replica serves them', async () => {
    const image = await buildImageLayout(join(work, 'image'), { layers: 3, layerSize: 2 * 1024 * 1024 });
    const index = await buildIndexLayout(join(work, 'index'), { layers: 2, layerSize: 512 * 1024 });
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.layoutDir}:${image.ref}`, `docker://${proxy.host}/scale/image:v1`]);
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${index.layoutDir}:${index.ref}`, `docker://${proxy.host}/scale/multi:v1`]);
    for (const [i, replica] of replicas.entries()) {
      const host = new URL(replica.url).host;
      const pulledImage = join(work, `pulled-image-${i}`);
      await skopeo(['copy', '--src-tls-verify=false', '--preserve-digests', `docker://${host}/scale/image:v1`, `oci:${pulledImage}:v1`]);
      await verifyLayoutBlobs(pulledImage);
      const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/scale/image:v1`]);
      assert.equal(sha256(raw), image.digest);
      const pulledIndex = join(work, `pulled-index-${i}`);
      await skopeo(['copy', '--all', '--src-tls-verify=false', '--preserve-digests', `docker://${host}/scale/multi:v1`, `oci:${pulledIndex}:v1`]);
      await verifyLayoutBlobs(pulledIndex);
    }
    const tags = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', `docker://${proxy.host}/scale/image`])) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['v1']);
  });

  it('a blob deleted through one replica is unknown on the others (shared Redis cache invalidated)', async () => {
    const { data, digest } = randomBlob(1000);
    const post = await fetch(`${replicas[0]?.url}/v2/scale/del/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
    assert.equal(post.status, 201);
    for (const r of replicas) assert.equal((await fetch(`${r.url}/v2/scale/del/blobs/${digest}`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${replicas[1]?.url}/v2/scale/del/blobs/${digest}`, { method: 'DELETE' })).status, 202);
    for (const r of replicas) assert.equal((await fetch(`${r.url}/v2/scale/del/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  });
});
