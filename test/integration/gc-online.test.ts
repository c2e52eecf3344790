// Online garbage collection: condemn-then-delete across runs, pardons, the guard's hooks in the storage
// layer, the trash protocol against racing pushes, replicas and the lock. An injected clock drives the
// grace period (the in-memory driver takes the same clock for modification times).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../src/storage/registry.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import type { FileInfo, FileWriter, StorageDriver } from '../../src/storage/driver/driver.js';
import type { Readable } from 'node:stream';
import { startOnlineGc, type OnlineGc, type OnlineGcOptions, type OnlineGcSettings } from '../../src/gc/online.js';
import { StorageGcLock } from '../../src/gc/lock.js';
import { snapshotTtlFor } from '../../src/gc/guard.js';
import { OciError } from '../../src/oci/errors.js';
import { StorageDriverError } from '../../src/storage/driver/errors.js';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import type { Tag } from '../../src/oci/reference.js';
import { MediaType } from '../../src/oci/media-types.js';
import * as paths from '../../src/storage/paths.js';
import { allBlobs, allRevisions, makeDriver, pushImage, pushIndex, repo, silent, stopServices, uploadBlob } from './gc-fixtures.js';

after(stopServices);

const DELAY = 3600_000;
const LATER = DELAY + 1000;

/** A clock the test moves by hand. */
class Clock {
  constructor(private ms = Date.parse('2026-03-01T00:00:00Z')) {}
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A scheduler for startOnlineGc that fires timers only when told, so a schedule is checked without waiting. */
class ManualTimers {
  private readonly pending = new Set<{ run: () => void; delayMs: number }>();
  private waiter: (() => void) | undefined;
  readonly schedule = (run: () => void, delayMs: number): (() => void) => {
    const timer = { run, delayMs };
    this.pending.add(timer);
    this.waiter?.();
    return () => this.pending.delete(timer);
  };
  get size(): number {
    return this.pending.size;
  }
  /** The next scheduled timer (waiting until one is), taken off the list. */
  async next(): Promise<{ delayMs: number; fire: () => void }> {
    while (this.pending.size === 0) await new Promise<void>((resolve) => (this.waiter = resolve));
    const [timer] = this.pending;
    if (timer === undefined) throw new Error('unreachable');
    this.pending.delete(timer);
    return { delayMs: timer.delayMs, fire: timer.run };
  }
}

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof OciError && e.code === code;
}

async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch {
    return false;
  }
}

interface Replica {
  readonly registry: Registry;
  readonly gc: OnlineGc;
}

/** A replica: a Registry (own caches) with online GC over `driver`, sweeping only when told (runOnce). */
function replica(driver: StorageDriver, clock: Clock, settings: Partial<OnlineGcSettings> = {}, options: OnlineGcOptions = {}): Replica {
  const registry = new Registry({ driver, clock: clock.now });
  const gc = startOnlineGc(registry, { enabled: false, interval: DELAY, delay: DELAY, ...settings }, silent, {
    clock: clock.now,
    sleep: async () => undefined,
    lockSettleMs: 0,
    ...options,
  });
  return { registry, gc };
}

function setup(settings: Partial<OnlineGcSettings> = {}, options: OnlineGcOptions = {}): Replica & { driver: InMemoryDriver; clock: Clock } {
  const clock = new Clock();
  const driver = new InMemoryDriver({ now: clock.now });
  return { ...replica(driver, clock, settings, options), driver, clock };
}

describe('online garbage collection', () => {
  it('condemns an unreferenced blob older than the delay, and deletes it a delay later', async () => {
    const { registry, driver, clock, gc } = setup();
    const name = repo('app');
    const image = await pushImage(registry, name, { tag: 'v1' });
    const orphan = await uploadBlob(registry, name);
    clock.advance(LATER);

    const first = await gc.runOnce();
    assert.equal(first.ran, true);
    assert.deepEqual(first.condemned, { blobs: 1, manifests: 0 });
    assert.equal(first.blobs.deleted, 0, 'never deleted on first sight');
    assert.ok(await exists(driver, paths.condemnedBlobPath(orphan.digest)));
    assert.ok(await exists(driver, paths.blobDataPath(orphan.digest)), 'the data is still there');
    await assert.rejects(registry.repository(name).blobs.stat(orphan.digest), isCode('BLOB_UNKNOWN'));
    for (const d of image.blobs) assert.equal((await registry.repository(name).blobs.stat(d)).digest, d);

    const second = await gc.runOnce();
    assert.equal(second.blobs.deleted, 0, 'the marker is younger than the delay');

    clock.advance(LATER);
    const third = await gc.runOnce();
    assert.equal(third.blobs.deleted, 1);
    assert.equal(third.bytesFreed, orphan.size);
    assert.equal(third.layerLinksDeleted, 1);
    assert.ok(!(await exists(driver, paths.blobDataPath(orphan.digest))));
    assert.ok(!(await exists(driver, paths.condemnedBlobPath(orphan.digest))), 'the marker goes with the blob');
    assert.ok(!(await exists(driver, paths.layerLinkPath(name, orphan.digest))));
    await assert.rejects(registry.repository(name).blobs.stat(orphan.digest), isCode('BLOB_UNKNOWN'));
    assert.equal(await registry.blobs.exists(orphan.digest), false);
    for (const d of [...image.blobs, image.manifest.digest]) assert.ok((await allBlobs(driver)).has(d));
  });

  it('never condemns a blob younger than the delay', async () => {
    const { registry, clock, gc } = setup();
    await uploadBlob(registry, repo('young'));
    assert.equal((await gc.runOnce()).condemned.blobs, 0);
    clock.advance(DELAY / 2);
    assert.equal((await gc.runOnce()).condemned.blobs, 0);
    clock.advance(DELAY / 2 + 1);
    assert.equal((await gc.runOnce()).condemned.blobs, 1);
  });

  it('never touches uploads in progress', async () => {
    const { registry, driver, clock, gc } = setup();
    const name = repo('uploading');
    const session = await registry.uploads.start(name);
    await registry.uploads.append(name, session.uuid, [Buffer.from('half a layer')]);
    clock.advance(3 * LATER);
    await gc.runOnce();
    clock.advance(LATER);
    await gc.runOnce();
    assert.equal((await registry.uploads.info(name, session.uuid)).size, 12);
    assert.ok(await exists(driver, paths.uploadDataPath(name, session.uuid)));
  });

  it('a condemned blob is unknown: HEAD/GET, manifest verification and mounts refuse it', async () => {
    const { registry, clock, gc } = setup();
    const a = repo('a');
    const orphan = await uploadBlob(registry, a);
    clock.advance(LATER);
    await gc.runOnce();
    await assert.rejects(registry.repository(a).blobs.stat(orphan.digest), isCode('BLOB_UNKNOWN'));
    await assert.rejects(pushImage(registry, a, { layers: [orphan] }), isCode('MANIFEST_BLOB_UNKNOWN'));
    assert.equal(await registry.repository(repo('b')).blobs.mount(orphan.digest, a), undefined, 'a mount falls back to an upload');
  });

  it('completing an upload of a condemned blob pardons it: known again, and not deleted later', async () => {
    const { registry, driver, clock, gc } = setup();
    const name = repo('pardon');
    const data = Buffer.from('a layer pushed long ago');
    const orphan = await uploadBlob(registry, name, data);
    clock.advance(LATER);
    await gc.runOnce();
    await assert.rejects(registry.repository(name).blobs.stat(orphan.digest), isCode('BLOB_UNKNOWN'));

    await uploadBlob(registry, name, data); // the client's HEAD said 404, so it uploads again
    assert.ok(!(await exists(driver, paths.condemnedBlobPath(orphan.digest))), 'pardoned');
    assert.equal((await registry.repository(name).blobs.stat(orphan.digest)).size, data.byteLength);
    const image = await pushImage(registry, name, { layers: [orphan], tag: 'v1' });

    clock.advance(LATER);
    const summary = await gc.runOnce();
    assert.equal(summary.blobs.deleted, 0);
    for (const d of image.blobs) assert.ok((await allBlobs(driver)).has(d));
  });

  it('a blob referenced again between runs is released, not deleted', async () => {
    const { registry, driver, clock, gc } = setup();
    const name = repo('again');
    const orphan = await uploadBlob(registry, name);
    clock.advance(LATER);
    await gc.runOnce();
    // A push that passed verification before this replica's snapshot held the marker (within its TTL):
    registry.unuse(gc.layer);
    const image = await pushImage(registry, name, { layers: [orphan], tag: 'v1' });
    registry.use(gc.layer);

    clock.advance(LATER);
    const summary = await gc.runOnce();
    assert.equal(summary.blobs.deleted, 0);
    assert.equal(summary.released.blobs, 1);
    assert.ok(!(await exists(driver, paths.condemnedBlobPath(orphan.digest))));
    assert.equal((await registry.repository(name).blobs.stat(orphan.digest)).digest, orphan.digest);
    for (const d of image.blobs) assert.ok((await allBlobs(driver)).has(d));
  });

  it('re-pushing a deleted manifest pardons its condemned manifest blob', async () => {
    const { registry, driver, clock, gc } = setup();
    const name = repo('repush');
    const image = await pushImage(registry, name, { tag: 'v1' });
    const body = await driver.getContent(paths.blobDataPath(image.manifest.digest));
    await registry.repository(name).manifests.delete(image.manifest.digest);
    clock.advance(LATER);
    const first = await gc.runOnce();
    assert.equal(first.condemned.blobs, 4, 'manifest, config and two layers');

    // The client pushes the same image again: the layers and config (HEAD says 404), then the manifest.
    for (const layer of image.layers) await uploadBlob(registry, name, await driver.getContent(paths.blobDataPath(layer.digest)));
    await uploadBlob(registry, name, await driver.getContent(paths.blobDataPath(image.config.digest)));
    await registry.repository(name).manifests.put({ body, contentType: MediaType.OciManifest, tags: ['v1' as Tag] });
    assert.ok(!(await exists(driver, paths.condemnedBlobPath(image.manifest.digest))), 'the manifest blob was pardoned');

    clock.advance(LATER);
    const second = await gc.runOnce();
    assert.equal(second.blobs.deleted, 0);
    assert.equal((await registry.repository(name).manifests.get({ kind: 'tag', tag: 'v1' as Tag })).digest, image.manifest.digest);
  });

  it('with deleteUntagged, condemns then deletes an unreachable manifest, then (a run later) its blobs', async () => {
    const { registry, driver, clock, gc } = setup({ deleteUntagged: true });
    const name = repo('untagged');
    const tagged = await pushImage(registry, name, { tag: 'v1' });
    const untagged = await pushImage(registry, name);
    clock.advance(LATER);

    const first = await gc.runOnce();
    assert.deepEqual(first.condemned, { blobs: 0, manifests: 1 }, 'its blobs stay live while the revision exists');
    await assert.rejects(registry.repository(name).manifests.get({ kind: 'digest', digest: untagged.manifest.digest }), isCode('MANIFEST_UNKNOWN'));
    await assert.rejects(pushIndex(registry, name, [tagged.manifest, untagged.manifest], 'list'), isCode('MANIFEST_BLOB_UNKNOWN'));

    clock.advance(LATER);
    const second = await gc.runOnce();
    assert.equal(second.manifests.deleted, 1);
    assert.equal(second.condemned.blobs, 4, 'now its manifest blob, config and layers');
    assert.deepEqual(await allRevisions(registry, name), new Set([tagged.manifest.digest]));

    clock.advance(LATER);
    const third = await gc.runOnce();
    assert.equal(third.blobs.deleted, 4);
    const blobs = await allBlobs(driver);
    for (const d of [...untagged.blobs, untagged.manifest.digest]) assert.ok(!blobs.has(d));
    for (const d of [...tagged.blobs, tagged.manifest.digest]) assert.ok(blobs.has(d));
  });

  it('with deleteUntagged, re-pushing a condemned manifest pardons it', async () => {
    const { registry, driver, clock, gc } = setup({ deleteUntagged: true });
    const name = repo('untagged/repush');
    const image = await pushImage(registry, name);
    clock.advance(LATER);
    await gc.runOnce();
    const body = await driver.getContent(paths.blobDataPath(image.manifest.digest));
    await registry.repository(name).manifests.put({ body, contentType: MediaType.OciManifest, tags: ['now-tagged' as Tag] });
    assert.ok(!(await exists(driver, paths.condemnedRevisionPath(name, image.manifest.digest))));
    clock.advance(LATER);
    const summary = await gc.runOnce();
    assert.equal(summary.manifests.deleted, 0);
    assert.equal((await registry.repository(name).manifests.get({ kind: 'digest', digest: image.manifest.digest })).digest, image.manifest.digest);
  });

  it('with deleteUntagged, referrers of a tagged subject and children of a tagged index are kept', async () => {
    const { registry, clock, gc } = setup({ deleteUntagged: true });
    const name = repo('untagged/reachable');
    const child = await pushImage(registry, name);
    await pushIndex(registry, name, [child.manifest], 'multi');
    const image = await pushImage(registry, name, { tag: 'v1' });
    await pushImage(registry, name, { layers: 1, subject: image.manifest });
    clock.advance(LATER);
    const first = await gc.runOnce();
    clock.advance(LATER);
    const second = await gc.runOnce();
    assert.equal(first.condemned.manifests + second.condemned.manifests, 0);
    assert.equal(second.manifests.deleted, 0);
    assert.equal(second.manifests.kept, 4);
  });

  it('lifts revision condemnations once deleteUntagged is turned off', async () => {
    const clock = new Clock();
    const driver = new InMemoryDriver({ now: clock.now });
    const on = replica(driver, clock, { deleteUntagged: true });
    const name = repo('toggle');
    const image = await pushImage(on.registry, name);
    clock.advance(LATER);
    assert.equal((await on.gc.runOnce()).condemned.manifests, 1);
    const off = replica(driver, clock, { deleteUntagged: false });
    clock.advance(LATER);
    const summary = await off.gc.runOnce();
    assert.equal(summary.released.manifests, 1);
    assert.equal(summary.manifests.deleted, 0);
    assert.equal((await off.registry.repository(name).manifests.get({ kind: 'digest', digest: image.manifest.digest })).digest, image.manifest.digest);
  });

  it('a replica that cached a blob before it was condemned and deleted elsewhere does not claim it afterwards', async () => {
    const clock = new Clock();
    const driver = new InMemoryDriver({ now: clock.now });
    const sweeper = replica(driver, clock);
    const other = replica(driver, clock);
    const name = repo('replicas');
    const data = Buffer.from('cached elsewhere');
    const orphan = await uploadBlob(other.registry, name, data);
    assert.equal((await other.registry.repository(name).blobs.stat(orphan.digest)).size, data.byteLength, 'in the other replica\'s cache');

    clock.advance(LATER);
    await sweeper.gc.runOnce();
    clock.advance(LATER);
    assert.equal((await sweeper.gc.runOnce()).blobs.deleted, 1);

    // The other replica was idle through the whole cycle: its HEAD must not come from its stale cache.
    await assert.rejects(other.registry.repository(name).blobs.stat(orphan.digest), isCode('BLOB_UNKNOWN'));
    await uploadBlob(other.registry, name, data);
    assert.equal((await driver.getContent(paths.blobDataPath(orphan.digest))).toString(), data.toString(), 'uploaded again, not skipped');
  });

  it('a replica sees another\'s condemnation within the snapshot lifetime, and its pardons at once', async () => {
    const clock = new Clock();
    const driver = new InMemoryDriver({ now: clock.now });
    const sweeper = replica(driver, clock);
    const other = replica(driver, clock);
    const name = repo('snapshot');
    const data = Buffer.from('seen by both');
    const orphan = await uploadBlob(sweeper.registry, name, data);
    clock.advance(LATER);
    assert.equal((await other.registry.repository(name).blobs.stat(orphan.digest)).size, data.byteLength);
    await sweeper.gc.runOnce();
    clock.advance(snapshotTtlFor(DELAY));
    await assert.rejects(other.registry.repository(name).blobs.stat(orphan.digest), isCode('BLOB_UNKNOWN'));
    await uploadBlob(sweeper.registry, name, data); // pardoned through the sweeper replica
    assert.equal((await other.registry.repository(name).blobs.stat(orphan.digest)).size, data.byteLength, 'no waiting for a reload');
  });

  describe('the trash protocol against a push racing the deletion', () => {
    /** A driver calling `hook` (once) before the first operation matching `when`. */
    function hooked(inner: StorageDriver, when: (op: string, path: string) => boolean, hook: () => Promise<void>): StorageDriver {
      let fired = false;
      const before = async (op: string, path: string): Promise<void> => {
        if (fired || !when(op, path)) return;
        fired = true;
        await hook();
      };
      return {
        name: inner.name,
        getContent: async (p: string, s?: AbortSignal): Promise<Buffer> => (await before('getContent', p), inner.getContent(p, s)),
        putContent: async (p: string, d: Uint8Array, s?: AbortSignal): Promise<void> => (await before('putContent', p), inner.putContent(p, d, s)),
        reader: async (p: string, o?: number, s?: AbortSignal): Promise<Readable> => (await before('reader', p), inner.reader(p, o, s)),
        writer: async (p: string, a: boolean, s?: AbortSignal): Promise<FileWriter> => (await before('writer', p), inner.writer(p, a, s)),
        stat: async (p: string, s?: AbortSignal): Promise<FileInfo> => (await before('stat', p), inner.stat(p, s)),
        list: async (p: string, s?: AbortSignal): Promise<string[]> => (await before('list', p), inner.list(p, s)),
        move: async (f: string, t: string, s?: AbortSignal): Promise<void> => (await before('move', f), inner.move(f, t, s)),
        delete: async (p: string, s?: AbortSignal): Promise<void> => (await before('delete', p), inner.delete(p, s)),
        redirectUrl: (p: string, m: 'GET' | 'HEAD') => inner.redirectUrl(p, m),
        walk: (p: string, s?: AbortSignal) => inner.walk(p, s),
        close: () => inner.close(),
      };
    }

    async function race(when: (op: string, path: string, digest: Digest) => boolean): Promise<{ restored: number; dataThere: boolean; known: boolean }> {
      const clock = new Clock();
      const inner = new InMemoryDriver({ now: clock.now });
      const pusher = replica(inner, clock);
      const name = repo('race');
      const data = Buffer.from('raced layer');
      const digest = digestOf(data);
      await uploadBlob(pusher.registry, name, data);
      let pushed = false;
      const driver = hooked(
        inner,
        (op, path) => when(op, path, digest),
        async () => {
          await uploadBlob(pusher.registry, name, data); // the pardon, through another replica
          pushed = true;
        },
      );
      const sweeper = replica(driver, clock);
      clock.advance(LATER);
      await sweeper.gc.runOnce();
      clock.advance(LATER);
      const summary = await sweeper.gc.runOnce();
      assert.ok(pushed, 'the racing push ran');
      return {
        restored: summary.restored.blobs,
        dataThere: await exists(inner, paths.blobDataPath(digest)),
        known: (await pusher.registry.repository(name).blobs.stat(digest).then(() => true, () => false)),
      };
    }

    it('a pardon between the move to the trash and the re-check: GC puts the data back', async () => {
      const out = await race((op, path, digest) => op === 'stat' && path === paths.condemnedBlobPath(digest));
      assert.deepEqual(out, { restored: 1, dataThere: true, known: true });
    });

    it('a pardon after the re-check: the push finds no data and places it itself', async () => {
      const out = await race((op, path) => op === 'delete' && path.startsWith(`${paths.GC_TRASH_ROOT}/`) && path.includes('/blobs/'));
      assert.deepEqual(out, { restored: 0, dataThere: true, known: true });
    });

    it('a pardon before the move: the re-check finds no marker and GC puts the data back', async () => {
      const out = await race((op, path, digest) => op === 'move' && path === paths.blobDataPath(digest));
      assert.equal(out.dataThere, true);
      assert.equal(out.known, true);
    });
  });

  it('finishes the deletions a crashed run left in the trash', async () => {
    const { registry, driver, clock, gc } = setup();
    const name = repo('crashed');
    const kept = await uploadBlob(registry, name);
    const doomed = await uploadBlob(registry, name);
    // A run moved both to its trash and died; only `doomed` is still condemned (kept was pardoned).
    await driver.move(paths.blobDataPath(kept.digest), `${paths.GC_TRASH_ROOT}/dead-run/blobs/sha256/${kept.digest.slice(7)}`);
    await driver.move(paths.blobDataPath(doomed.digest), `${paths.GC_TRASH_ROOT}/dead-run/blobs/sha256/${doomed.digest.slice(7)}`);
    await driver.putContent(paths.condemnedBlobPath(doomed.digest), Buffer.from(clock.now().toISOString()));
    clock.advance(120_000); // older than the lock's lifetime: that run is surely dead
    await gc.runOnce();
    const blobs = await allBlobs(driver);
    assert.ok(blobs.has(kept.digest));
    assert.ok(!blobs.has(doomed.digest));
    assert.ok(!(await exists(driver, paths.condemnedBlobPath(doomed.digest))));
    assert.ok(!(await exists(driver, `${paths.GC_TRASH_ROOT}/dead-run`)));
  });

  describe('the lock', () => {
    it('lets only one of two replicas sweep at a time', async () => {
      const clock = new Clock();
      const driver = new InMemoryDriver({ now: clock.now });
      // Real waits for the lock's write-then-read-back settle. Speed does not matter: both replicas read the
      // lock before either settle timer fires (the inmemory driver answers in microtasks), so they race.
      const real = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
      const a = replica(driver, clock, {}, { lockSettleMs: 20, sleep: real, snapshotTtlMs: 5 });
      const b = replica(driver, clock, {}, { lockSettleMs: 20, sleep: real, snapshotTtlMs: 5 });
      await uploadBlob(a.registry, repo('locked'));
      clock.advance(LATER);
      const [ra, rb] = await Promise.all([a.gc.runOnce(), b.gc.runOnce()]);
      assert.equal([ra.ran, rb.ran].filter(Boolean).length, 1, 'exactly one ran');
      assert.equal(ra.condemned.blobs + rb.condemned.blobs, 1);
      assert.ok(!(await exists(driver, paths.GC_LOCK_PATH)), 'released after the run');
    });

    it('is refused while another owner holds it unexpired, taken over once expired, and renewable only by its holder', async () => {
      const clock = new Clock();
      const driver = new InMemoryDriver({ now: clock.now });
      const one = new StorageGcLock(driver, { owner: 'one', clock: clock.now, settleMs: 0 });
      const two = new StorageGcLock(driver, { owner: 'two', clock: clock.now, settleMs: 0 });
      assert.equal(await one.acquire(60_000), true);
      assert.equal(await two.acquire(60_000), false);
      clock.advance(30_000);
      assert.equal(await one.renew(60_000), true);
      clock.advance(45_000);
      assert.equal(await two.acquire(60_000), false, 'renewed, so still held');
      clock.advance(30_000);
      assert.equal(await two.acquire(60_000), true, 'expired: taken over');
      assert.equal(await one.renew(60_000), false, 'the old holder learns it lost the lock');
      await one.release();
      assert.ok(await exists(driver, paths.GC_LOCK_PATH), 'releasing a lost lock leaves the new holder\'s');
      await two.release();
      assert.ok(!(await exists(driver, paths.GC_LOCK_PATH)));
    });

    it('a run does nothing while another replica holds the lock', async () => {
      const { registry, driver, clock, gc } = setup();
      await uploadBlob(registry, repo('held'));
      clock.advance(LATER);
      const other = new StorageGcLock(driver, { owner: 'elsewhere', clock: clock.now, settleMs: 0 });
      assert.equal(await other.acquire(60_000), true);
      const summary = await gc.runOnce();
      assert.equal(summary.ran, false);
      assert.equal(summary.condemned.blobs, 0);
      await other.release();
      assert.equal((await gc.runOnce()).condemned.blobs, 1);
    });
  });

  it('runs on its own every interval when enabled, and stop() ends it', async () => {
    const clock = new Clock();
    const driver = new InMemoryDriver({ now: clock.now });
    const registry = new Registry({ driver, clock: clock.now });
    const runs: number[] = [];
    const timers = new ManualTimers();
    const gc = startOnlineGc(registry, { enabled: true, interval: 10, delay: DELAY }, silent, {
      clock: clock.now,
      lockSettleMs: 0,
      firstRunDelayMs: 0,
      schedule: timers.schedule,
      onRun: (s) => runs.push(s.repositories),
    });
    const first = await timers.next();
    assert.equal(first.delayMs, 0, 'the first run after firstRunDelayMs');
    assert.equal(runs.length, 0, 'nothing runs before its timer');
    first.fire();
    const second = await timers.next(); // scheduled once the first run ended
    assert.equal(second.delayMs, 10, 'then every interval');
    assert.equal(runs.length, 1);
    second.fire();
    await timers.next();
    assert.equal(runs.length, 2);
    await gc.stop();
    assert.equal(timers.size, 0, 'stop() cancels the scheduled run');
    assert.equal(runs.length, 2, 'no run after stop()');
  });

  it('reports a scheduled run that fails (for the failure metric) and keeps its schedule', async () => {
    /** Storage whose listings fail while `broken` is set, as an unreachable object store's would. */
    class FlakyDriver extends InMemoryDriver {
      broken = true;
      override async list(path: string, signal?: AbortSignal): Promise<string[]> {
        if (this.broken) throw new StorageDriverError('inmemory', 'inmemory: list: storage unreachable');
        return super.list(path, signal);
      }
    }
    const driver = new FlakyDriver();
    const registry = new Registry({ driver });
    await pushImage(registry, repo('flaky'), { tag: 'v1' });
    const failures: number[] = [];
    let runs = 0;
    const timers = new ManualTimers();
    const gc = startOnlineGc(registry, { enabled: true, interval: 10, delay: DELAY }, silent, {
      lockSettleMs: 0,
      firstRunDelayMs: 0,
      schedule: timers.schedule,
      onRun: () => runs++,
      onFailure: (_err, durationMs) => failures.push(durationMs),
    });
    try {
      (await timers.next()).fire();
      const after = await timers.next(); // rescheduled once the failed run was reported
      assert.equal(failures.length, 1, 'a failed run is reported');
      assert.ok(failures.every((ms) => ms >= 0));
      assert.equal(runs, 0);
      assert.equal(after.delayMs, 10, 'on the same schedule');
      driver.broken = false;
      after.fire();
      await timers.next();
      assert.equal(runs, 1, 'the schedule goes on after a failure');
    } finally {
      await gc.stop();
    }
  });

  // Real time on the other drivers; a longer delay where timestamps have one-second resolution (S3).
  for (const kind of ['filesystem', 's3', 'azure'] as const) {
    it(`condemns then deletes on the ${kind} driver, in real time`, async () => {
      const delay = kind === 'filesystem' ? 150 : 1500;
      const { driver, cleanup } = await makeDriver(kind);
      try {
        const registry = new Registry({ driver });
        const gc = startOnlineGc(registry, { enabled: false, interval: 60_000, delay }, silent, { lockSettleMs: 0 });
        const name = repo('real/time');
        const image = await pushImage(registry, name, { tag: 'v1' });
        const data = Buffer.from(`an orphan on ${kind}`);
        const orphan = await uploadBlob(registry, name, data);
        // Not a wait for background work: the orphan must age past the delay on the storage's real clock
        // (one-second timestamps on S3, hence the extra second); runOnce() then does the work itself.
        await new Promise((resolve) => setTimeout(resolve, delay + 1100));
        assert.equal((await gc.runOnce()).condemned.blobs, 1);
        await assert.rejects(registry.repository(name).blobs.stat(orphan.digest), isCode('BLOB_UNKNOWN'));
        await new Promise((resolve) => setTimeout(resolve, delay + 50));
        const summary = await gc.runOnce();
        assert.equal(summary.blobs.deleted, 1);
        assert.ok(!(await allBlobs(driver)).has(orphan.digest));
        for (const d of image.blobs) assert.equal((await registry.repository(name).blobs.stat(d)).digest, d);
        // Pushing it again works (on the filesystem, past the empty directory left behind).
        await uploadBlob(registry, name, data);
        assert.equal((await registry.repository(name).blobs.stat(orphan.digest)).size, data.byteLength);
        assert.equal((await driver.getContent(paths.blobDataPath(orphan.digest))).toString(), data.toString());
        await gc.stop();
      } finally {
        await cleanup();
      }
    });
  }
});
