import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { ConformanceClient, type ReferrerEntry } from './conformance-client.js';
import {
  EMPTY_JSON_DIGEST,
  blobOf,
  classicData,
  digestOf,
  generatedDataSets,
  randomBlobOf,
  type Algorithm,
  type Blob,
  type ClassicData,
  type DataSet,
  type Descriptor,
} from './fixtures.js';
import { MT, exchange, expectBody, expectErrorBody, expectHeader, expectOptionalDigest, expectStatus, json, location, requireHeader, type Reply } from './http.js';

/**
 * The OCI Distribution Spec conformance suite (opencontainers/distribution-spec, conformance/),
 * rewritten for node:test: the same requests, and the same accepted statuses, headers and bodies,
 * for every workflow of both generations of the upstream suite:
 * - the Ginkgo workflows (pull, push, content discovery, content management) with their fixed
 *   test data;
 * - the current runner: every blob push method per digest algorithm (with bad digests, mounts,
 *   cancel and range reads), the empty repository, one push / list / HEAD / GET / referrers /
 *   delete round per data set (images, indexes, artifacts, subjects, sha512, ...), and manifest
 *   error cases;
 * - error codes: invalid names and digests, unknown blobs, manifests and uploads.
 *
 * Where the spec leaves a choice (MAY/SHOULD), each test accepts what the upstream suite accepts
 * and then checks that the branch taken is self-consistent (e.g. a mount answered 201 must serve
 * the blob at its Location; one answered 202 must be a usable upload session).
 *
 * Tests in a workflow build on each other (as upstream): they run in order against one registry.
 */
export function conformanceSuite(label: string, start: () => Promise<{ url: string; close: () => Promise<void> }>): void {
  describe(`OCI conformance: ${label}`, () => {
    const target = { base: '' };
    let close: (() => Promise<void>) | undefined;
    before(async () => {
      const started = await start();
      target.base = started.url;
      close = started.close;
    });
    after(async () => {
      await close?.();
    });
    const c = new ConformanceClient(target);
    const data = classicData();

    it('GET /v2/ answers 200', async () => {
      const reply = await c.send('GET', '/v2/');
      expectStatus(reply, 200, 'GET /v2/');
    });

    pullWorkflow(c, data, 'conformance/pull');
    pushWorkflow(c, data, 'conformance/push', 'conformance/cross-mount');
    discoveryWorkflow(c, data, 'conformance/discovery');
    managementWorkflow(c, data, 'conformance/management');
    for (const algorithm of ['sha256', 'sha512'] as const) blobApis(c, algorithm, `conformance/blobs-${algorithm}`, `conformance/blobs-${algorithm}-source`);
    emptyRepository(c, 'conformance/empty');
    for (const set of generatedDataSets()) dataSetRound(c, set, `conformance/data/${set.name}`);
    manifestErrors(c, 'conformance/manifest-errors');
    errorCodes(c, data, 'conformance/errors');
  });
}

const ACCEPT_MANIFESTS = { Accept: `${MT.index}, ${MT.manifest}` };

/** 2xx, the only thing upstream asks of its setup requests. */
function expect2xx(reply: Reply, what: string): void {
  if (reply.status < 200 || reply.status >= 300) assert.fail(`${what}: expected a 2xx status, got ${reply.status}\n${exchange(reply)}`);
}

/** Setup push as upstream does it: POST, then PUT ?digest= with the blob; any 2xx. */
async function setupBlob(c: ConformanceClient, repo: string, blob: Blob, what: string): Promise<void> {
  const post = await c.send('POST', `/v2/${repo}/blobs/uploads/`);
  expectStatus(post, 202, `${what}: POST`);
  const put = await c.send('PUT', location(post, `${what}: POST`), { query: { digest: blob.digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(blob.size) }, body: blob.bytes });
  expect2xx(put, `${what}: PUT`);
}

async function setupManifest(c: ConformanceClient, repo: string, reference: string, manifest: Blob, mediaType: string, what: string): Promise<Reply> {
  const put = await c.send('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'Content-Type': mediaType }, body: manifest.bytes });
  expect2xx(put, what);
  return put;
}

/** Teardown statuses upstream accepts: any 2xx, or 405 when deletes are disabled (404 too for blobs). */
async function teardownDelete(c: ConformanceClient, path: string, allowNotFound: boolean): Promise<void> {
  const reply = await c.send('DELETE', path);
  if ((reply.status >= 200 && reply.status < 300) || reply.status === 405 || (allowNotFound && reply.status === 404)) return;
  assert.fail(`teardown DELETE: unexpected status ${reply.status}\n${exchange(reply)}`);
}

/** A 404 whose body, when present, is an OCI error with `code`. */
function expectNotFound(reply: Reply, code: string, what: string): void {
  expectStatus(reply, 404, what);
  if (reply.method !== 'HEAD' && reply.body.byteLength > 0) expectErrorBody(reply, code, what);
}

// -----------------------------------------------------------------------------------------------
// Pull (01_pull_test.go)

function pullWorkflow(c: ConformanceClient, data: ClassicData, repo: string): void {
  const [config0, config1] = data.configs as [Blob, Blob];
  const [manifest0, manifest1] = data.manifests as [Blob, Blob];
  const tag = 'tagtest0';
  describe('pull', () => {
    it('setup: pushes two configs and the layer (POST + PUT)', async () => {
      await setupBlob(c, repo, config0, 'config[0]');
      await setupBlob(c, repo, config1, 'config[1]');
      await setupBlob(c, repo, data.layer, 'layer');
    });
    it('setup: pushes manifest[0] by tag and manifest[1] by digest', async () => {
      await setupManifest(c, repo, tag, manifest0, MT.manifest, 'PUT manifest[0] by tag');
      await setupManifest(c, repo, manifest1.digest, manifest1, MT.manifest, 'PUT manifest[1] by digest');
    });

    it('HEAD of a nonexistent blob answers 404', async () => {
      expectStatus(await c.send('HEAD', `/v2/${repo}/blobs/${data.dummyDigest}`), 404);
    });
    it('HEAD of an existing blob answers 200 with its size and digest', async () => {
      await c.headBlob(repo, config0.digest, config0.bytes);
    });
    it('GET of a nonexistent blob answers 404', async () => {
      expectNotFound(await c.send('GET', `/v2/${repo}/blobs/${data.dummyDigest}`), 'BLOB_UNKNOWN', 'GET nonexistent blob');
    });
    it('GET of an existing blob answers 200 with its bytes', async () => {
      await c.getBlob(repo, config0.digest, config0.bytes);
      await c.getBlob(repo, data.layer.digest, data.layer.bytes);
    });

    it('HEAD of a nonexistent manifest (.INVALID_MANIFEST_NAME) answers 404', async () => {
      expectStatus(await c.send('HEAD', `/v2/${repo}/manifests/.INVALID_MANIFEST_NAME`), 404);
    });
    it('HEAD of manifest[0] by digest answers 200', async () => {
      await c.fetchManifest('HEAD', repo, manifest0.digest, manifest0.bytes, manifest0.digest);
    });
    it('HEAD of manifest[1] by digest answers 200', async () => {
      await c.fetchManifest('HEAD', repo, manifest1.digest, manifest1.bytes, manifest1.digest);
    });
    it('HEAD of the manifest by tag answers 200 with manifest[0] digest', async () => {
      await c.fetchManifest('HEAD', repo, tag, manifest0.bytes, manifest0.digest);
    });
    it('GET of a nonexistent manifest (.INVALID_MANIFEST_NAME) answers 404', async () => {
      expectStatus(await c.send('GET', `/v2/${repo}/manifests/.INVALID_MANIFEST_NAME`), 404);
    });
    it('GET of manifest[0] and manifest[1] by digest answers 200 with their bytes', async () => {
      await c.fetchManifest('GET', repo, manifest0.digest, manifest0.bytes, manifest0.digest);
      await c.fetchManifest('GET', repo, manifest1.digest, manifest1.bytes, manifest1.digest);
    });
    it('GET of the manifest by tag answers 200 with manifest[0]', async () => {
      await c.fetchManifest('GET', repo, tag, manifest0.bytes, manifest0.digest);
    });
    it('GET of manifest "sha256:totallywrong" answers 400 with a spec error code, or 404', async () => {
      const reply = await c.send('GET', `/v2/${repo}/manifests/sha256:totallywrong`, { headers: { 'Content-Type': MT.manifest } });
      expectStatus(reply, [400, 404]);
      if (reply.status === 400) expectErrorBody(reply, undefined, 'GET manifest sha256:totallywrong');
    });

    it('teardown: deletes both manifests, then the configs and the layer', async () => {
      await teardownDelete(c, `/v2/${repo}/manifests/${manifest0.digest}`, false);
      await teardownDelete(c, `/v2/${repo}/manifests/${manifest1.digest}`, false);
      for (const blob of [config0, config1, data.layer]) await teardownDelete(c, `/v2/${repo}/blobs/${blob.digest}`, true);
    });
  });
}

// -----------------------------------------------------------------------------------------------
// Push (02_push_test.go and the 02-05 upload files of the draft suite)

function pushWorkflow(c: ConformanceClient, data: ClassicData, repo: string, crossRepo: string): void {
  const config1 = data.configs[1] as Blob;
  const manifest1 = data.manifests[1] as Blob;
  const { blobA, blobB } = data;
  const range1 = `0-${blobB.chunk1.byteLength - 1}`;
  const range2 = `${blobB.chunk1.byteLength}-${blobB.size - 1}`;
  describe('push', () => {
    describe('blob upload, streamed', () => {
      let patched: Reply | undefined;
      it('PATCH with the whole blob in the body answers 202', async () => {
        const post = await c.send('POST', `/v2/${repo}/blobs/uploads/`);
        expectStatus(post, 202, 'POST');
        patched = await c.send('PATCH', location(post, 'POST'), { headers: { 'Content-Type': MT.octet }, body: blobA.bytes });
        expectStatus(patched, 202, 'PATCH');
        const range = patched.headers.get('range');
        if (range !== null) assert.equal(range, `0-${blobA.size - 1}`, `Range after the PATCH\n${exchange(patched)}`);
      });
      it('PUT to the session URL with the digest answers 201 with a Location', async () => {
        assert.ok(patched !== undefined, 'the PATCH test must run first');
        const put = await c.send('PUT', location(patched, 'PATCH'), { query: { digest: blobA.digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': '0' } });
        expectStatus(put, 201, 'PUT');
        await c.verifyBlobLocation(put, blobA.bytes, blobA.digest, 'PUT');
      });
    });

    describe('blob upload, monolithic', () => {
      let postWithBlob: Reply | undefined;
      let session: Reply | undefined;
      it('GET of a nonexistent blob answers 404', async () => {
        expectNotFound(await c.send('GET', `/v2/${repo}/blobs/${data.dummyDigest}`), 'BLOB_UNKNOWN', 'GET nonexistent blob');
      });
      it('POST ?digest= with the blob answers 201 or 202, with a Location', async () => {
        postWithBlob = await c.send('POST', `/v2/${repo}/blobs/uploads/`, {
          query: { digest: config1.digest },
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(config1.size) },
          body: config1.bytes,
        });
        requireHeader(postWithBlob, 'location', 'POST ?digest=');
        expectStatus(postWithBlob, [201, 202], 'POST ?digest=');
        if (postWithBlob.status === 201) await c.verifyBlobLocation(postWithBlob, config1.bytes, config1.digest, 'POST ?digest=');
      });
      it('GET of that blob answers 200 after a 201, 404 after a 202', async () => {
        assert.ok(postWithBlob !== undefined, 'the POST ?digest= test must run first');
        const reply = await c.send('GET', `/v2/${repo}/blobs/${config1.digest}`);
        if (postWithBlob.status === 202) {
          expectNotFound(reply, 'BLOB_UNKNOWN', 'GET after POST ?digest= answered 202');
        } else {
          expectStatus(reply, 200, 'GET after POST ?digest= answered 201');
          expectBody(reply, config1.bytes, 'GET after POST ?digest= answered 201');
        }
      });
      it('POST answers 202 with a session Location', async () => {
        session = await c.send('POST', `/v2/${repo}/blobs/uploads/`);
        expectStatus(session, 202, 'POST');
        requireHeader(session, 'location', 'POST');
      });
      it('PUT of the whole blob to the session answers 201 with a Location', async () => {
        assert.ok(session !== undefined, 'the POST test must run first');
        const put = await c.send('PUT', location(session), { query: { digest: config1.digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(config1.size) }, body: config1.bytes });
        expectStatus(put, 201, 'PUT');
        await c.verifyBlobLocation(put, config1.bytes, config1.digest, 'PUT');
      });
      it('GET of the pushed blob answers 200', async () => {
        await c.getBlob(repo, config1.digest, config1.bytes);
      });
      it('POST + PUT of the layer answers 201 with a Location', async () => {
        await c.pushPostPut(repo, data.layer.digest, data.layer.bytes);
      });
      it('GET of the pushed layer answers 200', async () => {
        await c.getBlob(repo, data.layer.digest, data.layer.bytes);
      });
    });

    describe('blob upload, chunked', () => {
      let firstSession: Reply | undefined;
      let resumed: Reply | undefined;
      let secondPatch: Reply | undefined;
      it('a PATCH out of order (the second chunk first) answers 416', async () => {
        const post = await c.send('POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
        expectStatus(post, 202, 'POST');
        const patch = await c.send('PATCH', location(post, 'POST'), {
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(blobB.chunk2.byteLength), 'Content-Range': range2 },
          body: blobB.chunk2,
        });
        expectStatus(patch, 416, 'PATCH of the second chunk into an empty upload');
      });
      it('PATCH of the first chunk answers 202 with Range 0-<end>', async () => {
        firstSession = await c.send('POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
        expectStatus(firstSession, 202, 'POST');
        const patch = await c.send('PATCH', location(firstSession, 'POST'), {
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(blobB.chunk1.byteLength), 'Content-Range': range1 },
          body: blobB.chunk1,
        });
        expectStatus(patch, 202, 'PATCH first chunk');
        expectHeader(patch, 'range', range1, 'PATCH first chunk');
        requireHeader(patch, 'location', 'PATCH first chunk');
      });
      it('retrying the first chunk at the session URL from the POST answers 416', async () => {
        assert.ok(firstSession !== undefined, 'the first-chunk test must run first');
        const retry = await c.send('PATCH', location(firstSession), {
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(blobB.chunk1.byteLength), 'Content-Range': range1 },
          body: blobB.chunk1,
        });
        expectStatus(retry, 416, 'PATCH of the first chunk again');
      });
      it('GET of that (stale) session URL answers 204 with a Location and Range 0-<end>', async () => {
        assert.ok(firstSession !== undefined, 'the first-chunk test must run first');
        resumed = await c.send('GET', location(firstSession));
        expectStatus(resumed, 204, 'GET upload status');
        requireHeader(resumed, 'location', 'GET upload status');
        expectHeader(resumed, 'range', range1, 'GET upload status');
        assert.equal(resumed.body.byteLength, 0, `204 must not have a body\n${exchange(resumed)}`);
      });
      it('PATCH of the second chunk at the Location from the GET answers 202', async () => {
        assert.ok(resumed !== undefined, 'the GET status test must run first');
        secondPatch = await c.send('PATCH', location(resumed), {
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(blobB.chunk2.byteLength), 'Content-Range': range2 },
          body: blobB.chunk2,
        });
        expectStatus(secondPatch, 202, 'PATCH second chunk');
        requireHeader(secondPatch, 'location', 'PATCH second chunk');
        expectHeader(secondPatch, 'range', `0-${blobB.size - 1}`, 'PATCH second chunk');
      });
      it('PUT with the digest and no body answers 201 with a Location', async () => {
        assert.ok(secondPatch !== undefined, 'the second-chunk test must run first');
        const put = await c.send('PUT', location(secondPatch), { query: { digest: blobB.digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': '0' } });
        expectStatus(put, 201, 'PUT');
        await c.verifyBlobLocation(put, blobB.bytes, blobB.digest, 'PUT');
      });
      it('PUT carrying the final chunk (with Content-Range) answers 201', async () => {
        const blob = randomBlobOf(42);
        const half = 22;
        const post = await c.send('POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
        expectStatus(post, 202, 'POST');
        const patch = await c.send('PATCH', location(post, 'POST'), {
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(half), 'Content-Range': `0-${half - 1}` },
          body: blob.bytes.subarray(0, half),
        });
        expectStatus(patch, 202, 'PATCH first chunk');
        const put = await c.send('PUT', location(patch, 'PATCH first chunk'), {
          query: { digest: blob.digest },
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(blob.size - half), 'Content-Range': `${half}-${blob.size - 1}` },
          body: blob.bytes.subarray(half),
        });
        expectStatus(put, 201, 'PUT with the final chunk');
        await c.verifyBlobLocation(put, blob.bytes, blob.digest, 'PUT with the final chunk');
      });
    });

    describe('cross-repository blob mount', () => {
      let mounted: Reply | undefined;
      it('mount of an unknown blob without from answers 202 with a session Location', async () => {
        const reply = await c.send('POST', `/v2/${crossRepo}/blobs/uploads/`, { query: { mount: data.dummyDigest } });
        expectStatus(reply, 202, 'POST ?mount= (unknown blob, no from)');
        assert.ok(new URL(location(reply)).pathname.startsWith(`/v2/${crossRepo}/blobs/uploads/`), `Location must be an upload session of ${crossRepo}\n${exchange(reply)}`);
      });
      it('mount of a blob from another repository answers 201 or 202', async () => {
        mounted = await c.send('POST', `/v2/${crossRepo}/blobs/uploads/`, { query: { mount: blobA.digest, from: repo } });
        expectStatus(mounted, [201, 202], 'POST ?mount=&from=');
      });
      it('after a 201, the Location is the blob in the target repository and serves it', async () => {
        assert.ok(mounted !== undefined, 'the mount test must run first');
        if (mounted.status !== 201) return;
        assert.equal(new URL(location(mounted)).pathname, `/v2/${crossRepo}/blobs/${blobA.digest}`, `Location of a mounted blob\n${exchange(mounted)}`);
        expectOptionalDigest(mounted, blobA.digest, 'mount');
        const got = await c.send('GET', location(mounted));
        expectStatus(got, 200, 'GET of the mounted blob');
        expectBody(got, blobA.bytes, 'GET of the mounted blob');
      });
      it('after a 202, the Location is an upload session of the target repository', async () => {
        assert.ok(mounted !== undefined, 'the mount test must run first');
        if (mounted.status !== 202) return;
        assert.ok(new URL(location(mounted)).pathname.startsWith(`/v2/${crossRepo}/blobs/uploads/`), `Location of a mount that fell back to an upload\n${exchange(mounted)}`);
      });
    });

    describe('manifest upload', () => {
      it('GET of a nonexistent manifest (.INVALID_MANIFEST_NAME) answers 404', async () => {
        expectStatus(await c.send('GET', `/v2/${repo}/manifests/.INVALID_MANIFEST_NAME`), 404);
      });
      it('PUT of a manifest under four tags answers 201 with a Location each time', async () => {
        for (let i = 0; i < 4; i++) await c.putManifest(repo, `test${i}`, manifest1.bytes, manifest1.digest);
      });
      it('PUT of a manifest with no layers (and no mediaType field) answers 201', async () => {
        await c.putManifest(repo, 'emptylayer', data.emptyLayerManifest.bytes, data.emptyLayerManifest.digest);
      });
      it('GET of the manifest by digest answers 200', async () => {
        await c.fetchManifest('GET', repo, manifest1.digest, manifest1.bytes, manifest1.digest);
      });
    });

    it('teardown: deletes the manifests, then the config and the layer', async () => {
      await teardownDelete(c, `/v2/${repo}/manifests/${manifest1.digest}`, false);
      await teardownDelete(c, `/v2/${repo}/manifests/${data.emptyLayerManifest.digest}`, false);
      await teardownDelete(c, `/v2/${repo}/blobs/${config1.digest}`, true);
      await teardownDelete(c, `/v2/${repo}/blobs/${data.layer.digest}`, true);
    });
  });
}

// -----------------------------------------------------------------------------------------------
// Content discovery (03_discovery_test.go, 05_referrers.go, 06_tags_list_test.go)

function discoveryWorkflow(c: ConformanceClient, data: ClassicData, repo: string): void {
  const config2 = data.configs[2] as Blob;
  const config4 = data.configs[4] as Blob;
  const manifest2 = data.manifests[2] as Blob;
  const manifest3 = data.manifests[3] as Blob;
  const manifest4 = data.manifests[4] as Blob;
  const { refs } = data;
  describe('content discovery', () => {
    it('setup: pushes a config, the layer and one manifest under four tags', async () => {
      await setupBlob(c, repo, config2, 'config[2]');
      await setupBlob(c, repo, data.layer, 'layer');
      for (let i = 0; i < 4; i++) await setupManifest(c, repo, `test${i}`, manifest2, MT.manifest, `PUT manifest[2] as test${i}`);
    });
    it('setup: pushes referrers before and after their subject, each answered with OCI-Subject', async () => {
      assert.equal(data.emptyJson.digest, EMPTY_JSON_DIGEST);
      // Everything is pushed before OCI-Subject is judged, so a missing header fails this test only.
      const subjectHeaders: Array<{ reply: Reply; subject: Blob; what: string }> = [];
      const putReferrer = async (blob: Blob, mediaType: string, subject: Blob, what: string): Promise<void> => {
        subjectHeaders.push({ reply: await setupManifest(c, repo, blob.digest, blob, mediaType, `PUT ${what}`), subject, what });
      };
      await setupBlob(c, repo, data.emptyJson, 'empty JSON blob');
      await setupBlob(c, repo, data.refBlobA, 'referrer blob A');
      // referrers pushed before their subject exists
      await putReferrer(refs.aConfig, MT.manifest, manifest4, 'artifact A (config media type)');
      await putReferrer(refs.aLayer, MT.manifest, manifest4, 'artifact A (artifactType)');
      await putReferrer(refs.index, MT.index, manifest4, 'index artifact');
      // the subject
      await setupBlob(c, repo, config4, 'config[4]');
      await setupBlob(c, repo, data.layer, 'layer');
      await setupManifest(c, repo, 'tagtest0', manifest4, MT.manifest, 'PUT manifest[4] as tagtest0');
      // referrers pushed after it
      await setupBlob(c, repo, data.refBlobB, 'referrer blob B');
      await putReferrer(refs.bConfig, MT.manifest, manifest4, 'artifact B (config media type)');
      await putReferrer(refs.bLayer, MT.manifest, manifest4, 'artifact B (artifactType)');
      // a referrer whose subject is never pushed here
      await putReferrer(refs.cLayer, MT.manifest, manifest3, 'artifact C (subject never pushed)');
      for (const { reply, subject, what } of subjectHeaders) expectHeader(reply, 'oci-subject', subject.digest, what);
    });

    describe('tags list', () => {
      /** The tags as the lexically sorted list that `n` and `last` page through. */
      let all: string[] = [];
      /** A Link header, when sent, must point at the next page: same `n`, `last` = the last tag returned. */
      const expectOptionalLink = (reply: Reply, n: number, tags: string[]): void => {
        const link = reply.headers.get('link');
        if (link === null) return;
        const m = /^<([^>]+)>;\s*rel="next"$/.exec(link.trim());
        assert.ok(m !== null, `Link must be <url>; rel="next"\n${exchange(reply)}`);
        const next = new URL(m[1] as string, reply.url);
        assert.equal(next.pathname, `/v2/${repo}/tags/list`, `Link path\n${exchange(reply)}`);
        assert.equal(next.searchParams.get('n'), String(n), `Link n\n${exchange(reply)}`);
        assert.equal(next.searchParams.get('last'), tags[tags.length - 1], `Link last\n${exchange(reply)}`);
      };
      it('GET tags/list answers 200 with every tag', async () => {
        const { reply, tags } = await c.listTags(repo);
        expectStatus(reply, 200, 'GET tags/list');
        all = [...tags].sort();
        assert.deepEqual(all, ['tagtest0', 'test0', 'test1', 'test2', 'test3'], `tags\n${exchange(reply)}`);
      });
      it('the `n` query parameter limits the number of tags, from the start of the lexical order', async () => {
        assert.equal(all.length, 5, 'the full listing test must pass first');
        const n = Math.floor(all.length / 2);
        const { reply, tags } = await c.listTags(repo, { n: String(n) });
        expectStatus(reply, 200, `GET tags/list?n=${n}`);
        assert.equal(tags.length, n, `tags/list?n=${n}\n${exchange(reply)}`);
        assert.deepEqual(tags, all.slice(0, n), `the first ${n} tags in lexical order\n${exchange(reply)}`);
        expectOptionalLink(reply, n, tags);
      });
      it('the `last` query parameter starts the list after that tag', async () => {
        assert.equal(all.length, 5, 'the full listing test must pass first');
        const n = Math.floor(all.length / 2);
        const last = all[n - 1] as string;
        const { reply, tags } = await c.listTags(repo, { n: String(n), last });
        expectStatus(reply, 200, `GET tags/list?n=${n}&last=${last}`);
        assert.ok(tags.length <= n, `at most ${n} tags\n${exchange(reply)}`);
        assert.deepEqual(tags, all.slice(n, 2 * n), `the ${n} tags after ${last}\n${exchange(reply)}`);
        expectOptionalLink(reply, n, tags);
        const rest = await c.listTags(repo, { last });
        assert.deepEqual([...rest.tags].sort(), all.slice(n), `every tag after ${last}\n${exchange(rest.reply)}`);
      });
      it('GET of a manifest by the first listed tag answers 200', async () => {
        assert.equal(all.length, 5, 'the full listing test must pass first');
        const first = all[0] as string;
        const expected = first === 'tagtest0' ? manifest4 : manifest2;
        await c.fetchManifest('GET', repo, first, expected.bytes, expected.digest);
      });
    });

    describe('referrers', () => {
      const expectedEntry = (blob: Blob, mediaType: string, artifactType: string): ReferrerEntry => {
        const entry: ReferrerEntry = { mediaType, digest: blob.digest, size: blob.size, artifactType };
        const annotation = data.annotationOf.get(blob.digest);
        if (annotation !== undefined) entry.annotations = { [data.annotationKey]: annotation };
        return entry;
      };
      const allOfSubject4 = (): ReferrerEntry[] => [
        expectedEntry(refs.aConfig, MT.manifest, data.artifactTypeA),
        expectedEntry(refs.aLayer, MT.manifest, data.artifactTypeA),
        expectedEntry(refs.index, MT.index, data.artifactTypeIndex),
        expectedEntry(refs.bConfig, MT.manifest, data.artifactTypeB),
        expectedEntry(refs.bLayer, MT.manifest, data.artifactTypeB),
      ];
      it('referrers of a digest nothing refers to: 200 with an empty index', async () => {
        const { manifests } = await c.referrers(repo, data.dummyDigest);
        assert.equal(manifests.length, 0);
      });
      it('referrers of the subject list all five referrers, with artifactType and annotations', async () => {
        const { reply, manifests } = await c.referrers(repo, manifest4.digest);
        expectReferrers(reply, manifests, allOfSubject4());
      });
      it('the artifactType filter returns only matching referrers when OCI-Filters-Applied says so', async () => {
        const { reply, manifests } = await c.referrers(repo, manifest4.digest, { artifactType: data.artifactTypeA });
        const applied = reply.headers.get('oci-filters-applied');
        if (applied === null || applied === '') {
          // unfiltered answers are allowed (the suite warns): then everything comes back
          expectReferrers(reply, manifests, allOfSubject4());
          return;
        }
        assert.equal(applied, 'artifactType', `OCI-Filters-Applied\n${exchange(reply)}`);
        expectReferrers(reply, manifests, allOfSubject4().filter((e) => e.artifactType === data.artifactTypeA));
      });
      it('referrers of a subject that was never pushed list the referrer pushed for it', async () => {
        const { reply, manifests } = await c.referrers(repo, manifest3.digest);
        expectReferrers(reply, manifests, [{ mediaType: MT.manifest, digest: refs.cLayer.digest, size: refs.cLayer.size, artifactType: data.artifactTypeB }]);
      });
    });

    it('teardown: deletes the manifests and tags, then the blobs', async () => {
      for (const ref of [refs.index.digest, manifest2.digest, manifest4.digest, refs.aConfig.digest, refs.aLayer.digest, 'tagtest0', refs.bConfig.digest, refs.bLayer.digest, refs.cLayer.digest]) {
        const reply = await c.send('DELETE', `/v2/${repo}/manifests/${ref}`);
        expectStatus(reply, [200, 201, 202, 204, 404, 405], `teardown DELETE manifest ${ref}`);
      }
      for (const blob of [config2, data.layer, config4, data.refBlobA, data.refBlobB, data.emptyJson]) await teardownDelete(c, `/v2/${repo}/blobs/${blob.digest}`, true);
    });
  });
}

/** Asserts a referrers list holds exactly `expected` (any order): digest, media type, size, artifactType, annotations. */
function expectReferrers(reply: Reply, actual: ReferrerEntry[], expected: ReferrerEntry[]): void {
  const digests = actual.map((e) => e.digest);
  assert.equal(new Set(digests).size, digests.length, `referrers must not repeat a manifest\n${exchange(reply)}`);
  assert.deepEqual([...digests].sort(), expected.map((e) => e.digest).sort(), `referrer digests\n${exchange(reply)}`);
  for (const want of expected) {
    const got = actual.find((e) => e.digest === want.digest) as ReferrerEntry;
    assert.equal(got.mediaType, want.mediaType, `mediaType of referrer ${want.digest}\n${exchange(reply)}`);
    assert.equal(got.size, want.size, `size of referrer ${want.digest}\n${exchange(reply)}`);
    assert.equal(got.artifactType ?? '', want.artifactType ?? '', `artifactType of referrer ${want.digest}\n${exchange(reply)}`);
    assert.deepEqual(got.annotations ?? {}, want.annotations ?? {}, `annotations of referrer ${want.digest}\n${exchange(reply)}`);
  }
}

// -----------------------------------------------------------------------------------------------
// Content management (04_management_test.go, 07/08 manifest delete, 08/09 blob delete)

function managementWorkflow(c: ConformanceClient, data: ClassicData, repo: string): void {
  const config3 = data.configs[3] as Blob;
  const manifest3 = data.manifests[3] as Blob;
  const tag = 'tagtest0';
  describe('content management', () => {
    let tagsBefore = 0;
    let tagDeleteStatus = 0;
    let manifestDeleteStatus = 0;
    let blobDeleteStatus = 0;
    it('setup: pushes a config, the layer and a tagged manifest', async () => {
      await setupBlob(c, repo, config3, 'config[3]');
      await setupBlob(c, repo, data.layer, 'layer');
      await setupManifest(c, repo, tag, manifest3, MT.manifest, 'PUT manifest[3] as tagtest0');
      await setupManifest(c, repo, 'keep', manifest3, MT.manifest, 'PUT manifest[3] as keep');
      const { reply, tags } = await c.listTags(repo);
      expectStatus(reply, 200, 'tags list before deletes');
      tagsBefore = tags.length;
      assert.equal(tagsBefore, 2);
    });
    it('DELETE of a tag answers 202 (or 400 UNSUPPORTED / 405 when tag deletes are disallowed)', async () => {
      const reply = await c.send('DELETE', `/v2/${repo}/manifests/${tag}`);
      expectStatus(reply, [202, 400, 405], 'DELETE tag');
      if (reply.status === 400) expectErrorBody(reply, 'UNSUPPORTED', 'DELETE tag answered 400');
      tagDeleteStatus = reply.status;
    });
    it('after a tag delete, the tag is gone and the manifest is still there', async () => {
      const byTag = await c.send('GET', `/v2/${repo}/manifests/${tag}`, { headers: ACCEPT_MANIFESTS });
      if (tagDeleteStatus === 202) expectNotFound(byTag, 'MANIFEST_UNKNOWN', 'GET of the deleted tag');
      else expectStatus(byTag, 200, 'GET of a tag whose delete was refused');
      await c.fetchManifest('GET', repo, manifest3.digest, manifest3.bytes, manifest3.digest);
      await c.fetchManifest('GET', repo, 'keep', manifest3.bytes, manifest3.digest);
    });
    it('DELETE of the manifest by digest answers 202 (404 if already deleted)', async () => {
      const reply = await c.send('DELETE', `/v2/${repo}/manifests/${manifest3.digest}`);
      expectStatus(reply, [202, 404], 'DELETE manifest by digest');
      manifestDeleteStatus = reply.status;
    });
    it('GET of the deleted manifest answers 404, by digest and by its remaining tag', async () => {
      const reply = await c.send('GET', `/v2/${repo}/manifests/${manifest3.digest}`, { headers: ACCEPT_MANIFESTS });
      if (manifestDeleteStatus === 202) {
        expectNotFound(reply, 'MANIFEST_UNKNOWN', 'GET of the deleted manifest');
        expectStatus(await c.send('GET', `/v2/${repo}/manifests/keep`, { headers: ACCEPT_MANIFESTS }), 404, 'GET of a tag of the deleted manifest');
      } else {
        expectStatus(reply, [200, 404], 'GET manifest after DELETE');
      }
    });
    it('the tags list reflects the deletion', async () => {
      const { reply, tags } = await c.listTags(repo);
      assert.ok(tags.length < tagsBefore, `fewer tags than the ${tagsBefore} before\n${exchange(reply)}`);
      assert.ok(!tags.includes(tag), `the deleted tag is not listed\n${exchange(reply)}`);
    });
    it('DELETE of the manifest again answers 404 MANIFEST_UNKNOWN', async () => {
      expectNotFound(await c.send('DELETE', `/v2/${repo}/manifests/${manifest3.digest}`), 'MANIFEST_UNKNOWN', 'second DELETE of the manifest');
    });
    it('DELETE of the config and layer blobs answers 202 (or 404 / 405)', async () => {
      const config = await c.send('DELETE', `/v2/${repo}/blobs/${config3.digest}`);
      expectStatus(config, [202, 404, 405], 'DELETE config blob');
      const layer = await c.send('DELETE', `/v2/${repo}/blobs/${data.layer.digest}`);
      expectStatus(layer, [202, 404, 405], 'DELETE layer blob');
      blobDeleteStatus = config.status;
    });
    it('GET of a deleted blob answers 404, and deleting it again answers 404 BLOB_UNKNOWN', async () => {
      if (blobDeleteStatus === 405) return;
      expectNotFound(await c.send('GET', `/v2/${repo}/blobs/${config3.digest}`), 'BLOB_UNKNOWN', 'GET deleted blob');
      expectStatus(await c.send('HEAD', `/v2/${repo}/blobs/${config3.digest}`), 404, 'HEAD deleted blob');
      expectNotFound(await c.send('DELETE', `/v2/${repo}/blobs/${config3.digest}`), 'BLOB_UNKNOWN', 'second DELETE of the blob');
    });
  });
}

// -----------------------------------------------------------------------------------------------
// Blob APIs per digest algorithm (the current runner's TestBlobAPIs)

function blobApis(c: ConformanceClient, algorithm: Algorithm, repo: string, repo2: string): void {
  describe(`blob APIs (${algorithm})`, () => {
    let minChunk = 1024;
    const checkAndDelete = async (digest: string, bytes: Buffer, repos: string[] = [repo]): Promise<void> => {
      await c.headBlob(repo, digest, bytes);
      await c.getBlob(repo, digest, bytes);
      for (const r of repos) await c.deleteBlob(r, digest);
    };
    const sized = (size: number): Blob => randomBlobOf(size, algorithm);

    it('GET of a blob never pushed answers 404', async () => {
      expectNotFound(await c.send('GET', `/v2/${repo}/blobs/${sized(512).digest}`), 'BLOB_UNKNOWN', 'GET never-pushed blob');
    });
    it('POST with the blob and ?digest= (one request), then HEAD, GET, DELETE', async () => {
      const b = sized(512);
      await c.pushPostOnly(repo, b.digest, b.bytes);
      await checkAndDelete(b.digest, b.bytes);
    });
    it('POST + PUT, then HEAD, GET, DELETE', async () => {
      const b = sized(512);
      await c.pushPostPut(repo, b.digest, b.bytes);
      await checkAndDelete(b.digest, b.bytes);
    });
    it('chunked with a single chunk, then HEAD, GET, DELETE', async () => {
      const b = sized(512);
      await c.pushChunked(repo, b.digest, b.bytes, {
        onMinLength: (v) => {
          minChunk = Math.max(minChunk, Number(v));
        },
      });
      await checkAndDelete(b.digest, b.bytes);
    });
    it('streamed PATCH, then HEAD, GET, DELETE', async () => {
      const b = sized(512);
      await c.pushStream(repo, b.digest, b.bytes);
      await checkAndDelete(b.digest, b.bytes);
    });
    it('mount from another repository (201, or 202 and a completed upload), then HEAD, GET, DELETE in both', async () => {
      const b = sized(512);
      await c.pushPostPut(repo2, b.digest, b.bytes);
      await c.mount(repo, repo2, b.digest, b.bytes);
      await checkAndDelete(b.digest, b.bytes, [repo, repo2]);
    });
    it('mount without from (201 when the registry finds the blob, else 202), then HEAD, GET, DELETE in both', async () => {
      const b = sized(512);
      await c.pushPostPut(repo2, b.digest, b.bytes);
      await c.mount(repo, undefined, b.digest, b.bytes);
      await checkAndDelete(b.digest, b.bytes, [repo, repo2]);
    });
    it('mount from a repository that lacks the blob answers 202 (an upload), never 201', async () => {
      const b = sized(512);
      const { outcome, post } = await c.mount(repo, repo2, b.digest, b.bytes);
      assert.equal(outcome, 202, `mount of a blob missing from the source must not succeed\n${exchange(post)}`);
      await checkAndDelete(b.digest, b.bytes);
    });
    it('cancelling an upload: DELETE of the session answers 204, then the session is unknown', async () => {
      const { url } = await c.startUpload(repo);
      const del = await c.send('DELETE', url);
      expectStatus(del, 204, 'DELETE upload session');
      const status = await c.send('GET', url);
      expectNotFound(status, 'BLOB_UPLOAD_UNKNOWN', 'GET of a cancelled upload');
    });
    it('chunked in three chunks, then HEAD, GET, DELETE', async () => {
      const b = sized(minChunk * 3 - 5);
      await c.pushChunked(repo, b.digest, b.bytes);
      await checkAndDelete(b.digest, b.bytes);
    });
    it('chunked in three chunks with the last one in the PUT, then HEAD, GET, DELETE', async () => {
      const b = sized(minChunk * 3 - 5);
      await c.pushChunked(repo, b.digest, b.bytes, { putLastChunk: true });
      await checkAndDelete(b.digest, b.bytes);
    });
    it('chunked with out-of-order chunks (416, then resume after GET 204), then HEAD, GET, DELETE', async () => {
      const b = sized(minChunk * 3 - 5);
      await c.pushChunked(repo, b.digest, b.bytes, { outOfOrder: true });
      await checkAndDelete(b.digest, b.bytes);
    });
    it('chunked with out-of-order chunks and the last one in the PUT, then HEAD, GET, DELETE', async () => {
      const b = sized(minChunk * 3 - 5);
      await c.pushChunked(repo, b.digest, b.bytes, { outOfOrder: true, putLastChunk: true });
      await checkAndDelete(b.digest, b.bytes);
    });

    describe('range requests', () => {
      const b = sized(2048);
      before(async () => {
        await c.pushPostPut(repo, b.digest, b.bytes);
      });
      after(async () => {
        await c.deleteBlob(repo, b.digest);
      });
      const partial = async (range: string, first: number, lastByte: number): Promise<void> => {
        const reply = await c.send('GET', `/v2/${repo}/blobs/${b.digest}`, { headers: { Range: `bytes=${range}` } });
        expectStatus(reply, 206, `GET Range: bytes=${range}`);
        expectBody(reply, b.bytes.subarray(first, lastByte + 1), `GET Range: bytes=${range}`);
        expectHeader(reply, 'content-length', String(lastByte - first + 1), `GET Range: bytes=${range}`);
        const contentRange = reply.headers.get('content-range');
        assert.ok(
          contentRange === `bytes ${first}-${lastByte}/${b.size}` || contentRange === `bytes ${first}-${lastByte}/*`,
          `Content-Range for bytes=${range}\n${exchange(reply)}`,
        );
      };
      it('bytes=500-1499 answers 206 with those bytes', () => partial('500-1499', 500, 1499));
      it('bytes=500- answers 206 with the rest', () => partial('500-', 500, 2047));
      it('bytes=-500 answers 206 with the last 500 bytes', () => partial('-500', 1548, 2047));
      it('bytes=2000-5000 answers 206 with the bytes that exist', () => partial('2000-5000', 2000, 2047));
      it('bytes=500-0 answers 416', async () => {
        expectStatus(await c.send('GET', `/v2/${repo}/blobs/${b.digest}`, { headers: { Range: 'bytes=500-0' } }), 416, 'GET Range: bytes=500-0');
      });
      it('bytes=5000-10000 answers 416', async () => {
        expectStatus(await c.send('GET', `/v2/${repo}/blobs/${b.digest}`, { headers: { Range: 'bytes=5000-10000' } }), 416, 'GET Range: bytes=5000-10000');
      });
    });

    for (const [name, bytes] of [
      ['the empty blob (0 bytes)', Buffer.alloc(0)],
      ['the empty JSON blob', Buffer.from('{}')],
    ] as const) {
      it(`${name}: push, HEAD, GET, DELETE`, async () => {
        const b = blobOf(bytes, algorithm);
        await c.pushPostPut(repo, b.digest, b.bytes);
        await checkAndDelete(b.digest, b.bytes);
      });
    }

    const corrupt = (): Blob => {
      const b = sized(minChunk * 3 - 5);
      return { ...b, bytes: Buffer.concat([b.bytes, Buffer.from('oh no')]) };
    };
    const expectAbsent = async (digest: string): Promise<void> => {
      expectStatus(await c.send('HEAD', `/v2/${repo}/blobs/${digest}`), 404, 'HEAD of a blob whose push was refused');
    };
    it('bad digest, POST with the blob: 400 (or 202 and a 400 on the PUT), nothing stored', async () => {
      const b = corrupt();
      await c.pushPostOnly(repo, b.digest, b.bytes, { expectBadDigest: true });
      await expectAbsent(b.digest);
    });
    it('bad digest, POST + PUT: 400 DIGEST_INVALID, nothing stored', async () => {
      const b = corrupt();
      await c.pushPostPut(repo, b.digest, b.bytes, { expectBadDigest: true });
      await expectAbsent(b.digest);
    });
    it('bad digest, chunked: 400 DIGEST_INVALID on the closing PUT, nothing stored', async () => {
      const b = corrupt();
      await c.pushChunked(repo, b.digest, b.bytes, { expectBadDigest: true });
      await expectAbsent(b.digest);
    });
    it('bad digest, chunked with the last chunk in the PUT: 400 DIGEST_INVALID, nothing stored', async () => {
      const b = corrupt();
      await c.pushChunked(repo, b.digest, b.bytes, { expectBadDigest: true, putLastChunk: true });
      await expectAbsent(b.digest);
    });
    it('bad digest, streamed: 400 DIGEST_INVALID on the PUT, nothing stored', async () => {
      const b = corrupt();
      await c.pushStream(repo, b.digest, b.bytes, { expectBadDigest: true });
      await expectAbsent(b.digest);
    });
  });
}

// -----------------------------------------------------------------------------------------------
// The empty repository (TestEmpty)

function emptyRepository(c: ConformanceClient, repo: string): void {
  describe('empty repository', () => {
    it('tags list answers 200 with no tags, or 404 NAME_UNKNOWN', async () => {
      const { reply, tags } = await c.listTags(repo);
      if (reply.status === 404) {
        if (reply.body.byteLength > 0) expectErrorBody(reply, 'NAME_UNKNOWN', 'tags list of an empty repository');
      } else {
        assert.deepEqual(tags, [], `no tags\n${exchange(reply)}`);
      }
    });
    it('referrers of a random digest answer 200 with an empty index', async () => {
      const { manifests } = await c.referrers(repo, digestOf(randomBytes(16)));
      assert.deepEqual(manifests, []);
    });
  });
}

// -----------------------------------------------------------------------------------------------
// One round per data set (the current runner's push / list / head / pull / referrers / delete)

function dataSetRound(c: ConformanceClient, set: DataSet, repo: string): void {
  describe(`data: ${set.description}`, () => {
    const methods = ['post+put', 'post only', 'stream', 'chunked'] as const;
    const pushedTags: string[] = [];
    const pullable = (digest: string): boolean => !set.badDigest.has(digest);
    const manifestBody = (digest: string): Buffer => set.manifests.get(digest) as Buffer;

    it('pushes every blob (rotating through the push methods)', async () => {
      let i = 0;
      for (const [digest, bytes] of set.blobs) {
        const method = methods[i++ % methods.length];
        if (method === 'post+put') await c.pushPostPut(repo, digest, bytes);
        else if (method === 'post only') await c.pushPostOnly(repo, digest, bytes);
        else if (method === 'stream') await c.pushStream(repo, digest, bytes);
        else await c.pushChunked(repo, digest, bytes);
      }
    });
    it('pushes every manifest by digest (201, OCI-Subject for subjects; 400 for a digest that does not match)', async () => {
      for (const digest of set.order) {
        const body = manifestBody(digest);
        if (set.badDigest.has(digest)) {
          const reply = await c.send('PUT', `/v2/${repo}/manifests/${digest}`, { headers: { 'Content-Type': MT.manifest }, body });
          expectStatus(reply, 400, 'PUT of a manifest whose bytes do not match the digest');
          expectErrorBody(reply, undefined, 'PUT of a manifest whose bytes do not match the digest');
          continue;
        }
        await c.putManifest(repo, digest, body, digest);
      }
    });
    it('pushes every tag', async () => {
      for (const [tag, digest] of set.tags) {
        await c.putManifest(repo, tag, manifestBody(digest), digest);
        pushedTags.push(tag);
      }
    });
    it('lists the tags, and `last` returns exactly the tags after it', async () => {
      const { reply, tags } = await c.listTags(repo);
      if (set.tags.size > 0) expectStatus(reply, 200, 'tags list');
      for (const tag of pushedTags) assert.ok(tags.includes(tag), `tag ${tag} listed\n${exchange(reply)}`);
      if (tags.length >= 2) {
        const sorted = [...tags].sort();
        const half = Math.floor(sorted.length / 2);
        const last = sorted[half - 1] as string;
        const partial = await c.listTags(repo, { last });
        for (const t of sorted.slice(0, half)) assert.ok(!partial.tags.includes(t), `tag ${t} returned with last=${last}\n${exchange(partial.reply)}`);
        for (const t of sorted.slice(half)) assert.ok(partial.tags.includes(t), `tag ${t} missing with last=${last}\n${exchange(partial.reply)}`);
      }
    });
    it('HEAD of every tag, manifest and blob answers 200 with the right headers', async () => {
      for (const [tag, digest] of set.tags) if (pullable(digest)) await c.fetchManifest('HEAD', repo, tag, manifestBody(digest), digest);
      for (const digest of set.order) if (pullable(digest)) await c.fetchManifest('HEAD', repo, digest, manifestBody(digest), digest);
      for (const [digest, bytes] of set.blobs) await c.headBlob(repo, digest, bytes);
    });
    it('GET of every tag, manifest and blob answers 200 with the right bytes', async () => {
      for (const [tag, digest] of set.tags) if (pullable(digest)) await c.fetchManifest('GET', repo, tag, manifestBody(digest), digest);
      for (const digest of set.order) if (pullable(digest)) await c.fetchManifest('GET', repo, digest, manifestBody(digest), digest);
      for (const [digest, bytes] of set.blobs) await c.getBlob(repo, digest, bytes);
    });
    if (set.referrers.size > 0) {
      it('referrers of each subject list every referrer; artifactType filters apply', async () => {
        for (const [subject, goals] of set.referrers) {
          const { reply, manifests } = await c.referrers(repo, subject);
          for (const goal of goals) expectListed(reply, manifests, goal);
          for (const artifactType of new Set(goals.map((g) => g.artifactType ?? ''))) {
            const filtered = await c.referrers(repo, subject, { artifactType });
            const applied = (filtered.reply.headers.get('oci-filters-applied') ?? '').split(',').some((f) => f.trim() === 'artifactType');
            for (const goal of goals) if (!applied || (goal.artifactType ?? '') === artifactType) expectListed(filtered.reply, filtered.manifests, goal);
            if (applied) {
              for (const entry of filtered.manifests) assert.equal(entry.artifactType ?? '', artifactType, `artifactType filter ${artifactType} let ${entry.digest} through\n${exchange(filtered.reply)}`);
            }
          }
        }
      });
    }
    it('deletes every tag (then HEAD by tag answers 404)', async () => {
      for (const tag of pushedTags) await c.deleteManifest(repo, tag);
    });
    it('deletes every manifest, last pushed first (then HEAD answers 404)', async () => {
      for (const digest of [...set.order].reverse()) await c.deleteManifest(repo, digest);
    });
    it('deletes every blob (then HEAD answers 404)', async () => {
      for (const digest of set.blobs.keys()) await c.deleteBlob(repo, digest);
    });
  });
}

function expectListed(reply: Reply, manifests: ReferrerEntry[], goal: Descriptor): void {
  const found = manifests.some(
    (e) =>
      e.digest === goal.digest &&
      e.mediaType === goal.mediaType &&
      e.size === goal.size &&
      (e.artifactType ?? '') === (goal.artifactType ?? '') &&
      Object.entries(goal.annotations ?? {}).every(([k, v]) => e.annotations?.[k] === v),
  );
  assert.ok(found, `referrer missing or wrong: ${JSON.stringify({ digest: goal.digest, mediaType: goal.mediaType, size: goal.size, artifactType: goal.artifactType })}\n${exchange(reply)}`);
}

// -----------------------------------------------------------------------------------------------
// Manifest error conditions (the current runner's TestManifestErrors)

function manifestErrors(c: ConformanceClient, repo: string): void {
  describe('manifest errors', () => {
    it('GET of a missing manifest by digest answers 404', async () => {
      expectNotFound(await c.send('GET', `/v2/${repo}/manifests/${digestOf(randomBytes(1024))}`, { headers: ACCEPT_MANIFESTS }), 'MANIFEST_UNKNOWN', 'GET missing manifest by digest');
    });
    it('GET of a missing manifest by tag answers 404', async () => {
      expectNotFound(await c.send('GET', `/v2/${repo}/manifests/missing-${randomUUID().slice(0, 18)}`, { headers: ACCEPT_MANIFESTS }), 'MANIFEST_UNKNOWN', 'GET missing manifest by tag');
    });
    describe('invalid digest format', () => {
      let image: { body: Buffer; blobs: Blob[] } | undefined;
      before(async () => {
        const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
        const layer = randomBlobOf(256);
        for (const b of [config, layer]) await c.pushPostPut(repo, b.digest, b.bytes);
        const body = Buffer.from(
          JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: { mediaType: MT.config, digest: config.digest, size: config.size }, layers: [{ mediaType: MT.layerGzip, digest: layer.digest, size: layer.size }] }),
        );
        image = { body, blobs: [config, layer] };
      });
      after(async () => {
        for (const b of image?.blobs ?? []) await c.deleteBlob(repo, b.digest);
      });
      it('PUT of a manifest at "sha256:baddigeststring" answers 400', async () => {
        assert.ok(image !== undefined);
        const reply = await c.send('PUT', `/v2/${repo}/manifests/sha256:baddigeststring`, { headers: { 'Content-Type': MT.manifest }, body: image.body });
        expectStatus(reply, 400, 'PUT manifest sha256:baddigeststring');
        expectErrorBody(reply, undefined, 'PUT manifest sha256:baddigeststring');
      });
      it('GET of "sha256:baddigeststring" answers 404 or 400', async () => {
        const reply = await c.send('GET', `/v2/${repo}/manifests/sha256:baddigeststring`, { headers: ACCEPT_MANIFESTS });
        expectStatus(reply, [404, 400], 'GET manifest sha256:baddigeststring');
      });
    });
  });
}

// -----------------------------------------------------------------------------------------------
// Error codes (07_error_codes_test.go, plus the spec's error table)

function errorCodes(c: ConformanceClient, data: ClassicData, repo: string): void {
  describe('error codes', () => {
    const present = randomBlobOf(64);
    before(async () => {
      await c.pushPostPut(repo, present.digest, present.bytes);
    });
    it('PUT of an invalid manifest at an invalid digest answers 400 with a spec error code', async () => {
      const reply = await c.send('PUT', `/v2/${repo}/manifests/sha256:totallywrong`, { headers: { 'Content-Type': MT.manifest }, body: 'blablabla' });
      expectStatus(reply, 400, 'PUT manifest sha256:totallywrong');
      expectErrorBody(reply, undefined, 'PUT manifest sha256:totallywrong');
    });
    it('PUT of a body that is not JSON under a tag answers 400 MANIFEST_INVALID', async () => {
      const reply = await c.send('PUT', `/v2/${repo}/manifests/notjson`, { headers: { 'Content-Type': MT.manifest }, body: 'blablabla' });
      expectStatus(reply, 400, 'PUT manifest notjson');
      expectErrorBody(reply, 'MANIFEST_INVALID', 'PUT manifest notjson');
    });
    it('PUT of a manifest whose blobs are missing answers 201 or 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const missing = randomBlobOf(32);
      const body = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: { mediaType: MT.config, digest: present.digest, size: present.size }, layers: [{ mediaType: MT.layerGzip, digest: missing.digest, size: missing.size }] }),
      );
      const reply = await c.send('PUT', `/v2/${repo}/manifests/sparse`, { headers: { 'Content-Type': MT.manifest }, body });
      expectStatus(reply, [201, 400], 'PUT manifest with a missing layer');
      if (reply.status === 400) expectErrorBody(reply, 'MANIFEST_BLOB_UNKNOWN', 'PUT manifest with a missing layer');
      else await c.deleteManifest(repo, digestOf(body));
    });
    it('invalid repository names answer 400 NAME_INVALID (or 404) and create nothing', async () => {
      for (const name of ['Upper/case', 'double//slash', '-leading/dash', 'trailing-/dash', 'dots..in/name', 'three___underscores']) {
        for (const [method, path] of [
          ['GET', `/v2/${name}/tags/list`],
          ['POST', `/v2/${name}/blobs/uploads/`],
          ['GET', `/v2/${name}/manifests/latest`],
          ['HEAD', `/v2/${name}/blobs/${present.digest}`],
        ] as const) {
          const reply = await c.send(method, path);
          expectStatus(reply, [400, 404], `${method} with invalid name ${name}`);
          if (reply.status === 400 && method !== 'HEAD') expectErrorBody(reply, 'NAME_INVALID', `${method} with invalid name ${name}`);
        }
      }
    });
    it('malformed digests on blob routes answer 400 DIGEST_INVALID (or 404)', async () => {
      for (const digest of ['sha256:abc', 'sha256:' + 'z'.repeat(64), 'nope', `sha256:${'A'.repeat(64)}`]) {
        const reply = await c.send('GET', `/v2/${repo}/blobs/${digest}`);
        expectStatus(reply, [400, 404], `GET blob ${digest}`);
        if (reply.status === 400) expectErrorBody(reply, 'DIGEST_INVALID', `GET blob ${digest}`);
      }
    });
    it('closing an upload with a malformed or missing digest answers 400', async () => {
      const blob = randomBlobOf(16);
      for (const digest of ['sha256:nothex', undefined]) {
        const { url } = await c.startUpload(repo);
        const reply = await c.send('PUT', url, { query: digest === undefined ? {} : { digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(blob.size) }, body: blob.bytes });
        expectStatus(reply, 400, `PUT upload with digest ${String(digest)}`);
        expectErrorBody(reply, undefined, `PUT upload with digest ${String(digest)}`);
        const code = json<{ errors: Array<{ code: string }> }>(reply).errors[0]?.code;
        assert.ok(code === 'DIGEST_INVALID' || code === 'BLOB_UPLOAD_INVALID', `code for PUT upload with digest ${String(digest)}: ${String(code)}\n${exchange(reply)}`);
      }
    });
    it('an unknown blob answers 404 BLOB_UNKNOWN (GET, DELETE) and 404 (HEAD)', async () => {
      expectNotFound(await c.send('GET', `/v2/${repo}/blobs/${data.dummyDigest}`), 'BLOB_UNKNOWN', 'GET unknown blob');
      expectStatus(await c.send('HEAD', `/v2/${repo}/blobs/${data.dummyDigest}`), 404, 'HEAD unknown blob');
      expectNotFound(await c.send('DELETE', `/v2/${repo}/blobs/${data.dummyDigest}`), 'BLOB_UNKNOWN', 'DELETE unknown blob');
    });
    it('an unknown manifest answers 404 MANIFEST_UNKNOWN (GET by tag and digest, DELETE) and 404 (HEAD)', async () => {
      expectNotFound(await c.send('GET', `/v2/${repo}/manifests/nosuchtag`, { headers: ACCEPT_MANIFESTS }), 'MANIFEST_UNKNOWN', 'GET unknown tag');
      expectNotFound(await c.send('GET', `/v2/${repo}/manifests/${data.dummyDigest}`, { headers: ACCEPT_MANIFESTS }), 'MANIFEST_UNKNOWN', 'GET unknown digest');
      expectStatus(await c.send('HEAD', `/v2/${repo}/manifests/nosuchtag`), 404, 'HEAD unknown tag');
      expectNotFound(await c.send('DELETE', `/v2/${repo}/manifests/${data.dummyDigest}`), 'MANIFEST_UNKNOWN', 'DELETE unknown manifest');
    });
    it('a finished upload is unknown afterwards: 404 BLOB_UPLOAD_UNKNOWN on GET, PATCH and PUT', async () => {
      const blob = randomBlobOf(16);
      const { url } = await c.startUpload(repo);
      const put = await c.send('PUT', url, { query: { digest: blob.digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(blob.size) }, body: blob.bytes });
      expectStatus(put, 201, 'PUT');
      expectNotFound(await c.send('GET', url), 'BLOB_UPLOAD_UNKNOWN', 'GET of a finished upload');
      expectNotFound(await c.send('PATCH', url, { headers: { 'Content-Type': MT.octet }, body: blob.bytes }), 'BLOB_UPLOAD_UNKNOWN', 'PATCH of a finished upload');
      expectNotFound(await c.send('PUT', url, { query: { digest: blob.digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': '0' } }), 'BLOB_UPLOAD_UNKNOWN', 'PUT of a finished upload');
    });
    it('a made-up upload id answers 404 BLOB_UPLOAD_UNKNOWN or BLOB_UPLOAD_INVALID (or 400 BLOB_UPLOAD_INVALID)', async () => {
      // Distribution checks the (here missing) upload state first: 404 BLOB_UPLOAD_INVALID.
      const reply = await c.send('GET', `/v2/${repo}/blobs/uploads/${randomUUID()}`);
      expectStatus(reply, [404, 400], 'GET made-up upload');
      expectErrorBody(reply, undefined, 'GET made-up upload');
      const code = json<{ errors: Array<{ code: string }> }>(reply).errors[0]?.code;
      const allowed = reply.status === 404 ? ['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID'] : ['BLOB_UPLOAD_INVALID'];
      assert.ok(code !== undefined && allowed.includes(code), `GET made-up upload: got ${String(code)}\n${exchange(reply)}`);
    });
    it('error bodies are JSON: {"errors": [{"code", "message", "detail"?}]}', async () => {
      const reply = await c.send('GET', `/v2/${repo}/blobs/${data.dummyDigest}`);
      expectStatus(reply, 404);
      const type = reply.headers.get('content-type') ?? '';
      assert.ok(type.startsWith('application/json'), `error Content-Type should be JSON, got ${type}\n${exchange(reply)}`);
      expectErrorBody(reply, 'BLOB_UNKNOWN');
    });
  });
}
