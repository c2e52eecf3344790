import assert from 'node:assert/strict';
import {
  MT,
  exchange,
  expectBody,
  expectErrorBody,
  expectHeader,
  expectOptionalDigest,
  expectStatus,
  location,
  requireHeader,
  send,
  type Reply,
  type RequestOptions,
} from './http.js';

/**
 * The blob and manifest operations of the conformance suite, each asserting what the suite
 * asserts at every step: every way of pushing a blob (POST with the blob, POST + PUT, streamed
 * PATCH, chunked PATCHes with the last chunk in a PATCH or in the PUT, out-of-order chunks,
 * cross-repository mount), and manifest push and pull with their header checks.
 */

/** The suite sizes chunks to at least this many bytes (and to OCI-Chunk-Min-Length when larger). */
export const CHUNK_MIN = 1024;

export interface PushOptions {
  /** The bytes do not match the digest: the final request must answer 400 (DIGEST_INVALID). */
  expectBadDigest?: boolean;
}

export interface ChunkedOptions extends PushOptions {
  /** Send the last chunk in the PUT that closes the upload instead of in a PATCH. */
  putLastChunk?: boolean;
  /** Before each chunk, send one at the wrong offset (expect 416) and recover with a GET (204). */
  outOfOrder?: boolean;
  /** Called with the POST response's OCI-Chunk-Min-Length header, when present. */
  onMinLength?: (value: string) => void;
}

/** How a mount request was answered: 201 (mounted) or 202 (fell back to an upload the suite completed). */
export type MountOutcome = 201 | 202;

export class ConformanceClient {
  constructor(private readonly target: { readonly base: string }) {}

  get base(): string {
    return this.target.base;
  }

  send(method: string, pathOrUrl: string, options?: RequestOptions): Promise<Reply> {
    return send(this.base, method, pathOrUrl, options);
  }

  // ----- blobs -----------------------------------------------------------------------------

  /** POST /v2/<name>/blobs/uploads/ expecting 202 with a Location; returns the upload URL. */
  async startUpload(repo: string, what = 'POST upload'): Promise<{ reply: Reply; url: string }> {
    const reply = await this.send('POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
    expectStatus(reply, 202, what);
    return { reply, url: location(reply, what) };
  }

  /** After a successful push: the Location must serve the blob. */
  async verifyBlobLocation(reply: Reply, bytes: Buffer, digest: string, what: string): Promise<void> {
    expectOptionalDigest(reply, digest, what);
    const url = location(reply, what);
    const got = await this.send('GET', url);
    expectStatus(got, 200, `${what}: GET of the returned Location`);
    expectBody(got, bytes, `${what}: GET of the returned Location`);
  }

  /** Monolithic push, end-4b + end-6: POST, then PUT <location>?digest= with the whole blob. */
  async pushPostPut(repo: string, digest: string, bytes: Buffer, o: PushOptions = {}): Promise<Reply> {
    const { url } = await this.startUpload(repo, 'POST+PUT: POST');
    const put = await this.send('PUT', url, { query: { digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(bytes.byteLength) }, body: bytes });
    if (o.expectBadDigest === true) {
      expectStatus(put, 400, 'POST+PUT with a mismatched digest: PUT');
      expectErrorBody(put, 'DIGEST_INVALID', 'POST+PUT with a mismatched digest: PUT');
      return put;
    }
    expectStatus(put, 201, 'POST+PUT: PUT');
    await this.verifyBlobLocation(put, bytes, digest, 'POST+PUT: PUT');
    return put;
  }

  /**
   * Single-request push, end-4b: POST ?digest= with the blob. A 202 means the registry opened a
   * session instead (allowed): the suite then finishes with a PUT and reports it as unsupported.
   */
  async pushPostOnly(repo: string, digest: string, bytes: Buffer, o: PushOptions = {}): Promise<{ post: Reply; final: Reply }> {
    const post = await this.send('POST', `/v2/${repo}/blobs/uploads/`, { query: { digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(bytes.byteLength) }, body: bytes });
    const bad = o.expectBadDigest === true;
    expectStatus(post, bad ? [400, 202] : [201, 202], 'POST ?digest= with the blob');
    requireHeaderUnless(post, 'location', bad && post.status === 400, 'POST ?digest= with the blob');
    if (post.status === 400) {
      expectErrorBody(post, 'DIGEST_INVALID', 'POST ?digest= with a mismatched digest');
      return { post, final: post };
    }
    if (post.status === 201) {
      await this.verifyBlobLocation(post, bytes, digest, 'POST ?digest= with the blob');
      return { post, final: post };
    }
    const put = await this.send('PUT', location(post), { query: { digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(bytes.byteLength) }, body: bytes });
    if (bad) {
      expectStatus(put, 400, 'POST ?digest= (answered 202), then PUT with a mismatched digest');
      expectErrorBody(put, 'DIGEST_INVALID', 'POST ?digest= (answered 202), then PUT with a mismatched digest');
    } else {
      expectStatus(put, 201, 'POST ?digest= (answered 202), then PUT');
      await this.verifyBlobLocation(put, bytes, digest, 'POST ?digest= (answered 202), then PUT');
    }
    return { post, final: put };
  }

  /** Streamed push, end-5 + end-6: POST, one PATCH with the whole blob (no Content-Range), empty PUT. */
  async pushStream(repo: string, digest: string, bytes: Buffer, o: PushOptions = {}): Promise<Reply> {
    const { url } = await this.startUpload(repo, 'streamed: POST');
    const patch = await this.send('PATCH', url, { headers: { 'Content-Type': MT.octet }, body: bytes });
    expectStatus(patch, 202, 'streamed: PATCH with the whole blob');
    const next = location(patch, 'streamed: PATCH with the whole blob');
    const put = await this.send('PUT', next, { query: { digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': '0' } });
    if (o.expectBadDigest === true) {
      expectStatus(put, 400, 'streamed with a mismatched digest: PUT');
      expectErrorBody(put, 'DIGEST_INVALID', 'streamed with a mismatched digest: PUT');
      return put;
    }
    expectStatus(put, 201, 'streamed: PUT');
    await this.verifyBlobLocation(put, bytes, digest, 'streamed: PUT');
    return put;
  }

  /**
   * Chunked push, end-5 with Content-Range + end-6: about three chunks of at least CHUNK_MIN
   * bytes (or OCI-Chunk-Min-Length), each PATCH answered 202 with a Location; the upload is
   * closed by an empty PUT, or by a PUT carrying the last chunk.
   */
  async pushChunked(repo: string, digest: string, bytes: Buffer, o: ChunkedOptions = {}): Promise<Reply> {
    const label = `chunked${o.outOfOrder === true ? ' out-of-order' : ''}${o.putLastChunk === true ? ' (last chunk in PUT)' : ''}`;
    const { reply: post, url: first } = await this.startUpload(repo, `${label}: POST`);
    const minHeader = post.headers.get('oci-chunk-min-length');
    let chunk = Math.floor(bytes.byteLength / 3) + 1;
    if (minHeader !== null) {
      o.onMinLength?.(minHeader);
      const min = Number(minHeader);
      assert.ok(Number.isInteger(min) && min > 0, `OCI-Chunk-Min-Length must be a positive integer\n${exchange(post)}`);
      chunk = Math.max(chunk, min);
    }
    chunk = Math.min(Math.max(chunk, CHUNK_MIN), bytes.byteLength);
    let url = first;
    let last = -1;
    let final: Reply | undefined;
    while (last < bytes.byteLength - 1) {
      if (o.outOfOrder === true) {
        // skip one chunk ahead, or go back to the start when that is past the end
        let badStart = last + 1 + chunk;
        if (badStart >= bytes.byteLength) badStart = 0;
        const badEnd = Math.min(badStart + chunk - 1, bytes.byteLength - 1);
        const closing = o.putLastChunk === true && badEnd === bytes.byteLength - 1;
        const bad = await this.send(closing ? 'PUT' : 'PATCH', url, {
          query: closing ? { digest } : {},
          headers: { 'Content-Type': MT.octet, 'Content-Length': String(badEnd - badStart + 1), 'Content-Range': `${badStart}-${badEnd}` },
          body: bytes.subarray(badStart, badEnd + 1),
        });
        expectStatus(bad, 416, `${label}: ${closing ? 'PUT' : 'PATCH'} of bytes ${badStart}-${badEnd} while the upload holds ${last + 1}`);
        // the suite recovers by asking the upload's status at the URL it just used
        const status = await this.send('GET', url);
        expectStatus(status, 204, `${label}: GET upload status after a 416`);
        url = location(status, `${label}: GET upload status after a 416`);
        const range = requireHeader(status, 'range', `${label}: GET upload status after a 416`);
        assert.ok(range.startsWith('0-'), `${label}: Range after a 416 must start with "0-", got ${JSON.stringify(range)}\n${exchange(status)}`);
        const end = Number(range.slice(2));
        assert.ok(Number.isInteger(end), `${label}: Range after a 416 is not 0-<int>: ${JSON.stringify(range)}\n${exchange(status)}`);
        if (last >= 0) assert.equal(end, last, `${label}: Range after a 416 should still end at ${last}\n${exchange(status)}`);
      }
      const start = last + 1;
      last = Math.min(start + chunk - 1, bytes.byteLength - 1);
      const headers = { 'Content-Type': MT.octet, 'Content-Length': String(last - start + 1), 'Content-Range': `${start}-${last}` };
      if (o.putLastChunk === true && last === bytes.byteLength - 1) {
        final = await this.send('PUT', url, { query: { digest }, headers, body: bytes.subarray(start, last + 1) });
      } else {
        const patch = await this.send('PATCH', url, { headers, body: bytes.subarray(start, last + 1) });
        expectStatus(patch, 202, `${label}: PATCH of bytes ${start}-${last}`);
        url = location(patch, `${label}: PATCH of bytes ${start}-${last}`);
      }
    }
    if (final === undefined) {
      final = await this.send('PUT', url, { query: { digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': '0' } });
    }
    if (o.expectBadDigest === true) {
      expectStatus(final, 400, `${label} with a mismatched digest: closing PUT`);
      expectErrorBody(final, 'DIGEST_INVALID', `${label} with a mismatched digest: closing PUT`);
      return final;
    }
    expectStatus(final, 201, `${label}: closing PUT`);
    await this.verifyBlobLocation(final, bytes, digest, `${label}: closing PUT`);
    return final;
  }

  /**
   * Cross-repository mount, end-11: POST ?mount=<digest>[&from=<repo>]. 201 means mounted (the
   * Location must serve the blob); 202 opens an upload, which the suite completes with a PUT.
   */
  async mount(repo: string, from: string | undefined, digest: string, bytes: Buffer): Promise<{ outcome: MountOutcome; post: Reply }> {
    const query: Record<string, string> = { mount: digest };
    if (from !== undefined) query['from'] = from;
    const post = await this.send('POST', `/v2/${repo}/blobs/uploads/`, { query, headers: { 'Content-Length': '0' } });
    const what = `mount ${from === undefined ? 'without from' : `from ${from}`}`;
    expectStatus(post, [201, 202], what);
    if (post.status === 201) {
      await this.verifyBlobLocation(post, bytes, digest, what);
      return { outcome: 201, post };
    }
    const put = await this.send('PUT', location(post, what), { query: { digest }, headers: { 'Content-Type': MT.octet, 'Content-Length': String(bytes.byteLength) }, body: bytes });
    expectStatus(put, 201, `${what} (answered 202), then PUT`);
    await this.verifyBlobLocation(put, bytes, digest, `${what} (answered 202), then PUT`);
    return { outcome: 202, post };
  }

  /** HEAD of a present blob, end-2: 200, no body, Content-Length the blob size, digest header if any. */
  async headBlob(repo: string, digest: string, bytes: Buffer | undefined): Promise<void> {
    const reply = await this.send('HEAD', `/v2/${repo}/blobs/${digest}`);
    expectStatus(reply, 200, 'HEAD blob');
    assert.equal(reply.body.byteLength, 0, `HEAD must not have a body\n${exchange(reply)}`);
    if (bytes !== undefined) expectHeader(reply, 'content-length', String(bytes.byteLength), 'HEAD blob');
    expectOptionalDigest(reply, digest, 'HEAD blob');
  }

  /** GET of a present blob, end-2: 200 with its bytes and Content-Length, digest header if any. */
  async getBlob(repo: string, digest: string, bytes: Buffer | undefined): Promise<void> {
    const reply = await this.send('GET', `/v2/${repo}/blobs/${digest}`);
    expectStatus(reply, 200, 'GET blob');
    if (bytes !== undefined) {
      expectBody(reply, bytes, 'GET blob');
      expectHeader(reply, 'content-length', String(bytes.byteLength), 'GET blob');
    }
    expectOptionalDigest(reply, digest, 'GET blob');
  }

  /**
   * DELETE of a blob, end-10: 202 (deleted), 404 (already gone) or 405 (deletes disabled). When
   * deleted, a HEAD right after must be 404: deletion takes effect immediately.
   */
  async deleteBlob(repo: string, digest: string): Promise<number> {
    const reply = await this.send('DELETE', `/v2/${repo}/blobs/${digest}`);
    expectStatus(reply, [202, 404, 405], 'DELETE blob');
    if (reply.status === 202) {
      const head = await this.send('HEAD', `/v2/${repo}/blobs/${digest}`);
      expectStatus(head, 404, 'HEAD blob right after its DELETE answered 202');
    }
    return reply.status;
  }

  // ----- manifests -------------------------------------------------------------------------

  /**
   * PUT of a manifest, end-7: 201 with a Location serving the same bytes, Content-Type and
   * Content-Length; Docker-Content-Digest (if sent) naming it; OCI-Subject naming the subject
   * when the manifest has one.
   */
  async putManifest(repo: string, reference: string, body: Buffer, digest: string, what = `PUT manifest ${reference}`): Promise<Reply> {
    const mediaType = detectMediaType(body);
    const reply = await this.send('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'Content-Type': mediaType }, body });
    expectStatus(reply, 201, what);
    expectOptionalDigest(reply, digest, what);
    const subject = detectSubject(body);
    if (subject !== undefined) expectHeader(reply, 'oci-subject', subject, `${what} (it has a subject)`);
    const url = location(reply, what);
    const got = await this.send('GET', url, { headers: { Accept: `${MT.index}, ${MT.manifest}` } });
    expectStatus(got, 200, `${what}: GET of the returned Location`);
    expectHeader(got, 'content-type', mediaType, `${what}: GET of the returned Location`);
    expectHeader(got, 'content-length', String(body.byteLength), `${what}: GET of the returned Location`);
    expectBody(got, body, `${what}: GET of the returned Location`);
    return reply;
  }

  /** GET (or HEAD) of a present manifest, end-3: 200, its Content-Type, Content-Length, bytes, digest. */
  async fetchManifest(method: 'GET' | 'HEAD', repo: string, reference: string, body: Buffer, digest: string): Promise<Reply> {
    const what = `${method} manifest ${reference}`;
    const reply = await this.send(method, `/v2/${repo}/manifests/${reference}`, { headers: { Accept: `${MT.index}, ${MT.manifest}` } });
    expectStatus(reply, 200, what);
    expectHeader(reply, 'content-type', detectMediaType(body), what);
    expectHeader(reply, 'content-length', String(body.byteLength), what);
    expectOptionalDigest(reply, digest, what);
    if (method === 'GET') expectBody(reply, body, what);
    else assert.equal(reply.body.byteLength, 0, `HEAD must not have a body\n${exchange(reply)}`);
    return reply;
  }

  /**
   * DELETE of a manifest by tag or digest, end-9: 202 (deleted), 404 (unknown), 400 or 405
   * (unsupported: 400 must say UNSUPPORTED). When deleted, a HEAD right after must be 404.
   */
  async deleteManifest(repo: string, reference: string): Promise<number> {
    const reply = await this.send('DELETE', `/v2/${repo}/manifests/${reference}`);
    expectStatus(reply, [202, 404, 400, 405], `DELETE manifest ${reference}`);
    if (reply.status === 400) expectErrorBody(reply, 'UNSUPPORTED', `DELETE manifest ${reference} answered 400`);
    if (reply.status === 202) {
      const head = await this.send('HEAD', `/v2/${repo}/manifests/${reference}`, { headers: { Accept: `${MT.index}, ${MT.manifest}` } });
      expectStatus(head, 404, `HEAD manifest ${reference} right after its DELETE answered 202`);
    }
    return reply.status;
  }

  /** GET /v2/<name>/tags/list: 200 with {name, tags}, or 404 (repository unknown). */
  async listTags(repo: string, query: Record<string, string> = {}): Promise<{ reply: Reply; tags: string[] }> {
    const reply = await this.send('GET', `/v2/${repo}/tags/list`, { query });
    expectStatus(reply, [200, 404], 'GET tags list');
    if (reply.status === 404) return { reply, tags: [] };
    const parsed = JSON.parse(reply.body.toString('utf8')) as { name?: unknown; tags?: unknown };
    assert.equal(parsed.name, repo, `tags list "name" must be the repository\n${exchange(reply)}`);
    assert.ok(parsed.tags === null || parsed.tags === undefined || Array.isArray(parsed.tags), `tags list "tags" must be an array\n${exchange(reply)}`);
    const tags = (parsed.tags ?? []) as unknown[];
    for (const t of tags) assert.equal(typeof t, 'string', `every tag must be a string\n${exchange(reply)}`);
    return { reply, tags: tags as string[] };
  }

  /**
   * GET /v2/<name>/referrers/<digest>, end-12a: 200, Content-Type the index type, and a body that
   * is an OCI index (schemaVersion 2, that mediaType, a manifests array).
   */
  async referrers(repo: string, digest: string, query: Record<string, string> = {}): Promise<{ reply: Reply; manifests: ReferrerEntry[] }> {
    const reply = await this.send('GET', `/v2/${repo}/referrers/${digest}`, { query });
    expectStatus(reply, 200, 'GET referrers');
    expectHeader(reply, 'content-type', MT.index, 'GET referrers');
    const parsed = JSON.parse(reply.body.toString('utf8')) as { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown };
    assert.equal(parsed.schemaVersion, 2, `referrers must be an index with schemaVersion 2\n${exchange(reply)}`);
    assert.equal(parsed.mediaType, MT.index, `referrers must be an index with its mediaType\n${exchange(reply)}`);
    assert.ok(Array.isArray(parsed.manifests), `referrers "manifests" must be an array\n${exchange(reply)}`);
    return { reply, manifests: parsed.manifests as ReferrerEntry[] };
  }
}

export interface ReferrerEntry {
  mediaType?: string;
  digest?: string;
  size?: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function requireHeaderUnless(reply: Reply, name: string, skip: boolean, what: string): void {
  if (!skip) requireHeader(reply, name, what);
}

/** The manifest's own mediaType field, or the image manifest type when it has none (as the suite does). */
export function detectMediaType(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
  } catch {
    // not JSON: the suite falls back to the image manifest type
  }
  return MT.manifest;
}

export function detectSubject(body: Buffer): string | undefined {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { subject?: { digest?: unknown } };
    return typeof doc.subject?.digest === 'string' ? doc.subject.digest : undefined;
  } catch {
    return undefined;
  }
}
