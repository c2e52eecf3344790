/**
 * Measures (reports, never asserts a time) how long the UI's repository list takes to show with 10,000
 * repositories in a real `berth serve`: the first page, the next page, and a filter that matches one name.
 * The repositories are made over the OCI API, one request each (an empty image index tagged `latest`),
 * much faster than 10,000 skopeo runs; Berth stores them in memory. Results: test-results/ui/scale.json.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchChromium, type TestBrowser } from '../helpers/browser.js';
import { repoRoot, startBerth, type RegistryHandle } from '../helpers/registries.js';

const REPOSITORIES = 10_000;
const CONCURRENCY = 32;

/** Puts an empty image index (it needs no blob: one request makes a repository) as `latest` of each repository. */
async function seed(base: string): Promise<void> {
  const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < REPOSITORIES) {
      const name = `scale/repo-${String(next++).padStart(5, '0')}`;
      const res = await fetch(`${base}/v2/${name}/manifests/latest`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: index });
      await res.arrayBuffer();
      assert.equal(res.status, 201, name);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

describe('web UI with 10,000 repositories (measured, not asserted)', { timeout: 10 * 60_000 }, () => {
  let berth: RegistryHandle;
  let chromium: TestBrowser;
  let seconds = 0;

  before(async () => {
    berth = await startBerth();
    const started = performance.now();
    await seed(`http://${berth.host}`);
    seconds = (performance.now() - started) / 1000;
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await berth?.stop();
  });

  it('shows the first page, the next one and a filtered one', async (t) => {
    const base = `http://${berth.host}`;
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    const rows = page.locator('#results tbody tr');
    const timed = async (what: () => Promise<unknown>, done: () => Promise<unknown>): Promise<number> => {
      const start = performance.now();
      await what();
      await done();
      return Math.round(performance.now() - start);
    };
    const firstPage = await timed(() => page.goto(`${base}/ui/`), () => page.getByRole('link', { name: 'scale/repo-00000' }).waitFor());
    assert.equal(await rows.count(), 50);
    const nextPage = await timed(() => page.getByRole('button', { name: 'Next' }).click(), () => page.getByRole('link', { name: 'scale/repo-00050' }).waitFor());
    const filtered = await timed(() => page.getByLabel('Filter by name').fill('repo-09999'), () => page.getByRole('link', { name: 'scale/repo-09999' }).waitFor());
    assert.equal(await rows.count(), 1);
    const result = { repositories: REPOSITORIES, seedSeconds: Math.round(seconds * 10) / 10, firstPageMs: firstPage, nextPageMs: nextPage, filterMs: filtered };
    t.diagnostic(JSON.stringify(result));
    await mkdir(join(repoRoot, 'test-results', 'ui'), { recursive: true });
    await writeFile(join(repoRoot, 'test-results', 'ui', 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
    await page.screenshot({ path: join(repoRoot, 'test-results', 'ui', 'repositories-10000.png') });
    await context.close();
  });
});
