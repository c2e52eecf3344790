/**
 * The Docker token flow over real HTTP: the registry app (startTestRegistry) with a
 * TokenAccessController, and the test token server. A small client does what docker and skopeo do:
 * request, get a 401 Bearer challenge, fetch a token from the realm for the challenge's scope
 * (with Basic credentials when it has some), and retry with the token.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTokenAccessController } from '../../src/auth/token/controller.js';
import { tokenConfigSchema } from '../../src/auth/token/schema.js';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { sha256 } from '../helpers/oci-client.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

const USERS = { alice: 'wonderland', bob: 'builder' };

/** Parses `Bearer realm="...",service="...",scope="..."` into its parameters. */
function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  if (header === null) return undefined;
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  const param = /([a-z_]+)="((?:[^"\\]|\\.)*)"/gi;
  for (let m = param.exec(header); m !== null; m = param.exec(header)) params[(m[1] as string).toLowerCase()] = (m[2] as string).replace(/\\(.)/g, '$1');
  return { scheme, params };
}

/** A registry client doing the token dance, recording every challenge it met. */
class TokenClient {
  readonly challenges: Array<Record<string, string>> = [];
  #token: string | undefined;

  constructor(
    readonly base: string,
    readonly creds?: { user: string; password: string },
  ) {}

  /** One request; on a Bearer challenge, fetches a token for its scope and retries once. */
  async fetch(pathOrUrl: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(pathOrUrl, this.base).toString();
    const send = (token: string | undefined): Promise<Response> =>
      fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) } });
    let res = await send(this.#token);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    if (challenge?.scheme !== 'Bearer') return res;
    this.challenges.push(challenge.params);
    await res.arrayBuffer();
    const tokenUrl = new URL(challenge.params['realm'] ?? '');
    tokenUrl.searchParams.set('service', challenge.params['service'] ?? '');
    for (const scope of (challenge.params['scope'] ?? '').split(' ').filter((s) => s !== '')) tokenUrl.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (this.creds !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${this.creds.user}:${this.creds.password}`).toString('base64')}`;
    const tokenRes = await fetch(tokenUrl, { headers });
    if (tokenRes.status !== 200) return tokenRes;
    const body = (await tokenRes.json()) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    assert.equal(typeof body.token, 'string');
    assert.equal(body.access_token, body.token);
    assert.equal(typeof body.expires_in, 'number');
    assert.ok(!Number.isNaN(Date.parse(body.issued_at ?? '')));
    this.#token = body.token;
    res = await send(this.#token);
    if (res.status === 401) {
      const again = parseChallenge(res.headers.get('www-authenticate'));
      if (again !== undefined) this.challenges.push(again.params);
    }
    return res;
  }

  /** Pushes a blob with POST then PUT ?digest= (two requests, each authorized). */
  async pushBlob(name: string, data: Buffer): Promise<Response> {
    const start = await this.fetch(`/v2/${name}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) return start;
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location') ?? '', this.base);
    location.searchParams.set('digest', sha256(data));
    return this.fetch(location.toString(), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data });
  }

  /** Pushes a config and a layer, then an OCI manifest under `tag`; returns the manifest bytes. */
  async pushImage(name: string, tag: string): Promise<{ manifest: Buffer; layer: Buffer; status: number }> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(4).toString('hex') }));
    const layer = randomBytes(2048);
    for (const blob of [config, layer]) {
      const res = await this.pushBlob(name, blob);
      await res.arrayBuffer();
      if (res.status !== 201) return { manifest: Buffer.alloc(0), layer, status: res.status };
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.byteLength },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.byteLength }],
      }),
    );
    const put = await this.fetch(`/v2/${name}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
    await put.arrayBuffer();
    return { manifest, layer, status: put.status };
  }
}

describe('token authentication over HTTP', () => {
  let issuer: TokenIssuer;
  let registry: TestRegistry;

  before(async () => {
    issuer = await startTokenIssuer({
      users: USERS,
      // alice: everything, and the catalog; bob: pull anywhere; anonymous: pull under public/.
      acl: (user, scope) => {
        if (scope.type === 'registry') return user === 'alice' && scope.name === 'catalog' ? ['*'] : [];
        if (user === 'alice') return ['pull', 'push', 'delete'];
        if (user === 'bob') return ['pull'];
        return scope.name.startsWith('public/') ? ['pull'] : [];
      },
    });
    const config = tokenConfigSchema.parse(issuer.config());
    registry = await startTestRegistry({ access: await createTokenAccessController(config) });
  });
  after(async () => {
    await registry?.close();
    await issuer?.close();
  });

  it('the base endpoint challenges with realm and service but no scope; any token opens it', async () => {
    const bare = await fetch(`${registry.url}/v2/`);
    assert.equal(bare.status, 401);
    assert.equal(bare.headers.get('www-authenticate'), `Bearer realm="${issuer.realm}",service="${issuer.service}"`);
    assert.equal(bare.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const body = (await bare.json()) as { errors: Array<{ code: string; message: string; detail: unknown }> };
    assert.deepEqual(body, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] });

    const anonymous = new TokenClient(registry.url);
    const res = await anonymous.fetch('/v2/');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  });

  it('alice pushes a blob and a manifest, and pulls them back', async () => {
    const alice = new TokenClient(registry.url, { user: 'alice', password: USERS.alice });
    const image = await alice.pushImage('team/app', 'v1');
    assert.equal(image.status, 201);
    // The first request was challenged for exactly the push scope.
    assert.deepEqual(alice.challenges[0], { realm: issuer.realm, service: issuer.service, scope: 'repository:team/app:pull,push' });
    const issued = issuer.requests.filter((r) => r.user === 'alice');
    assert.ok(issued.length >= 1);
    assert.deepEqual(issued[0]?.scopes, ['repository:team/app:pull,push']);
    assert.equal(issued[0]?.service, issuer.service);

    const manifest = await alice.fetch('/v2/team/app/manifests/v1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.status, 200);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest);
    const blob = await alice.fetch(`/v2/team/app/blobs/${sha256(image.layer)}`);
    assert.equal(blob.status, 200);
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), image.layer);
  });

  it('a request without a token is challenged with the push scope and the OCI body', async () => {
    const res = await fetch(`${registry.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="repository:team/app:pull,push"`);
    assert.deepEqual(await res.json(), {
      errors: [
        {
          code: 'UNAUTHORIZED',
          message: 'authentication required',
          detail: [
            { Type: 'repository', Class: '', Name: 'team/app', Action: 'pull' },
            { Type: 'repository', Class: '', Name: 'team/app', Action: 'push' },
          ],
        },
      ],
    });
  });

  it('bob may pull but not push: 401 with error="insufficient_scope"', async () => {
    const alice = new TokenClient(registry.url, { user: 'alice', password: USERS.alice });
    const image = await alice.pushImage('team/lib', 'v1');
    assert.equal(image.status, 201);

    const bob = new TokenClient(registry.url, { user: 'bob', password: USERS.bob });
    const pulled = await bob.fetch('/v2/team/lib/manifests/v1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(pulled.status, 200);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), image.manifest);

    const push = await bob.pushBlob('team/lib', randomBytes(16));
    assert.equal(push.status, 401);
    assert.equal(push.headers.get('www-authenticate'), `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="repository:team/lib:pull,push",error="insufficient_scope"`);
    assert.equal(((await push.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAUTHORIZED');
  });

  it('anonymous clients pull public/ repositories and nothing else', async () => {
    const alice = new TokenClient(registry.url, { user: 'alice', password: USERS.alice });
    assert.equal((await alice.pushImage('public/base', 'latest')).status, 201);
    assert.equal((await alice.pushImage('private/base', 'latest')).status, 201);

    const anonymous = new TokenClient(registry.url);
    const pub = await anonymous.fetch('/v2/public/base/manifests/latest', { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(pub.status, 200);
    const priv = await anonymous.fetch('/v2/private/base/manifests/latest', { method: 'HEAD' });
    assert.equal(priv.status, 401);
    assert.match(priv.headers.get('www-authenticate') ?? '', /scope="repository:private\/base:pull",error="insufficient_scope"$/);
    const push = await anonymous.pushBlob('public/base', randomBytes(16));
    assert.equal(push.status, 401);
    await push.arrayBuffer();
  });

  it('a token for one repository does not open another', async () => {
    const alice = new TokenClient(registry.url, { user: 'alice', password: USERS.alice });
    assert.equal((await alice.pushImage('team/one', 'v1')).status, 201);
    const [token] = await Promise.all([issuer.issue('alice', [{ type: 'repository', name: 'team/one', actions: ['pull', 'push'] }])]);
    const res = await fetch(`${registry.url}/v2/team/two/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /scope="repository:team\/two:pull",error="insufficient_scope"$/);
    await res.arrayBuffer();
  });

  it('the catalog needs registry:catalog:*, which only alice gets', async () => {
    const alice = new TokenClient(registry.url, { user: 'alice', password: USERS.alice });
    assert.equal((await alice.pushImage('cat/one', 'v1')).status, 201);
    const listed = await alice.fetch('/v2/_catalog');
    assert.equal(listed.status, 200);
    assert.ok(((await listed.json()) as { repositories: string[] }).repositories.includes('cat/one'));
    assert.equal(alice.challenges.at(-1)?.['scope'], 'registry:catalog:*');

    const bob = new TokenClient(registry.url, { user: 'bob', password: USERS.bob });
    const refused = await bob.fetch('/v2/_catalog');
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /scope="registry:catalog:\*",error="insufficient_scope"$/);
    await refused.arrayBuffer();
  });

  it('delete needs the delete action', async () => {
    const alice = new TokenClient(registry.url, { user: 'alice', password: USERS.alice });
    const image = await alice.pushImage('team/gone', 'v1');
    assert.equal(image.status, 201);
    const bob = new TokenClient(registry.url, { user: 'bob', password: USERS.bob });
    const refused = await bob.fetch(`/v2/team/gone/manifests/${sha256(image.manifest)}`, { method: 'DELETE' });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /scope="repository:team\/gone:delete",error="insufficient_scope"$/);
    await refused.arrayBuffer();
    const deleted = await alice.fetch(`/v2/team/gone/manifests/${sha256(image.manifest)}`, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    await deleted.arrayBuffer();
  });

  it('an invalid token gets error="invalid_token"; Basic credentials get a plain challenge', async () => {
    const expired = await issuer.issue('alice', [{ type: 'repository', name: 'team/app', actions: ['pull'] }], { exp: Math.floor(Date.now() / 1000) - 120 });
    const res = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="repository:team/app:pull",error="invalid_token"`);
    await res.arrayBuffer();

    const basic = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: { authorization: `Basic ${Buffer.from(`alice:${USERS.alice}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get('www-authenticate'), `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="repository:team/app:pull"`);
    await basic.arrayBuffer();
  });

  it('a wrong password is refused by the token server, not the registry', async () => {
    const mallory = new TokenClient(registry.url, { user: 'alice', password: 'guess' });
    const res = await mallory.fetch('/v2/team/app/tags/list');
    assert.equal(res.status, 401);
    assert.equal(res.url.startsWith(issuer.realm), true);
    await res.arrayBuffer();
  });

  it('the log names the user of authorized requests, and never a token', async () => {
    const alice = new TokenClient(registry.url, { user: 'alice', password: USERS.alice });
    const res = await alice.fetch('/v2/team/app/tags/list');
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const line = registry.logs.filter((l) => l.includes('/v2/team/app/tags/list')).at(-1) ?? '';
    assert.match(line, /"user":"alice"/);
    assert.doesNotMatch(registry.logs.join('\n'), /eyJ[A-Za-z0-9_-]{20,}\.eyJ/);
  });
});
