/**
 * Immutable tags (lifecycle.immutable) with a real client: skopeo pushes a release tag, then tries to
 * move it, and plain HTTP tries to delete it by tag and through its manifest's digest. Every refusal
 * is 403 DENIED naming the rule, and the tag still points where it did; pushing the same digest
 * again, and tags outside the rule, work as usual.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildImageLayout } from '../helpers/images.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { copyToRegistry, inspect, SkopeoError } from '../helpers/skopeo.js';

describe('immutable tags with skopeo', { timeout: 180_000 }, () => {
  let work = '';
  let registry: RegistryHandle | undefined;
  let host = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-immutable-'));
    const port = await freePort();
    registry = await startBerth({
      port,
      configYaml: `version: 0.1
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
  immutable:
    - repositories: ["prod/**"]
      tags: ["v*"]
`,
    });
    host = registry.host;
  });

  after(async () => {
    await registry?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  const digestOf = async (ref: string): Promise<string> => (await inspect(`${host}/${ref}`)).Digest;

  async function errorOf(res: Response): Promise<{ code: string; message: string }> {
    const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
    const first = body.errors[0];
    assert.ok(first !== undefined);
    return first;
  }

  it('refuses to move or delete a v* tag under prod/, by tag and by digest; the same digest again is fine', async () => {
    const one = await buildImageLayout(join(work, 'one'), { seed: 'immutable-one' });
    const two = await buildImageLayout(join(work, 'two'), { seed: 'immutable-two' });
    await copyToRegistry(join(work, 'one'), `${host}/prod/app:v1`);
    const pinned = await digestOf('prod/app:v1');
    assert.equal(pinned, one.manifest.digest);

    await copyToRegistry(join(work, 'one'), `${host}/prod/app:v1`);
    await assert.rejects(copyToRegistry(join(work, 'two'), `${host}/prod/app:v1`), (err: unknown) => err instanceof SkopeoError && /denied|immutable/i.test(err.message));
    assert.equal(await digestOf('prod/app:v1'), pinned, 'the tag did not move');

    const byTag = await fetch(`http://${host}/v2/prod/app/manifests/v1`, { method: 'DELETE' });
    assert.equal(byTag.status, 403);
    const denied = await errorOf(byTag);
    assert.equal(denied.code, 'DENIED');
    assert.match(denied.message, /lifecycle\.immutable\[0\]/);

    const byDigest = await fetch(`http://${host}/v2/prod/app/manifests/${pinned}`, { method: 'DELETE' });
    assert.equal(byDigest.status, 403);
    assert.equal((await errorOf(byDigest)).code, 'DENIED');
    assert.equal(await digestOf('prod/app:v1'), pinned, 'still there after both deletes');

    // Outside the rule: a latest tag under prod/ moves, and a v* tag elsewhere too.
    await copyToRegistry(join(work, 'one'), `${host}/prod/app:latest`);
    await copyToRegistry(join(work, 'two'), `${host}/prod/app:latest`);
    assert.equal(await digestOf('prod/app:latest'), two.manifest.digest);
    await copyToRegistry(join(work, 'one'), `${host}/dev/app:v1`);
    await copyToRegistry(join(work, 'two'), `${host}/dev/app:v1`);
    assert.equal(await digestOf('dev/app:v1'), two.manifest.digest);
    const devDelete = await fetch(`http://${host}/v2/dev/app/manifests/v1`, { method: 'DELETE' });
    assert.equal(devDelete.status, 202);
  });

  it('refuses to delete a repository holding an immutable tag, before anything goes', async () => {
    const res = await fetch(`http://${host}/berth/v1/repositories/prod/app`, { method: 'DELETE' });
    assert.equal(res.status, 403);
    assert.match((await errorOf(res)).message, /prod\/app:v1 is immutable/);
    const tags = (await (await fetch(`http://${host}/v2/prod/app/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags.sort(), ['latest', 'v1'], 'no tag went');
  });

  it('answers MANIFEST_UNKNOWN, not DENIED, for an immutable-looking tag that does not exist', async () => {
    const res = await fetch(`http://${host}/v2/prod/app/manifests/v9`, { method: 'DELETE' });
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, 'MANIFEST_UNKNOWN');
  });
});
