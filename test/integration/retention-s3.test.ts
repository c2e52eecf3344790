/**
 * Issue 14: retention on the S3 driver (Ceph RGW). S3 cannot back-date an object, so push times are
 * real: the "old" images are pushed, then a gap of 3 s, then the "new" ones, and the plan is made at
 * `now` = 1 s after the gap (an injected clock) with 2.5 s thresholds: whatever the machine's load,
 * everything old is more than 4 s before `now`, everything new after `now - 1 s`, and S3's
 * whole-second Last-Modified moves a time by less than the 1.5 s margin. Checks `latest`,
 * `pushedwithin`, `pulledwithin` (a real GET), keep `tags`, `untagged.olderthan`, a referrer going with
 * its subject, an immutable tag kept, a dry run changing nothing, and the delete events.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { pushConfiguredImage, OCI_MANIFEST, type PushedContent } from '../helpers/management.js';
import { createTestBucket, ensureCeph, removeTestBucket } from '../helpers/ceph.js';
import { createS3Driver, parseS3Parameters, type S3Driver } from '../../src/storage/driver/s3/s3.js';
import { EventBridge } from '../../src/notifications/bridge.js';
import type { RegistryEvent } from '../../src/notifications/event.js';
import { MemoryPullTimeStore, PullTimeRecorder } from '../../src/lifecycle/pull-times.js';
import { runRetention } from '../../src/lifecycle/retention-runner.js';
import { lifecycleSchema } from '../../src/lifecycle/schema.js';
import { immutableLayer } from '../../src/lifecycle/immutable-layer.js';
import { compileImmutableTags } from '../../src/lifecycle/immutable.js';
import { createLogger } from '../../src/log/logger.js';

const lifecycle = lifecycleSchema.parse({
  retention: {
    rules: [{ repositories: ['ci/**'], tags: ['**'], keep: { latest: 1, pushedwithin: '2500ms', pulledwithin: '2500ms', tags: ['release-*'] }, untagged: { olderthan: '2500ms' } }],
  },
  immutable: [{ repositories: ['ci/**'], tags: ['v*'] }],
});
if (lifecycle === undefined) throw new Error('unreachable');

async function tagList(url: string): Promise<string[]> {
  return ((await (await fetch(`${url}/v2/ci/app/tags/list`)).json()) as { tags: string[] }).tags.sort();
}

describe('retention on the S3 driver (Ceph RGW)', { timeout: 600_000 }, () => {
  let bucket: string;
  let driver: S3Driver;
  let r: TestRegistry;
  let recorder: PullTimeRecorder;
  let now: Date;
  const events: RegistryEvent[] = [];
  const bridge = new EventBridge({ sink: { emit: (e: RegistryEvent) => void events.push(e) }, source: { addr: 'test:5000', instanceID: 'test' }, includeReferences: false });
  const img = new Map<string, PushedContent>();
  const logger = createLogger({ level: 'warn', formatter: 'json', destination: { write: () => true } });

  const pushUntagged = async (tag: string): Promise<PushedContent> => {
    const image = await pushConfiguredImage(r.url, 'ci/app', tag);
    await fetch(`${r.url}/v2/ci/app/manifests/${tag}`, { method: 'DELETE' });
    return image;
  };

  before(async () => {
    const s3 = await ensureCeph();
    bucket = await createTestBucket('berth-retention');
    driver = await createS3Driver(parseS3Parameters({ accesskey: s3.accessKey, secretkey: s3.secretKey, region: s3.region, regionendpoint: s3.endpoint, forcepathstyle: true, bucket, rootdirectory: '/registry' }));
    recorder = new PullTimeRecorder({ store: new MemoryPullTimeStore(), flushInterval: 60_000 });
    r = await startTestRegistry({ driver, pullTimes: recorder });
    r.registry.use(immutableLayer(compileImmutableTags(lifecycle.immutable)));
    for (const tag of ['a-1', 'a-2', 'release-1', 'v1']) img.set(tag, await pushConfiguredImage(r.url, 'ci/app', tag));
    const a1 = img.get('a-1') as PushedContent;
    img.set('sig', await pushConfiguredImage(r.url, 'ci/app', 'sig', { subject: { mediaType: OCI_MANIFEST, digest: a1.digest, size: a1.body.byteLength }, artifactType: 'application/example.sig' }));
    await fetch(`${r.url}/v2/ci/app/manifests/sig`, { method: 'DELETE' });
    img.set('old-untagged', await pushUntagged('old-untagged'));
    await new Promise((done) => setTimeout(done, 3000));
    now = new Date(Date.now() + 1000);
    img.set('b-1', await pushConfiguredImage(r.url, 'ci/app', 'b-1'));
    img.set('young-untagged', await pushUntagged('young-untagged'));
    await (await fetch(`${r.url}/v2/ci/app/manifests/a-2`, { headers: { Accept: OCI_MANIFEST } })).arrayBuffer();
  });
  after(async () => {
    await recorder?.close();
    await r?.close();
    driver?.destroy();
    if (bucket !== undefined) await removeTestBucket(bucket);
  });

  const run = (dryRun: boolean) => runRetention({ registry: r.registry, rules: lifecycle.retention.rules, immutable: lifecycle.immutable, dryRun, logger, pullTimes: recorder, events: bridge, now: () => now });
  const digest = (key: string): string => (img.get(key) as PushedContent).digest;

  it('a dry run changes nothing', async () => {
    events.length = 0;
    const summary = await run(true);
    assert.deepEqual({ kept: summary.tagsKept, tags: summary.tagsDeleted, manifests: summary.manifestsDeleted }, { kept: 4, tags: 1, manifests: 3 });
    assert.deepEqual(await tagList(r.url), ['a-1', 'a-2', 'b-1', 'release-1', 'v1']);
    assert.deepEqual(events, []);
  });

  it('a run keeps exactly what each clause says and deletes the rest, with events', async () => {
    events.length = 0;
    const results: Array<{ kept: Array<[string, string]> }> = [];
    const summary = await runRetention({
      registry: r.registry, rules: lifecycle.retention.rules, immutable: lifecycle.immutable, dryRun: false, logger, pullTimes: recorder, events: bridge, now: () => now,
      onRepository: (res) => results.push({ kept: res.plan.keptTags.map((t) => [t.tag, t.reason.kind === 'kept' ? t.reason.clauses.join('+') : t.reason.kind]) }),
    });
    assert.equal(summary.failures, 0);
    assert.deepEqual(results[0]?.kept, [['a-2', 'pulledwithin'], ['b-1', 'latest+pushedwithin'], ['release-1', 'tags'], ['v1', 'immutable']]);
    assert.deepEqual(await tagList(r.url), ['a-2', 'b-1', 'release-1', 'v1']);
    const status = async (key: string) => (await fetch(`${r.url}/v2/ci/app/manifests/${digest(key)}`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } })).status;
    assert.deepEqual(
      { a1: await status('a-1'), sig: await status('sig'), old: await status('old-untagged'), young: await status('young-untagged') },
      { a1: 404, sig: 404, old: 404, young: 200 },
    );
    const deletes = events.filter((e) => e.action === 'delete' && e.actor?.name === 'retention').map((e) => e.target.tag ?? e.target.digest).sort();
    assert.deepEqual(deletes, ['a-1', digest('a-1'), digest('sig'), digest('old-untagged')].sort());
  });
});
