import type { RequestContext } from '../context.js';
import { OciError } from '../../oci/errors.js';
import { parseManifestReference, type ManifestReference } from '../../oci/reference.js';
import { baseMediaType } from '../../oci/media-types.js';
import { defaultPlatformChild, negotiateManifest } from '../../oci/accept.js';
import { sendBytes, sendEmpty, urlFor } from '../respond.js';
import { manifestReferences } from '../../notifications/bridge.js';
import { parseManifest } from '../../oci/manifest.js';
import { repositoryOf } from './common.js';
import { ifNoneMatch } from './blobs.js';

/**
 * A reference to look up (GET, HEAD, DELETE): one that cannot name a tag cannot name anything
 * stored either, so it is unknown (404), as Distribution and the conformance suite expect.
 */
function lookupReference(ctx: RequestContext): ManifestReference {
  try {
    return parseManifestReference(ctx.route.reference ?? '');
  } catch (err) {
    if (err instanceof OciError && err.code === 'TAG_INVALID') throw new OciError('MANIFEST_UNKNOWN', { detail: err.detail });
    throw err;
  }
}

/** end-3: GET/HEAD /v2/<name>/manifests/<reference>. */
export async function getManifest(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const ref = lookupReference(ctx);
  let manifest = await repo.getManifest(ref);
  const negotiation = negotiateManifest(ctx.req.headers.accept, manifest.mediaType);
  if (negotiation.kind === 'not-acceptable') {
    throw new OciError('MANIFEST_UNKNOWN', { message: `the manifest is ${manifest.mediaType}, which the Accept header does not allow`, detail: { mediaType: manifest.mediaType } });
  }
  if (negotiation.kind === 'default-platform') {
    const child = defaultPlatformChild(manifest.body);
    if (child === undefined) throw new OciError('MANIFEST_UNKNOWN', { message: 'the index has no linux/amd64 image for a client that does not accept indexes' });
    manifest = await repo.getManifest({ kind: 'digest', digest: child });
  }
  const etag = `"${manifest.digest}"`;
  const headers = { 'Docker-Content-Digest': manifest.digest, ETag: etag };
  if (ifNoneMatch(ctx, etag)) {
    sendEmpty(ctx, 304, headers);
    return;
  }
  sendBytes(ctx, 200, manifest.mediaType, manifest.body, headers);
  if (ctx.method === 'GET') ctx.app.metrics?.addBytes('pulled', manifest.body.byteLength);
  const served = manifest;
  // Distribution emits a pull for GET and HEAD alike (not for a 304).
  ctx.events?.manifestPulled(repo.name, {
    digest: served.digest,
    mediaType: served.mediaType,
    size: served.body.byteLength,
    tag: ref.kind === 'tag' ? ref.tag : undefined,
    references: () => manifestReferences(parseManifest(served.body, served.mediaType)),
  });
}

/** end-7: PUT /v2/<name>/manifests/<reference>. */
export async function putManifest(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const ref = parseManifestReference(ctx.route.reference ?? '');
  const body = await readBody(ctx, ctx.app.maxManifestBytes);
  const { digest, manifest } = await repo.putManifest(ref, body, baseMediaType(ctx.req.headers['content-type']));
  await ctx.app.registry.noteRepository(repo.name);
  ctx.log.debug({ digest, mediaType: manifest.mediaType }, 'manifest pushed');
  const headers: Record<string, string> = {
    Location: urlFor(ctx, `/v2/${repo.name}/manifests/${digest}`),
    'Docker-Content-Digest': digest,
  };
  if (manifest.subject !== undefined) headers['OCI-Subject'] = manifest.subject.digest;
  sendEmpty(ctx, 201, headers);
  ctx.app.metrics?.addBytes('pushed', body.byteLength);
  ctx.events?.manifestPushed(repo.name, {
    digest,
    mediaType: manifest.mediaType,
    size: body.byteLength,
    tag: ref.kind === 'tag' ? ref.tag : undefined,
    references: () => manifestReferences(manifest),
  });
}

/** end-9: DELETE /v2/<name>/manifests/<reference>: by digest the manifest (and its tags), by tag only the tag. */
export async function deleteManifest(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const ref = lookupReference(ctx);
  if (ref.kind === 'tag') {
    await repo.deleteTag(ref.tag);
    ctx.events?.tagDeleted(repo.name, ref.tag);
  } else {
    const tags = await repo.deleteManifest(ref.digest);
    ctx.events?.manifestDeleted(repo.name, ref.digest);
    for (const tag of tags) ctx.events?.tagDeleted(repo.name, tag);
  }
  sendEmpty(ctx, 202);
}

/**
 * Reads a small request body into memory, refusing more than `max` bytes (413) before reading
 * when Content-Length says so, or as soon as the stream passes the limit.
 */
export async function readBody(ctx: RequestContext, max: number): Promise<Buffer> {
  const declared = ctx.req.headers['content-length'];
  const tooLarge = (): OciError =>
    new OciError('MANIFEST_INVALID', { status: 413, message: `manifest exceeds the ${max} byte limit`, detail: { limit: max } });
  if (declared !== undefined && Number(declared) > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req) {
    const buf = chunk as Buffer;
    total += buf.byteLength;
    if (total > max) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}
