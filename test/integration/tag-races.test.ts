/**
 * Issue 10 item 5: a tag is either listed and resolvable, or neither — after PUT by tag races
 * DELETE by digest, and after a crash between the two writes of a tag.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry } from '../helpers/app.js';
import { pushImage } from '../helpers/oci-client.js';
import { raceTagAndDelete } from '../helpers/tag-races.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';

const ROUNDS = 40;

async function withRoot<T>(run: (root: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'berth-tag-races-'));
  try {
    return await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

describe('PUT by tag racing DELETE by digest', () => {
  it(`leaves every tag listed and resolvable, or neither (filesystem, ${ROUNDS} rounds)`, async (t) => {
    await withRoot(async (root) => {
      const registry = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }) });
      try {
        const result = await raceTagAndDelete([registry.url], 'race/fs', ROUNDS);
        t.diagnostic(`outcomes: ${JSON.stringify(result.outcomes)}`);
        assert.deepEqual(result.inconsistent, []);
      } finally {
        await registry.close();
      }
    });
  });

  it(`stays consistent between two replicas of one root (PUT on one, DELETE on the other, ${ROUNDS} rounds)`, async (t) => {
    await withRoot(async (root) => {
      const a = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }) });
      const b = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }) });
      try {
        const result = await raceTagAndDelete([a.url, b.url], 'race/replicas', ROUNDS);
        t.diagnostic(`outcomes: ${JSON.stringify(result.outcomes)}`);
        assert.deepEqual(result.inconsistent, []);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});

describe('a tag half written or left dangling', () => {
  it('is neither listed nor resolvable when only its index link exists (a crash between the two writes)', async () => {
    await withRoot(async (root) => {
      const registry = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }) });
      try {
        const { digest } = await pushImage(registry.url, 'half/written', 'whole');
        const [alg, hex] = digest.split(':') as [string, string];
        // What tag() leaves when killed after the index link and before the current link.
        const index = join(root, 'docker/registry/v2/repositories/half/written/_manifests/tags/half/index', alg, hex);
        await mkdir(index, { recursive: true });
        await writeFile(join(index, 'link'), digest);
        const list = (await (await fetch(`${registry.url}/v2/half/written/tags/list`)).json()) as { tags: string[] };
        assert.deepEqual(list.tags, ['whole']);
        assert.equal((await fetch(`${registry.url}/v2/half/written/manifests/half`, { method: 'HEAD' })).status, 404);
      } finally {
        await registry.close();
      }
    });
  });

  it('is neither listed nor resolvable when its current link names a deleted revision, and pages stay full', async () => {
    await withRoot(async (root) => {
      const registry = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }) });
      try {
        const kept = await pushImage(registry.url, 'dangling/repo', 'a');
        const gone = await pushImage(registry.url, 'dangling/repo', 'b');
        assert.equal((await fetch(`${registry.url}/v2/dangling/repo/manifests/c`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: kept.body })).status, 201);
        // A tag a concurrent push wrote after DELETE's scan: it names a revision no longer stored.
        const [alg, hex] = gone.digest.split(':') as [string, string];
        await rm(join(root, 'docker/registry/v2/repositories/dangling/repo/_manifests/revisions', alg, hex), { recursive: true });
        const all = (await (await fetch(`${registry.url}/v2/dangling/repo/tags/list`)).json()) as { tags: string[] };
        assert.deepEqual(all.tags, ['a', 'c']);
        const first = await fetch(`${registry.url}/v2/dangling/repo/tags/list?n=1`);
        assert.deepEqual(((await first.json()) as { tags: string[] }).tags, ['a']);
        assert.match(first.headers.get('link') ?? '', /last=a/);
        const second = await fetch(`${registry.url}/v2/dangling/repo/tags/list?n=1&last=a`);
        assert.deepEqual(((await second.json()) as { tags: string[] }).tags, ['c']);
        assert.equal(second.headers.get('link'), null);
        assert.equal((await fetch(`${registry.url}/v2/dangling/repo/manifests/b`, { method: 'HEAD' })).status, 404);
      } finally {
        await registry.close();
      }
    });
  });

  it('DELETE by digest removes the tags pointing at the revision', async () => {
    await withRoot(async (root) => {
      const registry = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }) });
      try {
        const image = await pushImage(registry.url, 'delete/tags', 'one');
        await pushImage(registry.url, 'delete/tags', 'other');
        assert.equal((await fetch(`${registry.url}/v2/delete/tags/manifests/two`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: image.body })).status, 201);
        assert.equal((await fetch(`${registry.url}/v2/delete/tags/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
        const tagsDir = join(root, 'docker/registry/v2/repositories/delete/tags/_manifests/tags');
        const { readdir } = await import('node:fs/promises');
        assert.deepEqual((await readdir(tagsDir)).sort(), ['other']);
      } finally {
        await registry.close();
      }
    });
  });
});
