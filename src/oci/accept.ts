import { MediaType, isManifestMediaType, type ManifestMediaType } from './media-types.js';
import { tryParseDigest, type Digest } from './digest.js';

/** What to do with a stored manifest given the client's Accept header (pure). */
export type Negotiation = { readonly kind: 'serve' } | { readonly kind: 'default-platform' } | { readonly kind: 'not-acceptable' };

/**
 * Content negotiation for manifest GET/HEAD, as Distribution (v3, and 2.8 without its schema 1
 * rewriting) does it:
 *
 * - a client that names no manifest media type (no header, `*\/*`, `application/json`), or names
 *   the stored one, gets the stored manifest;
 * - an OCI manifest or index the client does not name is MANIFEST_UNKNOWN: it could not parse it;
 * - a Docker manifest list requested *by tag* by a client that does not name lists gets the
 *   list's linux/amd64 image (old Docker clients); the handler must then check that the child's
 *   own type is acceptable (isAcceptable). By digest, the stored bytes are served: an answer to a
 *   digest is that digest's content or nothing;
 * - any other Docker schema 2 manifest or list is served as stored, as Distribution does.
 *
 * `byTag` says whether the request named a tag (only then may another manifest be served).
 */
export function negotiateManifest(accept: string | string[] | undefined, stored: ManifestMediaType, byTag: boolean): Negotiation {
  if (isAcceptable(accept, stored)) return { kind: 'serve' };
  if (stored === MediaType.OciManifest || stored === MediaType.OciIndex) return { kind: 'not-acceptable' };
  if (stored === MediaType.DockerManifestList && byTag) return { kind: 'default-platform' };
  return { kind: 'serve' };
}

/**
 * True when the Accept header lets the client take `type`: it names it, a wildcard, or no manifest type at all.
 * One pass over the header without splitting it (every manifest GET asks): linear in its length, however
 * many entries it has.
 */
export function isAcceptable(accept: string | string[] | undefined, type: ManifestMediaType): boolean {
  if (accept === undefined) return true;
  const header = Array.isArray(accept) ? accept.join(',') : accept;
  let namesManifest = false;
  let wildcard = false;
  // The next ';' at or after `start`, -1 once there is none left; searched again only when passed.
  let semicolon = header.indexOf(';');
  for (let start = 0; start <= header.length; ) {
    let end = header.indexOf(',', start);
    if (end === -1) end = header.length;
    if (semicolon !== -1 && semicolon < start) semicolon = header.indexOf(';', start);
    const t = header.slice(start, semicolon !== -1 && semicolon < end ? semicolon : end).trim().toLowerCase();
    if (t === type) return true;
    if (isManifestMediaType(t)) namesManifest = true;
    else if (t === '*/*' || t === 'application/*') wildcard = true;
    start = end + 1;
  }
  return !namesManifest || wildcard;
}

/** The media types in an Accept header (one header or several), lower-cased, without parameters. */
export function acceptedTypes(accept: string | string[] | undefined): string[] {
  if (accept === undefined) return [];
  const joined = Array.isArray(accept) ? accept.join(',') : accept;
  return joined
    .split(',')
    .map((t) => (t.split(';')[0] ?? '').trim().toLowerCase())
    .filter((t) => t !== '');
}

/** The digest of the linux/amd64 entry of an index body, if it has one. */
export function defaultPlatformChild(indexBody: Buffer): Digest | undefined {
  let json: unknown;
  try {
    json = JSON.parse(indexBody.toString('utf8'));
  } catch {
    return undefined;
  }
  const manifests = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['manifests'] : undefined;
  if (!Array.isArray(manifests)) return undefined;
  for (const entry of manifests) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { platform, digest } = entry as Record<string, unknown>;
    if (typeof platform !== 'object' || platform === null || typeof digest !== 'string') continue;
    const p = platform as Record<string, unknown>;
    if (p['os'] === 'linux' && p['architecture'] === 'amd64') return tryParseDigest(digest);
  }
  return undefined;
}
