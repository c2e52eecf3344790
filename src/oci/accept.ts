import { MediaType, isManifestMediaType, type ManifestMediaType } from './media-types.js';
import { tryParseDigest, type Digest } from './digest.js';

/** What to do with a stored manifest given the client's Accept header (pure). */
export type Negotiation = { readonly kind: 'serve' } | { readonly kind: 'default-platform' } | { readonly kind: 'not-acceptable' };

/**
 * Content negotiation for manifest GET/HEAD, as Distribution does it. A client that names no
 * manifest media type in Accept (no header, `*\/*`, `application/json`) gets the manifest as
 * stored. A client that names manifest types but not this one gets, for an index or manifest
 * list, the linux/amd64 image it contains (old Docker clients without list support), and
 * otherwise MANIFEST_UNKNOWN, since it could not parse what it asked for.
 */
export function negotiateManifest(accept: string | string[] | undefined, stored: ManifestMediaType): Negotiation {
  const types = acceptedTypes(accept);
  const named = types.filter(isManifestMediaType);
  if (named.length === 0 || named.includes(stored)) return { kind: 'serve' };
  if (types.includes('*/*') || types.includes('application/*')) return { kind: 'serve' };
  if (stored === MediaType.DockerManifestList && named.includes(MediaType.DockerManifest)) return { kind: 'default-platform' };
  if (stored === MediaType.OciIndex && named.includes(MediaType.OciManifest)) return { kind: 'default-platform' };
  return { kind: 'not-acceptable' };
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
