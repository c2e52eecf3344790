import { OciError } from './errors.js';
import { tryParseDigest, type Digest } from './digest.js';

/** A validated repository name, e.g. `library/ubuntu`. */
export type RepositoryName = string & { readonly __brand: 'RepositoryName' };
/** A validated tag, e.g. `v1.2.3`. */
export type Tag = string & { readonly __brand: 'Tag' };

/** Distribution's limit on a repository name (it keeps the name in a path and in references). */
export const MAX_NAME_LENGTH = 255;
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** True when `name` is a valid repository name per the distribution spec. */
export function isRepositoryName(name: string): name is RepositoryName {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  for (const component of name.split('/')) if (!COMPONENT.test(component)) return false;
  return true;
}

/** Parses a repository name from untrusted input; throws NAME_INVALID. */
export function parseRepositoryName(name: string): RepositoryName {
  if (isRepositoryName(name)) return name;
  throw new OciError('NAME_INVALID', { message: 'invalid repository name', detail: { name: name.slice(0, 300) } });
}

export function isTag(value: string): value is Tag {
  return TAG.test(value);
}

/** A manifest reference from a URL: a tag or a digest. */
export type ManifestReference = { readonly kind: 'tag'; readonly tag: Tag } | { readonly kind: 'digest'; readonly digest: Digest };

/** Parses `<reference>` of `/v2/<name>/manifests/<reference>`; throws MANIFEST_INVALID... as the spec's codes say. */
export function parseManifestReference(value: string): ManifestReference {
  if (value.includes(':')) {
    const digest = tryParseDigest(value);
    if (digest === undefined) {
      throw new OciError('DIGEST_INVALID', { message: 'invalid digest in manifest reference', detail: { reference: value.slice(0, 200) } });
    }
    return { kind: 'digest', digest };
  }
  if (!isTag(value)) {
    throw new OciError('TAG_INVALID', { message: 'invalid tag', detail: { tag: value.slice(0, 200) } });
  }
  return { kind: 'tag', tag: value };
}
