/**
 * A tiny image held in memory (layer, config, OCI manifest) for workloads that populate a
 * registry through the API or on disk, and the Accept header real clients send for manifests.
 */
import { createHash, randomBytes } from 'node:crypto';

/** An OCI image manifest's media type. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** What containerd sends when it resolves a tag: every manifest and index type, then anything. */
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  '*/*',
].join(', ');

/** A blob and its digest. */
export interface Blob {
  readonly bytes: Buffer;
  readonly digest: string;
}

/** One image: a layer, its config, and the manifest naming both. */
export interface TinyImage {
  readonly layer: Blob;
  readonly config: Blob;
  readonly manifest: Blob;
}

function blob(bytes: Buffer): Blob {
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

/**
 * Builds an image whose single layer is `layerBytes` of the given content (random when
 * omitted). Registries do not look inside layers or configs, so neither is a real tar or a
 * complete config; the manifest is a valid OCI image manifest.
 */
export function tinyImage(layerBytes: number, content: Buffer = randomBytes(layerBytes)): TinyImage {
  const layer = blob(content);
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.bytes.byteLength },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.bytes.byteLength }],
      }),
    ),
  );
  return { layer, config, manifest };
}
