import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { compareRepositoryNames } from '../../src/storage/catalog.js';
import { assertStatus, errorCode, pushBlob, pushImage, randomBlob, resolve, sha256 } from '../helpers/oci-client.js';
import { compileManifestRules } from '../../src/storage/manifest-rules.js';
import { parseConfig } from '../../src/config/load.js';

describe('registry API over HTTP', () => {
  let r: TestRegistry;
  before(async () => {
    r = await startTestRegistry();
  });
  after(async () => {
    await r.close();
  });

  describe('base', () => {
    it('GET /v2/ answers 200 {} with the API version header', async () => {
      const res = await fetch(`${r.url}/v2/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(await res.json(), {});
    });
    it('HEAD /v2/ and GET / answer 200', async () => {
      assert.equal((await fetch(`${r.url}/v2/`, { method: 'HEAD' })).status, 200);
      assert.equal((await fetch(`${r.url}/`)).status, 200);
    });
    it('unknown endpoints get a 404 error body and wrong methods a 405 with Allow', async () => {
      const missing = await fetch(`${r.url}/v2/foo/bar/nothing`);
      assert.equal(missing.status, 404);
      assert.ok(await errorCode(missing));
      const wrong = await fetch(`${r.url}/v2/foo/tags/list`, { method: 'POST' });
      assert.equal(wrong.status, 405);
      assert.equal(await errorCode(wrong), 'UNSUPPORTED');
      assert.match(wrong.headers.get('allow') ?? '', /GET/);
    });
    it('raw path traversal in names and references never reaches storage', async () => {
      const { request } = await import('node:http');
      const raw = (path: string): Promise<number> =>
        new Promise((resolveStatus, reject) => {
          const req = request(`${r.url}${path}`, { method: 'GET' }, (res) => {
            res.resume();
            resolveStatus(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      for (const path of ['/v2/../../etc/tags/list', '/v2/a/../../../etc/manifests/passwd', '/v2/ok/blobs/..%2F..%2Fetc', '/v2/ok/manifests/..%2F..%2Fx', '/v2/ok/blobs/uploads/..%2Fx']) {
        const status = await raw(path);
        assert.ok(status >= 400 && status < 500, `${path}: ${status}`);
      }
    });
    it('invalid repository names get NAME_INVALID', async () => {
      for (const name of ['UPPER/case', 'a//b', '-lead', 'a/..b', 'x'.repeat(256)]) {
        const res = await fetch(`${r.url}/v2/${name}/tags/list`);
        assert.equal(res.status, 400, name);
        assert.equal(await errorCode(res), 'NAME_INVALID', name);
      }
    });
  });

  describe('blobs', () => {
    it('monolithic POST ?digest= creates the blob (201) and GET/HEAD serve it', async () => {
      const { data, digest } = randomBlob(10_000);
      const res = await fetch(`${r.url}/v2/blobs/mono/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.equal(new URL(resolve(r.url, res.headers.get('location'))).pathname, `/v2/blobs/mono/blobs/${digest}`);
      const head = await fetch(`${r.url}/v2/blobs/mono/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '10000');
      assert.equal(head.headers.get('docker-content-digest'), digest);
      assert.equal(head.headers.get('etag'), `"${digest}"`);
      const get = await fetch(`${r.url}/v2/blobs/mono/blobs/${digest}`);
      assert.equal(get.status, 200);
      assert.deepEqual(Buffer.from(await get.arrayBuffer()), data);
    });
    it('serves byte ranges (206), suffix ranges, and 416 past the end', async () => {
      const { data, digest } = randomBlob(1000);
      assertStatus(await pushBlob(r.url, 'blobs/range', data), 201);
      const url = `${r.url}/v2/blobs/range/blobs/${digest}`;
      const part = await fetch(url, { headers: { Range: 'bytes=10-19' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), 'bytes 10-19/1000');
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(10, 20));
      const suffix = await fetch(url, { headers: { Range: 'bytes=-5' } });
      assert.equal(suffix.status, 206);
      assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), data.subarray(995));
      const open = await fetch(url, { headers: { Range: 'bytes=990-' } });
      assert.deepEqual(Buffer.from(await open.arrayBuffer()), data.subarray(990));
      const past = await fetch(url, { headers: { Range: 'bytes=1000-2000' } });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get('content-range'), 'bytes */1000');
    });
    it('answers 304 to If-None-Match with the digest ETag', async () => {
      const { data, digest } = randomBlob(100);
      assertStatus(await pushBlob(r.url, 'blobs/etag', data), 201);
      const res = await fetch(`${r.url}/v2/blobs/etag/blobs/${digest}`, { headers: { 'If-None-Match': `"${digest}"` } });
      assert.equal(res.status, 304);
    });
    it('unknown and malformed digests get BLOB_UNKNOWN and DIGEST_INVALID', async () => {
      const unknown = await fetch(`${r.url}/v2/blobs/none/blobs/${sha256('nothing here')}`);
      assert.equal(unknown.status, 404);
      assert.equal(await errorCode(unknown), 'BLOB_UNKNOWN');
      for (const bad of ['sha256:abc', 'md5:0123', 'sha256:' + 'G'.repeat(64), 'notadigest']) {
        const res = await fetch(`${r.url}/v2/blobs/none/blobs/${bad}`);
        assert.equal(res.status, 400, bad);
        assert.equal(await errorCode(res), 'DIGEST_INVALID', bad);
      }
    });
    it('a blob is only visible in repositories it is linked to', async () => {
      const { data, digest } = randomBlob(100);
      assertStatus(await pushBlob(r.url, 'blobs/owner', data), 201);
      assert.equal((await fetch(`${r.url}/v2/blobs/other/blobs/${digest}`, { method: 'HEAD' })).status, 404);
    });
    it('DELETE unlinks a blob (202) and then it is unknown', async () => {
      const { data, digest } = randomBlob(100);
      assertStatus(await pushBlob(r.url, 'blobs/del', data), 201);
      const del = await fetch(`${r.url}/v2/blobs/del/blobs/${digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      assert.equal((await fetch(`${r.url}/v2/blobs/del/blobs/${digest}`, { method: 'HEAD' })).status, 404);
      const again = await fetch(`${r.url}/v2/blobs/del/blobs/${digest}`, { method: 'DELETE' });
      assert.equal(again.status, 404);
      assert.equal(await errorCode(again), 'BLOB_UNKNOWN');
    });
    it('accepts sha512 digests', async () => {
      const { createHash } = await import('node:crypto');
      const data = Buffer.from('sha512 content');
      const digest = `sha512:${createHash('sha512').update(data).digest('hex')}`;
      assertStatus(await pushBlob(r.url, 'blobs/sha512', data, digest), 201);
      const get = await fetch(`${r.url}/v2/blobs/sha512/blobs/${digest}`);
      assert.equal(get.status, 200);
      assert.equal(await get.text(), 'sha512 content');
    });
  });

  describe('uploads', () => {
    async function startSession(name: string): Promise<string> {
      const res = await fetch(`${r.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), '0-0');
      assert.ok(res.headers.get('docker-upload-uuid'));
      return resolve(r.url, res.headers.get('location'));
    }
    function withDigest(location: string, digest: string): string {
      return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
    }

    it('chunked PATCH with Content-Range, status GET, then PUT completes', async () => {
      const { data, digest } = randomBlob(300_000);
      let location = await startSession('up/chunked');
      for (let offset = 0; offset < data.length; offset += 100_000) {
        const chunk = data.subarray(offset, offset + 100_000);
        const res = await fetch(location, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}`, 'Content-Length': String(chunk.length) },
          body: chunk,
        });
        assert.equal(res.status, 202);
        assert.equal(res.headers.get('range'), `0-${offset + chunk.length - 1}`);
        location = resolve(r.url, res.headers.get('location'));
      }
      const status = await fetch(location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), `0-${data.length - 1}`);
      const put = await fetch(withDigest(location, digest), { method: 'PUT' });
      assert.equal(put.status, 201);
      const get = await fetch(`${r.url}/v2/up/chunked/blobs/${digest}`);
      assert.equal(sha256(Buffer.from(await get.arrayBuffer())), digest);
    });
    it('a streamed PATCH without Content-Range, then PUT with a final chunk', async () => {
      const { data, digest } = randomBlob(50_000);
      const location = await startSession('up/streamed');
      const patch = await fetch(location, { method: 'PATCH', body: data.subarray(0, 30_000) });
      assert.equal(patch.status, 202);
      const put = await fetch(withDigest(resolve(r.url, patch.headers.get('location')), digest), {
        method: 'PUT',
        headers: { 'Content-Length': '20000', 'Content-Type': 'application/octet-stream' },
        body: data.subarray(30_000),
      });
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('docker-content-digest'), digest);
    });
    it('an out-of-order or repeated chunk gets 416 with the current Range', async () => {
      const location = await startSession('up/order');
      const first = await fetch(location, { method: 'PATCH', headers: { 'Content-Range': '0-9' }, body: Buffer.alloc(10, 1) });
      assert.equal(first.status, 202);
      const next = resolve(r.url, first.headers.get('location'));
      const gap = await fetch(next, { method: 'PATCH', headers: { 'Content-Range': '20-29' }, body: Buffer.alloc(10, 2) });
      assert.equal(gap.status, 416);
      assert.equal(gap.headers.get('range'), '0-9');
      const repeat = await fetch(next, { method: 'PATCH', headers: { 'Content-Range': '0-9' }, body: Buffer.alloc(10, 1) });
      assert.equal(repeat.status, 416);
      const status = await fetch(next);
      assert.equal(status.headers.get('range'), '0-9');
    });
    it('a malformed Content-Range gets 416', async () => {
      const location = await startSession('up/badrange');
      const res = await fetch(location, { method: 'PATCH', headers: { 'Content-Range': 'garbage' }, body: Buffer.alloc(3) });
      assert.equal(res.status, 416);
    });
    it('a digest mismatch gets DIGEST_INVALID and nothing becomes visible', async () => {
      const { data } = randomBlob(1000);
      const wrong = sha256('something else');
      const res = await pushBlob(r.url, 'up/mismatch', data, wrong);
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'DIGEST_INVALID');
      assert.equal((await fetch(`${r.url}/v2/up/mismatch/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
      assert.equal((await fetch(`${r.url}/v2/up/mismatch/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
    });
    it('PUT without a digest gets DIGEST_INVALID', async () => {
      const location = await startSession('up/nodigest');
      const res = await fetch(location, { method: 'PUT' });
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'DIGEST_INVALID');
    });
    it('DELETE cancels a session; the session is then unknown', async () => {
      const location = await startSession('up/cancel');
      assert.equal((await fetch(location, { method: 'DELETE' })).status, 204);
      const res = await fetch(location);
      assert.equal(res.status, 404);
      assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
    });
    it('an upload id without its state gets 404 BLOB_UPLOAD_INVALID, tampered state too (as Distribution)', async () => {
      const unknown = await fetch(`${r.url}/v2/up/x/blobs/uploads/0b8f7c4e-0000-4000-8000-000000000000`);
      assert.equal(unknown.status, 404);
      assert.equal(await errorCode(unknown), 'BLOB_UPLOAD_INVALID');
      const garbage = await fetch(`${r.url}/v2/up/x/blobs/uploads/../../etc`);
      assert.ok(garbage.status >= 400 && garbage.status < 500);
      const location = await startSession('up/state');
      const tampered = location.replace(/_state=([^&]*)/, (_m, v: string) => `_state=${v.slice(0, -3)}abc`);
      const res = await fetch(tampered);
      assert.equal(res.status, 404);
      assert.equal(await errorCode(res), 'BLOB_UPLOAD_INVALID');
    });
    it('cross-repository mount links an existing blob (201) and falls back to a session (202)', async () => {
      const { data, digest } = randomBlob(500);
      assertStatus(await pushBlob(r.url, 'mount/source', data), 201);
      const mounted = await fetch(`${r.url}/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`, { method: 'POST' });
      assert.equal(mounted.status, 201);
      assert.equal(mounted.headers.get('docker-content-digest'), digest);
      assert.equal((await fetch(`${r.url}/v2/mount/target/blobs/${digest}`, { method: 'HEAD' })).status, 200);
      const missing = sha256('not there');
      const fallback = await fetch(`${r.url}/v2/mount/target/blobs/uploads/?mount=${missing}&from=mount/source`, { method: 'POST' });
      assert.equal(fallback.status, 202);
      assert.ok(fallback.headers.get('location'));
    });
  });

  describe('manifests', () => {
    it('PUT by tag, GET/HEAD by tag and digest with digest headers', async () => {
      const img = await pushImage(r.url, 'man/basic', 'v1');
      for (const ref of ['v1', img.digest]) {
        const get = await fetch(`${r.url}/v2/man/basic/manifests/${ref}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(get.status, 200);
        assert.equal(get.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
        assert.equal(get.headers.get('docker-content-digest'), img.digest);
        assert.deepEqual(Buffer.from(await get.arrayBuffer()), img.body);
        const head = await fetch(`${r.url}/v2/man/basic/manifests/${ref}`, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), String(img.body.length));
      }
      const cached = await fetch(`${r.url}/v2/man/basic/manifests/v1`, { headers: { 'If-None-Match': `"${img.digest}"` } });
      assert.equal(cached.status, 304);
    });
    it('Docker schema 2 manifests keep their media type', async () => {
      const img = await pushImage(r.url, 'man/docker', 'latest', { mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
      const get = await fetch(`${r.url}/v2/man/docker/manifests/latest`);
      assert.equal(get.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
      assert.equal(get.headers.get('docker-content-digest'), img.digest);
    });
    it('refuses a manifest whose blobs are missing (MANIFEST_BLOB_UNKNOWN)', async () => {
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('nope'), size: 4 },
        layers: [],
      });
      const res = await fetch(`${r.url}/v2/man/missing/manifests/x`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body });
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
    });
    it('stores an index whose children exist and refuses one with a missing child', async () => {
      const a = await pushImage(r.url, 'man/index', 'a');
      const good = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: a.digest, size: a.body.length, platform: { os: 'linux', architecture: 'amd64' } }] }));
      const ok = await fetch(`${r.url}/v2/man/index/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: good });
      assert.equal(ok.status, 201);
      const get = await fetch(`${r.url}/v2/man/index/manifests/multi`);
      assert.equal(get.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
      const bad = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('absent'), size: 10 }] });
      const res = await fetch(`${r.url}/v2/man/index/manifests/broken`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: bad });
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
    });
    it('by digest, answers the stored manifest or MANIFEST_UNKNOWN, never a child (oras manifest fetch)', async () => {
      const a = await pushImage(r.url, 'man/accept', 'a');
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: a.digest, size: a.body.length, platform: { os: 'linux', architecture: 'amd64' } }] }));
      assertStatus(await fetch(`${r.url}/v2/man/accept/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: index }), 201);
      // oras-go manifestStore.Fetch: GET by digest with Accept set to the descriptor's one media type.
      const oras = { 'User-Agent': 'oras-go', Accept: 'application/vnd.oci.image.manifest.v1+json' };
      for (const method of ['GET', 'HEAD']) {
        const byDigest = await fetch(`${r.url}/v2/man/accept/manifests/${sha256(index)}`, { method, headers: oras });
        assert.equal(byDigest.status, 404, method);
        assert.equal(byDigest.headers.get('docker-content-digest'), null, method);
        if (method === 'GET') assert.equal(await errorCode(byDigest), 'MANIFEST_UNKNOWN');
      }
      // Nor by tag: an OCI index is never swapped for one of its images.
      const byTag = await fetch(`${r.url}/v2/man/accept/manifests/multi`, { headers: oras });
      assert.equal(byTag.status, 404);
      assert.equal(await errorCode(byTag), 'MANIFEST_UNKNOWN');
      // oras-go Resolve/FetchReference: its default Accept list names the index: the stored bytes.
      const defaults = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.oci.artifact.manifest.v1+json';
      for (const ref of ['multi', sha256(index)]) {
        const full = await fetch(`${r.url}/v2/man/accept/manifests/${ref}`, { headers: { 'User-Agent': 'oras-go', Accept: defaults } });
        assert.equal(full.status, 200, ref);
        assert.equal(full.headers.get('docker-content-digest'), sha256(index), ref);
        assert.deepEqual(Buffer.from(await full.arrayBuffer()), index, ref);
      }
      const indexAccept = await fetch(`${r.url}/v2/man/accept/manifests/${sha256(index)}`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
      assert.equal(indexAccept.headers.get('docker-content-digest'), sha256(index));
      const refused = await fetch(`${r.url}/v2/man/accept/manifests/a`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
      assert.equal(refused.status, 404);
      assert.equal(await errorCode(refused), 'MANIFEST_UNKNOWN');
    });
    it('a Docker manifest list falls back to its linux/amd64 image only by tag, and only to an acceptable one', async () => {
      const V2 = 'application/vnd.docker.distribution.manifest.v2+json';
      const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
      const amd = await pushImage(r.url, 'man/list', 'amd', { mediaType: V2 });
      const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: LIST, manifests: [{ mediaType: V2, digest: amd.digest, size: amd.body.length, platform: { os: 'linux', architecture: 'amd64' } }] }));
      assertStatus(await fetch(`${r.url}/v2/man/list/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': LIST }, body: list }), 201);
      // An old Docker client: schema 2 only, by tag → the amd64 image (Distribution's rewrite).
      const old = await fetch(`${r.url}/v2/man/list/manifests/multi`, { headers: { Accept: V2 } });
      assert.equal(old.status, 200);
      assert.equal(old.headers.get('docker-content-digest'), amd.digest);
      assert.equal(old.headers.get('content-type'), V2);
      // By digest: the list's own bytes, as Distribution answers.
      const byDigest = await fetch(`${r.url}/v2/man/list/manifests/${sha256(list)}`, { headers: { Accept: V2 } });
      assert.equal(byDigest.status, 200);
      assert.equal(byDigest.headers.get('docker-content-digest'), sha256(list));
      assert.deepEqual(Buffer.from(await byDigest.arrayBuffer()), list);
      // A client that takes neither the list nor its schema 2 child gets MANIFEST_UNKNOWN, not the child.
      const neither = await fetch(`${r.url}/v2/man/list/manifests/multi`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(neither.status, 404);
      assert.equal(await errorCode(neither), 'MANIFEST_UNKNOWN');
      // A Docker schema 2 manifest is served whatever the client names (Distribution does the same).
      const v2 = await fetch(`${r.url}/v2/man/list/manifests/amd`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(v2.status, 200);
      assert.equal(v2.headers.get('docker-content-digest'), amd.digest);
    });
    it('refuses invalid JSON, schema 1, unknown media types and mismatched Content-Type with MANIFEST_INVALID', async () => {
      const cases: Array<[string, string]> = [
        ['{not json', 'application/vnd.oci.image.manifest.v1+json'],
        [JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
        [JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain' }), 'text/plain'],
        [JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), 'application/vnd.oci.image.manifest.v1+json'],
        [JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: 'bad' }, layers: [] }), 'application/vnd.oci.image.manifest.v1+json'],
        ['[]', 'application/vnd.oci.image.manifest.v1+json'],
      ];
      for (const [body, type] of cases) {
        const res = await fetch(`${r.url}/v2/man/invalid/manifests/t`, { method: 'PUT', headers: { 'Content-Type': type }, body });
        assert.equal(res.status, 400, body);
        assert.equal(await errorCode(res), 'MANIFEST_INVALID', body);
      }
    });
    it('refuses a manifest over 4 MiB with 413', async () => {
      const res = await fetch(`${r.url}/v2/man/big/manifests/t`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: Buffer.alloc(4 * 1024 * 1024 + 1, 32) });
      assert.equal(res.status, 413);
    });
    it('PUT by digest must match the content (DIGEST_INVALID)', async () => {
      const img = await pushImage(r.url, 'man/bydigest', 'first');
      const ok = await fetch(`${r.url}/v2/man/bydigest/manifests/${img.digest}`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: img.body });
      assert.equal(ok.status, 201);
      const res = await fetch(`${r.url}/v2/man/bydigest/manifests/${sha256('other')}`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: img.body });
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'DIGEST_INVALID');
    });
    it('unknown manifests get MANIFEST_UNKNOWN, and so does a lookup by an invalid tag; a PUT to one is TAG_INVALID', async () => {
      const res = await fetch(`${r.url}/v2/man/basic/manifests/nope`);
      assert.equal(res.status, 404);
      assert.equal(await errorCode(res), 'MANIFEST_UNKNOWN');
      const bad = await fetch(`${r.url}/v2/man/basic/manifests/${'t'.repeat(129)}`);
      assert.equal(bad.status, 404);
      assert.equal(await errorCode(bad), 'MANIFEST_UNKNOWN');
      const badPut = await fetch(`${r.url}/v2/man/basic/manifests/.invalid`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{}' });
      assert.equal(badPut.status, 400);
      assert.equal(await errorCode(badPut), 'TAG_INVALID');
    });
    it('DELETE by tag removes only the tag; DELETE by digest removes the manifest and its tags', async () => {
      const img = await pushImage(r.url, 'man/delete', 'one');
      const tag2 = await fetch(`${r.url}/v2/man/delete/manifests/two`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: img.body });
      assert.equal(tag2.status, 201);
      assert.equal((await fetch(`${r.url}/v2/man/delete/manifests/one`, { method: 'DELETE' })).status, 202);
      assert.equal((await fetch(`${r.url}/v2/man/delete/manifests/one`)).status, 404);
      assert.equal((await fetch(`${r.url}/v2/man/delete/manifests/${img.digest}`)).status, 200);
      assert.equal((await fetch(`${r.url}/v2/man/delete/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
      assert.equal((await fetch(`${r.url}/v2/man/delete/manifests/${img.digest}`)).status, 404);
      assert.equal((await fetch(`${r.url}/v2/man/delete/manifests/two`)).status, 404);
      const tags = (await (await fetch(`${r.url}/v2/man/delete/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, []);
    });
  });

  describe('referrers', () => {
    it('lists manifests whose subject is the digest, with artifactType filtering', async () => {
      const subject = await pushImage(r.url, 'ref/app', 'v1');
      const subjectDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject.digest, size: subject.body.length };
      const a = await pushImage(r.url, 'ref/app', 'sig-a', { subject: subjectDesc, artifactType: 'application/vnd.example.signature' });
      const b = await pushImage(r.url, 'ref/app', 'sbom-b', { subject: subjectDesc, artifactType: 'application/vnd.example.sbom' });
      const all = await fetch(`${r.url}/v2/ref/app/referrers/${subject.digest}`);
      assert.equal(all.status, 200);
      assert.equal(all.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
      const body = (await all.json()) as { manifests: Array<{ digest: string; artifactType?: string; size: number }> };
      assert.deepEqual(body.manifests.map((m) => m.digest).sort(), [a.digest, b.digest].sort());
      const filtered = await fetch(`${r.url}/v2/ref/app/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
      assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
      const fbody = (await filtered.json()) as { manifests: Array<{ digest: string; artifactType?: string }> };
      assert.deepEqual(fbody.manifests.map((m) => m.digest), [b.digest]);
      assert.equal(fbody.manifests[0]?.artifactType, 'application/vnd.example.sbom');
      const none = await fetch(`${r.url}/v2/ref/app/referrers/${sha256('no subject')}`);
      assert.deepEqual(((await none.json()) as { manifests: unknown[] }).manifests, []);
    });
    it('a PUT with a subject answers with OCI-Subject', async () => {
      const subject = await pushImage(r.url, 'ref/hdr', 'v1');
      const config = Buffer.from('{}');
      assertStatus(await pushBlob(r.url, 'ref/hdr', config), 201);
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.example.thing',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2 },
        layers: [],
        subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject.digest, size: subject.body.length },
      });
      const res = await fetch(`${r.url}/v2/ref/hdr/manifests/${sha256(body)}`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), subject.digest);
    });
  });

  describe('listings', () => {
    it('tags list is sorted and paginates with n, last and Link', async () => {
      const img = await pushImage(r.url, 'list/tags', 'b');
      for (const tag of ['a', 'c', 'B', '1.0']) {
        assertStatus(await fetch(`${r.url}/v2/list/tags/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: img.body }), 201);
      }
      const all = (await (await fetch(`${r.url}/v2/list/tags/tags/list`)).json()) as { name: string; tags: string[] };
      assert.deepEqual(all, { name: 'list/tags', tags: ['1.0', 'B', 'a', 'b', 'c'] });
      const page1 = await fetch(`${r.url}/v2/list/tags/tags/list?n=2`);
      assert.deepEqual(((await page1.json()) as { tags: string[] }).tags, ['1.0', 'B']);
      const link = page1.headers.get('link') ?? '';
      assert.match(link, /rel="next"/);
      const next = link.slice(1, link.indexOf('>'));
      const page2 = await fetch(resolve(r.url, next));
      assert.deepEqual(((await page2.json()) as { tags: string[] }).tags, ['a', 'b']);
      const last = await fetch(`${r.url}/v2/list/tags/tags/list?n=2&last=b`);
      assert.deepEqual(((await last.json()) as { tags: string[] }).tags, ['c']);
      assert.equal(last.headers.get('link'), null);
      const zero = await fetch(`${r.url}/v2/list/tags/tags/list?n=0`);
      assert.deepEqual(((await zero.json()) as { tags: string[] }).tags, []);
      const bad = await fetch(`${r.url}/v2/list/tags/tags/list?n=-1`);
      assert.equal(bad.status, 400);
      assert.equal(await errorCode(bad), 'PAGINATION_NUMBER_INVALID');
    });
    it('tags list of an unknown repository is NAME_UNKNOWN', async () => {
      const res = await fetch(`${r.url}/v2/list/nothing/tags/list`);
      assert.equal(res.status, 404);
      assert.equal(await errorCode(res), 'NAME_UNKNOWN');
    });
    it('catalog lists repositories sorted, with pagination', async () => {
      for (const name of ['cat/b', 'cat/a', 'cat/a/nested', 'cat/a-dash']) await pushImage(r.url, name, 'latest');
      const all = (await (await fetch(`${r.url}/v2/_catalog`)).json()) as { repositories: string[] };
      const cats = all.repositories.filter((n) => n.startsWith('cat/'));
      // Distribution's order: "/" sorts first, so a repository's nested repositories follow it.
      assert.deepEqual(cats, ['cat/a', 'cat/a/nested', 'cat/a-dash', 'cat/b']);
      const sorted = [...all.repositories].sort(compareRepositoryNames);
      assert.deepEqual(all.repositories, sorted);
      const page = await fetch(`${r.url}/v2/_catalog?n=1&last=cat/a/nested`);
      assert.deepEqual(((await page.json()) as { repositories: string[] }).repositories, ['cat/a-dash']);
      assert.match(page.headers.get('link') ?? '', /last=cat%2Fa-dash/);
    });
  });
});

describe('behaviour switches', () => {
  it('read-only mode refuses writes with UNSUPPORTED and still serves reads', async () => {
    const r = await startTestRegistry({ readOnly: true });
    try {
      const res = await fetch(`${r.url}/v2/ro/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 405);
      assert.equal(await errorCode(res), 'UNSUPPORTED');
      assert.equal((await fetch(`${r.url}/v2/`)).status, 200);
    } finally {
      await r.close();
    }
  });
  it('with delete disabled, DELETE of manifests and blobs is UNSUPPORTED', async () => {
    const r = await startTestRegistry({ deleteEnabled: false });
    try {
      const img = await pushImage(r.url, 'nodel/x', 'v1');
      const res = await fetch(`${r.url}/v2/nodel/x/manifests/${img.digest}`, { method: 'DELETE' });
      assert.equal(res.status, 405);
      assert.equal(await errorCode(res), 'UNSUPPORTED');
      const blob = await fetch(`${r.url}/v2/nodel/x/blobs/${img.blobs[0]}`, { method: 'DELETE' });
      assert.equal(blob.status, 405);
      assert.equal((await fetch(`${r.url}/v2/nodel/x/manifests/v1`)).status, 200);
    } finally {
      await r.close();
    }
  });
  it('relative URLs and a path prefix shape Location headers', async () => {
    const r = await startTestRegistry({ relativeUrls: true, prefix: '/registry' });
    try {
      const res = await fetch(`${r.url}/registry/v2/pre/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      assert.match(res.headers.get('location') ?? '', /^\/registry\/v2\/pre\/blobs\/uploads\//);
      assert.equal((await fetch(`${r.url}/v2/`)).status, 404);
    } finally {
      await r.close();
    }
  });
});

describe('validation.manifests', () => {
  const rulesOf = (validation: unknown) => compileManifestRules(parseConfig({ version: '0.1', storage: { inmemory: {} }, validation }).validation);

  /** Pushes a config blob and PUTs an OCI manifest whose one layer is non-distributable, fetched from `url`. */
  async function putForeign(base: string, name: string, url: string): Promise<Response> {
    const config = Buffer.from('{"os":"linux","architecture":"amd64"}');
    assertStatus(await pushBlob(base, name, config), 201);
    const layer = { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: sha256(url), size: 100, urls: [url] };
    const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.byteLength }, layers: [layer] });
    return fetch(`${base}/v2/${name}/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body });
  }

  it('by default (as Distribution) refuses layer URLs with MANIFEST_INVALID', async () => {
    const r = await startTestRegistry();
    try {
      const res = await putForeign(r.url, 'foreign/x', 'https://cdn.example.com/layer');
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'MANIFEST_INVALID');
      assert.equal((await fetch(`${r.url}/v2/foreign/x/manifests/v1`)).status, 404);
    } finally {
      await r.close();
    }
  });

  it('accepts URLs that allow matches and deny does not', async () => {
    const r = await startTestRegistry({ manifestRules: rulesOf({ manifests: { urls: { allow: ['^https://([^/]+\\.)*example\\.com/'], deny: ['^https://www\\.example\\.com/'] } } }) });
    try {
      assert.equal((await putForeign(r.url, 'foreign/x', 'https://cdn.example.com/layer')).status, 201);
      const denied = await putForeign(r.url, 'foreign/y', 'https://www.example.com/layer');
      assert.equal(denied.status, 400);
      assert.equal(await errorCode(denied), 'MANIFEST_INVALID');
      assert.equal((await putForeign(r.url, 'foreign/z', 'https://cdn.example.org/layer')).status, 400);
    } finally {
      await r.close();
    }
  });

  it('indexes.platforms: list requires only the listed platforms\' images', async () => {
    const r = await startTestRegistry({ manifestRules: rulesOf({ manifests: { indexes: { platforms: 'list', platformlist: [{ os: 'linux', architecture: 'amd64' }] } } }) });
    try {
      const amd64 = await pushImage(r.url, 'multi/x', 'amd64');
      const absent = (architecture: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(`absent ${architecture}`), size: 10, platform: { os: 'linux', architecture } });
      const index = (children: unknown[]) => ({ method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children }) });
      const present = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd64.digest, size: amd64.body.byteLength, platform: { os: 'linux', architecture: 'amd64' } };
      assert.equal((await fetch(`${r.url}/v2/multi/x/manifests/partial`, index([present, absent('arm64')]))).status, 201);
      const missing = await fetch(`${r.url}/v2/multi/x/manifests/broken`, index([absent('amd64'), absent('arm64')]));
      assert.equal(missing.status, 400);
      assert.equal(await errorCode(missing), 'MANIFEST_BLOB_UNKNOWN');
    } finally {
      await r.close();
    }
  });

  it('by default every image of an index must be present', async () => {
    const r = await startTestRegistry();
    try {
      const child = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('absent'), size: 10, platform: { os: 'linux', architecture: 'arm64' } };
      const res = await fetch(`${r.url}/v2/multi/y/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [child] }) });
      assert.equal(res.status, 400);
      assert.equal(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
    } finally {
      await r.close();
    }
  });
});
