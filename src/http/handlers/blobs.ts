import type { RequestContext } from '../context.js';
import { parseDigest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { parseRangeHeader } from '../../oci/ranges.js';
import { sendEmpty } from '../respond.js';
import { responseSink } from '../byte-sink.js';
import { repositoryOf } from './common.js';

/** end-2: GET/HEAD /v2/<name>/blobs/<digest>, with single byte ranges (RFC 9110). */
export async function getBlob(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const digest = parseDigest(ctx.route.reference ?? '');
  const blob = await repo.blobs.stat(digest);
  const etag = `"${digest}"`;
  const common = {
    'Docker-Content-Digest': digest,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000',
  };
  if (ctx.app.redirect) {
    const url = await repo.blobs.redirectUrl(digest, ctx.method === 'HEAD' ? 'HEAD' : 'GET');
    if (url !== undefined) {
      sendEmpty(ctx, 307, { Location: url, 'Docker-Content-Digest': digest });
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
  if (ctx.method === 'HEAD') {
    res.end();
    return;
  }
  const [start, length] = range.kind === 'range' ? [range.range.start, range.range.end - range.range.start + 1] : [0, blob.size];
  await repo.blobs.send(digest, responseSink(res, ctx.signal), start, length, { signal: ctx.signal });
  res.end();
}

/** end-10: DELETE /v2/<name>/blobs/<digest> unlinks the blob from the repository. */
export async function deleteBlob(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const digest = parseDigest(ctx.route.reference ?? '');
  await repo.blobs.unlink(digest);
  sendEmpty(ctx, 202, { 'Docker-Content-Digest': digest });
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
