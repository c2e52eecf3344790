/**
 * End to end with the real client: skopeo pushes, inspects, lists, pulls and deletes against
 * a registry started here. The registry is chosen by BERTH_E2E_TARGET: `berth` (default) or
 * `distribution` (the registry Berth replaces, to validate these tests themselves).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  buildImageLayout,
  buildIndexLayout,
  MediaTypes,
  parseIndex,
  parseManifest,
  readLayoutBlob,
  readLayoutRef,
  sha256,
  verifyLayoutBlobs,
} from '../helpers/images.js';
import { withServerOutput } from '../helpers/processes.js';
import { e2eTarget, startRegistry, type RegistryHandle } from '../helpers/registries.js';
import {
  copyFromRegistry,
  copyToRegistry,
  deleteImage,
  inspect,
  listTags,
  SkopeoError,
} from '../helpers/skopeo.js';

const target = e2eTarget();
const TEST_TIMEOUT = 180_000;

/** Sorted copy, for comparing sets of digests or tags. */
const sorted = (values: Iterable<string>): string[] => [...values].sort();

/** A HEAD (or GET) of a manifest over plain HTTP: status, Content-Type, Docker-Content-Digest. */
async function fetchManifest(
  host: string,
  name: string,
  reference: string,
  accept: string,
  method: 'HEAD' | 'GET' = 'HEAD',
): Promise<{ status: number; contentType: string | null; digest: string | null }> {
  const res = await fetch(`http://${host}/v2/${name}/manifests/${reference}`, { method, headers: { accept } });
  await res.arrayBuffer();
  return { status: res.status, contentType: res.headers.get('content-type'), digest: res.headers.get('docker-content-digest') };
}

describe(`skopeo e2e against ${target}`, { timeout: 15 * 60_000 }, () => {
  let work = '';
  let registry: RegistryHandle | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-skopeo-'));
    registry = await startRegistry(target, join(work, 'storage'));
  });

  after(async () => {
    await registry?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  /** The running registry's host:port. */
  const host = (): string => {
    if (registry === undefined) throw new Error('registry not started');
    return registry.host;
  };

  /** A repository name of its own for one test: `e2e/<label>-<random>`. */
  const newRepo = (label: string): { name: string; repo: string } => {
    const name = `e2e/${label}-${randomBytes(4).toString('hex')}`;
    return { name, repo: `${host()}/${name}` };
  };

  /** A fresh directory under the work dir. */
  const newDir = async (label: string): Promise<string> => mkdtemp(join(work, `${label}-`));

  /** A test whose failure message carries the registry's log. */
  const e2e = (name: string, fn: () => Promise<void>): void => {
    test(name, { timeout: TEST_TIMEOUT }, () => withServerOutput(() => [{ name: target, handle: registry }], fn));
  };

  e2e('pushes an OCI image; inspect, inspect --raw and list-tags see it', async () => {
    // One layer of a few MiB so the upload is streamed in more than one socket read.
    const img = await buildImageLayout(await newDir('oci'), { layers: 3, layerSize: 4 * 1024 * 1024 });
    const { name, repo } = newRepo('push-oci');

    await copyToRegistry(img.layoutDir, `${repo}:v1`);

    const info = await inspect(`${repo}:v1`);
    assert.equal(info.Digest, img.digest);
    assert.deepEqual(info.Layers, img.layers.map((l) => l.digest));
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');

    const raw = await inspect(`${repo}:v1`, { raw: true });
    assert.equal(sha256(raw), img.digest);
    assert.ok(raw.equals(img.manifestBytes), 'the registry serves the pushed manifest bytes unchanged');
    assert.equal(parseManifest(raw).mediaType, MediaTypes.ociManifest);

    const byDigest = await inspect(`${repo}@${img.digest}`, { raw: true });
    assert.equal(sha256(byDigest), img.digest);

    assert.deepEqual(await listTags(repo), ['v1']);

    const head = await fetchManifest(host(), name, 'v1', MediaTypes.ociManifest);
    assert.equal(head.status, 200);
    assert.equal(head.digest, img.digest);
    assert.equal(head.contentType, MediaTypes.ociManifest);
  });

  e2e('pushes the same image as Docker v2s2 under another tag', async () => {
    const img = await buildImageLayout(await newDir('v2s2'));
    const { name, repo } = newRepo('push-v2s2');

    await copyToRegistry(img.layoutDir, `${repo}:oci`);
    await copyToRegistry(img.layoutDir, `${repo}:docker`, { format: 'v2s2' });

    const raw = await inspect(`${repo}:docker`, { raw: true });
    const manifest = parseManifest(raw);
    assert.equal(manifest.mediaType, MediaTypes.dockerManifest);
    assert.equal(manifest.config.mediaType, MediaTypes.dockerConfig);
    assert.equal(manifest.config.digest, img.config.digest, 'same config blob');
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), img.layers.map(() => MediaTypes.dockerLayerGzip));
    assert.deepEqual(manifest.layers.map((l) => l.digest), img.layers.map((l) => l.digest), 'same layer blobs');

    const v2Digest = sha256(raw);
    assert.notEqual(v2Digest, img.digest);
    assert.equal((await inspect(`${repo}:docker`)).Digest, v2Digest);
    assert.equal((await inspect(`${repo}:oci`)).Digest, img.digest, 'the OCI tag is untouched');

    const head = await fetchManifest(host(), name, 'docker', MediaTypes.dockerManifest);
    assert.equal(head.status, 200);
    assert.equal(head.contentType, MediaTypes.dockerManifest);
    assert.equal(head.digest, v2Digest);

    assert.deepEqual(sorted(await listTags(repo)), ['docker', 'oci']);
  });

  e2e('pushes a multi-arch index with --all and pulls it back with --all', async () => {
    const idx = await buildIndexLayout(await newDir('index'), { ref: 'multi' });
    const { name, repo } = newRepo('multi-arch');

    await copyToRegistry(idx.layoutDir, `${repo}:multi`, { all: true, layoutRef: 'multi' });

    const raw = await inspect(`${repo}:multi`, { raw: true });
    assert.equal(sha256(raw), idx.digest);
    assert.ok(raw.equals(idx.indexBytes), 'the registry serves the pushed index bytes unchanged');
    const index = parseIndex(raw);
    assert.equal(index.mediaType, MediaTypes.ociIndex);
    assert.deepEqual(
      index.manifests.map((m) => m.platform),
      [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux', variant: 'v8' },
      ],
    );
    assert.deepEqual(index.manifests.map((m) => m.digest), idx.images.map((i) => i.manifest.digest));

    // Every platform's manifest is in the repository by digest.
    for (const image of idx.images) {
      const platformRaw = await inspect(`${repo}@${image.manifest.digest}`, { raw: true });
      assert.ok(platformRaw.equals(image.manifestBytes), `manifest ${image.manifest.digest} unchanged`);
    }
    // Non-raw inspect reports the index's digest (and this machine's platform's image).
    assert.equal((await inspect(`${repo}:multi`)).Digest, idx.digest);

    const head = await fetchManifest(host(), name, 'multi', MediaTypes.ociIndex);
    assert.equal(head.contentType, MediaTypes.ociIndex);
    assert.equal(head.digest, idx.digest);

    const out = await newDir('index-pulled');
    await copyFromRegistry(`${repo}:multi`, out, { all: true, layoutRef: 'pulled', preserveDigests: true });
    assert.equal((await readLayoutRef(out, 'pulled')).digest, idx.digest);
    assert.deepEqual(await verifyLayoutBlobs(out), sorted(idx.blobs), 'every blob pulled back, content matching its digest');
  });

  e2e('pulls a single image back with the same manifest and layer digests', async () => {
    const img = await buildImageLayout(await newDir('pull'), { layers: 3 });
    const { repo } = newRepo('pull');
    await copyToRegistry(img.layoutDir, `${repo}:v1`);

    const out = await newDir('pulled');
    await copyFromRegistry(`${repo}:v1`, out, { layoutRef: 'v1', preserveDigests: true });

    const pulled = await readLayoutRef(out, 'v1');
    assert.equal(pulled.digest, img.digest);
    assert.equal(pulled.mediaType, MediaTypes.ociManifest);
    const manifest = parseManifest(await readLayoutBlob(out, pulled.digest));
    assert.equal(manifest.config.digest, img.config.digest);
    assert.deepEqual(manifest.layers.map((l) => l.digest), img.layers.map((l) => l.digest));
    assert.deepEqual(await verifyLayoutBlobs(out), sorted(img.blobs));
  });

  e2e('deletes a manifest by digest; inspect then fails', async () => {
    const img = await buildImageLayout(await newDir('delete'));
    const keep = await buildImageLayout(await newDir('keep'));
    const { repo } = newRepo('delete');
    await copyToRegistry(img.layoutDir, `${repo}:doomed`);
    await copyToRegistry(keep.layoutDir, `${repo}:kept`);
    assert.equal((await inspect(`${repo}@${img.digest}`)).Digest, img.digest);

    await deleteImage(`${repo}@${img.digest}`);

    const manifestUnknown = (err: unknown): boolean =>
      err instanceof SkopeoError && /manifest unknown/i.test(err.stderr);
    await assert.rejects(inspect(`${repo}@${img.digest}`, { raw: true }), manifestUnknown);
    // Deleting a manifest also removes the tags that pointed at it (Distribution's behaviour).
    await assert.rejects(inspect(`${repo}:doomed`, { raw: true }), manifestUnknown);
    assert.deepEqual(await listTags(repo), ['kept']);
    assert.equal((await inspect(`${repo}:kept`)).Digest, keep.digest, 'other manifests are untouched');
  });

  e2e('cross-repository: pushes the same layers to a second repository and pulls them back', async () => {
    const img = await buildImageLayout(await newDir('cross'), { layers: 2, layerSize: 1024 * 1024 });
    const first = newRepo('cross-a');
    const second = newRepo('cross-b');

    await copyToRegistry(img.layoutDir, `${first.repo}:v1`);
    // skopeo remembers where it pushed these blobs and mounts them from the first repository
    // (POST ...?mount=<digest>&from=<first>) when the registry allows, else uploads them again.
    await copyToRegistry(img.layoutDir, `${second.repo}:v1`);

    for (const digest of img.blobs.slice(1)) {
      const res = await fetch(`http://${host()}/v2/${second.name}/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(res.status, 200, `blob ${digest} is linked into ${second.name}`);
    }

    const out = await newDir('cross-pulled');
    await copyFromRegistry(`${second.repo}:v1`, out, { layoutRef: 'v1', preserveDigests: true });
    assert.equal((await readLayoutRef(out, 'v1')).digest, img.digest);
    assert.deepEqual(await verifyLayoutBlobs(out), sorted(img.blobs));
    // The first repository still serves the image too.
    assert.equal((await inspect(`${first.repo}:v1`)).Digest, img.digest);
  });
});
