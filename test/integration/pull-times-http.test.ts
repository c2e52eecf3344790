/**
 * Issue 14: pulls are recorded on every manifest GET (by tag and by digest, a 304 too), never on a
 * HEAD; the management API's `pulledAt` shows them before any flush; a manifest delete by digest and
 * a repository delete forget them; the recorder never holds a pull up (record is synchronous).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { assertStatus } from '../helpers/oci-client.js';
import { getJson, pushConfiguredImage, OCI_MANIFEST, type PushedContent } from '../helpers/management.js';
import { MemoryPullTimeStore, PullTimeRecorder } from '../../src/lifecycle/pull-times.js';
import { pullTimesLayer } from '../../src/lifecycle/pull-times-layer.js';
import type { Digest } from '../../src/oci/digest.js';

describe('pull times over HTTP', () => {
  let r: TestRegistry;
  let recorder: PullTimeRecorder;
  let store: MemoryPullTimeStore;
  let image: PushedContent;

  before(async () => {
    store = new MemoryPullTimeStore();
    recorder = new PullTimeRecorder({ store, flushInterval: 60_000 });
    r = await startTestRegistry({ pullTimes: recorder });
    r.registry.use(pullTimesLayer(recorder));
    image = await pushConfiguredImage(r.url, 'app', 'v1');
  });
  after(async () => {
    await recorder.close();
    await r.close();
  });

  const pulledAt = async (): Promise<string | null> => {
    const { body } = await getJson<{ tags: Array<{ name: string; pulledAt: string | null }> }>(`${r.url}/berth/v1/repositories/app/tags`);
    return body.tags.find((t) => t.name === 'v1')?.pulledAt ?? null;
  };

  it('a HEAD records nothing; a GET by tag records the manifest pulled, shown as pulledAt before any flush', async () => {
    assertStatus(await fetch(`${r.url}/v2/app/manifests/v1`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } }), 200);
    assert.equal(recorder.pending, 0);
    assert.equal(await pulledAt(), null);
    const before = Date.now();
    const res = await fetch(`${r.url}/v2/app/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
    assertStatus(res, 200);
    await res.arrayBuffer();
    assert.equal(recorder.pending, 1);
    const at = await pulledAt();
    assert.ok(at !== null && Date.parse(at) >= before - 5 && Date.parse(at) <= Date.now(), String(at));
  });

  it('a GET by digest and a conditional GET (304) record too; a flush writes them to the store', async () => {
    const first = Date.parse((await pulledAt()) ?? '');
    await new Promise((done) => setTimeout(done, 20));
    const res = await fetch(`${r.url}/v2/app/manifests/${image.digest}`, { headers: { Accept: OCI_MANIFEST, 'If-None-Match': `"${image.digest}"` } });
    assert.equal(res.status, 304);
    const second = Date.parse((await pulledAt()) ?? '');
    assert.ok(second > first, `${second} > ${first}`);
    await recorder.flush();
    assert.equal(recorder.pending, 0);
    assert.equal((await store.read('app')).get(image.digest as Digest), second);
  });

  it('a manifest delete by digest forgets its pulls; a repository delete forgets the repository', async () => {
    const other = await pushConfiguredImage(r.url, 'app', 'v2');
    await (await fetch(`${r.url}/v2/app/manifests/v2`, { headers: { Accept: OCI_MANIFEST } })).arrayBuffer();
    assertStatus(await fetch(`${r.url}/v2/app/manifests/${other.digest}`, { method: 'DELETE' }), 202);
    const times = await recorder.read('app');
    assert.equal(times.has(other.digest as Digest), false);
    assert.equal(times.has(image.digest as Digest), true);
    assertStatus(await fetch(`${r.url}/berth/v1/repositories/app`, { method: 'DELETE' }), 202);
    assert.equal((await recorder.read('app')).size, 0);
  });
});
