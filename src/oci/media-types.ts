/** Manifest media types Berth stores and serves. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export type ManifestMediaType =
  | typeof MediaType.OciManifest
  | typeof MediaType.OciIndex
  | typeof MediaType.DockerManifest
  | typeof MediaType.DockerManifestList;

export const MANIFEST_MEDIA_TYPES: readonly ManifestMediaType[] = [
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
];

export function isManifestMediaType(value: string): value is ManifestMediaType {
  return (MANIFEST_MEDIA_TYPES as readonly string[]).includes(value);
}

export function isIndexMediaType(value: string): boolean {
  return value === MediaType.OciIndex || value === MediaType.DockerManifestList;
}

/** Media types of layers that live elsewhere (their `urls`), which a registry need not hold. */
export const FOREIGN_LAYER_MEDIA_TYPES: readonly string[] = [
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
];

/** A media type as the spec's grammar allows (RFC 6838 type/subtype, no parameters). */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isValidMediaType(value: string): boolean {
  return MEDIA_TYPE.test(value);
}

/** The media type of a Content-Type header, lower-cased and without parameters. */
export function baseMediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
