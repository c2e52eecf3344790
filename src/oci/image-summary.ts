/**
 * What the management API shows of stored manifests and image configs (pure, no I/O). Stored
 * content was accepted when pushed (by Berth or another registry), so these readers never throw:
 * what they cannot read is left out.
 */
import { tryParseDigest, type Digest } from './digest.js';
import { FOREIGN_LAYER_MEDIA_TYPES, MediaType, isIndexMediaType, isManifestMediaType } from './media-types.js';

/** A blob or manifest a manifest references. */
export interface ContentRef {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A child of an index, with its platform (`os/architecture[/variant]`) when the entry names one. */
export interface ChildRef extends ContentRef {
  readonly platform?: string;
  readonly artifactType?: string;
}

/** The parts of a manifest the management API reports and sizes. */
export interface ManifestFootprint {
  readonly mediaType: string;
  /** Bytes of the manifest itself. */
  readonly size: number;
  readonly artifactType?: string;
  readonly subject?: Digest;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly config?: ContentRef;
  readonly layers: readonly ContentRef[];
  /** Entries of an index ([] for an image manifest). */
  readonly children: readonly ChildRef[];
}

/** An image config's fields the UI shows (OCI image-spec config.md; Docker's config is the same JSON). */
export interface ImageConfigSummary {
  readonly os?: string;
  readonly architecture?: string;
  readonly variant?: string;
  readonly created?: string;
  readonly author?: string;
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly history?: ReadonlyArray<{ readonly created?: string; readonly createdBy?: string; readonly comment?: string; readonly emptyLayer?: boolean }>;
}

/** Config media types whose blob is an image config (os, architecture, history...). */
const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

export function isImageConfigType(mediaType: string): boolean {
  return IMAGE_CONFIG_TYPES.has(mediaType);
}

type Obj = Readonly<Record<string, unknown>>;

function asObject(value: unknown): Obj | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Obj) : undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function asStrings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v): v is string => typeof v === 'string') ? value : undefined;
}

function asStringMap(value: unknown): Record<string, string> | undefined {
  const obj = asObject(value);
  if (obj === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

function parseJson(body: Buffer): Obj {
  try {
    return asObject(JSON.parse(body.toString('utf8'))) ?? {};
  } catch {
    return {};
  }
}

/** `os/architecture[/variant]` of an OCI platform object; undefined when it names none (or `unknown/unknown`, an attestation). */
export function platformOf(value: unknown): string | undefined {
  const p = asObject(value);
  const os = asString(p?.['os']);
  const architecture = asString(p?.['architecture']);
  if (os === undefined || architecture === undefined || os === '' || architecture === '') return undefined;
  if (os === 'unknown' && architecture === 'unknown') return undefined;
  const variant = asString(p?.['variant']);
  return variant === undefined || variant === '' ? `${os}/${architecture}` : `${os}/${architecture}/${variant}`;
}

function contentRef(value: unknown): ContentRef | undefined {
  const d = asObject(value);
  const digest = tryParseDigest(asString(d?.['digest']) ?? '');
  const size = d?.['size'];
  if (d === undefined || digest === undefined || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  const ref: { -readonly [K in keyof ContentRef]: ContentRef[K] } = { digest, mediaType: asString(d['mediaType']) ?? '', size };
  const urls = asStrings(d['urls']);
  if (urls !== undefined && urls.length > 0) ref.urls = urls;
  const annotations = asStringMap(d['annotations']);
  if (annotations !== undefined) ref.annotations = annotations;
  return ref;
}

function childRef(value: unknown): ChildRef | undefined {
  const ref = contentRef(value);
  if (ref === undefined) return undefined;
  const d = value as Obj;
  const child: { -readonly [K in keyof ChildRef]: ChildRef[K] } = { ...ref };
  const platform = platformOf(d['platform']);
  if (platform !== undefined) child.platform = platform;
  const artifactType = asString(d['artifactType']);
  if (artifactType !== undefined) child.artifactType = artifactType;
  return child;
}

function refs<T>(value: unknown, read: (v: unknown) => T | undefined): T[] {
  if (!Array.isArray(value)) return [];
  const out: T[] = [];
  for (const v of value) {
    const r = read(v);
    if (r !== undefined) out.push(r);
  }
  return out;
}

/** Reads stored manifest bytes (any of the four manifest types; the type inferred when undeclared). */
export function readFootprint(body: Buffer): ManifestFootprint {
  const obj = parseJson(body);
  const declared = asString(obj['mediaType']) ?? '';
  const index = isManifestMediaType(declared) ? isIndexMediaType(declared) : Array.isArray(obj['manifests']);
  const mediaType = declared !== '' ? declared : index ? MediaType.OciIndex : MediaType.OciManifest;
  const f: { -readonly [K in keyof ManifestFootprint]: ManifestFootprint[K] } = {
    mediaType,
    size: body.byteLength,
    layers: index ? [] : refs(obj['layers'], contentRef),
    children: index ? refs(obj['manifests'], childRef) : [],
  };
  const config = index ? undefined : contentRef(obj['config']);
  if (config !== undefined) f.config = config;
  const artifactType = asString(obj['artifactType']) ?? config?.mediaType;
  if (artifactType !== undefined) f.artifactType = artifactType;
  const subject = contentRef(obj['subject'])?.digest;
  if (subject !== undefined) f.subject = subject;
  const annotations = asStringMap(obj['annotations']);
  if (annotations !== undefined) f.annotations = annotations;
  return f;
}

/** The blobs of an image manifest that are stored in the registry: its config and its layers but foreign ones (fetched from their URLs). */
export function storedBlobs(f: ManifestFootprint): ContentRef[] {
  const layers = f.layers.filter((l) => !(FOREIGN_LAYER_MEDIA_TYPES.includes(l.mediaType) && (l.urls?.length ?? 0) > 0));
  return f.config === undefined ? layers : [f.config, ...layers];
}

/** Reads an image config blob. */
export function readImageConfig(body: Buffer): ImageConfigSummary {
  const obj = parseJson(body);
  const config = asObject(obj['config']) ?? {};
  const out: { -readonly [K in keyof ImageConfigSummary]: ImageConfigSummary[K] } = {};
  const strings: Array<[keyof ImageConfigSummary, unknown]> = [
    ['os', obj['os']],
    ['architecture', obj['architecture']],
    ['variant', obj['variant']],
    ['created', obj['created']],
    ['author', obj['author']],
    ['workingDir', config['WorkingDir']],
    ['user', config['User']],
  ];
  for (const [key, value] of strings) {
    const s = asString(value);
    if (s !== undefined && s !== '') (out as Record<string, unknown>)[key] = s;
  }
  const entrypoint = asStrings(config['Entrypoint']);
  if (entrypoint !== undefined) out.entrypoint = entrypoint;
  const cmd = asStrings(config['Cmd']);
  if (cmd !== undefined) out.cmd = cmd;
  const env = asStrings(config['Env']);
  if (env !== undefined) out.env = env;
  const labels = asStringMap(config['Labels']);
  if (labels !== undefined) out.labels = labels;
  if (Array.isArray(obj['history'])) out.history = obj['history'].map(historyEntry);
  return out;
}

function historyEntry(value: unknown): { created?: string; createdBy?: string; comment?: string; emptyLayer?: boolean } {
  const h = asObject(value) ?? {};
  const out: { created?: string; createdBy?: string; comment?: string; emptyLayer?: boolean } = {};
  const created = asString(h['created']);
  if (created !== undefined) out.created = created;
  const createdBy = asString(h['created_by']);
  if (createdBy !== undefined) out.createdBy = createdBy;
  const comment = asString(h['comment']);
  if (comment !== undefined) out.comment = comment;
  if (h['empty_layer'] === true) out.emptyLayer = true;
  return out;
}

/** The platform of an image config, as `os/architecture[/variant]`. */
export function configPlatform(config: ImageConfigSummary): string | undefined {
  return platformOf(config);
}
