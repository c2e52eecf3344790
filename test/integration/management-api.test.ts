/**
 * Issue 14: the management API over real HTTP. Exact shapes and deduplicated sizes for images, a
 * multi-arch index and a repository sharing layers between tags; platforms from index entries and
 * from image configs; pagination with Link (and `q`, `sort` carried over); sort by push time with
 * times set on the tags' current links; a manifest's summary (config, layers, children, referrers
 * by artifact type); usage; repository delete (tags/list NAME_UNKNOWN, gone from _catalog, a nested
 * repository and the blobs kept); deletes disabled or read-only → 405; `http.prefix`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { assertStatus, errorCode, pushBlob } from '../helpers/oci-client.js';
import { dedupSize, getJson, nextUrl, pushConfiguredImage, pushIndex, type PushedContent } from '../helpers/management.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';

interface RepositoryEntry {
  name: string;
  tags: number;
  size: number;
}
interface TagEntry {
  name: string;
  digest: string;
  mediaType: string;
  size: number;
  platforms: string[];
  pushedAt: string;
  pulledAt: string | null;
}

describe('management API: sizes, platforms, tags and manifests', () => {
  let root: string;
  let r: TestRegistry;
  let amd64: PushedContent;
  let arm64: PushedContent;
  let index: PushedContent;
  let v1: PushedContent;
  let v2: PushedContent;
  let signature: PushedContent;
  const shared = Buffer.alloc(5000, 7);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-mgmt-'));
    r = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }) });
    amd64 = await pushConfiguredImage(r.url, 'multi/arch', 'sha256-placeholder-amd64', {
      config: { created: '2024-05-01T10:00:00Z', config: { Entrypoint: ['/bin/app'], Cmd: ['--serve'], Env: ['PATH=/bin'], Labels: { team: 'core' } }, history: [{ created: '2024-05-01T10:00:00Z', created_by: 'COPY app /bin/app' }] },
      layers: [shared, 3000],
    });
    arm64 = await pushConfiguredImage(r.url, 'multi/arch', 'sha256-placeholder-arm64', { config: { architecture: 'arm64', variant: 'v8' }, layers: [shared, 2000] });
    index = await pushIndex(r.url, 'multi/arch', 'latest', [
      { content: amd64, platform: { os: 'linux', architecture: 'amd64' } },
      { content: arm64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ]);
    // The placeholder tags were only a way to push the children; the index is what `latest` names.
    for (const tag of ['sha256-placeholder-amd64', 'sha256-placeholder-arm64']) assertStatus(await fetch(`${r.url}/v2/multi/arch/manifests/${tag}`, { method: 'DELETE' }), 202);
    v1 = await pushConfiguredImage(r.url, 'single', 'v1', { layers: [shared, 100] });
    v2 = await pushConfiguredImage(r.url, 'single', 'v2', { layers: [shared, 200], config: { architecture: 'arm', variant: 'v7' } });
    signature = await pushConfiguredImage(r.url, 'single', 'sha256-sig', {
      layers: [50],
      subject: { digest: v1.digest, size: v1.body.byteLength, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
      artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      configMediaType: 'application/vnd.oci.empty.v1+json',
    });
  });
  after(async () => {
    await r.close();
    await rm(root, { recursive: true, force: true });
  });

  it('lists repositories with tag counts and deduplicated sizes', async () => {
    const { body } = await getJson<{ repositories: RepositoryEntry[] }>(`${r.url}/berth/v1/repositories`);
    assert.deepEqual(body.repositories, [
      { name: 'multi/arch', tags: 1, size: dedupSize(index) },
      { name: 'single', tags: 3, size: dedupSize(v1, v2, signature) },
    ]);
    // The shared layer once, not once per image.
    assert.equal(dedupSize(v1, v2, signature), dedupSize(v1) + dedupSize(v2) + dedupSize(signature) - shared.byteLength);
    const one = await getJson<RepositoryEntry>(`${r.url}/berth/v1/repositories/multi/arch`);
    assert.deepEqual(one.body, { name: 'multi/arch', tags: 1, size: dedupSize(index) });
  });

  it('lists tags with digest, media type, exact size, platforms and push time', async () => {
    const { body } = await getJson<{ tags: TagEntry[] }>(`${r.url}/berth/v1/repositories/multi/arch/tags`);
    assert.equal(body.tags.length, 1);
    const [latest] = body.tags as [TagEntry];
    assert.deepEqual({ ...latest, pushedAt: undefined }, {
      name: 'latest',
      digest: index.digest,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      size: dedupSize(index),
      platforms: ['linux/amd64', 'linux/arm64/v8'],
      pushedAt: undefined,
      pulledAt: null,
    });
    assert.ok(Math.abs(Date.parse(latest.pushedAt) - Date.now()) < 60_000, latest.pushedAt);
    const single = await getJson<{ tags: TagEntry[] }>(`${r.url}/berth/v1/repositories/single/tags`);
    assert.deepEqual(
      single.body.tags.map((t) => [t.name, t.size, t.platforms]),
      [
        ['sha256-sig', dedupSize(signature), []],
        ['v1', dedupSize(v1), ['linux/amd64']],
        ['v2', dedupSize(v2), ['linux/arm/v7']],
      ],
    );
  });

  it('summarizes a manifest: layers, config, children with platforms, referrers by artifact type', async () => {
    type Summary = { mediaType: string; size: number; manifestSize: number; platforms: string[]; layers: Array<{ digest: string; size: number }>; config?: Record<string, unknown>; manifests: Array<{ digest: string; platform?: string; size: number }>; referrers: Array<{ artifactType: string; manifests: Array<{ digest: string }> }> };
    const img = (await getJson<Summary>(`${r.url}/berth/v1/repositories/multi/arch/manifests/${amd64.digest}`)).body;
    assert.equal(img.size, dedupSize(amd64));
    assert.equal(img.manifestSize, amd64.body.byteLength);
    assert.deepEqual(img.layers.map((l) => l.size), [5000, 3000]);
    assert.deepEqual(img.platforms, ['linux/amd64']);
    const config = img.config ?? {};
    assert.equal(config['created'], '2024-05-01T10:00:00Z');
    assert.deepEqual(config['entrypoint'], ['/bin/app']);
    assert.deepEqual(config['cmd'], ['--serve']);
    assert.deepEqual(config['env'], ['PATH=/bin']);
    assert.deepEqual(config['labels'], { team: 'core' });
    assert.deepEqual(config['history'], [{ created: '2024-05-01T10:00:00Z', createdBy: 'COPY app /bin/app' }]);
    const idx = (await getJson<Summary>(`${r.url}/berth/v1/repositories/multi/arch/manifests/latest`)).body;
    assert.equal(idx.size, dedupSize(index));
    assert.deepEqual(idx.manifests.map((m) => [m.digest, m.platform, m.size]), [
      [amd64.digest, 'linux/amd64', dedupSize(amd64)],
      [arm64.digest, 'linux/arm64/v8', dedupSize(arm64)],
    ]);
    const signed = (await getJson<Summary>(`${r.url}/berth/v1/repositories/single/manifests/${v1.digest}`)).body;
    assert.deepEqual(signed.referrers, [{ artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: signature.digest, size: signature.body.byteLength, artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json' }] }]);
    const unknown = await fetch(`${r.url}/berth/v1/repositories/single/manifests/${index.digest}`);
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), 'MANIFEST_UNKNOWN', 'a manifest of another repository');
  });

  it('sorts tags by push time (newest first) and pages with Link, keeping sort', async () => {
    const times: Record<string, number> = { v1: 1_700_000_300, v2: 1_700_000_100, 'sha256-sig': 1_700_000_200 };
    for (const [tag, t] of Object.entries(times)) await utimes(join(root, `docker/registry/v2/repositories/single/_manifests/tags/${tag}/current/link`), t, t);
    const first = await getJson<{ tags: TagEntry[] }>(`${r.url}/berth/v1/repositories/single/tags?sort=pushed&n=2`);
    assert.deepEqual(first.body.tags.map((t) => t.name), ['v1', 'sha256-sig']);
    assert.equal(first.body.tags[0]?.pushedAt, new Date(1_700_000_300_000).toISOString());
    const next = nextUrl(first.res, r.url);
    assert.ok(next?.includes('sort=pushed'), next);
    const second = await getJson<{ tags: TagEntry[] }>(next ?? '');
    assert.deepEqual(second.body.tags.map((t) => t.name), ['v2']);
    assert.equal(nextUrl(second.res, r.url), undefined);
    const byName = await getJson<{ tags: TagEntry[] }>(`${r.url}/berth/v1/repositories/single/tags?n=2`);
    assert.deepEqual(byName.body.tags.map((t) => t.name), ['sha256-sig', 'v1']);
    assert.deepEqual((await getJson<{ tags: TagEntry[] }>(nextUrl(byName.res, r.url) ?? '')).body.tags.map((t) => t.name), ['v2']);
    const bad = await fetch(`${r.url}/berth/v1/repositories/single/tags?sort=size`);
    assert.equal(bad.status, 400);
  });

  it('answers NAME_UNKNOWN for a repository that does not exist', async () => {
    for (const path of ['nope/tags', 'nope']) {
      const res = await fetch(`${r.url}/berth/v1/repositories/${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(await errorCode(res), 'NAME_UNKNOWN');
    }
  });

  it('reports usage: the deduplicated bytes of everything, and no quotas', async () => {
    const { body } = await getJson<{ quotas: unknown[]; total: number }>(`${r.url}/berth/v1/usage`);
    assert.deepEqual(body, { quotas: [], total: dedupSize(index, v1, v2, signature) });
  });
});

describe('management API: repository pages', () => {
  let r: TestRegistry;
  const names = Array.from({ length: 7 }, (_, i) => (i % 2 === 0 ? `team/app${i}` : `other/svc${i}`));

  before(async () => {
    r = await startTestRegistry({ prefix: '/reg' });
    for (const name of names) assertStatus(await pushBlob(`${r.url}/reg`, name, Buffer.from(name)), 201);
  });
  after(() => r.close());

  it('pages in catalog order with Link, under http.prefix', async () => {
    const seen: string[] = [];
    let url: string | undefined = `${r.url}/reg/berth/v1/repositories?n=3`;
    let pages = 0;
    while (url !== undefined) {
      const { body, res } = await getJson<{ repositories: RepositoryEntry[] }>(url);
      seen.push(...body.repositories.map((e) => e.name));
      assert.ok(body.repositories.every((e) => e.tags === 0 && e.size === 0), 'blobs only: nothing reachable from a manifest');
      url = nextUrl(res, r.url);
      if (url !== undefined) assert.ok(new URL(url).pathname.startsWith('/reg/berth/v1/repositories'), url);
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...names].sort());
  });

  it('filters by substring with q, and the Link keeps q', async () => {
    const first = await getJson<{ repositories: RepositoryEntry[] }>(`${r.url}/reg/berth/v1/repositories?q=team/&n=2`);
    assert.deepEqual(first.body.repositories.map((e) => e.name), ['team/app0', 'team/app2']);
    const next = nextUrl(first.res, r.url);
    assert.match(next ?? '', /q=team%2F/);
    assert.deepEqual((await getJson<{ repositories: RepositoryEntry[] }>(next ?? '')).body.repositories.map((e) => e.name), ['team/app4', 'team/app6']);
    assert.deepEqual((await getJson<{ repositories: RepositoryEntry[] }>(`${r.url}/reg/berth/v1/repositories?q=zzz`)).body.repositories, []);
  });

  it('is not served outside the prefix', async () => {
    assert.equal((await fetch(`${r.url}/berth/v1/repositories`)).status, 404);
  });
});
