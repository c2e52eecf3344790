/**
 * A plain HTTP client of the distribution API, just enough to push and pull for the bench:
 * monolithic and chunked blob uploads streamed from generated blocks, manifests, a hashed
 * blob pull, and the paginated catalog walk. Every call checks the status it expects and
 * throws with the response body otherwise.
 */
import { streamRequest } from '../test/helpers/streams.js';

/** A response with an unexpected status. */
export class UnexpectedStatusError extends Error {
  constructor(what: string, expected: number, status: number, body: string) {
    super(`${what}: expected ${expected}, got ${status}: ${body.slice(0, 500)}`);
    this.name = 'UnexpectedStatusError';
  }
}

function check(what: string, expected: number, status: number, body: Buffer | string): void {
  if (status !== expected) throw new UnexpectedStatusError(what, expected, status, body.toString());
}

function locationOf(base: string, headers: Record<string, string | string[] | undefined>, what: string): string {
  const location = headers['location'];
  if (typeof location !== 'string') throw new Error(`${what}: no Location header`);
  return new URL(location, base).toString();
}

/** `url` with `digest=` added to its query. */
function withDigest(url: string, digest: string): string {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** end-4a: POST /v2/<repo>/blobs/uploads/; resolves with the absolute upload URL. */
export async function startUpload(base: string, repo: string): Promise<string> {
  const res = await streamRequest(`${base}/v2/${repo}/blobs/uploads/`, 'POST', { 'Content-Length': '0' });
  check(`POST upload to ${repo}`, 202, res.status, res.body);
  return locationOf(base, res.headers, 'POST upload');
}

/**
 * Monolithic push: POST, then one PUT `?digest=` carrying the whole body (`size` bytes, streamed
 * from `blocks`) with its Content-Length. Expects 201.
 */
export async function pushMonolithic(base: string, repo: string, blocks: Iterable<Buffer>, size: number, digest: string): Promise<void> {
  const location = await startUpload(base, repo);
  const res = await streamRequest(
    withDigest(location, digest),
    'PUT',
    { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    blocks,
  );
  check(`PUT blob to ${repo}`, 201, res.status, res.body);
}

/**
 * Chunked push: POST, PATCHes of `chunkBytes` (whole blocks gathered up to that size) with
 * Content-Range and Content-Length, each to the Location the previous answer gave, then a PUT
 * `?digest=` without a body. Expects 202 for each PATCH and 201 for the PUT.
 */
export async function pushChunked(base: string, repo: string, blocks: Iterable<Buffer>, chunkBytes: number, digest: string): Promise<void> {
  let location = await startUpload(base, repo);
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const send = async (): Promise<void> => {
    const res = await streamRequest(
      location,
      'PATCH',
      {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${offset}-${offset + pendingBytes - 1}`,
        'Content-Length': String(pendingBytes),
      },
      pending,
    );
    check(`PATCH chunk at ${offset} to ${repo}`, 202, res.status, res.body);
    location = locationOf(base, res.headers, 'PATCH');
    offset += pendingBytes;
    pending = [];
    pendingBytes = 0;
  };
  for (const block of blocks) {
    pending.push(block);
    pendingBytes += block.byteLength;
    if (pendingBytes >= chunkBytes) await send();
  }
  if (pendingBytes > 0) await send();
  const res = await streamRequest(withDigest(location, digest), 'PUT', { 'Content-Length': '0' });
  check(`PUT to close upload to ${repo}`, 201, res.status, res.body);
}

/** Pushes a small blob held in memory (monolithic). */
export function pushBytes(base: string, repo: string, data: Buffer, digest: string): Promise<void> {
  return pushMonolithic(base, repo, [data], data.byteLength, digest);
}

/** end-11: POST ?mount=&from= ; expects 201 (the blob is linked without any data sent). */
export async function mountBlob(base: string, repo: string, from: string, digest: string): Promise<void> {
  const url = `${base}/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  const res = await streamRequest(url, 'POST', { 'Content-Length': '0' });
  check(`mount ${digest} from ${from} into ${repo}`, 201, res.status, res.body);
}

/** end-7: PUT /v2/<repo>/manifests/<reference>; expects 201. */
export async function putManifest(base: string, repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const res = await streamRequest(
    `${base}/v2/${repo}/manifests/${reference}`,
    'PUT',
    { 'Content-Type': mediaType, 'Content-Length': String(bytes.byteLength) },
    [bytes],
  );
  check(`PUT manifest ${repo}:${reference}`, 201, res.status, res.body);
}

/**
 * end-2: GET a blob, hashing the body as it streams. Throws unless the status is 200, the body
 * is `size` bytes and hashes to `digest`.
 */
export async function pullVerified(base: string, repo: string, digest: string, size: number): Promise<void> {
  const res = await streamRequest(`${base}/v2/${repo}/blobs/${digest}`, 'GET', {}, undefined, { hashBody: true });
  check(`GET blob from ${repo}`, 200, res.status, res.body);
  if (res.bytes !== size || res.digest !== digest) {
    throw new Error(`GET blob from ${repo}: got ${res.bytes} bytes hashing to ${String(res.digest)}, expected ${size} bytes of ${digest}`);
  }
}

/** The target of a `Link: <url>; rel="next"` header, resolved against `base`. */
function nextLink(base: string, link: string | null): string | undefined {
  if (link === null) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return m?.[1] === undefined ? undefined : new URL(m[1], base).toString();
}

/**
 * Walks `/v2/_catalog` page by page (`n=pageSize`, following the Link headers) and resolves
 * with the number of repositories listed and of pages fetched.
 */
export async function walkCatalog(base: string, pageSize: number): Promise<{ repositories: number; pages: number }> {
  let url: string | undefined = `${base}/v2/_catalog?n=${pageSize}`;
  let repositories = 0;
  let pages = 0;
  while (url !== undefined) {
    const res = await fetch(url);
    const text = await res.text();
    check('GET catalog page', 200, res.status, text);
    const body = JSON.parse(text) as { repositories?: unknown };
    if (!Array.isArray(body.repositories)) throw new Error(`catalog page without repositories: ${text.slice(0, 200)}`);
    repositories += body.repositories.length;
    pages++;
    url = nextLink(base, res.headers.get('link'));
  }
  return { repositories, pages };
}

/**
 * Fetches `path` once (to check a load's request before timing it) and resolves with the
 * body; throws unless the status is 200.
 */
export async function fetchOk(base: string, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ body: Buffer; headers: Headers }> {
  const res = await fetch(`${base}${path}`, init);
  const body = Buffer.from(await res.arrayBuffer());
  check(`${init.method ?? 'GET'} ${path}`, 200, res.status, body);
  return { body, headers: res.headers };
}
