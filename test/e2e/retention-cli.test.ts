/**
 * Issue 14 end to end: skopeo pushes real images to a real `berth serve` on the filesystem driver,
 * push times are set on the tag links (utimes), and `berth retention` runs as a real process on
 * the same storage: `--dry-run` prints the plan and changes nothing, a run deletes exactly what
 * it printed and skopeo sees the rest; `--json` prints one object per repository; a configuration
 * error and pulledwithin without redis exit non-zero with a message; `berth usage` prints the total.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { buildImageLayout } from '../helpers/images.js';
import { repoRoot, startBerth, type RegistryHandle } from '../helpers/registries.js';
import { copyToRegistry, listTags } from '../helpers/skopeo.js';
import * as paths from '../../src/storage/paths.js';
import type { RepositoryName, Tag } from '../../src/oci/reference.js';

const DAY = 86_400_000;

function berth(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'bin', 'berth.js'), ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('berth retention as a process, images pushed by skopeo', { timeout: 300_000 }, () => {
  let dir: string;
  let root: string;
  let registry: RegistryHandle;
  let config: string;

  const writeConfig = async (file: string, keep: Record<string, unknown>): Promise<string> => {
    const path = join(dir, file);
    await writeFile(path, stringify({ version: 0.1, log: { level: 'warn' }, storage: { filesystem: { rootdirectory: root } }, lifecycle: { retention: { rules: [{ repositories: ['ci/**'], tags: ['**'], keep }] } } }));
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-retention-e2e-'));
    root = join(dir, 'data');
    registry = await startBerth({ rootdirectory: root });
    const pushed: Record<string, number> = { 'b-3': 1, 'b-2': 5, 'b-1': 9, 'release-1': 40 };
    for (const [tag, days] of Object.entries(pushed)) {
      const layout = join(dir, `layout-${tag}`);
      await buildImageLayout(layout, { layers: 1, layerSize: 4096 });
      await copyToRegistry(layout, `${registry.host}/ci/app:${tag}`);
      const at = new Date(Date.now() - days * DAY);
      await utimes(join(root, paths.tagCurrentLinkPath('ci/app' as RepositoryName, tag as Tag)), at, at);
    }
    config = await writeConfig('config.yml', { latest: 1, pushedwithin: '168h', tags: ['release-*'] });
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run prints every decision and changes nothing', async () => {
    const out = await berth(['retention', '--dry-run', config]);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      'ci/app:b-1 would be deleted (rules[0]: no keep clause keeps it; push rank 3)',
      'ci/app:b-2 kept (rules[0] keep.pushedwithin)',
      'ci/app:b-3 kept (rules[0] keep.latest, keep.pushedwithin)',
      'ci/app:release-1 kept (rules[0] keep.tags)',
      'dry run: nothing was changed; 1 repositories: 3 tags kept, would delete 1 tags and 0 manifests',
    ]);
    assert.deepEqual((await listTags(`${registry.host}/ci/app`)).sort(), ['b-1', 'b-2', 'b-3', 'release-1']);
  });

  it('--json prints one object per repository', async () => {
    const out = await berth(['retention', '--dry-run', '--json', config]);
    assert.equal(out.code, 0, out.stderr);
    const objects = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as { repository: string; dryRun: boolean; kept: unknown[]; deletedTags: Array<{ tag: string; reason: { kind: string } }> });
    assert.equal(objects.length, 1);
    assert.equal(objects[0]?.repository, 'ci/app');
    assert.deepEqual(objects[0]?.deletedTags.map((d) => [d.tag, d.reason.kind]), [['b-1', 'not-kept']]);
  });

  it('a run deletes what the dry run printed; the running server and skopeo see it', async () => {
    const out = await berth(['retention', config]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^ci\/app:b-1 deleted \(rules\[0\]: no keep clause keeps it; push rank 3\)$/m);
    assert.match(out.stdout, /1 repositories: 3 tags kept, deleted 1 tags and 0 manifests/);
    assert.deepEqual((await listTags(`${registry.host}/ci/app`)).sort(), ['b-2', 'b-3', 'release-1']);
  });

  it('exits non-zero with a clear message on a configuration error, and on pulledwithin without redis', async () => {
    const broken = join(dir, 'broken.yml');
    await writeFile(broken, stringify({ version: 0.1, storage: { filesystem: { rootdirectory: root } }, lifecycle: { retention: { rules: [{ repositories: ['ci/**'], tags: ['**'], keep: { latest: 'five' } }] } } }));
    const bad = await berth(['retention', broken]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /lifecycle\.retention\.rules\[0\]\.keep\.latest|lifecycle\.retention\.rules\.0\.keep\.latest/);
    const pulls = await writeConfig('pulls.yml', { pulledwithin: '720h' });
    const refused = await berth(['retention', pulls]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /keep\.pulledwithin: pull times are kept in the server's memory without a redis section/);
    assert.deepEqual((await listTags(`${registry.host}/ci/app`)).sort(), ['b-2', 'b-3', 'release-1']);
  });

  it('berth usage prints the total from a storage scan', async () => {
    const out = await berth(['usage', '--rebuild', '--json', config]);
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout) as { quotas: unknown[]; total: number };
    assert.deepEqual(report.quotas, []);
    assert.ok(report.total > 4 * 4096, String(report.total));
  });
});
