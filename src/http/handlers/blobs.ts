import { pipeline } from 'node:stream/promises';
import type { RequestContext } from '../context.js';
import { parseDigest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { parseRangeHeader } from '../../oci/ranges.js';
import { sendEmpty } from '../respond.js';
import { repositoryOf } from './common.js';
import { countBytes } from '../../metrics/count-bytes.js';

/** end-2: GET/HEAD /v2/<name>/blobs/<digest>, with single byte ranges (RFC 9110). */
export async function getBlob(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const digest = parseDigest(ctx.route.reference ?? '');
  const blob = await repo.statBlob(digest);
  const etag = `"${digest}"`;
  const common = {
    'Docker-Content-Digest': digest,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000',
  };
  if (ctx.app.redirect) {
    const url = await repo.blobRedirect(digest, ctx.method === 'HEAD' ? 'HEAD' : 'GET');
    if (url !== undefined) {
      sendEmpty(ctx, 307, { Location: url, 'Docker-Content-Digest': digest });
      ctx.events?.blobPulled(repo.name, blob);
      return;
    }
  }
  if (ifNoneMatch(ctx, etag)) {
    sendEmpty(ctx, 304, common);
    return;
  }
  const range = parseRangeHeader(ctx.req.headers.range, blob.size);
  if (range.kind === 'unsatisfiable') {
    throw new OciError('RANGE_INVALID', { status: 416, headers: { 'Content-Range': `bytes */${blob.size}` }, message: 'requested range not satisfiable' });
  }
  const { res } = ctx;
  res.setHeader('Content-Type', 'application/octet-stream');
  for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
  if (range.kind === 'range') {
    const { start, end } = range.range;
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${blob.size}`);
    res.setHeader('Content-Length', end - start + 1);
  } else {
    res.statusCode = 200;
    res.setHeader('Content-Length', blob.size);
  }
  // Emitted when the transfer starts, as Distribution reports a pull once ServeBlob returns
  // (abandoned downloads included); after the transfer, a client that closes its connection as
  // soon as it has the last byte would race the event away.
  ctx.events?.blobPulled(repo.name, blob);
  if (ctx.method === 'HEAD') {
    res.end();
    return;
  }
  const start = range.kind === 'range' ? range.range.start : 0;
  const stream = await repo.openBlob(digest, start, ctx.signal);
  const count = (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> => countBytes(source, (n) => ctx.app.metrics?.addBytes('pulled', n));
  if (range.kind === 'range' && range.range.end < blob.size - 1) {
    await pipeline(stream, limit(range.range.end - start + 1), count, res);
  } else {
    await pipeline(stream, count, res);
  }
}

/** end-10: DELETE /v2/<name>/blobs/<digest> unlinks the blob from the repository. */
export async function deleteBlob(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const digest = parseDigest(ctx.route.reference ?? '');
  await repo.unlinkBlob(digest);
  sendEmpty(ctx, 202, { 'Docker-Content-Digest': digest });
  ctx.events?.blobDeleted(repo.name, digest);
}

/** True when If-None-Match names `etag` (or `*`). */
export function ifNoneMatch(ctx: RequestContext, etag: string): boolean {
  const header = ctx.req.headers['if-none-match'];
  if (header === undefined) return false;
  return header.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === '*' || v === etag;
  });
}

/** A pipeline stage passing through only the first `bytes` bytes. */
function limit(bytes: number): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    let left = bytes;
    for await (const chunk of source) {
      if (chunk.byteLength >= left) {
        yield chunk.subarray(0, left);
        return;
      }
      left -= chunk.byteLength;
      yield chunk;
    }
  };
}
