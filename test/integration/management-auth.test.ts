/**
 * Issue 14: the management API is authorized as the OCI API is (htpasswd + auth.policies): reads
 * of a repository need pull on it, its delete needs delete, the repository listing and usage need
 * the registry catalog scope. Unauthenticated (or a wrong password) → 401 with the challenge /v2/
 * gives; authenticated without the access → 403.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { errorCode, pushImage } from '../helpers/oci-client.js';
import { HtpasswdAccessController } from '../../src/auth/htpasswd/controller.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import { createLogger } from '../../src/log/logger.js';

type Who = 'anonymous' | 'wrong-password' | 'stranger' | 'reader' | 'admin';

const basic = (user: string, password: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const WHO: Record<Who, Record<string, string>> = {
  anonymous: {},
  'wrong-password': basic('admin', 'not-the-password'),
  stranger: basic('stranger', 'strangerpass'), // no rule names them
  reader: basic('reader', 'readerpass'), // pull on team/**, no catalog
  admin: basic('admin', 'adminpass'), // everything on team/**, and the catalog
};

describe('management API × every kind of requester (htpasswd + policies)', () => {
  let dir: string;
  let r: TestRegistry;
  let controller: HtpasswdAccessController;
  let digest = '';
  let challenge: string | null = null;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-mgmt-authz-'));
    const file = join(dir, 'htpasswd');
    const lines = await Promise.all([['admin', 'adminpass'], ['reader', 'readerpass'], ['stranger', 'strangerpass']].map(async ([u, p]) => `${u}:${await hashPassword(p as string, 4)}`));
    await writeFile(file, `${lines.join('\n')}\n`);
    const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
    controller = await HtpasswdAccessController.create({
      realm: 'Registry Realm',
      path: file,
      logger,
      limits: { perAddress: 0, perUser: 0 },
      policies: {
        default: 'deny',
        evaluation: 'deny-overrides',
        groups: {},
        rules: [
          { groups: [], users: ['admin'], anonymous: false, authenticated: false, repositories: ['team/**'], actions: ['*'], catalog: true, effect: 'allow' },
          { groups: [], users: ['reader'], anonymous: false, authenticated: false, repositories: ['team/**'], actions: ['pull'], catalog: false, effect: 'allow' },
        ],
      },
    });
    const seed = await startTestRegistry();
    r = await startTestRegistry({ driver: seed.driver, access: controller });
    digest = (await pushImage(seed.url, 'team/app', 'v1')).digest;
    await pushImage(seed.url, 'team/gone', 'v1');
    await seed.close();
    challenge = (await fetch(`${r.url}/v2/`)).headers.get('www-authenticate');
  });
  after(async () => {
    controller.close();
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Each route, and what a requester allowed to do it gets; `needs` says which requesters are.
  const routes: Array<{ name: string; method?: string; path: () => string; ok: number; needs: readonly Who[] }> = [
    { name: 'GET usage', path: () => '/berth/v1/usage', ok: 200, needs: ['admin'] },
    { name: 'GET one repository', path: () => '/berth/v1/repositories/team/app', ok: 200, needs: ['admin', 'reader'] },
    { name: 'GET tags', path: () => '/berth/v1/repositories/team/app/tags', ok: 200, needs: ['admin', 'reader'] },
    { name: 'GET manifest', path: () => `/berth/v1/repositories/team/app/manifests/${digest}`, ok: 200, needs: ['admin', 'reader'] },
    { name: 'GET a repository outside the rules', path: () => '/berth/v1/repositories/secret/app', ok: 404, needs: [] },
    { name: 'DELETE repository', method: 'DELETE', path: () => '/berth/v1/repositories/team/gone', ok: 202, needs: ['admin'] },
  ];
  // The admin goes last, so the delete it is allowed comes after every refusal.
  const order: readonly Who[] = ['anonymous', 'wrong-password', 'stranger', 'reader', 'admin'];

  for (const route of routes) {
    for (const who of order) {
      it(`${route.name} as ${who}`, async () => {
        const res = await fetch(`${r.url}${route.path()}`, { method: route.method ?? 'GET', headers: WHO[who] });
        if (who === 'anonymous' || who === 'wrong-password') {
          assert.equal(res.status, 401);
          assert.equal(res.headers.get('www-authenticate'), challenge, 'the challenge /v2/ gives');
          assert.equal(await errorCode(res), 'UNAUTHORIZED');
        } else if (!route.needs.includes(who)) {
          assert.equal(res.status, 403);
          assert.equal(await errorCode(res), 'DENIED');
        } else {
          assert.equal(res.status, route.ok, await res.text());
        }
      });
    }
  }

  // The listing is everyone's, of what each may pull (the catalog scope alone shows nothing more).
  const listed: Record<Exclude<Who, 'wrong-password'>, string[]> = { anonymous: [], stranger: [], reader: ['team/app'], admin: ['team/app'] }; // team/gone: deleted by the admin above
  for (const [who, names] of Object.entries(listed) as Array<[Exclude<Who, 'wrong-password'>, string[]]>) {
    it(`GET repositories as ${who} lists what ${who} may pull`, async () => {
      const res = await fetch(`${r.url}/berth/v1/repositories`, { headers: WHO[who] });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { repositories: Array<{ name: string }> };
      assert.deepEqual(body.repositories.map((x) => x.name), names);
    });
  }
  it('GET repositories with a wrong password is 401 with the challenge', async () => {
    const res = await fetch(`${r.url}/berth/v1/repositories`, { headers: WHO['wrong-password'] });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), challenge);
  });

  it('the challenge is the Basic one of the realm', () => {
    assert.equal(challenge, 'Basic realm="Registry Realm"');
  });
});
