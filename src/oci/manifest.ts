import { z } from 'zod';
import { OciError } from './errors.js';
import { tryParseDigest, type Digest } from './digest.js';
import { MediaType, FOREIGN_LAYER_MEDIA_TYPES, isValidMediaType, type ManifestMediaType } from './media-types.js';

/** A content descriptor as it appears in manifests and indexes. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly artifactType?: string;
  readonly platform?: unknown;
}

/** What the registry needs to know of a manifest: its kind, what it references and its subject. */
export interface ParsedManifest {
  readonly mediaType: ManifestMediaType;
  /** Blobs that must exist in the repository (config and layers; foreign layers excluded). */
  readonly blobs: readonly Descriptor[];
  /** Every layer of an image manifest, foreign ones included ([] for an index): what carries `urls`. */
  readonly layers: readonly Descriptor[];
  /** Manifests that must exist in the repository (children of an index). */
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  /** artifactType, or for an image manifest the config media type: what the referrers API reports. */
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

const digestSchema = z.string().refine((s) => tryParseDigest(s) !== undefined, { message: 'invalid digest' });
const mediaTypeSchema = z.string().refine(isValidMediaType, { message: 'invalid media type' });
const annotationsSchema = z.record(z.string(), z.string());

const descriptorSchema = z.object({
  mediaType: mediaTypeSchema,
  digest: digestSchema,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  urls: z.array(z.string()).optional(),
  annotations: annotationsSchema.optional(),
  artifactType: mediaTypeSchema.optional(),
  platform: z.unknown().optional(),
  data: z.string().optional(),
});

const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: mediaTypeSchema.optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: mediaTypeSchema.optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});

type RawDescriptor = z.infer<typeof descriptorSchema>;

function toDescriptor(raw: RawDescriptor): Descriptor {
  const d: { -readonly [K in keyof Descriptor]: Descriptor[K] } = {
    mediaType: raw.mediaType,
    digest: raw.digest as Digest,
    size: raw.size,
  };
  if (raw.urls !== undefined) d.urls = raw.urls;
  if (raw.annotations !== undefined) d.annotations = raw.annotations;
  if (raw.artifactType !== undefined) d.artifactType = raw.artifactType;
  if (raw.platform !== undefined) d.platform = raw.platform;
  return d;
}

function invalid(message: string, detail?: unknown): OciError {
  return new OciError('MANIFEST_INVALID', { message, detail });
}

/**
 * Parses manifest bytes sent with `contentType` (the request's Content-Type, already stripped of
 * parameters). Throws MANIFEST_INVALID for malformed JSON, an unknown or mismatched media type,
 * schema 1 manifests, or a structure that does not match the media type.
 */
export function parseManifest(body: Buffer, contentType: string): ParsedManifest {
  const obj = parseJsonObject(body);
  const declared = typeof obj['mediaType'] === 'string' ? obj['mediaType'] : undefined;
  const mediaType = effectiveMediaType(obj, declared, contentType);
  switch (mediaType) {
    case MediaType.OciManifest:
    case MediaType.DockerManifest:
      return parseImageManifest(obj, mediaType, declared);
    case MediaType.OciIndex:
    case MediaType.DockerManifestList:
      return parseIndex(obj, mediaType);
    default:
      throw invalid('unsupported manifest media type', { mediaType: mediaType.slice(0, 200) });
  }
}

/** The manifest body as a JSON object; MANIFEST_INVALID when it is not JSON or not an object. */
function parseJsonObject(body: Buffer): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('manifest must be a JSON object');
  return json as Record<string, unknown>;
}

/**
 * The media type to parse the manifest as: the one `declared` in the body, which the Content-Type
 * header must then agree with (spec: MUST match), else the header's, else inferred from the
 * structure. MANIFEST_INVALID for schema 1 and for a body and header that disagree.
 */
function effectiveMediaType(obj: Record<string, unknown>, declared: string | undefined, contentType: string): string {
  if (obj['schemaVersion'] === 1 || contentType === MediaType.DockerSchema1 || contentType === MediaType.DockerSchema1Signed) {
    throw invalid('schema 1 manifests are not supported: push with schema 2 or OCI (e.g. skopeo --format v2s2)');
  }
  const mediaType = declared ?? contentType;
  if (declared !== undefined && contentType !== '' && contentType !== declared) {
    throw invalid('manifest mediaType does not match the Content-Type header', { mediaType: declared, contentType });
  }
  if (mediaType === '' || mediaType === 'application/json' || mediaType === 'application/octet-stream') {
    // An OCI manifest may omit mediaType; infer it from the structure.
    return 'manifests' in obj ? MediaType.OciIndex : MediaType.OciManifest;
  }
  return mediaType;
}

/** An OCI image manifest or Docker schema 2 manifest (which must declare its media type). */
function parseImageManifest(obj: Record<string, unknown>, mediaType: typeof MediaType.OciManifest | typeof MediaType.DockerManifest, declared: string | undefined): ParsedManifest {
  const result = imageManifestSchema.safeParse(obj);
  if (!result.success) throw invalid('invalid image manifest', describeIssues(result.error));
  const m = result.data;
  if (mediaType === MediaType.DockerManifest && declared === undefined) {
    throw invalid('Docker schema 2 manifests must declare their mediaType');
  }
  const config = toDescriptor(m.config);
  const layers = m.layers.map(toDescriptor);
  const parsed: { -readonly [K in keyof ParsedManifest]: ParsedManifest[K] } = {
    mediaType,
    blobs: [config, ...layers.filter((l) => !isForeign(l))],
    layers,
    manifests: [],
    artifactType: m.artifactType ?? config.mediaType,
  };
  if (m.subject !== undefined) parsed.subject = toDescriptor(m.subject);
  if (m.annotations !== undefined) parsed.annotations = m.annotations;
  return parsed;
}

/** An OCI image index or Docker manifest list. */
function parseIndex(obj: Record<string, unknown>, mediaType: typeof MediaType.OciIndex | typeof MediaType.DockerManifestList): ParsedManifest {
  const result = indexSchema.safeParse(obj);
  if (!result.success) throw invalid('invalid image index', describeIssues(result.error));
  const m = result.data;
  const parsed: { -readonly [K in keyof ParsedManifest]: ParsedManifest[K] } = {
    mediaType,
    blobs: [],
    layers: [],
    manifests: m.manifests.map(toDescriptor),
  };
  if (m.artifactType !== undefined) parsed.artifactType = m.artifactType;
  if (m.subject !== undefined) parsed.subject = toDescriptor(m.subject);
  if (m.annotations !== undefined) parsed.annotations = m.annotations;
  return parsed;
}

function isForeign(d: Descriptor): boolean {
  return FOREIGN_LAYER_MEDIA_TYPES.includes(d.mediaType) && (d.urls?.length ?? 0) > 0;
}

function describeIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.slice(0, 10).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}
