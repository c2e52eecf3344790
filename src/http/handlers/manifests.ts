import type { RequestContext } from '../context.js';
import { OciError } from '../../oci/errors.js';
import { isTag, parseManifestReference, type ManifestReference, type Tag } from '../../oci/reference.js';
import { parseDigest, type Digest } from '../../oci/digest.js';
import { baseMediaType } from '../../oci/media-types.js';
import { defaultPlatformChild, isAcceptable, negotiateManifest } from '../../oci/accept.js';
import { sendBytes, sendEmpty, urlFor } from '../respond.js';
import { repositoryOf } from './common.js';
import { bodyChunks } from '../request-body.js';
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
  let manifest = await repo.manifests.get(ref);
  const accept = ctx.req.headers.accept;
  const negotiation = negotiateManifest(accept, manifest.mediaType, ref.kind === 'tag');
  if (negotiation.kind === 'not-acceptable') {
    throw new OciError('MANIFEST_UNKNOWN', { message: `the manifest is ${manifest.mediaType}, which the Accept header does not allow`, detail: { mediaType: manifest.mediaType } });
  }
  if (negotiation.kind === 'default-platform') {
    // Only for a tag (negotiateManifest): a digest always names the stored bytes.
    const child = defaultPlatformChild(manifest.body);
    if (child === undefined) throw new OciError('MANIFEST_UNKNOWN', { message: 'the manifest list has no linux/amd64 image for a client that does not accept lists', detail: { mediaType: manifest.mediaType } });
    manifest = await repo.manifests.get({ kind: 'digest', digest: child });
    if (!isAcceptable(accept, manifest.mediaType)) {
      throw new OciError('MANIFEST_UNKNOWN', { message: `the manifest list's linux/amd64 image is ${manifest.mediaType}, which the Accept header does not allow`, detail: { mediaType: manifest.mediaType } });
    }
  }
  // A pull for retention's `pulledwithin` and the management API: GET only (a HEAD is a check, not a
  // use; docs/lifecycle.md), a 304 included (the client holds the image and uses it). In memory, O(1).
  if (ctx.method === 'GET') ctx.app.pullTimes?.record(repo.name, manifest.digest);
  const etag = `"${manifest.digest}"`;
  const headers = { 'Docker-Content-Digest': manifest.digest, ETag: etag };
  if (ifNoneMatch(ctx, etag)) {
    sendEmpty(ctx, 304, headers);
    return;
  }
  sendBytes(ctx, 200, manifest.mediaType, manifest.body, headers);
  // Bytes of a response body: a HEAD sends none, which only the HTTP layer knows.
  if (ctx.method === 'GET') ctx.app.metrics?.addBytes('pulled', manifest.body.byteLength);
}

/** The most `tag` parameters one manifest PUT may carry (the spec asks for at least 10); more is 414. */
export const MAX_TAGS_PER_PUT = 100;

/**
 * end-7: PUT /v2/<name>/manifests/<reference>, and end-7b: `?tag=a&tag=b` tags the pushed manifest
 * with every tag in one request, answered with one `OCI-Tag` header per tag applied. The tags are
 * checked before anything is read or stored: one invalid tag refuses the whole request.
 *
 * A push by tag of a manifest the client hashed with another algorithm (regctl's `?digest=` hint,
 * or a `Docker-Content-Digest` request header) is stored under that digest, exactly as a push by
 * that digest would be, then tagged; the answer carries that digest.
 */
export async function putManifest(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const ref = parseManifestReference(ctx.route.reference ?? '');
  const extraTags = tagParameters(ctx.query);
  const hint = ref.kind === 'tag' ? digestHint(ctx) : undefined;
  const body = await readBody(ctx, ctx.app.maxManifestBytes);
  const tags: Tag[] = ref.kind === 'tag' ? [ref.tag] : [];
  for (const tag of extraTags) if (!tags.includes(tag)) tags.push(tag);
  const claimed = ref.kind === 'digest' ? ref.digest : hint;
  const contentType = baseMediaType(ctx.req.headers['content-type']);
  const { digest, manifest } = await repo.manifests.put({ body, contentType, tags, ...(claimed !== undefined ? { digest: claimed } : {}) });
  ctx.log.debug({ digest, mediaType: manifest.mediaType, tags }, 'manifest pushed');
  const headers: Record<string, string | string[]> = {
    Location: urlFor(ctx, `/v2/${repo.name}/manifests/${digest}`),
    'Docker-Content-Digest': digest,
  };
  if (manifest.subject !== undefined) headers['OCI-Subject'] = manifest.subject.digest;
  if (extraTags.length > 0) headers['OCI-Tag'] = tags;
  sendEmpty(ctx, 201, headers);
}

/** The `tag` query parameters of a manifest PUT, each checked (TAG_INVALID), without duplicates. */
function tagParameters(query: URLSearchParams): Tag[] {
  const values = query.getAll('tag');
  if (values.length > MAX_TAGS_PER_PUT) {
    throw new OciError('TAG_INVALID', { status: 414, message: `at most ${MAX_TAGS_PER_PUT} tag parameters per request`, detail: { tags: values.length, limit: MAX_TAGS_PER_PUT } });
  }
  const tags: Tag[] = [];
  for (const value of values) {
    if (!isTag(value)) throw new OciError('TAG_INVALID', { message: 'invalid tag in a tag parameter', detail: { tag: value.slice(0, 200) } });
    if (!tags.includes(value)) tags.push(value);
  }
  return tags;
}

/**
 * The digest a client says it computed for a manifest it pushes by tag: the `digest` query
 * parameter (regctl, for sha512), else a `Docker-Content-Digest` request header. A malformed or
 * unsupported one is DIGEST_INVALID; one that does not match the body is refused as a push by
 * that digest would be.
 */
function digestHint(ctx: RequestContext): Digest | undefined {
  const param = ctx.query.get('digest');
  if (param !== null) return parseDigest(param);
  const header = ctx.req.headers['docker-content-digest'];
  if (typeof header === 'string' && header !== '') return parseDigest(header.trim());
  return undefined;
}

/** end-9: DELETE /v2/<name>/manifests/<reference>: by digest the manifest (and its tags), by tag only the tag. */
export async function deleteManifest(ctx: RequestContext): Promise<void> {
  const repo = repositoryOf(ctx);
  const ref = lookupReference(ctx);
  if (ref.kind === 'tag') await repo.tags.untag(ref.tag);
  else await repo.manifests.delete(ref.digest);
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
  for await (const buf of bodyChunks(ctx.req)) {
    total += buf.byteLength;
    if (total > max) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}
