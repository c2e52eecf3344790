/**
 * The web UI in a real browser (Debian's Chromium, driven by playwright-core) against a real `berth serve`
 * holding images pushed with skopeo (test/helpers/ui-fixture.ts), through the real management API
 * (/berth/v1). Screenshots of each page go to test-results/ui/.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, type TestBrowser } from '../helpers/browser.js';
import { repoRoot } from '../helpers/registries.js';
import { basic, startUiFixture, USERS, type UiFixture } from '../helpers/ui-fixture.js';

const SHOTS = join(repoRoot, 'test-results', 'ui');

/** What the UI shows for a size (ui/src/dom.ts formatSize, restated). */
function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) [value, unit] = [value / 1024, unit + 1];
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit] ?? ''}`;
}

const short = (digest: string): string => digest.slice(0, 'sha256:'.length + 12);

describe('web UI in Chromium', { timeout: 10 * 60_000 }, () => {
  let work = '';
  let fixture: UiFixture;
  let chromium: TestBrowser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-ui-'));
    await mkdir(SHOTS, { recursive: true });
    fixture = await startUiFixture(work);
    chromium = await launchChromium();
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await chromium?.close();
    await fixture?.berth.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** A fresh browser profile (no cookies) with a page. */
  async function newPage(colorScheme: 'light' | 'dark' = 'light', viewport = { width: 1280, height: 860 }): Promise<Page> {
    const context = await chromium.browser.newContext({ colorScheme, viewport });
    contexts.push(context);
    return context.newPage();
  }

  async function loginAs(page: Page, user: keyof typeof USERS): Promise<void> {
    await page.goto(`${fixture.base}/ui/#/login`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(USERS[user]);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText(`Logged in as ${user}`).waitFor();
  }

  const names = (page: Page): Promise<string[]> => page.locator('#results tbody tr td:first-child').allTextContents();
  const shot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it('anonymous: `/` sends a browser to the UI (probes still get 200), the list shows what anonymous may pull and filters as one types', async () => {
    const probe = await fetch(`${fixture.base}/`);
    assert.equal(probe.status, 200);
    assert.equal(await probe.text(), '{}');
    const page = await newPage();
    await page.goto(`${fixture.base}/`);
    assert.equal(new URL(page.url()).pathname, '/ui/');
    await page.getByRole('heading', { name: 'Repositories' }).waitFor();
    await page.locator('#results tbody tr').first().waitFor();
    assert.deepEqual(await names(page), ['public/hello']);
    assert.equal(await page.locator('#results tbody tr td:nth-child(2)').first().textContent(), '2');
    await shot(page, 'repositories-anonymous');
    await page.getByLabel('Filter by name').fill('zzz');
    await page.getByText('No repository name contains “zzz”.').waitFor();
    await page.getByLabel('Filter by name').fill('hel');
    await page.locator('#results tbody tr').first().waitFor();
    assert.deepEqual(await names(page), ['public/hello']);
  });

  it('login: a wrong password is refused in words; alice sees only what her policy allows; logout', async () => {
    const page = await newPage();
    await page.goto(`${fixture.base}/ui/#/login`);
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText('Wrong user name or password.').waitFor();
    await shot(page, 'login-refused');
    await page.getByLabel('Password').fill(USERS.alice);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Logged in as alice').waitFor();
    const cookie = (await page.context().cookies()).find((c) => c.name === 'berth_session');
    assert.ok(cookie !== undefined, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    await page.locator('#results tbody tr').nth(1).waitFor();
    assert.deepEqual(await names(page), ['public/hello', 'team-a/app']);
    await page.goto(`${fixture.base}/ui/#/r/public/hello`);
    await page.locator('#tags tbody tr').first().waitFor();
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0, 'alice may only pull public/hello');
    await page.goto(`${fixture.base}/ui/#/r/team-a/app`);
    await page.getByRole('button', { name: 'Delete tag v1' }).waitFor();
    await page.getByRole('button', { name: 'Delete repository team-a/app' }).waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('Anonymous').waitFor();
    await page.locator('#results tbody tr').first().waitFor();
    assert.deepEqual(await names(page), ['public/hello']);
  });

  it('a tag page shows the pushed digest, the size and the platforms, with the pull commands', async () => {
    const page = await newPage();
    await loginAs(page, 'admin');
    await page.goto(`${fixture.base}/ui/#/r/public/hello?sort=name`);
    const row = page.locator('#tags tbody tr', { has: page.getByText('1.0', { exact: true }) });
    await row.waitFor();
    const link = row.locator('a.digest');
    assert.equal(await link.getAttribute('title'), fixture.hello.digest);
    assert.equal(await link.textContent(), short(fixture.hello.digest));
    const api = (await page.evaluate(async () => (await fetch('/berth/v1/repositories/public/hello/tags?sort=name', { headers: { 'X-Berth-UI': '1' } })).json())) as { tags: Array<{ name: string; digest: string; size: number }> };
    const tag = api.tags.find((t) => t.name === '1.0');
    assert.equal(tag?.digest, fixture.hello.digest, 'the API agrees with skopeo');
    const layers = fixture.hello.layers.reduce((n, l) => n + l.size, 0);
    assert.ok(tag !== undefined && tag.size >= layers && tag.size <= layers + fixture.hello.config.size + fixture.hello.manifestBytes.byteLength, `size ${tag?.size}`);
    assert.equal(await row.locator('td').nth(2).textContent(), formatSize(tag.size));
    assert.equal(await row.locator('td').nth(3).textContent(), 'linux/amd64');
    assert.match(await page.getByLabel('docker pull', { exact: true }).inputValue(), new RegExp(`^docker pull ${fixture.berth.host}/public/hello:`));
    assert.match(await page.getByLabel('podman pull', { exact: true }).inputValue(), /^podman pull /);
    await shot(page, 'repository');
    await page.goto(`${fixture.base}/ui/#/r/team-a/app`);
    await page.locator('#tags tbody tr').first().waitFor();
    assert.equal(await page.locator('#tags tbody tr td').nth(3).textContent(), 'linux/amd64, linux/arm64/v8');
  });

  it('an index lists its platforms, each linking to its image, whose page shows layers and config', async () => {
    const page = await newPage();
    await loginAs(page, 'admin');
    await page.goto(`${fixture.base}/ui/#/r/team-a/app/m/${fixture.app.digest}`);
    await page.getByRole('heading', { name: 'Platforms (2)' }).waitFor();
    const platforms = await page.locator('table', { hasText: 'Images of this index' }).locator('tbody tr td:first-child').allTextContents();
    assert.deepEqual(platforms, ['linux/amd64', 'linux/arm64/v8']);
    await shot(page, 'manifest-index');
    const arm = fixture.app.images.find((i) => i.platform.architecture === 'arm64');
    await page.getByRole('link', { name: 'linux/arm64/v8' }).click();
    await page.waitForURL((url) => url.hash.endsWith(arm?.manifest.digest ?? 'missing'));
    await page.getByRole('heading', { name: /^Layers \(2,/ }).waitFor();
    await page.getByText('PATH=/usr/local/bin:/usr/bin:/bin').waitFor();
    await page.getByText('berth test helper: layer 1').waitFor();
    assert.equal(await page.locator('dl.facts dd code').first().textContent(), '/bin/sh');
  });

  it('referrers show under their subject as a tree grouped by kind', async () => {
    const page = await newPage();
    await page.goto(`${fixture.base}/ui/#/r/public/hello/m/${fixture.hello.digest}`);
    await page.getByRole('heading', { name: 'Referrers' }).waitFor();
    const tree = page.locator('#referrers');
    await tree.getByText('Signatures (1)').waitFor();
    await tree.getByText('SBOMs (1)').waitFor();
    assert.equal(await tree.locator('li', { hasText: 'Signatures' }).locator('a.digest').getAttribute('title'), fixture.signature);
    assert.equal(await tree.locator('li', { hasText: 'SBOMs' }).locator('a.digest').getAttribute('title'), fixture.sbom);
    await shot(page, 'manifest-referrers');
  });

  it('deleting a tag from the UI removes it from the API too, after a confirmation naming it', async () => {
    const page = await newPage();
    await loginAs(page, 'admin');
    await page.goto(`${fixture.base}/ui/#/r/public/hello`);
    await page.getByRole('button', { name: 'Delete tag latest' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate<string>('document.activeElement?.getAttribute("aria-label") ?? ""'), 'Delete tag latest', 'focus returns to the button');
    await page.keyboard.press('Enter');
    await dialog.getByText('Delete tag public/hello:latest?').waitFor();
    await shot(page, 'delete-confirmation');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete tag latest' }).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delete tag 1.0' }).waitFor();
    const tags = (await (await fetch(`${fixture.base}/v2/public/hello/tags/list`, { headers: { authorization: basic('admin') } })).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['1.0']);
  });

  it('a change made with the session cookie needs the CSRF token', async () => {
    const page = await newPage();
    await loginAs(page, 'admin');
    const status = await page.evaluate(async () => (await fetch('/v2/team-b/secret/manifests/v1', { method: 'DELETE', headers: { 'X-Berth-UI': '1' } })).status);
    assert.equal(status, 403);
    const still = await fetch(`${fixture.base}/v2/team-b/secret/manifests/v1`, { method: 'HEAD', headers: { authorization: basic('admin'), accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(still.status, 200);
  });

  it('usage, dark mode on a narrow screen, keyboard skip link, and errors in words', async () => {
    const page = await newPage();
    await loginAs(page, 'admin');
    await page.goto(`${fixture.base}/ui/#/usage`);
    await page.getByText('Total stored:').waitFor();
    await page.getByRole('heading', { name: 'Per repository' }).waitFor();
    await shot(page, 'usage');
    const dark = await newPage('dark', { width: 390, height: 844 });
    await dark.goto(`${fixture.base}/ui/`);
    await dark.locator('#results tbody tr').first().waitFor();
    assert.equal(await dark.evaluate<string>('getComputedStyle(document.body).backgroundColor'), 'rgb(13, 17, 23)');
    await shot(dark, 'repositories-dark-narrow');
    await dark.keyboard.press('Tab');
    assert.equal(await dark.evaluate<string>('document.activeElement?.textContent ?? ""'), 'Skip to content');
    await dark.keyboard.press('Enter');
    assert.equal(await dark.evaluate<string>('document.activeElement?.id ?? ""'), 'main');
    await page.goto(`${fixture.base}/ui/#/r/public/hello/m/sha256:${'0'.repeat(64)}`);
    await page.getByRole('alert').getByText(/^Not found\./).waitFor();
    await shot(page, 'error-not-found');
  });
});
