// Offline garbage collection, mirroring Distribution's registry/storage/garbagecollect_test.go, on the
// in-memory and the filesystem driver.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../src/storage/registry.js';
import type { StorageDriver } from '../../src/storage/driver/driver.js';
import { garbageCollect, type GcProgress } from '../../src/gc/collect.js';
import { OciError } from '../../src/oci/errors.js';
import type { Digest } from '../../src/oci/digest.js';
import type { Tag } from '../../src/oci/reference.js';
import * as paths from '../../src/storage/paths.js';
import { DRIVER_KINDS, stopServices, allBlobs, allRevisions, makeDriver, pushImage, pushIndex, repo, silent, storageSnapshot, uploadBlob } from './gc-fixtures.js';

const gc = (registry: Registry, deleteUntagged = false, dryRun = false) => garbageCollect(registry, { dryRun, deleteUntagged, logger: silent });

async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch {
    return false;
  }
}

after(stopServices);

for (const kind of DRIVER_KINDS) {
  describe(`garbage-collect (offline) on the ${kind} driver`, () => {
    async function setup(): Promise<{ registry: Registry; driver: StorageDriver; cleanup: () => Promise<void> }> {
      const { driver, cleanup } = await makeDriver(kind);
      return { registry: new Registry({ driver }), driver, cleanup };
    }

    it('changes nothing when nothing was deleted (TestNoDeletionNoEffect)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('palailogos');
        const image1 = await pushImage(registry, name, { tag: 'one' });
        const image2 = await pushImage(registry, name, { tag: 'two' });
        await pushImage(registry, name, { tag: 'three' });
        await pushIndex(registry, name, [image1.manifest, image2.manifest], 'list');
        const before = await allBlobs(driver);
        const summary = await gc(registry);
        assert.deepEqual(await allBlobs(driver), before);
        assert.equal(summary.blobs.deleted, 0);
        assert.equal(summary.blobs.kept, before.size);
        assert.deepEqual(summary.manifests, { kept: 4, deleted: 0 });
        assert.equal(summary.repositories, 1);
        assert.equal(summary.bytesFreed, 0);
      } finally {
        await cleanup();
      }
    });

    it('--delete-untagged deletes a manifest whose tag moved on; --dry-run first changes nothing (TestDeleteManifestIfTagNotFound)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('deletemanifests');
        const image1 = await pushImage(registry, name, { layers: 3 });
        const image2 = await pushImage(registry, name, { layers: 3 });
        await registry.repository(name).tags.tag('test' as Tag, image1.manifest.digest);
        await registry.repository(name).tags.tag('test' as Tag, image2.manifest.digest);

        const snapshot = await storageSnapshot(driver);
        const dry = await gc(registry, true, true);
        assert.deepEqual(await storageSnapshot(driver), snapshot, 'a dry run changes nothing');

        const real = await gc(registry, true);
        assert.deepEqual(real, { ...dry, durationMs: real.durationMs }, 'the dry run reported exactly what the real run did');
        assert.deepEqual(real.manifests, { kept: 1, deleted: 1 });
        assert.equal(real.blobs.deleted, 5, 'config, 3 layers, manifest');
        assert.deepEqual(await allRevisions(registry, name), new Set([image2.manifest.digest]));
        const blobs = await allBlobs(driver);
        for (const d of image1.blobs) assert.ok(!blobs.has(d));
        for (const d of [...image2.blobs, image2.manifest.digest]) assert.ok(blobs.has(d));
        // Its entry in the tag's index went too (Distribution's vacuum.RemoveManifest).
        assert.ok(!(await exists(driver, paths.tagIndexLinkPath(name, 'test' as Tag, image1.manifest.digest))));
        assert.ok(await exists(driver, paths.tagIndexLinkPath(name, 'test' as Tag, image2.manifest.digest)));
        assert.equal((await registry.repository(name).manifests.get({ kind: 'tag', tag: 'test' as Tag })).digest, image2.manifest.digest);
      } finally {
        await cleanup();
      }
    });

    it('collects everything of a repository whose _manifests was removed, layer links included (TestGCWithMissingManifests)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('testrepo');
        await pushImage(registry, name, { tag: 'latest' });
        await driver.delete(paths.manifestsPath(name));
        const summary = await gc(registry);
        assert.equal((await allBlobs(driver)).size, 0);
        assert.equal(summary.layerLinksDeleted, 3, 'config and two layers');
        assert.ok(!(await exists(driver, `${paths.layersPath(name)}/sha256`)) || (await driver.list(`${paths.layersPath(name)}/sha256`)).length === 0);
      } finally {
        await cleanup();
      }
    });

    it('deletes the layers of deleted manifests and keeps the rest (TestDeletionHasEffect)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('komnenos');
        const image1 = await pushImage(registry, name, { tag: 'one' });
        const image2 = await pushImage(registry, name);
        const image3 = await pushImage(registry, name);
        await registry.repository(name).manifests.delete(image2.manifest.digest);
        await registry.repository(name).manifests.delete(image3.manifest.digest);
        const summary = await gc(registry);
        const blobs = await allBlobs(driver);
        assert.ok(blobs.has(image1.manifest.digest));
        for (const d of image1.blobs) assert.ok(blobs.has(d), `image1 blob ${d} kept`);
        for (const d of [...image2.blobs, ...image3.blobs, image2.manifest.digest, image3.manifest.digest]) assert.ok(!blobs.has(d), `${d} deleted`);
        assert.equal(summary.blobs.deleted, 8);
        assert.equal(summary.layerLinksDeleted, 6, 'every layer link to a deleted blob (manifests are linked as revisions)');
        // Links of deleted blobs are gone, so the repository no longer claims them.
        await assert.rejects(registry.repository(name).blobs.stat(image2.layers[0]?.digest as Digest), (e: unknown) => e instanceof OciError && e.code === 'BLOB_UNKNOWN');
      } finally {
        await cleanup();
      }
    });

    it('keeps a layer shared with a surviving manifest (TestDeletionWithSharedLayer)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('tzimiskes');
        const image1 = await pushImage(registry, name, { layers: 3, tag: 'one' });
        const own = [await uploadBlob(registry, name), await uploadBlob(registry, name)];
        const image2 = await pushImage(registry, name, { layers: [...own, image1.layers[0]!] });
        await registry.repository(name).manifests.delete(image2.manifest.digest);
        await gc(registry);
        const blobs = await allBlobs(driver);
        for (const d of image1.blobs) assert.ok(blobs.has(d));
        for (const d of own) assert.ok(!blobs.has(d.digest));
        assert.ok(!blobs.has(image2.config.digest));
      } finally {
        await cleanup();
      }
    });

    it('keeps a layer shared between repositories when one of them deletes its manifest', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const a = repo('shared/a');
        const b = repo('shared/b');
        const base = await uploadBlob(registry, a);
        await registry.repository(b).blobs.mount(base.digest, a);
        const imageA = await pushImage(registry, a, { layers: [base, await uploadBlob(registry, a)], tag: 'v1' });
        const imageB = await pushImage(registry, b, { layers: [base], tag: 'v1' });
        await registry.repository(a).manifests.delete(imageA.manifest.digest);
        const summary = await gc(registry);
        const blobs = await allBlobs(driver);
        assert.ok(blobs.has(base.digest), 'the shared layer stays');
        for (const d of imageB.blobs) assert.ok(blobs.has(d));
        assert.ok(!blobs.has(imageA.layers[1]!.digest) && !blobs.has(imageA.config.digest) && !blobs.has(imageA.manifest.digest));
        assert.equal(summary.repositories, 2);
        // Repository a keeps its link to the shared (kept) layer: only links to deleted blobs go.
        assert.equal((await registry.repository(a).blobs.stat(base.digest)).digest, base.digest);
      } finally {
        await cleanup();
      }
    });

    it('deletes an orphan blob and its layer link, and forgets it in the descriptor cache (TestOrphanBlobDeleted)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('michael_z_doukas');
        const orphan = await uploadBlob(registry, name);
        await pushImage(registry, name, { tag: 'latest' });
        assert.equal((await registry.repository(name).blobs.stat(orphan.digest)).size, orphan.size, 'cached now');
        const summary = await gc(registry);
        assert.ok(!(await allBlobs(driver)).has(orphan.digest));
        assert.equal(summary.blobs.deleted, 1);
        assert.equal(summary.bytesFreed, orphan.size);
        assert.equal(summary.layerLinksDeleted, 1);
        assert.ok(!(await exists(driver, paths.layerLinkPath(name, orphan.digest))));
        assert.equal(await registry.blobs.exists(orphan.digest), false, 'the cache no longer claims it');
      } finally {
        await cleanup();
      }
    });

    it('--delete-untagged keeps the untagged children of a tagged index (TestTaggedManifestlistWithUntaggedManifest)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('foo/taggedlist/untaggedmanifest');
        const image1 = await pushImage(registry, name);
        const image2 = await pushImage(registry, name);
        const list = await pushIndex(registry, name, [image1.manifest, image2.manifest], 'test');
        const before = await allBlobs(driver);
        const summary = await gc(registry, true);
        const after = await allBlobs(driver);
        assert.deepEqual(after, before);
        assert.ok(after.has(image1.manifest.digest) && after.has(image2.manifest.digest) && after.has(list.digest));
        assert.deepEqual(summary.manifests, { kept: 3, deleted: 0 });
      } finally {
        await cleanup();
      }
    });

    it('--delete-untagged deletes an untagged index and its untagged children (TestUnTaggedManifestlistWithUntaggedManifest)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('foo/untaggedlist/untaggedmanifest');
        const image1 = await pushImage(registry, name);
        const image2 = await pushImage(registry, name);
        await pushIndex(registry, name, [image1.manifest, image2.manifest]);
        const summary = await gc(registry, true);
        assert.equal((await allBlobs(driver)).size, 0);
        assert.deepEqual(summary.manifests, { kept: 0, deleted: 3 });
        assert.equal((await allRevisions(registry, name)).size, 0);
      } finally {
        await cleanup();
      }
    });

    it('without --delete-untagged the same untagged index and children are all kept', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('foo/untaggedlist/kept');
        const image1 = await pushImage(registry, name);
        const image2 = await pushImage(registry, name);
        await pushIndex(registry, name, [image1.manifest, image2.manifest]);
        const before = await allBlobs(driver);
        const summary = await gc(registry, false);
        assert.deepEqual(await allBlobs(driver), before);
        assert.deepEqual(summary.manifests, { kept: 3, deleted: 0 });
      } finally {
        await cleanup();
      }
    });

    it('--delete-untagged deletes an untagged index but keeps its tagged children (TestUnTaggedManifestlistWithTaggedManifest)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('foo/untaggedlist/taggedmanifest');
        const image1 = await pushImage(registry, name, { tag: 'image1' });
        const image2 = await pushImage(registry, name, { tag: 'image2' });
        const list = await pushIndex(registry, name, [image1.manifest, image2.manifest]);
        await gc(registry, true);
        const after = await allBlobs(driver);
        assert.ok(!after.has(list.digest), 'the untagged list is gone');
        assert.deepEqual(await allRevisions(registry, name), new Set([image1.manifest.digest, image2.manifest.digest]));
        for (const d of [...image1.blobs, ...image2.blobs]) assert.ok(after.has(d));
      } finally {
        await cleanup();
      }
    });

    it('--delete-untagged deletes everything of an untagged index whose children were deleted (TestTaggedManifestlistWithDeletedreference)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('foo/untaggedlist/deleteref');
        const image1 = await pushImage(registry, name);
        const image2 = await pushImage(registry, name);
        await pushIndex(registry, name, [image1.manifest, image2.manifest]);
        await registry.repository(name).manifests.delete(image1.manifest.digest);
        await registry.repository(name).manifests.delete(image2.manifest.digest);
        await gc(registry, true);
        assert.equal((await allBlobs(driver)).size, 0);
      } finally {
        await cleanup();
      }
    });

    it('a tagged index whose children were deleted keeps the children\'s manifest blobs, not their layers (Distribution marks descriptors)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('foo/taggedlist/deleteref');
        const image1 = await pushImage(registry, name);
        const list = await pushIndex(registry, name, [image1.manifest], 'latest');
        await registry.repository(name).manifests.delete(image1.manifest.digest);
        await gc(registry, true);
        const after = await allBlobs(driver);
        assert.ok(after.has(list.digest) && after.has(image1.manifest.digest));
        for (const d of image1.blobs) assert.ok(!after.has(d));
      } finally {
        await cleanup();
      }
    });

    it('--delete-untagged keeps referrers (and their referrers) of a surviving subject, and deletes them with it', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('signed/app');
        const image = await pushImage(registry, name, { tag: 'v1' });
        const signature = await pushImage(registry, name, { layers: 1, subject: image.manifest, artifactType: 'application/vnd.example.signature' });
        const attestation = await pushImage(registry, name, { layers: 1, subject: signature.manifest, artifactType: 'application/vnd.example.attestation' });
        const stray = await pushImage(registry, name, { layers: 1 });

        let summary = await gc(registry, true);
        assert.deepEqual(await allRevisions(registry, name), new Set([image.manifest.digest, signature.manifest.digest, attestation.manifest.digest]));
        assert.deepEqual(summary.manifests, { kept: 3, deleted: 1 });
        assert.ok(!(await allBlobs(driver)).has(stray.manifest.digest));
        assert.equal((await registry.repository(name).manifests.referrers(image.manifest.digest)).length, 1);

        await registry.repository(name).tags.untag('v1' as Tag);
        summary = await gc(registry, true);
        assert.deepEqual(summary.manifests, { kept: 0, deleted: 3 }, 'subject untagged: it and its referrers go');
        assert.equal((await allBlobs(driver)).size, 0);
      } finally {
        await cleanup();
      }
    });

    it('without --delete-untagged a referrer whose subject was deleted is kept (every revision is a root)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('signed/kept');
        const image = await pushImage(registry, name, { tag: 'v1' });
        const signature = await pushImage(registry, name, { layers: 1, subject: image.manifest });
        await registry.repository(name).manifests.delete(image.manifest.digest);
        await gc(registry, false);
        const after = await allBlobs(driver);
        for (const d of [signature.manifest.digest, ...signature.blobs]) assert.ok(after.has(d));
        for (const d of image.blobs) assert.ok(!after.has(d));
      } finally {
        await cleanup();
      }
    });

    it('reports progress through every phase', async () => {
      const { registry, cleanup } = await setup();
      try {
        await pushImage(registry, repo('p/one'), { tag: 'a' });
        await pushImage(registry, repo('p/two'), { tag: 'a' });
        const seen: GcProgress[] = [];
        await garbageCollect(registry, { dryRun: false, deleteUntagged: false, logger: silent, onProgress: (p) => seen.push(p) });
        assert.deepEqual([...new Set(seen.map((p) => p.phase))], ['mark', 'sweep', 'done']);
        const last = seen.at(-1);
        assert.equal(last?.repositories, 2);
        assert.equal(last?.manifestsMarked, 2);
        assert.equal(last?.blobsScanned, 8);
      } finally {
        await cleanup();
      }
    });

    it('an empty storage is fine', async () => {
      const { registry, cleanup } = await setup();
      try {
        const summary = await gc(registry, true);
        assert.deepEqual({ ...summary, durationMs: 0 }, { repositories: 0, manifests: { kept: 0, deleted: 0 }, blobs: { kept: 0, deleted: 0 }, bytesFreed: 0, layerLinksDeleted: 0, durationMs: 0 });
      } finally {
        await cleanup();
      }
    });

    it('cleans up what online GC left: markers, trash (finishing or undoing its deletions)', async () => {
      const { registry, driver, cleanup } = await setup();
      try {
        const name = repo('leftovers');
        const image = await pushImage(registry, name, { tag: 'v1', layers: 1 });
        const layer = image.layers[0]!;
        // A crashed online run had moved a kept layer to its trash after a pardon removed the marker:
        await driver.move(paths.blobDataPath(layer.digest), `${paths.GC_TRASH_ROOT}/run1/blobs/sha256/${layer.digest.slice(7)}`);
        // ...and a stale marker on the config.
        await driver.putContent(paths.condemnedBlobPath(image.config.digest), Buffer.from(new Date().toISOString()));
        // Directories emptied by online deletions (real ones only on the filesystem driver).
        const gone = `sha256:${'e'.repeat(64)}` as Digest;
        for (const path of [paths.blobDataPath(gone), paths.revisionLinkPath(name, gone)]) {
          await driver.putContent(path, Buffer.from('x'));
          await driver.delete(path);
        }
        await gc(registry);
        assert.ok(!(await exists(driver, paths.blobDataPath(gone).slice(0, -'/data'.length))), 'empty blob directory removed');
        assert.ok(!(await exists(driver, paths.revisionLinkPath(name, gone).slice(0, -'/link'.length))), 'empty revision directory removed');
        const after = await allBlobs(driver);
        assert.ok(after.has(layer.digest), 'restored from the trash');
        assert.ok(after.has(image.config.digest));
        assert.ok(!(await exists(driver, paths.GC_TRASH_ROOT)));
        assert.ok(!(await exists(driver, paths.condemnedBlobPath(image.config.digest))));
      } finally {
        await cleanup();
      }
    });
  });
}
