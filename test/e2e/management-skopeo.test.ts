/**
 * Issue 14 with a real client: skopeo pushes a multi-arch OCI index (linux/amd64, linux/arm64/v8)
 * and a single image; the management API reports the exact deduplicated sizes (computed here from
 * the layouts skopeo pushed), the platforms, and deleting the repository leaves skopeo nothing to
 * list.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildImageLayout, buildIndexLayout, type BuiltImage, type ImageLayout, type IndexLayout } from '../helpers/images.js';
import { copyToRegistry, listTags, SkopeoError } from '../helpers/skopeo.js';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { getJson } from '../helpers/management.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';

/** Deduplicated bytes of images: each manifest, config and layer once. */
function imageBytes(images: readonly BuiltImage[], extra: ReadonlyArray<readonly [string, number]> = []): number {
  const sizes = new Map<string, number>(extra);
  for (const i of images) {
    sizes.set(i.manifest.digest, i.manifestBytes.byteLength);
    sizes.set(i.config.digest, i.config.size);
    for (const l of i.layers) sizes.set(l.digest, l.size);
  }
  let total = 0;
  for (const s of sizes.values()) total += s;
  return total;
}

describe('management API after skopeo pushes', { timeout: 5 * 60_000 }, () => {
  let work = '';
  let r: TestRegistry;
  let host = '';
  let multi: IndexLayout;
  let single: ImageLayout;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-mgmt-'));
    r = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: join(work, 'storage') }) });
    host = new URL(r.url).host;
    multi = await buildIndexLayout(join(work, 'multi'), { layers: 2, layerSize: 50_000 });
    single = await buildImageLayout(join(work, 'single'), { layers: 3, layerSize: 20_000 });
    await copyToRegistry(multi.layoutDir, `${host}/e2e/multi:latest`, { all: true });
    await copyToRegistry(single.layoutDir, `${host}/e2e/single:v1`);
  });
  after(async () => {
    await r?.close();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('reports the index: exact size and both platforms', async () => {
    const { body } = await getJson<{ tags: Array<{ name: string; digest: string; mediaType: string; size: number; platforms: string[]; pulledAt: null }> }>(`${r.url}/berth/v1/repositories/e2e/multi/tags`);
    const indexSize = imageBytes(multi.images, [[multi.digest, multi.indexBytes.byteLength]]);
    assert.deepEqual(
      body.tags.map((t) => ({ ...t, pushedAt: undefined })),
      [{ name: 'latest', digest: multi.digest, mediaType: 'application/vnd.oci.image.index.v1+json', size: indexSize, platforms: ['linux/amd64', 'linux/arm64/v8'], pushedAt: undefined, pulledAt: null }],
    );
    const summary = (await getJson<{ manifests: Array<{ digest: string; platform: string; size: number }> }>(`${r.url}/berth/v1/repositories/e2e/multi/manifests/${multi.digest}`)).body;
    assert.deepEqual(
      summary.manifests.map((m) => [m.digest, m.platform, m.size]),
      multi.images.map((i) => [i.manifest.digest, i.platform.variant === undefined ? `${i.platform.os}/${i.platform.architecture}` : `${i.platform.os}/${i.platform.architecture}/${i.platform.variant}`, imageBytes([i])]),
    );
  });

  it('reports the repositories and usage with deduplicated sizes', async () => {
    const multiSize = imageBytes(multi.images, [[multi.digest, multi.indexBytes.byteLength]]);
    const singleSize = imageBytes([single]);
    const { body } = await getJson<{ repositories: unknown[] }>(`${r.url}/berth/v1/repositories`);
    assert.deepEqual(body.repositories, [
      { name: 'e2e/multi', tags: 1, size: multiSize },
      { name: 'e2e/single', tags: 1, size: singleSize },
    ]);
    const image = (await getJson<{ platforms: string[]; size: number; layers: Array<{ size: number }> }>(`${r.url}/berth/v1/repositories/e2e/single/manifests/v1`)).body;
    assert.deepEqual(image.platforms, ['linux/amd64']);
    assert.equal(image.size, singleSize);
    assert.deepEqual(image.layers.map((l) => l.size), single.layers.map((l) => l.size));
    assert.deepEqual((await getJson<unknown>(`${r.url}/berth/v1/usage`)).body, { quotas: [], total: multiSize + singleSize });
  });

  it('deletes the repository: skopeo finds nothing to list, the catalog omits it', async () => {
    const res = await fetch(`${r.url}/berth/v1/repositories/e2e/multi`, { method: 'DELETE' });
    assert.equal(res.status, 202, await res.text());
    await assert.rejects(listTags(`${host}/e2e/multi`), (err: unknown) => err instanceof SkopeoError);
    assert.deepEqual((await getJson<{ repositories: string[] }>(`${r.url}/v2/_catalog`)).body.repositories, ['e2e/single']);
    assert.deepEqual(await listTags(`${host}/e2e/single`), ['v1']);
  });
});
