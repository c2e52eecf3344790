/**
 * Issue 14: a retention run on the filesystem driver, push times set on the tag and revision links
 * with utimes (what storage reports as pushedAt), pulls recorded by real GETs. One rule exercises
 * every clause: `latest`, `pushedwithin`, `pulledwithin`, keep `tags`, `untagged.olderthan`, a
 * referrer going with its deleted subject, an immutable tag kept; a dry run changes nothing and
 * emits nothing; the real run deletes exactly the plan through the notifying wrapper (delete events
 * with the `retention` actor) and counts it in metrics.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { pushConfiguredImage, OCI_MANIFEST, type PushedContent } from '../helpers/management.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import { EventBridge } from '../../src/notifications/bridge.js';
import type { RegistryEvent } from '../../src/notifications/event.js';
import { MemoryPullTimeStore, PullTimeRecorder } from '../../src/lifecycle/pull-times.js';
import { runRetention } from '../../src/lifecycle/retention-runner.js';
import { lifecycleSchema } from '../../src/lifecycle/schema.js';
import { immutableLayer } from '../../src/lifecycle/immutable-layer.js';
import { compileImmutableTags } from '../../src/lifecycle/immutable.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { createLogger } from '../../src/log/logger.js';
import * as paths from '../../src/storage/paths.js';
import type { RepositoryName, Tag } from '../../src/oci/reference.js';
import type { Digest } from '../../src/oci/digest.js';

const DAY = 86_400_000;
const lifecycle = lifecycleSchema.parse({
  retention: {
    rules: [{ repositories: ['ci/**'], tags: ['**'], keep: { latest: 2, pushedwithin: '168h', pulledwithin: '720h', tags: ['release-*'] }, untagged: { olderthan: '24h' } }],
  },
  immutable: [{ repositories: ['ci/**'], tags: ['v*'] }],
});
if (lifecycle === undefined) throw new Error('unreachable');

async function tagList(url: string, name: string): Promise<string[]> {
  return ((await (await fetch(`${url}/v2/${name}/tags/list`)).json()) as { tags: string[] }).tags.sort();
}

describe('retention on the filesystem driver', () => {
  let root: string;
  let r: TestRegistry;
  let recorder: PullTimeRecorder;
  const events: RegistryEvent[] = [];
  const bridge = new EventBridge({ sink: { emit: (e: RegistryEvent) => void events.push(e) }, source: { addr: 'test:5000', instanceID: 'test' }, includeReferences: false });
  const images = new Map<string, PushedContent>();
  let signature: PushedContent;
  let oldUntagged: PushedContent;
  let youngUntagged: PushedContent;
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => logs.push(l) } });

  const age = async (path: string, days: number): Promise<void> => {
    const at = new Date(Date.now() - days * DAY);
    await utimes(join(root, path), at, at);
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-retention-fs-'));
    recorder = new PullTimeRecorder({ store: new MemoryPullTimeStore(), flushInterval: 60_000 });
    r = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }), pullTimes: recorder });
    r.registry.use(immutableLayer(compileImmutableTags(lifecycle.immutable)));
    const name = 'ci/app' as RepositoryName;
    // tag → days since its push
    const pushed: Record<string, number> = { 'b-5': 1, 'b-4': 8, 'b-3': 9, 'b-2': 10, 'b-1': 11, 'release-1': 50, v1: 60 };
    for (const [tag, days] of Object.entries(pushed)) {
      const image = await pushConfiguredImage(r.url, name, tag);
      images.set(tag, image);
      await age(paths.tagCurrentLinkPath(name, tag as Tag), days);
      await age(paths.revisionLinkPath(name, image.digest as Digest), days);
    }
    const b1 = images.get('b-1') as PushedContent;
    signature = await pushConfiguredImage(r.url, name, 'sha256-placeholder', { subject: { mediaType: OCI_MANIFEST, digest: b1.digest, size: b1.body.byteLength }, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
    // The signature is pushed by digest (cosign's referrers mode): untag the placeholder.
    await fetch(`${r.url}/v2/${name}/manifests/sha256-placeholder`, { method: 'DELETE' });
    oldUntagged = await pushConfiguredImage(r.url, name, 'tmp-old');
    await fetch(`${r.url}/v2/${name}/manifests/tmp-old`, { method: 'DELETE' });
    await age(paths.revisionLinkPath(name, oldUntagged.digest as Digest), 2);
    youngUntagged = await pushConfiguredImage(r.url, name, 'tmp-young');
    await fetch(`${r.url}/v2/${name}/manifests/tmp-young`, { method: 'DELETE' });
    // b-2 pulled now: pulledwithin keeps it.
    await (await fetch(`${r.url}/v2/${name}/manifests/b-2`, { headers: { Accept: OCI_MANIFEST } })).arrayBuffer();
    await pushConfiguredImage(r.url, 'other/app', 'old');
    await age(paths.tagCurrentLinkPath('other/app' as RepositoryName, 'old' as Tag), 100);
  });
  after(async () => {
    await recorder.close();
    await r.close();
    await rm(root, { recursive: true, force: true });
  });

  const run = (dryRun: boolean, metrics?: RegistryMetrics) =>
    runRetention({ registry: r.registry, rules: lifecycle.retention.rules, immutable: lifecycle.immutable, dryRun, logger, pullTimes: recorder, events: bridge, metrics });

  it('a dry run plans every clause and changes nothing, emitting no event', async () => {
    const before = await tagList(r.url, 'ci/app');
    events.length = 0;
    const summary = await run(true);
    assert.deepEqual(await tagList(r.url, 'ci/app'), before);
    assert.deepEqual(events, []);
    assert.deepEqual({ repositories: summary.repositories, tagsKept: summary.tagsKept, tagsDeleted: summary.tagsDeleted, manifestsDeleted: summary.manifestsDeleted }, { repositories: 1, tagsKept: 5, tagsDeleted: 2, manifestsDeleted: 4 });
    const lines = logs.map((l) => (JSON.parse(l) as { msg: string }).msg);
    for (const expected of [
      'ci/app:b-5 kept (rules[0] keep.latest, keep.pushedwithin)',
      'ci/app:b-4 kept (rules[0] keep.latest)',
      'ci/app:b-3 deleted (rules[0]: no keep clause keeps it; push rank 3)',
      'ci/app:b-2 kept (rules[0] keep.pulledwithin)',
      'ci/app:b-1 deleted (rules[0]: no keep clause keeps it; push rank 5)',
      'ci/app:release-1 kept (rules[0] keep.tags)',
      'ci/app:v1 kept (immutable[0]; no keep clause of rules[0] keeps it)',
      `ci/app@${signature.digest} deleted (rules[0]: a referrer of ${(images.get('b-1') as PushedContent).digest}, which is deleted)`,
    ]) {
      assert.ok(lines.includes(expected), `${expected}\n${lines.join('\n')}`);
    }
    assert.ok(lines.some((l) => l.startsWith(`ci/app@${oldUntagged.digest} deleted (rules[0] untagged.olderthan`)));
    assert.ok(lines.some((l) => l.startsWith('retention dry run finished: 1 repositories')));
  });

  it('a run deletes exactly the plan, with delete events by the retention actor, and counts it', async () => {
    events.length = 0;
    const metrics = new RegistryMetrics({ processMetrics: false });
    const summary = await run(false, metrics);
    assert.equal(summary.failures, 0);
    assert.deepEqual(await tagList(r.url, 'ci/app'), ['b-2', 'b-4', 'b-5', 'release-1', 'v1']);
    assert.deepEqual(await tagList(r.url, 'other/app'), ['old']);
    const status = async (d: string) => (await fetch(`${r.url}/v2/ci/app/manifests/${d}`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } })).status;
    const b1 = images.get('b-1') as PushedContent;
    const b3 = images.get('b-3') as PushedContent;
    assert.equal(await status(b1.digest), 404, 'b-1 untagged and 11 days old: deleted');
    assert.equal(await status(signature.digest), 404, 'the referrer of b-1: deleted with it');
    assert.equal(await status(oldUntagged.digest), 404);
    assert.equal(await status(b3.digest), 404, 'b-3 untagged and 9 days old: deleted');
    assert.equal(await status(youngUntagged.digest), 200, 'untagged but young: kept');
    const deletes = events.filter((e) => e.action === 'delete').map((e) => e.target.tag ?? e.target.digest).sort();
    assert.deepEqual(deletes, ['b-1', 'b-3', b1.digest, b3.digest, oldUntagged.digest, signature.digest].sort());
    for (const e of events) {
      assert.equal(e.actor?.name, 'retention');
      assert.equal(e.request.useragent, 'berth-retention');
      assert.equal(e.request.method, 'DELETE');
    }
    const text = (await metrics.render()).body;
    assert.match(text, /berth_retention_runs_total\{result="success"\} 1/);
    assert.match(text, /berth_retention_deleted_total\{kind="tag"\} 2/);
    assert.match(text, /berth_retention_deleted_total\{kind="manifest"\} 4/);
    assert.match(text, /berth_retention_kept_total 5/);
  });

  it('a second run finds nothing more to delete; a repository deleted meanwhile is skipped', async () => {
    const summary = await run(false);
    assert.deepEqual({ deleted: summary.tagsDeleted + summary.manifestsDeleted, failures: summary.failures }, { deleted: 0, failures: 0 });
    await pushConfiguredImage(r.url, 'ci/gone', 'x');
    assert.equal((await fetch(`${r.url}/berth/v1/repositories/ci/gone`, { method: 'DELETE' })).status, 202);
    // As if the catalog had listed it just before the delete.
    r.registry.learnRepository('ci/gone');
    logs.length = 0;
    const after = await run(false);
    assert.deepEqual({ repositories: after.repositories, failures: after.failures }, { repositories: 1, failures: 0 });
    assert.ok(logs.some((l) => l.includes('repository deleted meanwhile, skipped') && l.includes('ci/gone')));
  });
});
