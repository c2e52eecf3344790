import type { RequestContext } from '../context.js';
import { parseDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { isRepositoryName } from '../../oci/reference.js';
import { parseContentRange } from '../../oci/ranges.js';
import type { ChunkExpectation, UploadInfo } from '../../storage/services.js';
import { sendEmpty, urlFor } from '../respond.js';
import { repositoryOf } from './common.js';
import { bodyChunks } from '../request-body.js';

/**
 * end-4a/4b/11: POST /v2/<name>/blobs/uploads/ starts an upload session (202), uploads a whole
 * blob when `digest` is given (201), or mounts `mount` from repository `from` (201), falling
 * back to a session when the source does not have the blob.
 */
export async function startUpload(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const mount = ctx.query.get('mount');
  const from = ctx.query.get('from');
  if (mount !== null && from !== null && isRepositoryName(from)) {
    const digest = parseDigest(mount);
    const mounted = await repo.blobs.mount(digest, from);
    if (mounted !== undefined) {
      await drain(ctx);
      sendEmpty(ctx, 201, { Location: urlFor(ctx, `/v2/${repo.name}/blobs/${digest}`), 'Docker-Content-Digest': digest });
      return;
    }
  }
  const digestParam = ctx.query.get('digest');
  const digest = digestParam !== null ? parseDigest(digestParam) : undefined;
  const upload = await repo.uploads.start();
  if (digest !== undefined) {
    await appendBody(ctx, upload.uuid, false);
    await finish(ctx, upload.uuid, digest);
    return;
  }
  await drain(ctx);
  sendUploadStatus(ctx, 202, upload);
}

/** end-5: PATCH <location> appends a chunk (with Content-Range) or streams the whole blob. */
export async function patchUpload(ctx: RequestContext): Promise<void> {
  const { uuid, offset } = uploadState(ctx);
  const info = await appendBody(ctx, uuid, true, offset);
  sendUploadStatus(ctx, 202, info);
}

/** end-6: PUT <location>?digest=<digest>, with or without a final chunk, completes the upload. */
export async function putUpload(ctx: RequestContext): Promise<void> {
  const { uuid, offset } = uploadState(ctx);
  const digestParam = ctx.query.get('digest');
  if (digestParam === null || digestParam === '') {
    throw new OciError('DIGEST_INVALID', { message: 'digest query parameter is required to complete an upload' });
  }
  const digest = parseDigest(digestParam);
  if (hasBody(ctx)) {
    await appendBody(ctx, uuid, true, offset);
    await finish(ctx, uuid, digest);
  } else {
    await finish(ctx, uuid, digest, offset);
  }
}

/** end-13: GET <location> reports how much of the upload the registry has (204 with Range). */
export async function getUploadStatus(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const { uuid, offset } = uploadState(ctx);
  const info = await repo.uploads.info(uuid);
  checkNotAhead(offset, info.size);
  sendUploadStatus(ctx, 204, info);
}

/** DELETE <location> cancels the upload. */
export async function cancelUpload(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const { uuid, offset } = uploadState(ctx);
  checkNotAhead(offset, (await repo.uploads.info(uuid)).size);
  await repo.uploads.cancel(uuid);
  sendEmpty(ctx, 204);
}

/** Completes the upload; with `at`, only when the upload still has the size the client's state says. */
async function finish(ctx: RequestContext, uuid: string, digest: Digest, at?: number): Promise<void> {
  const repo = repositoryOf(ctx);
  const blob = await repo.uploads.commit(uuid, digest, { signal: ctx.signal, ...(at !== undefined ? { at } : {}) });
  ctx.log.debug({ digest, size: blob.size }, 'blob pushed');
  sendEmpty(ctx, 201, { Location: urlFor(ctx, `/v2/${repo.name}/blobs/${digest}`), 'Docker-Content-Digest': digest });
}

/** Streams the request body into the upload, counted in the uploads-in-progress gauge. */
async function appendBody(ctx: RequestContext, uuid: string, allowRange: boolean, at?: number): Promise<UploadInfo> {
  const repo = repositoryOf(ctx);
  const metrics = ctx.app.metrics;
  const release = ctx.app.uploadSlots.acquire(); // 429 past http.maxuploads, before the body is read
  metrics?.uploadStarted();
  try {
    return await repo.uploads.append(uuid, bodyChunks(ctx.req), withState(expectation(ctx, allowRange), at), ctx.signal);
  } finally {
    metrics?.uploadEnded();
    release();
  }
}

/**
 * The upload id of the URL and the offset of its signed `_state`, which every request on an
 * upload must carry: the id alone (it is in access logs) must not let anyone else with push on
 * the repository append to, complete or cancel the upload. The state must be signed by us, name
 * this repository and upload, and have been issued to the subject making this request. As in
 * Distribution, a missing or bad state is 404 BLOB_UPLOAD_INVALID.
 */
function uploadState(ctx: RequestContext): { uuid: string; offset: number } {
  const uuid = ctx.route.reference ?? '';
  const token = ctx.query.get('_state');
  if (token === null || token === '') throw new OciError('BLOB_UPLOAD_INVALID', { status: 404, message: 'upload state (_state) is missing' });
  const state = ctx.app.states.decode(token);
  if (state === undefined || state.uuid !== uuid || state.name !== ctx.name || state.subject !== (ctx.grant.user ?? '')) {
    throw new OciError('BLOB_UPLOAD_INVALID', { status: 404, message: 'invalid upload state' });
  }
  return { uuid, offset: state.offset };
}

/**
 * For requests that do not write (status, cancel): a state behind the upload is an older Location
 * of the same session (say, from before a PATCH whose response was lost), so the client may still
 * learn the offset or cancel; a state ahead of the upload was never issued for it.
 */
function checkNotAhead(offset: number, size: number): void {
  if (offset > size) throw new OciError('BLOB_UPLOAD_INVALID', { status: 404, message: `upload state is at ${offset}, upload is at ${size}` });
}

function sendUploadStatus(ctx: RequestContext, status: number, info: UploadInfo): void {
  const repo = repositoryOf(ctx);
  const state = ctx.app.states.encode({ name: repo.name, uuid: info.uuid, offset: info.size, startedAt: info.startedAt.toISOString(), subject: ctx.grant.user ?? '' });
  sendEmpty(ctx, status, {
    Location: urlFor(ctx, `/v2/${repo.name}/blobs/uploads/${info.uuid}?_state=${encodeURIComponent(state)}`),
    Range: info.size === 0 ? '0-0' : `0-${info.size - 1}`,
    'Docker-Upload-UUID': info.uuid,
    ...(status === 204 ? {} : { 'Content-Length': 0 }),
  });
}

/**
 * A chunk without Content-Range lands where the client's state says the upload ends, so that
 * offset must be the upload's size. A Content-Range states the position itself: a chunk that does
 * not start where the upload ends is then the spec's 416 (a retried chunk with an older Location).
 */
function withState(expect: ChunkExpectation, at: number | undefined): ChunkExpectation {
  return at === undefined || expect.start !== undefined ? expect : { ...expect, at };
}

/** What the request announces of its body: Content-Range start and the body length. */
function expectation(ctx: RequestContext, allowRange: boolean): ChunkExpectation {
  const out: { start?: number; length?: number } = {};
  const lengthHeader = ctx.req.headers['content-length'];
  if (lengthHeader !== undefined) {
    const length = Number(lengthHeader);
    if (!Number.isSafeInteger(length) || length < 0) throw new OciError('SIZE_INVALID', { message: 'invalid Content-Length' });
    out.length = length;
  }
  const rangeHeader = ctx.req.headers['content-range'];
  if (allowRange && rangeHeader !== undefined) {
    const range = parseContentRange(rangeHeader);
    if (range === undefined) throw new OciError('BLOB_UPLOAD_INVALID', { status: 416, message: 'invalid Content-Range' });
    const rangeLength = range.end - range.start + 1;
    if (out.length !== undefined && out.length !== rangeLength) {
      throw new OciError('BLOB_UPLOAD_INVALID', { status: 416, message: 'Content-Range does not match Content-Length' });
    }
    out.start = range.start;
    out.length = rangeLength;
  }
  return out;
}

function hasBody(ctx: RequestContext): boolean {
  const length = ctx.req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return ctx.req.headers['transfer-encoding'] !== undefined;
}

/** Reads and discards a body the endpoint does not use, so the connection can be reused. */
async function drain(ctx: RequestContext): Promise<void> {
  if (!hasBody(ctx)) return;
  let total = 0;
  for await (const chunk of bodyChunks(ctx.req)) {
    total += chunk.byteLength;
    if (total > 1024 * 1024) throw new OciError('SIZE_INVALID', { message: 'unexpected request body' });
  }
}
