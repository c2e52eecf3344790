import { MediaType, isIndexMediaType, isManifestMediaType, type ManifestMediaType } from '../oci/media-types.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';

/** What the registry reads back from stored manifest bytes: enough to serve and to list referrers. */
export interface ManifestInfo {
  readonly mediaType: ManifestMediaType;
  readonly size: number;
  readonly subject?: Digest;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Digests of child manifests (indexes) and of config + layers (image manifests). */
  readonly children: readonly Digest[];
  readonly blobs: readonly Digest[];
}

/**
 * Reads stored manifest bytes leniently: content written by Distribution or another registry was
 * accepted there, so this never throws; what it cannot read is left out.
 */
export function readManifestInfo(body: Buffer): ManifestInfo {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = {};
  }
  const obj = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  const declared = typeof obj['mediaType'] === 'string' ? obj['mediaType'] : '';
  let mediaType: ManifestMediaType;
  if (isManifestMediaType(declared)) mediaType = declared;
  else mediaType = Array.isArray(obj['manifests']) ? MediaType.OciIndex : MediaType.OciManifest;

  const digestsOf = (value: unknown): Digest[] => {
    if (!Array.isArray(value)) return [];
    const out: Digest[] = [];
    for (const d of value) {
      const digest = descriptorDigest(d);
      if (digest !== undefined) out.push(digest);
    }
    return out;
  };
  const subject = descriptorDigest(obj['subject']);
  const config = obj['config'];
  let artifactType = typeof obj['artifactType'] === 'string' ? obj['artifactType'] : undefined;
  if (artifactType === undefined && !isIndexMediaType(mediaType) && typeof config === 'object' && config !== null) {
    const configType = (config as Record<string, unknown>)['mediaType'];
    if (typeof configType === 'string') artifactType = configType;
  }
  const annotations = readAnnotations(obj['annotations']);
  const info: { -readonly [K in keyof ManifestInfo]: ManifestInfo[K] } = {
    mediaType,
    size: body.byteLength,
    children: isIndexMediaType(mediaType) ? digestsOf(obj['manifests']) : [],
    blobs: isIndexMediaType(mediaType) ? [] : [...digestsOf([config]), ...digestsOf(obj['layers'])],
  };
  if (subject !== undefined) info.subject = subject;
  if (artifactType !== undefined) info.artifactType = artifactType;
  if (annotations !== undefined) info.annotations = annotations;
  return info;
}

function descriptorDigest(value: unknown): Digest | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const digest = (value as Record<string, unknown>)['digest'];
  return typeof digest === 'string' ? tryParseDigest(digest) : undefined;
}

function readAnnotations(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}
