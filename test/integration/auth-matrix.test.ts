import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { pushImage, randomBlob, sha256 } from '../helpers/oci-client.js';
import { HtpasswdAccessController } from '../../src/auth/htpasswd/controller.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import { createLogger } from '../../src/log/logger.js';

type Who = 'anonymous' | 'wrong-password' | 'no-access' | 'with-access';

const WHO: Record<Who, Record<string, string>> = {
  anonymous: {},
  'wrong-password': { Authorization: `Basic ${Buffer.from('alice:Xyzzy-Secret-9').toString('base64')}` },
  'no-access': { Authorization: `Basic ${Buffer.from('bob:bobpass').toString('base64')}` },
  'with-access': { Authorization: `Basic ${Buffer.from('alice:alicepass').toString('base64')}` },
};

describe('every route × every kind of requester (htpasswd + policies)', () => {
  let dir: string;
  let r: TestRegistry;
  let controller: HtpasswdAccessController;
  const logs: string[] = [];
  let manifestDigest = '';
  let blobDigest = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-authz-'));
    const file = join(dir, 'htpasswd');
    await writeFile(file, `alice:${await hashPassword('alicepass', 4)}\nbob:${await hashPassword('bobpass', 4)}\n`);
    const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => logs.push(l) } });
    controller = await HtpasswdAccessController.create({
      realm: 'Registry Realm',
      path: file,
      logger,
      // The matrix sends many wrong passwords on purpose: no lockouts here (login-limits has its own tests).
      limits: { perAddress: 0, perUser: 0 },
      policies: {
        default: 'deny',
        evaluation: 'deny-overrides',
        groups: { team: ['alice'] },
        rules: [{ groups: ['team'], users: [], anonymous: false, authenticated: false, repositories: ['team/**'], actions: ['*'], catalog: true, effect: 'allow' }],
      },
    });
    // Seed content through an unauthenticated view of the same storage.
    const seed = await startTestRegistry();
    r = await startTestRegistry({ driver: seed.driver, access: controller });
    const img = await pushImage(seed.url, 'team/app', 'v1');
    manifestDigest = img.digest;
    blobDigest = img.blobs[1] ?? '';
    await seed.close();
  });
  after(async () => {
    controller.close();
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Each route: how to call it, and its status for a requester with access.
  async function openUpload(headers: Record<string, string>): Promise<string> {
    const res = await fetch(`${r.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: WHO['with-access'] });
    assert.equal(res.status, 202);
    void headers;
    return new URL(res.headers.get('location') ?? '', r.url).toString();
  }
  const routes: Array<{ name: string; call: (h: Record<string, string>) => Promise<Response>; ok: number; base?: boolean }> = [
    { name: 'GET /v2/', call: (h) => fetch(`${r.url}/v2/`, { headers: h }), ok: 200, base: true },
    { name: 'GET /v2/_catalog', call: (h) => fetch(`${r.url}/v2/_catalog`, { headers: h }), ok: 200 },
    { name: 'GET tags/list', call: (h) => fetch(`${r.url}/v2/team/app/tags/list`, { headers: h }), ok: 200 },
    { name: 'GET manifest', call: (h) => fetch(`${r.url}/v2/team/app/manifests/v1`, { headers: h }), ok: 200 },
    { name: 'HEAD manifest', call: (h) => fetch(`${r.url}/v2/team/app/manifests/v1`, { method: 'HEAD', headers: h }), ok: 200 },
    {
      name: 'PUT manifest',
      call: async (h) => {
        const body = await (await fetch(`${r.url}/v2/team/app/manifests/v1`, { headers: WHO['with-access'] })).arrayBuffer();
        return fetch(`${r.url}/v2/team/app/manifests/v2`, { method: 'PUT', headers: { ...h, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body });
      },
      ok: 201,
    },
    { name: 'DELETE manifest (unknown digest)', call: (h) => fetch(`${r.url}/v2/team/app/manifests/${sha256('none')}`, { method: 'DELETE', headers: h }), ok: 404 },
    { name: 'GET blob', call: (h) => fetch(`${r.url}/v2/team/app/blobs/${blobDigest}`, { headers: h }), ok: 200 },
    { name: 'HEAD blob', call: (h) => fetch(`${r.url}/v2/team/app/blobs/${blobDigest}`, { method: 'HEAD', headers: h }), ok: 200 },
    { name: 'DELETE blob (unknown)', call: (h) => fetch(`${r.url}/v2/team/app/blobs/${sha256('none')}`, { method: 'DELETE', headers: h }), ok: 404 },
    { name: 'POST upload', call: (h) => fetch(`${r.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: h }), ok: 202 },
    { name: 'GET upload status', call: async (h) => fetch(await openUpload(h), { headers: h }), ok: 204 },
    { name: 'PATCH upload', call: async (h) => fetch(await openUpload(h), { method: 'PATCH', headers: h, body: Buffer.from('abc') }), ok: 202 },
    {
      name: 'PUT upload',
      call: async (h) => {
        const { data, digest } = randomBlob(10);
        const url = await openUpload(h);
        return fetch(`${url}&digest=${digest}`, { method: 'PUT', headers: { ...h, 'Content-Length': '10' }, body: data });
      },
      ok: 201,
    },
    { name: 'DELETE upload', call: async (h) => fetch(await openUpload(h), { method: 'DELETE', headers: h }), ok: 204 },
    { name: 'GET referrers', call: (h) => fetch(`${r.url}/v2/team/app/referrers/${manifestDigest}`, { headers: h }), ok: 200 },
  ];

  for (const route of routes) {
    for (const who of Object.keys(WHO) as Who[]) {
      it(`${route.name} as ${who}`, async () => {
        const res = await route.call(WHO[who]);
        const text = await res.text();
        const code = (): string | undefined => (route.name.startsWith('HEAD') ? undefined : (JSON.parse(text) as { errors: Array<{ code: string }> }).errors[0]?.code);
        const expectCode = route.name.startsWith('HEAD') ? undefined : who === 'no-access' ? 'DENIED' : 'UNAUTHORIZED';
        if (who === 'anonymous' || who === 'wrong-password') {
          assert.equal(res.status, 401, text);
          assert.equal(res.headers.get('www-authenticate'), 'Basic realm="Registry Realm"');
          assert.equal(code(), expectCode);
        } else if (who === 'no-access' && route.base !== true) {
          assert.equal(res.status, 403, text);
          assert.equal(code(), expectCode);
        } else {
          assert.equal(res.status, route.ok, text);
        }
      });
    }
  }

  it('a mount from a repository the user cannot pull falls back to an upload instead of 403', async () => {
    const denied = await fetch(`${r.url}/v2/team/app/blobs/uploads/?mount=${blobDigest}&from=secret/stuff`, { method: 'POST', headers: WHO['with-access'] });
    assert.equal(denied.status, 202);
    assert.match(denied.headers.get('location') ?? '', /\/v2\/team\/app\/blobs\/uploads\//);
    const allowed = await fetch(`${r.url}/v2/team/other/blobs/uploads/?mount=${blobDigest}&from=team/app`, { method: 'POST', headers: WHO['with-access'] });
    assert.equal(allowed.status, 201);
    const noAccess = await fetch(`${r.url}/v2/secret/stuff/blobs/uploads/?mount=${blobDigest}&from=team/app`, { method: 'POST', headers: WHO['with-access'] });
    assert.equal(noAccess.status, 403, 'the target repository still needs push');
  });

  it('a mount with a wrong password is refused after one check and one log line', async () => {
    const before = logs.length;
    const res = await fetch(`${r.url}/v2/team/app/blobs/uploads/?mount=${blobDigest}&from=team/other`, { method: 'POST', headers: WHO['wrong-password'] });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /);
    const failures = logs.slice(before).filter((l) => l.includes('authentication failed'));
    assert.equal(failures.length, 1, failures.join(''));
  });

  it('a mount by a user refused push on the target is refused once, not retried without the mount', async () => {
    const before = logs.length;
    const res = await fetch(`${r.url}/v2/secret/stuff/blobs/uploads/?mount=${blobDigest}&from=secret/other`, { method: 'POST', headers: WHO['with-access'] });
    assert.equal(res.status, 403);
    assert.equal(logs.slice(before).filter((l) => l.includes('access denied')).length, 1);
  });

  it('GET / stays open for load-balancer probes', async () => {
    assert.equal((await fetch(`${r.url}/`)).status, 200);
  });

  it('logs authentication failures with user and address, never the password', () => {
    const text = logs.join('');
    assert.match(text, /alice/);
    assert.match(text, /127\.0\.0\.1/);
    assert.ok(!text.includes('Xyzzy-Secret-9'), 'the attempted password must not be logged');
    assert.ok(!text.includes('alicepass') && !text.includes('bobpass'));
  });

});
