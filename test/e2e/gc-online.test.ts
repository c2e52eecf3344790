// Online garbage collection under load: two replicas (two apps, each with its own caches and its own
// online GC) over one filesystem directory, pushes of new and shared-layer images, image deletions,
// re-pushes of deleted layers and orphan uploads running continuously while both replicas sweep every
// ~100 ms with a 300 ms grace period. Afterwards every image whose push succeeded pulls back with
// verified digests, and the orphans are gone.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { pushBlob, sha256 } from '../helpers/oci-client.js';
import { startRedis } from '../helpers/redis.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import type { StorageDriver } from '../../src/storage/driver/driver.js';
import { Registry } from '../../src/storage/registry.js';
import { startOnlineGc, type OnlineGc, type OnlineSummary } from '../../src/gc/online.js';
import { createLogger } from '../../src/log/logger.js';
import { connectRedis } from '../../src/cache/redis-client.js';
import { RedisBlobDescriptorCache } from '../../src/cache/redis-blob-descriptor-cache.js';
import type { Digest } from '../../src/oci/digest.js';
import type { RepositoryName } from '../../src/oci/reference.js';
import * as paths from '../../src/storage/paths.js';

const silent = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Blob {
  readonly data: Buffer;
  readonly digest: string;
}

function blobOf(data: Buffer): Blob {
  return { data, digest: sha256(data) };
}

async function onDisk(driver: StorageDriver, digest: string): Promise<boolean> {
  try {
    await driver.stat(paths.blobDataPath(digest as Digest));
    return true;
  } catch {
    return false;
  }
}

/** A registry client doing what docker/crane do, including retrying a manifest PUT a race refused. */
class Client {
  retries = 0;
  uploads = 0;
  mounts = 0;
  constructor(private readonly urls: readonly string[]) {}

  url(): string {
    return this.urls[Math.floor(Math.random() * this.urls.length)] as string;
  }

  /** HEAD, then upload (or mount from `from`) only when the registry says it does not have the blob. */
  async ensureBlob(repo: string, blob: Blob, from?: string): Promise<void> {
    const head = await fetch(`${this.url()}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
    if (head.status === 200) return;
    if (head.status !== 404) throw new Error(`HEAD blob: ${head.status}`);
    if (from !== undefined && from !== repo) {
      const mount = await fetch(`${this.url()}/v2/${repo}/blobs/uploads/?mount=${blob.digest}&from=${from}`, { method: 'POST' });
      await mount.arrayBuffer();
      if (mount.status === 201) {
        this.mounts++;
        return;
      }
    }
    const put = await pushBlob(this.url(), repo, blob.data, blob.digest);
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`push blob: ${put.status}`);
    this.uploads++;
  }

  /** HEAD, then PUT by digest when absent (an index's children, as clients push them). */
  async ensureManifest(repo: string, body: Buffer, mediaType: string): Promise<void> {
    const digest = sha256(body);
    const head = await fetch(`${this.url()}/v2/${repo}/manifests/${digest}`, { method: 'HEAD' });
    if (head.status === 200) return;
    await this.putManifest(repo, digest, body, mediaType);
  }

  /** PUT a manifest; throws a "retry" error on MANIFEST_BLOB_UNKNOWN. */
  async putManifest(repo: string, reference: string, body: Buffer, mediaType: string): Promise<void> {
    const res = await fetch(`${this.url()}/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body });
    const text = await res.text();
    if (res.status === 201) return;
    if (res.status === 400 && text.includes('MANIFEST_BLOB_UNKNOWN')) throw new RetryError();
    throw new Error(`PUT manifest ${repo}:${reference}: ${res.status} ${text}`);
  }

  /** Runs `attempt` until it does not ask for a retry (at most 10 times). */
  async withRetries(attempt: () => Promise<void>): Promise<void> {
    for (let i = 0; i < 10; i++) {
      try {
        await attempt();
        return;
      } catch (err) {
        if (!(err instanceof RetryError)) throw err;
        this.retries++;
      }
    }
    throw new Error('a push kept being refused');
  }
}

class RetryError extends Error {}

interface PushedImage {
  readonly repo: string;
  readonly tag: string;
  readonly digest: string;
  readonly body: Buffer;
  readonly blobs: readonly Blob[];
  /** Fresh layers only this image uses. */
  readonly own: readonly Blob[];
  readonly children: readonly PushedImage[];
  deletable: boolean;
}

function imageManifest(config: Blob, layers: readonly Blob[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.data.byteLength },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.data.byteLength })),
    }),
  );
}

function freshConfig(): Blob {
  return blobOf(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') })));
}

async function verifyPull(url: string, image: PushedImage): Promise<void> {
  const byTag = await fetch(`${url}/v2/${image.repo}/manifests/${image.tag}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
  assert.equal(byTag.status, 200, `${image.repo}:${image.tag} pulls`);
  const body = Buffer.from(await byTag.arrayBuffer());
  assert.equal(sha256(body), image.digest, `${image.repo}:${image.tag} has its digest`);
  for (const blob of image.blobs) {
    const res = await fetch(`${url}/v2/${image.repo}/blobs/${blob.digest}`);
    assert.equal(res.status, 200, `${image.repo}:${image.tag} blob ${blob.digest}`);
    const data = Buffer.from(await res.arrayBuffer());
    assert.equal(`sha256:${createHash('sha256').update(data).digest('hex')}`, blob.digest, 'the layer hashes to its digest');
  }
  for (const child of image.children) {
    const res = await fetch(`${url}/v2/${image.repo}/manifests/${child.digest}`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(res.status, 200, `child ${child.digest} of ${image.repo}:${image.tag}`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), child.digest);
    for (const blob of child.blobs) {
      const b = await fetch(`${url}/v2/${image.repo}/blobs/${blob.digest}`);
      assert.equal(b.status, 200);
      assert.equal(sha256(Buffer.from(await b.arrayBuffer())), blob.digest);
    }
  }
}

describe('online garbage collection under load (two replicas, filesystem)', { timeout: 360_000 }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  for (const deleteUntagged of [false, true]) {
    it(`every successful push pulls back verified and orphans are gone (deleteUntagged: ${deleteUntagged})`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'berth-gc-stress-'));
      dirs.push(dir);
      const DELAY = 300;
      // What the load must have done before it stops (counted, not timed).
      const PUSHES = 25;
      const ORPHANS = 6;
      const RUNS = 5;
      const replicas: TestRegistry[] = [
        await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: dir }) }),
        await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: dir }) }),
      ];
      const summaries: OnlineSummary[] = [];
      const gcs: OnlineGc[] = replicas.map((r) =>
        startOnlineGc(r.registry, { enabled: true, interval: 100, delay: DELAY, deleteUntagged }, silent, {
          lockSettleMs: 10,
          firstRunDelayMs: 0,
          onRun: (s) => summaries.push(s),
        }),
      );
      try {
      const client = new Client(replicas.map((r) => r.url));
      const repos = ['stress/a', 'stress/b', 'stress/c'];
      const bases = Array.from({ length: 6 }, () => blobOf(randomBytes(2048)));
      const live: PushedImage[] = [];
      const deletedLayers: Blob[] = [];
      const orphans: Array<{ repo: string; digest: string }> = [];
      let pushed = 0;
      let deleted = 0;
      let serial = 0;

      const pushImage = async (repo: string, layers: readonly Blob[], own: readonly Blob[], tag: string | undefined): Promise<PushedImage> => {
        const config = freshConfig();
        const body = imageManifest(config, layers);
        const digest = sha256(body);
        await client.withRetries(async () => {
          for (const layer of layers) await client.ensureBlob(repo, layer, repos[Math.floor(Math.random() * repos.length)]);
          await client.ensureBlob(repo, config);
          await client.putManifest(repo, tag ?? digest, body, OCI_MANIFEST);
        });
        return { repo, tag: tag ?? digest, digest, body, blobs: [config, ...layers], own, children: [], deletable: true };
      };

      const ops: Array<[number, () => Promise<void>]> = [
        // A new image: a shared base layer and a fresh one.
        [
          4,
          async () => {
            const repo = repos[serial % repos.length] as string;
            const fresh = blobOf(randomBytes(1024 + Math.floor(Math.random() * 4096)));
            const base = bases[Math.floor(Math.random() * bases.length)] as Blob;
            live.push(await pushImage(repo, [base, fresh], [fresh], `t${serial++}`));
            pushed++;
          },
        ],
        // An orphan: uploaded, never referenced.
        [
          2,
          async () => {
            const repo = repos[serial++ % repos.length] as string;
            const blob = blobOf(randomBytes(512));
            const res = await pushBlob(client.url(), repo, blob.data, blob.digest);
            await res.arrayBuffer();
            assert.equal(res.status, 201);
            orphans.push({ repo, digest: blob.digest });
          },
        ],
        // Delete an image: its fresh layer becomes garbage (and may be pushed again later).
        [
          2,
          async () => {
            const index = live.findIndex((i) => i.deletable);
            if (index < 0 || live.length < 4) return;
            const [image] = live.splice(index, 1) as [PushedImage];
            const res = await fetch(`${client.url()}/v2/${image.repo}/manifests/${image.digest}`, { method: 'DELETE' });
            await res.arrayBuffer();
            assert.equal(res.status, 202);
            deletedLayers.push(...image.own);
            deleted++;
          },
        ],
        // An image reusing a layer of a deleted image: condemned, deleted or still there, the push must work.
        [
          2,
          async () => {
            const reused = deletedLayers[Math.floor(Math.random() * deletedLayers.length)];
            if (reused === undefined) return;
            const repo = repos[serial % repos.length] as string;
            live.push(await pushImage(repo, [reused, bases[0] as Blob], [], `r${serial++}`));
            pushed++;
          },
        ],
        // Move a tag to a new image: the old one is untagged now (deleteUntagged collects it).
        [
          1,
          async () => {
            const index = live.findIndex((i) => i.deletable && i.tag.startsWith('t'));
            if (index < 0) return;
            const [old] = live.splice(index, 1) as [PushedImage];
            const fresh = blobOf(randomBytes(900));
            live.push(await pushImage(old.repo, [bases[3] as Blob, fresh], [fresh], old.tag));
            if (deleteUntagged) deletedLayers.push(...old.own);
            else live.push({ ...old, tag: old.digest }); // still there by digest
            pushed++;
          },
        ],
        // An index by tag over two children pushed by digest (untagged until the index lands).
        [
          1,
          async () => {
            const repo = repos[serial % repos.length] as string;
            const children = [
              await pushImage(repo, [bases[1] as Blob, blobOf(randomBytes(700))], [], undefined),
              await pushImage(repo, [bases[2] as Blob, blobOf(randomBytes(700))], [], undefined),
            ];
            const body = Buffer.from(
              JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.body.byteLength })) }),
            );
            const tag = `i${serial++}`;
            await client.withRetries(async () => {
              for (const child of children) {
                for (const blob of child.blobs) await client.ensureBlob(repo, blob);
                await client.ensureManifest(repo, child.body, OCI_MANIFEST);
              }
              await client.putManifest(repo, tag, body, OCI_INDEX);
            });
            live.push({ repo, tag, digest: sha256(body), body, blobs: [], own: [], children, deletable: false });
            pushed++;
          },
        ],
      ];
      const weights = ops.reduce((n, [w]) => n + w, 0);
      const pick = (): (() => Promise<void>) => {
        let r = Math.random() * weights;
        for (const [w, op] of ops) {
          if ((r -= w) < 0) return op;
        }
        return ops[0]![1];
      };

      // The load runs until it has done enough work for the assertions below, however fast this machine is;
      // the deadline only bounds a machine so slow (or a registry so broken) that it never gets there.
      const enough = (): boolean => {
        const ran = summaries.filter((s) => s.ran);
        return (
          pushed >= PUSHES &&
          orphans.length >= ORPHANS &&
          ran.length >= RUNS &&
          ran.some((s) => s.blobs.deleted > 0) &&
          (!deleteUntagged || ran.some((s) => s.manifests.deleted > 0))
        );
      };
      const deadline = Date.now() + 100_000;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (!enough() && Date.now() < deadline) await pick()();
        }),
      );
      const during = summaries.filter((s) => s.ran);
      await Promise.all(gcs.map((g) => g.stop()));

      // Every image whose push succeeded pulls back, through either replica, with verified digests. One
      // more run first: a push that completed while a run was marking can have had a blob condemned
      // (withheld, never deleted) until a later mark sees it; see docs/garbage-collection.md.
      const settled = await (gcs[0] as OnlineGc).runOnce();
      for (const image of live) await verifyPull(client.url(), image);

      // Sweep twice more (condemn, then delete) so the last orphans are collected too.
      const finals: OnlineSummary[] = [];
      for (let i = 0; i < 3; i++) {
        // Not a wait for background work: the grace period is measured on the real clock, so after this
        // much real time every condemnation is old enough, however slow the machine.
        await sleep(DELAY + 50);
        finals.push(await (gcs[i % 2] as OnlineGc).runOnce());
      }
      for (const { repo, digest } of orphans) {
        for (const r of replicas) {
          const head = await fetch(`${r.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
          assert.equal(head.status, 404, `orphan ${digest} is gone`);
        }
        assert.equal(await onDisk(replicas[0]!.driver, digest), false, `orphan ${digest} is deleted from storage`);
      }
      for (const image of live) await verifyPull(client.url(), image);

      const total = (f: (s: OnlineSummary) => number) => during.reduce((n, s) => n + f(s), 0);
      const report = {
        pushed,
        deleted,
        orphans: orphans.length,
        retries: client.retries,
        uploads: client.uploads,
        mounts: client.mounts,
        runs: during.length,
        condemned: total((s) => s.condemned.blobs),
        deletedBlobs: total((s) => s.blobs.deleted),
        deletedManifests: total((s) => s.manifests.deleted),
        released: total((s) => s.released.blobs),
        restored: total((s) => s.restored.blobs),
        finalDeleted: finals.reduce((n, s) => n + s.blobs.deleted, 0),
        releasedAfterLoad: settled.released.blobs + settled.released.manifests,
        durations: during.map((s) => s.durationMs),
      };
      t.diagnostic(`gc stress (deleteUntagged: ${deleteUntagged}): ${JSON.stringify(report)}`);
      assert.ok(pushed >= PUSHES, 'the load was real');
      assert.ok(orphans.length >= ORPHANS);
      assert.ok(report.runs >= RUNS, 'GC swept many times during the load');
      assert.ok(report.deletedBlobs > 0, 'GC deleted blobs while pushes ran');
      if (deleteUntagged) assert.ok(report.deletedManifests > 0, 'and manifests');
      } finally {
        await Promise.all(gcs.map((g) => g.stop()));
        for (const r of replicas) await r.close();
      }
    });
  }

  it('after GC deletes a blob, HEAD is 404 and pushing it again uploads it again (in-process cache)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-gc-again-'));
    dirs.push(dir);
    const reg = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: dir }) });
    const gc = startOnlineGc(reg.registry, { enabled: false, interval: 60_000, delay: 200 }, silent, { lockSettleMs: 0 });
    try {
      const blob = blobOf(randomBytes(4096));
      assert.equal((await pushBlob(reg.url, 'again/app', blob.data, blob.digest)).status, 201);
      assert.equal((await fetch(`${reg.url}/v2/again/app/blobs/${blob.digest}`, { method: 'HEAD' })).status, 200, 'cached now');
      await sleep(250); // the blob's age passes the 200 ms delay on the real clock (not a wait for background work)
      assert.equal((await gc.runOnce()).condemned.blobs, 1);
      assert.equal((await fetch(`${reg.url}/v2/again/app/blobs/${blob.digest}`, { method: 'HEAD' })).status, 404, 'condemned: unknown');
      await sleep(250);
      assert.equal((await gc.runOnce()).blobs.deleted, 1);
      assert.equal(await onDisk(reg.driver, blob.digest), false);
      assert.equal((await fetch(`${reg.url}/v2/again/app/blobs/${blob.digest}`, { method: 'HEAD' })).status, 404, 'deleted: unknown');
      assert.equal((await pushBlob(reg.url, 'again/app', blob.data, blob.digest)).status, 201);
      assert.equal(await onDisk(reg.driver, blob.digest), true, 'uploaded again, not skipped on a stale cache entry');
      const get = await fetch(`${reg.url}/v2/again/app/blobs/${blob.digest}`);
      assert.equal(get.status, 200);
      assert.equal(sha256(Buffer.from(await get.arrayBuffer())), blob.digest);
    } finally {
      await gc.stop();
      await reg.close();
    }
  });

  it('after GC deletes a blob, a replica sharing the Redis descriptor cache does not claim it and stores it again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-gc-redis-'));
    dirs.push(dir);
    const redis = await startRedis();
    const client = await connectRedis(
      { addr: redis.addr, addrs: [], username: '', password: '', db: 0, dialtimeout: 1000, readtimeout: 500, writetimeout: 500, tls: { enabled: false, certificate: '', key: '', clientcas: [], insecureskipverify: false }, ttl: 60_000 },
      silent,
    );
    try {
      const make = () => new Registry({ driver: new FilesystemDriver({ rootdirectory: dir }), blobDescriptorCache: new RedisBlobDescriptorCache(client, 60_000, silent) });
      const sweeper = make();
      const other = make();
      const gc = startOnlineGc(sweeper, { enabled: false, interval: 60_000, delay: 200 }, silent, { lockSettleMs: 0 });
      const otherGc = startOnlineGc(other, { enabled: false, interval: 60_000, delay: 200 }, silent, { lockSettleMs: 0 });
      const name = 'redis/app' as RepositoryName;
      const data = randomBytes(1000);
      const digest = sha256(data) as Digest;
      const upload = async (registry: Registry): Promise<void> => {
        const uploads = registry.repository(name).uploads;
        const session = await uploads.start();
        await uploads.append(session.uuid, [data]);
        await uploads.commit(session.uuid, digest);
      };
      await upload(other);
      assert.equal((await other.repository(name).blobs.stat(digest)).size, 1000, 'in the shared cache');
      await sleep(250); // ages past the 200 ms delay on the real clock; runOnce does the work, nothing runs behind
      await gc.runOnce();
      await sleep(250);
      assert.equal((await gc.runOnce()).blobs.deleted, 1);
      await assert.rejects(other.repository(name).blobs.stat(digest));
      await upload(other);
      assert.equal(await onDisk(sweeper.driver, digest), true, 'stored again');
      assert.equal((await sweeper.repository(name).blobs.stat(digest)).size, 1000);
      await gc.stop();
      await otherGc.stop();
    } finally {
      client.disconnect();
      await redis.stop();
    }
  });
});
