/**
 * On-disk compatibility: one storage root directory served in turn by Distribution and by the
 * registry under test (BERTH_E2E_TARGET, Berth by default). What one server wrote with skopeo,
 * the other must serve back unchanged: an OCI image, a Docker v2s2 image, a multi-platform
 * index, tags, and a deletion. Both directions. With BERTH_E2E_TARGET=distribution this runs
 * Distribution against itself, which validates the test.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  buildImageLayout,
  buildIndexLayout,
  MediaTypes,
  parseManifest,
  readLayoutRef,
  sha256,
  verifyLayoutBlobs,
} from '../helpers/images.js';
import { withServerOutput } from '../helpers/processes.js';
import {
  e2eTarget,
  startRegistry,
  type RegistryHandle,
  type RegistryKind,
} from '../helpers/registries.js';
import { copyFromRegistry, copyToRegistry, deleteImage, inspect, listTags, SkopeoError } from '../helpers/skopeo.js';

const target = e2eTarget();
const display = (kind: RegistryKind): string => (kind === 'berth' ? 'Berth' : 'Distribution');

const sorted = (values: Iterable<string>): string[] => [...values].sort();

/** GET /v2/_catalog of a registry: its repository names. */
async function catalog(host: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/_catalog`);
  assert.equal(res.status, 200, 'GET /v2/_catalog');
  const body = (await res.json()) as { repositories?: string[] | null };
  return body.repositories ?? [];
}

describe(`layout compatibility: Distribution <-> ${display(target)}`, { timeout: 15 * 60_000 }, () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-compat-'));
  });
  after(async () => {
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  /**
   * `writer` stores images with skopeo under a fresh root directory and stops; `reader` then
   * serves the same directory, and everything must come back with the same digests.
   */
  async function roundTrip(writer: RegistryKind, reader: RegistryKind): Promise<void> {
    const dir = await mkdtemp(join(work, `${writer}-to-${reader}-`));
    const root = join(dir, 'storage');
    const img = await buildImageLayout(join(dir, 'src-image'), { layers: 2, layerSize: 512 * 1024 });
    const idx = await buildIndexLayout(join(dir, 'src-index'), { ref: 'multi' });
    const doomed = await buildImageLayout(join(dir, 'src-doomed'));

    let writing: RegistryHandle | undefined;
    let reading: RegistryHandle | undefined;
    const servers = () => [
      { name: `${writer} (writer)`, handle: writing },
      { name: `${reader} (reader)`, handle: reading },
    ];

    try {
      await withServerOutput(servers, async () => {
        // ---- write with one server ----
        writing = await startRegistry(writer, root);
        const w = writing.host;
        await copyToRegistry(img.layoutDir, `${w}/compat/app:1.0`);
        await copyToRegistry(img.layoutDir, `${w}/compat/app:docker`, { format: 'v2s2' });
        await copyToRegistry(idx.layoutDir, `${w}/compat/multi:latest`, { all: true, layoutRef: 'multi' });
        await copyToRegistry(doomed.layoutDir, `${w}/compat/app:doomed`);
        await deleteImage(`${w}/compat/app@${doomed.digest}`);
        const v2Raw = await inspect(`${w}/compat/app:docker`, { raw: true });
        const v2Digest = sha256(v2Raw);
        assert.equal(parseManifest(v2Raw).mediaType, MediaTypes.dockerManifest);
        // Distribution without http.draintimeout dies of SIGTERM (exit status null): the exit
        // status is not compared, only that the files it left are complete.
        await writing.stop();
        writing = undefined;

        // ---- read with the other ----
        reading = await startRegistry(reader, root);
        const r = reading.host;

        assert.deepEqual(sorted(await catalog(r)), ['compat/app', 'compat/multi']);
        assert.deepEqual(sorted(await listTags(`${r}/compat/app`)), ['1.0', 'docker']);
        assert.deepEqual(await listTags(`${r}/compat/multi`), ['latest']);

        // The OCI image.
        assert.ok((await inspect(`${r}/compat/app:1.0`, { raw: true })).equals(img.manifestBytes));
        const ociOut = join(dir, 'pulled-oci');
        await copyFromRegistry(`${r}/compat/app:1.0`, ociOut, { layoutRef: 'x', preserveDigests: true });
        assert.equal((await readLayoutRef(ociOut, 'x')).digest, img.digest);
        assert.deepEqual(await verifyLayoutBlobs(ociOut), sorted(img.blobs));

        // The Docker v2s2 image (kept as v2s2 in the layout thanks to --preserve-digests).
        assert.ok((await inspect(`${r}/compat/app:docker`, { raw: true })).equals(v2Raw));
        const v2Out = join(dir, 'pulled-v2s2');
        await copyFromRegistry(`${r}/compat/app:docker`, v2Out, { layoutRef: 'x', preserveDigests: true });
        const v2Desc = await readLayoutRef(v2Out, 'x');
        assert.equal(v2Desc.digest, v2Digest);
        assert.equal(v2Desc.mediaType, MediaTypes.dockerManifest);
        assert.deepEqual(await verifyLayoutBlobs(v2Out), sorted([v2Digest, ...img.blobs.slice(1)]));

        // The multi-platform index, every image of it.
        assert.ok((await inspect(`${r}/compat/multi:latest`, { raw: true })).equals(idx.indexBytes));
        const idxOut = join(dir, 'pulled-index');
        await copyFromRegistry(`${r}/compat/multi:latest`, idxOut, { all: true, layoutRef: 'x', preserveDigests: true });
        assert.equal((await readLayoutRef(idxOut, 'x')).digest, idx.digest);
        assert.deepEqual(await verifyLayoutBlobs(idxOut), sorted(idx.blobs));

        // The deletion is seen too.
        await assert.rejects(
          inspect(`${r}/compat/app@${doomed.digest}`, { raw: true }),
          (err: unknown) => err instanceof SkopeoError && /manifest unknown/i.test(err.stderr),
        );

        await reading.stop();
        reading = undefined;
      });
    } finally {
      await writing?.kill();
      await reading?.kill();
    }
  }

  test(`Distribution writes, ${display(target)} serves`, { timeout: 180_000 }, () => roundTrip('distribution', target));
  test(`${display(target)} writes, Distribution serves`, { timeout: 180_000 }, () => roundTrip(target, 'distribution'));
});
