import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { assertStatus, errorCode, pushBlob, sha256 } from '../helpers/oci-client.js';
import { EventBridge } from '../../src/notifications/bridge.js';
import type { EventSink } from '../../src/notifications/sink.js';
import type { RegistryEvent } from '../../src/notifications/event.js';
import { HtpasswdAccessController } from '../../src/auth/htpasswd/controller.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import { createLogger } from '../../src/log/logger.js';
import { MAX_TAGS_PER_PUT } from '../../src/http/handlers/manifests.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
// What regctl sends (regclient scheme/reg/manifest.go ManifestPut): Content-Type and the body.
const REGCTL = { 'User-Agent': 'regclient/regclient (linux/amd64)', 'Content-Type': OCI };

function sha512(data: Buffer | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

class CollectingSink implements EventSink {
  readonly events: RegistryEvent[] = [];
  emit(event: RegistryEvent): void {
    this.events.push(event);
  }
}

/** Pushes a config blob to `name` and returns an OCI image manifest referencing it (not pushed). */
async function imageManifest(base: string, name: string, note: string): Promise<Buffer> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', note }));
  assertStatus(await pushBlob(base, name, config), 201);
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.byteLength }, layers: [] }));
}

async function tagsOf(base: string, name: string): Promise<string[]> {
  const res = await fetch(`${base}/v2/${name}/tags/list`);
  if (res.status === 404) return [];
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

/** Every value of a response header that may be repeated or comma-joined (RFC 9110 list). */
function listHeader(res: Response, name: string): string[] {
  const value = res.headers.get(name);
  return value === null ? [] : value.split(',').map((v) => v.trim());
}

describe('manifest PUT with ?tag= (OCI-Tag) and digest algorithms other than sha256', () => {
  let r: TestRegistry;
  const sink = new CollectingSink();
  before(async () => {
    r = await startTestRegistry({ events: new EventBridge({ sink, source: { addr: 'test:5000', instanceID: 'test' }, includeReferences: false }) });
  });
  after(async () => {
    await r.close();
  });

  it('regctl: PUT by sha512 digest with ?tag= stores under that digest, tags it and answers OCI-Tag', async () => {
    const body = await imageManifest(r.url, 'tags/regctl', 'a');
    const digest = sha512(body);
    const put = await fetch(`${r.url}/v2/tags/regctl/manifests/${digest}?tag=v1`, { method: 'PUT', headers: REGCTL, body });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.deepEqual(listHeader(put, 'oci-tag'), ['v1']);
    for (const ref of ['v1', digest]) {
      const get = await fetch(`${r.url}/v2/tags/regctl/manifests/${ref}`, { headers: { Accept: OCI } });
      assert.equal(get.status, 200, ref);
      assert.equal(get.headers.get('docker-content-digest'), digest, ref);
      assert.deepEqual(Buffer.from(await get.arrayBuffer()), body, ref);
    }
  });

  it('tags one digest with every tag of the request, one OCI-Tag value per tag, one push event per tag', async () => {
    const body = await imageManifest(r.url, 'tags/many', 'b');
    const digest = sha256(body);
    const before = sink.events.length;
    const put = await fetch(`${r.url}/v2/tags/many/manifests/${digest}?tag=1.2.3&tag=1.2&tag=1&tag=latest&tag=1`, { method: 'PUT', headers: { 'Content-Type': OCI }, body });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.deepEqual(listHeader(put, 'oci-tag'), ['1.2.3', '1.2', '1', 'latest']);
    assert.deepEqual((await tagsOf(r.url, 'tags/many')).sort(), ['1', '1.2', '1.2.3', 'latest']);
    for (const tag of ['1.2.3', 'latest']) {
      const head = await fetch(`${r.url}/v2/tags/many/manifests/${tag}`, { method: 'HEAD', headers: { Accept: OCI } });
      assert.equal(head.headers.get('docker-content-digest'), digest);
    }
    const pushes = sink.events.slice(before).filter((e) => e.action === 'push' && e.target.repository === 'tags/many' && e.target.digest === digest);
    assert.deepEqual(pushes.map((e) => e.target.tag).sort(), ['1', '1.2', '1.2.3', 'latest']);
  });

  it('an invalid tag refuses the whole request with TAG_INVALID before anything is stored', async () => {
    const body = await imageManifest(r.url, 'tags/invalid', 'c');
    const digest = sha256(body);
    const before = sink.events.length;
    for (const query of ['tag=good&tag=-bad', 'tag=good&tag=', `tag=good&tag=${'x'.repeat(129)}`, 'tag=good&tag=a%2Fb']) {
      const put = await fetch(`${r.url}/v2/tags/invalid/manifests/${digest}?${query}`, { method: 'PUT', headers: { 'Content-Type': OCI }, body });
      assert.equal(put.status, 400, query);
      assert.equal(await errorCode(put), 'TAG_INVALID', query);
    }
    assert.equal((await fetch(`${r.url}/v2/tags/invalid/manifests/${digest}`, { method: 'HEAD' })).status, 404, 'the manifest was not stored');
    assert.deepEqual(await tagsOf(r.url, 'tags/invalid'), []);
    assert.equal(sink.events.slice(before).filter((e) => e.action === 'push' && e.target.repository === 'tags/invalid' && e.target.mediaType === OCI).length, 0);
  });

  it(`more than ${MAX_TAGS_PER_PUT} tags is 414, and nothing is stored`, async () => {
    const body = await imageManifest(r.url, 'tags/toomany', 'd');
    const query = Array.from({ length: MAX_TAGS_PER_PUT + 1 }, (_, i) => `tag=t${i}`).join('&');
    const put = await fetch(`${r.url}/v2/tags/toomany/manifests/${sha256(body)}?${query}`, { method: 'PUT', headers: { 'Content-Type': OCI }, body });
    assert.equal(put.status, 414);
    assert.equal(await errorCode(put), 'TAG_INVALID');
    assert.equal((await fetch(`${r.url}/v2/tags/toomany/manifests/${sha256(body)}`, { method: 'HEAD' })).status, 404);
    const ok = await fetch(`${r.url}/v2/tags/toomany/manifests/${sha256(body)}?${Array.from({ length: MAX_TAGS_PER_PUT }, (_, i) => `tag=t${i}`).join('&')}`, { method: 'PUT', headers: { 'Content-Type': OCI }, body });
    assert.equal(ok.status, 201);
    assert.equal(listHeader(ok, 'oci-tag').length, MAX_TAGS_PER_PUT);
  });

  it("regctl's fallback: PUT by tag with ?digest=sha512:… answers and stores that sha512 digest", async () => {
    const body = await imageManifest(r.url, 'tags/hint', 'e');
    const digest = sha512(body);
    const put = await fetch(`${r.url}/v2/tags/hint/manifests/v2?digest=${digest}`, { method: 'PUT', headers: REGCTL, body });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.equal(new URL(put.headers.get('location') ?? '', r.url).pathname, `/v2/tags/hint/manifests/${digest}`);
    const byTag = await fetch(`${r.url}/v2/tags/hint/manifests/v2`, { headers: { Accept: OCI } });
    assert.equal(byTag.headers.get('docker-content-digest'), digest);
    const byDigest = await fetch(`${r.url}/v2/tags/hint/manifests/${digest}`, { headers: { Accept: OCI } });
    assert.equal(byDigest.status, 200);
    assert.deepEqual(Buffer.from(await byDigest.arrayBuffer()), body);
  });

  it('a Docker-Content-Digest request header on a push by tag chooses the algorithm too', async () => {
    const body = await imageManifest(r.url, 'tags/header', 'f');
    const digest = sha512(body);
    const put = await fetch(`${r.url}/v2/tags/header/manifests/v3`, { method: 'PUT', headers: { 'Content-Type': OCI, 'Docker-Content-Digest': digest }, body });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    assert.equal((await fetch(`${r.url}/v2/tags/header/manifests/${digest}`, { method: 'HEAD', headers: { Accept: OCI } })).status, 200);
    // Without a hint a push by tag answers sha256, as before.
    const plain = await fetch(`${r.url}/v2/tags/header/manifests/v4`, { method: 'PUT', headers: { 'Content-Type': OCI }, body });
    assert.equal(plain.headers.get('docker-content-digest'), sha256(body));
    assert.equal(plain.headers.get('oci-tag'), null, 'a plain push by tag answers as Distribution does');
  });

  it('a digest hint that does not match the body, or is malformed, is DIGEST_INVALID and tags nothing', async () => {
    const body = await imageManifest(r.url, 'tags/wrong', 'g');
    const cases: Array<Record<string, string>> = [
      { query: `?digest=${sha512('other')}` },
      { query: '?digest=sha512:abc' },
      { query: `?digest=md5:${'0'.repeat(32)}` },
      { header: sha256('other') },
    ];
    for (const c of cases) {
      const headers: Record<string, string> = { 'Content-Type': OCI };
      if (c['header'] !== undefined) headers['Docker-Content-Digest'] = c['header'];
      const put = await fetch(`${r.url}/v2/tags/wrong/manifests/v1${c['query'] ?? ''}`, { method: 'PUT', headers, body });
      assert.equal(put.status, 400, JSON.stringify(c));
      assert.equal(await errorCode(put), 'DIGEST_INVALID', JSON.stringify(c));
    }
    assert.deepEqual(await tagsOf(r.url, 'tags/wrong'), []);
  });
});

describe('manifest PUT with ?tag= needs the same access as a push by tag', () => {
  let dir: string;
  let r: TestRegistry;
  let seed: TestRegistry;
  let controller: HtpasswdAccessController;
  const auth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-tags-authz-'));
    const file = join(dir, 'htpasswd');
    await writeFile(file, `reader:${await hashPassword('readerpass', 4)}\nwriter:${await hashPassword('writerpass', 4)}\n`);
    controller = await HtpasswdAccessController.create({
      realm: 'Registry Realm',
      path: file,
      logger: createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } }),
      limits: { perAddress: 0, perUser: 0 },
      policies: {
        default: 'deny',
        evaluation: 'deny-overrides',
        groups: {},
        rules: [
          { users: ['reader'], groups: [], anonymous: false, authenticated: false, repositories: ['shared/**'], actions: ['pull'], catalog: false, effect: 'allow' },
          { users: ['writer'], groups: [], anonymous: false, authenticated: false, repositories: ['shared/**'], actions: ['pull', 'push'], catalog: false, effect: 'allow' },
        ],
      },
    });
    seed = await startTestRegistry();
    r = await startTestRegistry({ driver: seed.driver, access: controller });
  });
  after(async () => {
    controller.close();
    await r.close();
    await seed.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a user who may only pull is DENIED and tags nothing; one who may push gets the tags', async () => {
    const body = await imageManifest(seed.url, 'shared/app', 'h');
    const digest = sha512(body);
    const url = `${r.url}/v2/shared/app/manifests/${digest}?tag=v1&tag=latest`;
    const denied = await fetch(url, { method: 'PUT', headers: { ...REGCTL, Authorization: auth('reader', 'readerpass') }, body });
    assert.equal(denied.status, 403);
    assert.equal(await errorCode(denied), 'DENIED');
    assert.equal(denied.headers.get('oci-tag'), null);
    assert.deepEqual(await tagsOf(seed.url, 'shared/app'), []);
    const anonymous = await fetch(url, { method: 'PUT', headers: REGCTL, body });
    assert.equal(anonymous.status, 401);
    const ok = await fetch(url, { method: 'PUT', headers: { ...REGCTL, Authorization: auth('writer', 'writerpass') }, body });
    assert.equal(ok.status, 201);
    assert.deepEqual(listHeader(ok, 'oci-tag'), ['v1', 'latest']);
    assert.deepEqual((await tagsOf(seed.url, 'shared/app')).sort(), ['latest', 'v1']);
  });
});
