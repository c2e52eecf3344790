// The UI's server side over real HTTP (buildApp on an ephemeral port, with a small built UI in a temporary
// directory): caching and types of its files, no path traversal, `/` for probes and browsers, the login with
// an htpasswd controller and policies, the signed session cookie accepted on /v2 for the same user, CSRF on
// changes, and 401s without a Basic challenge for the UI's own requests.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HtpasswdAccessController, type CredentialVerifier } from '../../src/auth/htpasswd/controller.js';
import { compilePolicy } from '../../src/auth/policy/policy.js';
import { policiesSchema } from '../../src/auth/policy/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { createUi } from '../../src/ui/create-ui.js';
import { SessionCodec } from '../../src/ui/session.js';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { RawConnection } from '../helpers/raw-http.js';

const PASSWORDS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw' };
const verifier: CredentialVerifier = { verify: async (u, p) => PASSWORDS[u] === p, has: (u) => PASSWORDS[u] !== undefined };
const policy = compilePolicy(
  policiesSchema.parse({
    default: 'deny',
    rules: [
      { users: ['alice'], repositories: ['a/**'], actions: ['*'], effect: 'allow' },
      { anonymous: true, authenticated: true, repositories: ['public/**'], actions: ['pull'], catalog: true, effect: 'allow' },
    ],
  }) as Parameters<typeof compilePolicy>[0],
);
const UI = { 'X-Berth-UI': '1' };

describe('web UI server side', () => {
  let dir = '';
  let reg: TestRegistry;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ui-srv-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<meta name="berth-ui-base" content="%BERTH_UI_BASE%"><script src="%BERTH_UI_BASE%/assets/main.0123456789.js"></script>');
    await writeFile(join(dir, 'assets', 'main.0123456789.js'), 'console.log(1)');
    await writeFile(join(dir, 'assets', 'style.abcdef0123.css'), 'body{}');
    await writeFile(join(dir, 'assets', 'notes.txt'), 'not served');
    const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
    const inner = new HtpasswdAccessController({ realm: 'Berth', verifier, policy, logger });
    const ui = await createUi({ path: '/ui', sessionMaxAgeMs: 3600_000, secret: 'test-secret', apiPrefix: '', access: inner, auth: 'htpasswd', deleteEnabled: true, readOnly: false, dir });
    reg = await startTestRegistry({ access: ui.access, ui: ui.handler, secret: 'test-secret' });
  });
  after(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function login(user: string, password: string): Promise<{ status: number; cookie: string; csrf: string; setCookie: string }> {
    const res = await fetch(`${reg.url}/ui/api/login`, { method: 'POST', headers: { ...UI, 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    const body = (await res.json()) as { csrf?: string };
    const setCookie = res.headers.get('set-cookie') ?? '';
    return { status: res.status, cookie: setCookie.split(';')[0] ?? '', csrf: body.csrf ?? '', setCookie };
  }

  it('serves index.html no-cache with the settings filled in, hashed files immutable, with their types', async () => {
    const index = await fetch(`${reg.url}/ui/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(await index.text(), '<meta name="berth-ui-base" content="/ui"><script src="/ui/assets/main.0123456789.js"></script>');
    const js = await fetch(`${reg.url}/ui/assets/main.0123456789.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const again = await fetch(`${reg.url}/ui/assets/main.0123456789.js`, { headers: { 'if-none-match': js.headers.get('etag') ?? '' } });
    assert.equal(again.status, 304);
    assert.equal((await fetch(`${reg.url}/ui/assets/style.abcdef0123.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
    const bare = await fetch(`${reg.url}/ui`, { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/ui/');
  });

  it('serves nothing outside its files: unknown types, traversal and encoded slashes are 404', async () => {
    // Written raw: fetch would resolve the dot segments before sending.
    const conn = await RawConnection.open(reg.url);
    for (const path of ['/ui/assets/notes.txt', '/ui/assets/..%2f..%2fpackage.json', '/ui/assets/%2e%2e/%2e%2e/package.json', '/ui/assets/../../package.json', '/ui/assets/../../../../etc/passwd', '/ui/assets//etc/passwd']) {
      conn.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal((await conn.response()).status, 404, path);
    }
    conn.destroy();
  });

  it('keeps `/` a 200 for probes and sends browsers asking for HTML to the UI', async () => {
    const probe = await fetch(`${reg.url}/`);
    assert.equal(probe.status, 200);
    assert.equal(await probe.text(), '{}');
    const browser = await fetch(`${reg.url}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
    assert.equal(browser.status, 302);
    assert.equal(browser.headers.get('location'), '/ui/');
  });

  it('logs in like Basic credentials: a signed HttpOnly SameSite=Strict cookie, refused in words without a challenge', async () => {
    const wrong = await fetch(`${reg.url}/ui/api/login`, { method: 'POST', headers: { ...UI, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: 'nope' }) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('www-authenticate'), null);
    const noHeader = await fetch(`${reg.url}/ui/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: 'alice-pw' }) });
    assert.equal(noHeader.status, 403, 'a cross-site form cannot log anyone in');
    const ok = await login('alice', 'alice-pw');
    assert.equal(ok.status, 200);
    assert.match(ok.setCookie, /^berth_session=[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Strict$/);
    const session = (await (await fetch(`${reg.url}/ui/api/session?repository=a/x`, { headers: { cookie: ok.cookie } })).json()) as { user: string; csrf: string; canDelete: boolean };
    assert.deepEqual([session.user, session.csrf, session.canDelete], ['alice', ok.csrf, true]);
    const other = (await (await fetch(`${reg.url}/ui/api/session?repository=public/x`, { headers: { cookie: ok.cookie } })).json()) as { canDelete: boolean };
    assert.equal(other.canDelete, false);
  });

  it('accepts the session on /v2 as the same user, under the same policy; changes need the CSRF token', async () => {
    const { cookie, csrf } = await login('alice', 'alice-pw');
    assert.equal((await fetch(`${reg.url}/v2/a/x/tags/list`, { headers: { cookie } })).status, 404, 'allowed: the repository is just unknown');
    assert.equal((await fetch(`${reg.url}/v2/b/x/tags/list`, { headers: { cookie } })).status, 403, 'alice may not pull b/x');
    const digest = `sha256:${'0'.repeat(64)}`;
    assert.equal((await fetch(`${reg.url}/v2/a/x/manifests/${digest}`, { method: 'DELETE', headers: { cookie } })).status, 403);
    assert.equal((await fetch(`${reg.url}/v2/a/x/manifests/${digest}`, { method: 'DELETE', headers: { cookie, 'x-berth-csrf': 'forged' } })).status, 403);
    assert.equal((await fetch(`${reg.url}/v2/a/x/manifests/${digest}`, { method: 'DELETE', headers: { cookie, 'x-berth-csrf': csrf } })).status, 404, 'allowed: nothing to delete');
  });

  it('treats a forged or expired cookie as none; the UI gets 401s without WWW-Authenticate, other clients with it', async () => {
    const { cookie } = await login('alice', 'alice-pw');
    const forged = `${cookie.slice(0, -2)}xx`;
    assert.equal((await fetch(`${reg.url}/v2/a/x/tags/list`, { headers: { cookie: forged } })).status, 401);
    const expired = new SessionCodec('test-secret', 1000, () => Date.now() - 10_000).issue('alice').value;
    const ui = await fetch(`${reg.url}/v2/a/x/tags/list`, { headers: { cookie: `berth_session=${expired}`, ...UI } });
    assert.equal(ui.status, 401);
    assert.equal(ui.headers.get('www-authenticate'), null);
    const cli = await fetch(`${reg.url}/v2/a/x/tags/list`);
    assert.equal(cli.headers.get('www-authenticate'), 'Basic realm="Berth"');
    assert.equal((await fetch(`${reg.url}/v2/public/x/tags/list`, { headers: { cookie: forged } })).status, 404, 'anonymous may pull public/**');
  });

  it('offers no delete when deletion is disabled, whatever the policy', async () => {
    const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
    const inner = new HtpasswdAccessController({ realm: 'Berth', verifier, policy, logger });
    const ui = await createUi({ path: '/ui', sessionMaxAgeMs: 3600_000, secret: 'test-secret', apiPrefix: '', access: inner, auth: 'htpasswd', deleteEnabled: false, readOnly: false, dir });
    const other = await startTestRegistry({ access: ui.access, ui: ui.handler, secret: 'test-secret', deleteEnabled: false });
    try {
      const res = await fetch(`${other.url}/ui/api/login`, { method: 'POST', headers: { ...UI, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: 'alice-pw' }) });
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const info = (await (await fetch(`${other.url}/ui/api/session?repository=a/x`, { headers: { cookie } })).json()) as { deleteEnabled: boolean; canDelete: boolean };
      assert.deepEqual([info.deleteEnabled, info.canDelete], [false, false]);
    } finally {
      await other.close();
    }
  });

  it('logs out with the CSRF token, removing the cookie', async () => {
    const { cookie, csrf } = await login('alice', 'alice-pw');
    assert.equal((await fetch(`${reg.url}/ui/api/logout`, { method: 'POST', headers: { ...UI, cookie } })).status, 403);
    const out = await fetch(`${reg.url}/ui/api/logout`, { method: 'POST', headers: { ...UI, cookie, 'x-berth-csrf': csrf } });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie') ?? '', /^berth_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
  });
});
