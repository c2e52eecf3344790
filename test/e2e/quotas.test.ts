/**
 * Quotas (lifecycle.quotas) with a real client: skopeo pushes into a quota'd namespace until a push
 * would cross the limit, which is refused with 403 DENIED and the {quota, used, limit} detail before the
 * repository gains anything; an image pushed to a second repository of the same quota costs nothing
 * (its blobs count once); after the images are deleted and garbage-collect runs, the refused push fits.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildImageLayout, sha256, type ImageLayout } from '../helpers/images.js';
import { repoRoot, startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { copyToRegistry, SkopeoError } from '../helpers/skopeo.js';

const run = promisify(execFile);

/** Bytes an image holds in a repository: its manifest, config and layers. */
function imageBytes(image: ImageLayout): number {
  return image.manifest.size + image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
}

describe('quotas with skopeo', { timeout: 300_000 }, () => {
  let work = '';
  let configPath = '';
  let port = 0;
  let registry: RegistryHandle | undefined;
  let one: ImageLayout;
  let limit = 0;

  const host = (): string => `127.0.0.1:${port}`;
  const start = async (): Promise<void> => {
    const { readFile } = await import('node:fs/promises');
    registry = await startBerth({ port, configYaml: await readFile(configPath, 'utf8') });
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-quotas-'));
    one = await buildImageLayout(join(work, 'one'), { seed: 'quota-one', layerSize: 96 * 1024 });
    await buildImageLayout(join(work, 'two'), { seed: 'quota-two', layerSize: 96 * 1024 });
    // Room for one image and a half: the second image crosses it.
    limit = Math.floor(imageBytes(one) * 1.5);
    port = await freePort();
    configPath = join(work, 'config.yml');
    await writeFile(
      configPath,
      `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(work, 'storage')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
lifecycle:
  quotas:
    - repositories: ["team-a/**"]
      limit: ${limit}
`,
    );
    await start();
  });

  after(async () => {
    await registry?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('refuses the push that crosses the limit, with the detail, and counts shared blobs once', async () => {
    await copyToRegistry(join(work, 'one'), `${host()}/team-a/app:v1`);
    await copyToRegistry(join(work, 'one'), `${host()}/team-a/copy:v1`);
    // A blob that does not fit, pushed in one request: refused with the quota's detail.
    const data = randomBytes(limit);
    const digest = sha256(data);
    const res = await fetch(`http://${host()}/v2/team-a/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { errors: Array<{ code: string; detail: { quota: { index: number; repositories: string[] }; used: number; limit: number } }> };
    const error = body.errors[0];
    assert.equal(error?.code, 'DENIED');
    assert.deepEqual(error.detail.quota, { index: 0, repositories: ['team-a/**'] });
    assert.equal(error.detail.used, imageBytes(one), 'two repositories holding the same image count it once');
    assert.equal(error.detail.limit, limit);
    const head = await fetch(`http://${host()}/v2/team-a/app/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404, 'the refused blob is not in the repository');


    // skopeo uploads what fits (those blobs are linked, and count) until the blob that crosses it.
    await assert.rejects(copyToRegistry(join(work, 'two'), `${host()}/team-a/app:v2`), (err: unknown) => err instanceof SkopeoError && /denied|quota/i.test(err.message));
    const tags = await fetch(`http://${host()}/v2/team-a/app/tags/list`);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['v1'], 'the refused push left no tag');

    // Outside the quota, the same image goes in.
    await copyToRegistry(join(work, 'two'), `${host()}/team-b/app:v1`);
  });

  it('reports the quota in /berth/v1/usage, and a repository delete gives its bytes back', async () => {
    const usage = async (): Promise<{ quotas: Array<{ repositories: string[]; limit: number; used: number }> }> =>
      (await (await fetch(`http://${host()}/berth/v1/usage`)).json()) as { quotas: Array<{ repositories: string[]; limit: number; used: number }> };
    const before = (await usage()).quotas;
    assert.equal(before.length, 1);
    assert.deepEqual(before[0]?.repositories, ['team-a/**']);
    assert.equal(before[0]?.limit, limit);
    assert.ok((before[0]?.used ?? 0) > imageBytes(one), 'image one plus what the refused push linked');
    await copyToRegistry(join(work, 'one'), `${host()}/team-a/scratch:v1`);
    assert.equal((await usage()).quotas[0]?.used, before[0]?.used, 'a third copy of image one costs nothing');
    const del = await fetch(`http://${host()}/berth/v1/repositories/team-a/scratch`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.equal((await usage()).quotas[0]?.used, before[0]?.used, 'still held by the other two repositories');
  });

  it('fits the refused push after the images are deleted and garbage-collect has run', async () => {
    for (const repo of ['team-a/app', 'team-a/copy']) {
      const del = await fetch(`http://${host()}/v2/${repo}/manifests/${one.manifest.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
    }
    await registry?.stop();
    registry = undefined;
    await run(process.execPath, [join(repoRoot, 'bin', 'berth.js'), 'garbage-collect', configPath], { cwd: repoRoot });
    await start();
    await copyToRegistry(join(work, 'two'), `${host()}/team-a/app:v2`);
  });
});
