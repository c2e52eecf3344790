import assert from 'node:assert/strict';

/**
 * The HTTP side of the conformance suite: one request helper that always reads the whole body,
 * and assertions whose failure messages carry the exact exchange (method, URL, request headers,
 * status, response headers, body excerpt), so a failing run is a ready-made bug report.
 */

/** A finished exchange: the request as sent and the response as received (body fully read). */
export interface Reply {
  readonly method: string;
  readonly url: string;
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly requestBytes: number;
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Query parameters appended (URL-encoded) to whatever query the path already has. */
  query?: Record<string, string>;
}

/** The media types and well-known values the suite uses. */
export const MT = {
  octet: 'application/octet-stream',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerNondistTar: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  layerNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

/**
 * The error codes an error body may carry: the spec's table, plus the two the upstream suite also
 * accepts (TAG_INVALID and MANIFEST_UNVERIFIED, inherited from Distribution).
 */
export const SPEC_ERROR_CODES: readonly string[] = [
  'TAG_INVALID',
  'MANIFEST_UNVERIFIED',
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
];

/** Resolves `pathOrUrl` against `base` and appends `query`. */
export function buildUrl(base: string, pathOrUrl: string, query?: Record<string, string>): string {
  const url = new URL(pathOrUrl, base);
  for (const [key, value] of Object.entries(query ?? {})) url.searchParams.append(key, value);
  return url.toString();
}

/** Sends one request (no redirects followed) and reads the whole response body. */
export async function send(base: string, method: string, pathOrUrl: string, options: RequestOptions = {}): Promise<Reply> {
  const url = buildUrl(base, pathOrUrl, options.query);
  const headers = options.headers ?? {};
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { method, url, requestHeaders: headers, requestBytes: body?.byteLength ?? 0, status: res.status, headers: res.headers, body: bytes };
}

/** A readable account of an exchange, for assertion messages. */
export function exchange(reply: Reply): string {
  const reqHeaders = Object.entries(reply.requestHeaders)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const resHeaders: string[] = [];
  reply.headers.forEach((value, key) => {
    if (!['date', 'connection', 'keep-alive'].includes(key)) resHeaders.push(`${key}: ${value}`);
  });
  const excerpt = reply.body.byteLength === 0 ? '(empty)' : printable(reply.body);
  return (
    `${reply.method} ${reply.url}` +
    (reqHeaders === '' ? '' : ` [${reqHeaders}]`) +
    (reply.requestBytes > 0 ? ` (${reply.requestBytes} body bytes)` : '') +
    `\n  -> ${reply.status} [${resHeaders.join(', ')}]\n  body: ${excerpt}`
  );
}

function printable(body: Buffer): string {
  const text = body.subarray(0, 400).toString('utf8');
  const looksText = !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  if (!looksText) return `(${body.byteLength} binary bytes)`;
  return JSON.stringify(text) + (body.byteLength > 400 ? ` ...(${body.byteLength} bytes)` : '');
}

/** Asserts the status is one of `allowed`; the message shows the whole exchange. */
export function expectStatus(reply: Reply, allowed: number | readonly number[], what = ''): void {
  const set = typeof allowed === 'number' ? [allowed] : allowed;
  if (!set.includes(reply.status)) {
    assert.fail(`${what === '' ? '' : `${what}: `}expected status ${set.join(' or ')}, got ${reply.status}\n${exchange(reply)}`);
  }
}

/** Asserts a response header equals `value` exactly. */
export function expectHeader(reply: Reply, name: string, value: string, what = ''): void {
  const actual = reply.headers.get(name);
  if (actual !== value) {
    assert.fail(`${what === '' ? '' : `${what}: `}expected header ${name}: ${JSON.stringify(value)}, got ${JSON.stringify(actual)}\n${exchange(reply)}`);
  }
}

/** Asserts a response header is present and non-empty; returns it. */
export function requireHeader(reply: Reply, name: string, what = ''): string {
  const actual = reply.headers.get(name);
  if (actual === null || actual === '') assert.fail(`${what === '' ? '' : `${what}: `}missing header ${name}\n${exchange(reply)}`);
  return actual;
}

/** Asserts the body equals `expected` byte for byte. */
export function expectBody(reply: Reply, expected: Uint8Array, what = ''): void {
  if (!reply.body.equals(Buffer.from(expected))) {
    assert.fail(`${what === '' ? '' : `${what}: `}body differs (expected ${expected.byteLength} bytes, got ${reply.body.byteLength})\n${exchange(reply)}`);
  }
}

/** When the registry sends Docker-Content-Digest (optional), it must name `digest`. */
export function expectOptionalDigest(reply: Reply, digest: string, what = ''): void {
  const actual = reply.headers.get('docker-content-digest');
  if (actual !== null && actual !== digest) {
    assert.fail(`${what === '' ? '' : `${what}: `}Docker-Content-Digest ${actual} should be ${digest}\n${exchange(reply)}`);
  }
}

/** The Location header resolved to an absolute URL; fails when it is missing. */
export function location(reply: Reply, what = ''): string {
  return new URL(requireHeader(reply, 'location', what), reply.url).toString();
}

/** Parses a JSON body, failing with the exchange when it is not JSON. */
export function json<T>(reply: Reply, what = ''): T {
  try {
    return JSON.parse(reply.body.toString('utf8')) as T;
  } catch {
    return assert.fail(`${what === '' ? '' : `${what}: `}body is not JSON\n${exchange(reply)}`);
  }
}

/**
 * Asserts an OCI error body: `{"errors": [{"code", "message", ...}]}` with at least one entry, every
 * code from the spec's list and, when `code` is given, the first entry carrying it.
 */
export function expectErrorBody(reply: Reply, code?: string, what = ''): void {
  const parsed = json<{ errors?: unknown }>(reply, what);
  const errors = parsed.errors;
  if (!Array.isArray(errors) || errors.length === 0) assert.fail(`${what === '' ? '' : `${what}: `}no "errors" array in the error body\n${exchange(reply)}`);
  for (const entry of errors as Array<{ code?: unknown; message?: unknown }>) {
    if (typeof entry.code !== 'string' || !SPEC_ERROR_CODES.includes(entry.code)) {
      assert.fail(`${what === '' ? '' : `${what}: `}error code ${JSON.stringify(entry.code)} is not one of the spec's codes\n${exchange(reply)}`);
    }
    if (entry.message !== undefined && typeof entry.message !== 'string') {
      assert.fail(`${what === '' ? '' : `${what}: `}error message must be a string\n${exchange(reply)}`);
    }
  }
  if (code !== undefined) {
    const first = (errors as Array<{ code?: string }>)[0]?.code;
    if (first !== code) assert.fail(`${what === '' ? '' : `${what}: `}expected error code ${code}, got ${String(first)}\n${exchange(reply)}`);
  }
}
