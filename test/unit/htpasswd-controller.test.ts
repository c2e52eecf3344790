// HtpasswdAccessController through the real request lifecycle (buildApp on an ephemeral port): challenges,
// Distribution's 401 body, anonymous access by policy, 403 for a user without access, logging without secrets.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { HtpasswdAccessController, type CredentialVerifier } from '../../src/auth/htpasswd/controller.js';
import { HtpasswdFile } from '../../src/auth/htpasswd/htpasswd-file.js';
import { compareBcrypt, hashPassword } from '../../src/auth/htpasswd/hash.js';
import { compilePolicy, type PolicyConfig } from '../../src/auth/policy/policy.js';
import { policiesSchema } from '../../src/auth/policy/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { OciError } from '../../src/oci/errors.js';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const M = `sha256:${'0'.repeat(64)}`;

interface Answer {
  status: number;
  challenge: string | null;
  body: { errors?: Array<{ code: string; detail?: unknown }> } | undefined;
}

async function call(reg: TestRegistry, method: string, path: string, authorization?: string): Promise<Answer> {
  const res = await fetch(`${reg.url}${path}`, { method, headers: authorization === undefined ? {} : { authorization } });
  const text = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: text === '' ? undefined : (JSON.parse(text) as Answer['body']) };
}

describe('HtpasswdAccessController', () => {
  let dir = '';
  let path = '';
  const controllers: HtpasswdAccessController[] = [];
  const registries: TestRegistry[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-htpasswd-ctl-'));
    path = join(dir, 'htpasswd');
    const [a, b, r] = await Promise.all([hashPassword('alice-pw', 4), hashPassword('bob-pw', 4), hashPassword('root-pw', 4)]);
    await writeFile(path, `alice:${a}\nbob:${b}\nroot:${r}\n`);
  });
  after(async () => {
    for (const c of controllers) c.close();
    for (const r of registries) await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A registry guarded by a controller; `logs` gets the controller's lines and the app's. */
  async function start(policies?: PolicyConfig, realm = 'Berth Test'): Promise<TestRegistry> {
    const sink: { logs: string[] } = { logs: [] };
    const logger = createLogger({ level: 'debug', formatter: 'json', destination: { write: (l: string) => sink.logs.push(l) } });
    const access = await HtpasswdAccessController.create({ realm, path, policies, logger, watch: false });
    controllers.push(access);
    const reg = await startTestRegistry({ access });
    sink.logs = reg.logs;
    registries.push(reg);
    return reg;
  }

  /** The last log record with this message (and user, when given). */
  function lastLog(reg: TestRegistry, msg: string, user?: string): Record<string, unknown> | undefined {
    return reg.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === msg && (user === undefined || l['user'] === user))
      .at(-1);
  }

  describe('without policies (Distribution behaviour)', () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await start();
    });

    it('/v2/ without credentials: 401, Basic challenge, detail null (as Distribution)', async () => {
      const res = await call(reg, 'GET', '/v2/');
      assert.equal(res.status, 401);
      assert.equal(res.challenge, 'Basic realm="Berth Test"');
      assert.deepEqual(res.body, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] });
    });

    it('a manifest without credentials: 401 listing the wanted access', async () => {
      const res = await call(reg, 'GET', '/v2/foo/bar/manifests/latest');
      assert.equal(res.status, 401);
      assert.deepEqual(res.body?.errors?.[0]?.detail, [{ Type: 'repository', Class: '', Name: 'foo/bar', Action: 'pull' }]);
    });

    it('a mount without credentials lists the source repository too', async () => {
      const res = await call(reg, 'POST', `/v2/foo/blobs/uploads/?mount=${M}&from=bar`);
      assert.equal(res.status, 401);
      assert.deepEqual(res.body?.errors?.[0]?.detail, [
        { Type: 'repository', Class: '', Name: 'foo', Action: 'pull' },
        { Type: 'repository', Class: '', Name: 'foo', Action: 'push' },
        { Type: 'repository', Class: '', Name: 'bar', Action: 'pull' },
      ]);
    });

    it('a wrong password or unknown user: 401; valid credentials: in', async () => {
      assert.equal((await call(reg, 'GET', '/v2/', basic('alice', 'nope'))).status, 401);
      assert.equal((await call(reg, 'GET', '/v2/', basic('nobody', 'alice-pw'))).status, 401);
      assert.equal((await call(reg, 'GET', '/v2/', basic('alice', 'alice-pw'))).status, 200);
      assert.equal((await call(reg, 'GET', '/v2/foo/manifests/latest', basic('alice', 'alice-pw'))).status, 404);
      assert.equal((await call(reg, 'GET', '/v2/_catalog', basic('bob', 'bob-pw'))).status, 200);
      assert.equal((await call(reg, 'DELETE', `/v2/foo/manifests/${M}`, basic('bob', 'bob-pw'))).status, 404);
    });

    it('the empty pair ":" some clients send is anonymous; a malformed Basic header is a 401', async () => {
      assert.equal((await call(reg, 'GET', '/v2/', 'Basic Og==')).status, 401);
      assert.equal((await call(reg, 'GET', '/v2/', 'Basic %%%')).status, 401);
      assert.equal((await call(reg, 'GET', '/v2/', 'Bearer abc')).status, 401);
    });

    it('logs failures with user, remote address and repository, never the password', async () => {
      await call(reg, 'GET', '/v2/team/app/manifests/v1', basic('alice', 'Sup3r-Secret'));
      const line = lastLog(reg, 'authentication failed', 'alice');
      assert.ok(line, reg.logs.join(''));
      assert.equal(line['remote'], '127.0.0.1');
      assert.deepEqual(line['repositories'], ['team/app']);
      assert.equal(line['reason'], 'wrong user name or password');
      assert.equal(line['level'], 'warning');
      assert.ok(!reg.logs.some((l) => l.includes('Sup3r-Secret')), 'the password is never logged');
      assert.ok(!reg.logs.some((l) => l.includes(Buffer.from('alice:Sup3r-Secret').toString('base64'))), 'nor the header');
    });
  });

  describe('with policies', () => {
    let reg: TestRegistry;
    before(async () => {
      const policies = policiesSchema.parse({
        groups: { admins: ['root'], 'team-a': ['alice'] },
        rules: [
          { anonymous: true, authenticated: true, repositories: ['public/**'], actions: ['pull'], effect: 'allow' },
          { groups: ['admins'], repositories: ['**'], catalog: true, actions: ['*'], effect: 'allow' },
          { groups: ['team-a'], repositories: ['team-a/**'], actions: ['pull', 'push'], effect: 'allow' },
          { description: 'nobody deletes releases', authenticated: true, repositories: ['releases/**'], actions: ['delete'], effect: 'deny' },
        ],
      });
      assert.ok(policies !== undefined);
      reg = await start(policies, 'Say "hi"');
    });

    it('anonymous pulls public/** without credentials; /v2/ still challenges', async () => {
      assert.equal((await call(reg, 'GET', '/v2/public/alpine/manifests/latest')).status, 404); // authorized: MANIFEST_UNKNOWN
      assert.equal((await call(reg, 'GET', '/v2/public/alpine/manifests/latest', 'Basic Og==')).status, 404);
      const base = await call(reg, 'GET', '/v2/');
      assert.equal(base.status, 401);
      assert.equal(base.challenge, 'Basic realm="Say \\"hi\\""');
    });

    it('anonymous push to public/** gets a challenge (401), so the client can log in', async () => {
      const res = await call(reg, 'POST', '/v2/public/alpine/blobs/uploads/');
      assert.equal(res.status, 401);
      assert.ok(res.challenge?.startsWith('Basic realm='));
    });

    it('wrong credentials are a 401 even where anonymous access is allowed', async () => {
      assert.equal((await call(reg, 'GET', '/v2/public/alpine/manifests/latest', basic('alice', 'stale'))).status, 401);
    });

    it('a valid user without access gets 403 DENIED listing what was refused', async () => {
      const res = await call(reg, 'POST', '/v2/team-b/app/blobs/uploads/', basic('alice', 'alice-pw'));
      assert.equal(res.status, 403);
      assert.equal(res.challenge, null);
      assert.deepEqual(res.body, {
        errors: [
          {
            code: 'DENIED',
            message: 'requested access to the resource is denied',
            detail: [
              { Type: 'repository', Class: '', Name: 'team-b/app', Action: 'pull' },
              { Type: 'repository', Class: '', Name: 'team-b/app', Action: 'push' },
            ],
          },
        ],
      });
      const line = lastLog(reg, 'access denied', 'alice');
      assert.ok(line);
      assert.equal(line['user'], 'alice');
      assert.deepEqual(line['denied'], ['repository:team-b/app:pull', 'repository:team-b/app:push']);
    });

    it('a user with access gets in; the catalog needs a catalog rule', async () => {
      assert.equal((await call(reg, 'POST', '/v2/team-a/app/blobs/uploads/', basic('alice', 'alice-pw'))).status, 202);
      assert.equal((await call(reg, 'GET', '/v2/', basic('alice', 'alice-pw'))).status, 200);
      assert.equal((await call(reg, 'GET', '/v2/_catalog', basic('alice', 'alice-pw'))).status, 403);
      assert.equal((await call(reg, 'GET', '/v2/_catalog', basic('root', 'root-pw'))).status, 200);
    });

    it('deny wins: even an admin cannot delete releases', async () => {
      const res = await call(reg, 'DELETE', `/v2/releases/v1/manifests/${M}`, basic('root', 'root-pw'));
      assert.equal(res.status, 403);
      const line = lastLog(reg, 'access denied', 'root');
      assert.equal(line?.['reason'], 'nobody deletes releases');
    });

    it('a mount from a repository the user cannot pull becomes an ordinary upload', async () => {
      assert.equal((await call(reg, 'POST', `/v2/team-a/app/blobs/uploads/?mount=${M}&from=team-b/app`, basic('alice', 'alice-pw'))).status, 202);
      assert.equal((await call(reg, 'POST', `/v2/team-a/app/blobs/uploads/?mount=${M}&from=public/base`, basic('alice', 'alice-pw'))).status, 202);
    });
  });

  it('an unknown user costs one bcrypt comparison, like a known one', async () => {
    const calls: string[] = [];
    const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
    const file = await HtpasswdFile.open({ path, logger, watch: false, cache: false, compare: async (pw, hash) => (calls.push(hash), compareBcrypt(pw, hash)) });
    const controller = new HtpasswdAccessController({ realm: 'r', verifier: file, logger });
    controllers.push(controller);
    const req = (authorization: string): IncomingMessage => ({ headers: { authorization }, socket: { remoteAddress: '192.0.2.1' } }) as unknown as IncomingMessage;
    const wanted = [{ type: 'repository', name: 'x', action: 'pull' }] as const;
    assert.deepEqual(await controller.authorized(req(basic('alice', 'alice-pw')), wanted), { user: 'alice' });
    await assert.rejects(controller.authorized(req(basic('ghost', 'alice-pw')), wanted), (err: OciError) => err.code === 'UNAUTHORIZED');
    await assert.rejects(controller.authorized(req(basic('alice', 'wrong')), wanted), (err: OciError) => err.code === 'UNAUTHORIZED');
    assert.equal(calls.length, 3);
    assert.deepEqual(
      calls.map((h) => h.slice(0, 7)),
      ['$2y$04$', '$2y$04$', '$2y$04$'],
    );
  });

  it('consults the verifier only when credentials are present', async () => {
    let calls = 0;
    const verifier: CredentialVerifier = {
      verify: async () => {
        calls++;
        return true;
      },
    };
    const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
    const policy = compilePolicy({ default: 'allow', evaluation: 'deny-overrides', groups: {}, rules: [] });
    const controller = new HtpasswdAccessController({ realm: 'r', verifier, policy, logger });
    const req = { headers: {}, socket: { remoteAddress: '192.0.2.1' } } as unknown as IncomingMessage;
    assert.deepEqual(await controller.authorized(req, [{ type: 'repository', name: 'x', action: 'push' }]), {});
    await assert.rejects(controller.authorized(req, []), (err: OciError) => err.status === 401);
    assert.equal(calls, 0);
  });

  it('create fails with a message naming a missing file; a realm with control characters is refused', async () => {
    const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
    await assert.rejects(HtpasswdAccessController.create({ realm: 'r', path: join(dir, 'missing'), logger }), /cannot read .*missing \(auth\.htpasswd\.path\): no such file/);
    assert.throws(() => new HtpasswdAccessController({ realm: 'a\r\nb', verifier: { verify: async () => false }, logger }), TypeError);
  });
});
