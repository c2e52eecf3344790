/**
 * Test images built as OCI image layout directories (image-spec `image-layout.md`), with no
 * external tool: real ustar archives of random files, gzipped with node:zlib, an image config
 * whose rootfs.diff_ids are the uncompressed tars' digests, an image manifest, and for the
 * multi-platform variant an image index. skopeo reads them as `oci:<dir>:<ref>`.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** OCI and Docker media types the helpers and tests use. */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** The annotation index.json uses to name an image (what `oci:<dir>:<ref>` looks up). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** An OCI platform, as in an image index. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** How {@link buildImageLayout} and {@link buildIndexLayout} make images. */
export interface ImageOptions {
  /** Layers per image (default 2). */
  layers?: number;
  /** Bytes of random file content per layer, before tar and gzip (default 64 KiB). */
  layerSize?: number;
  /** Files per layer, sharing `layerSize` (default 3). */
  filesPerLayer?: number;
  /** Same seed, same bytes, same digests; without one every call makes new content. */
  seed?: string;
  /** The ref name annotated in index.json (default `latest`). */
  ref?: string;
}

/** One image manifest with its config and layers, as written into a layout. */
export interface BuiltImage {
  /** The manifest's descriptor (digest, size, media type; platform inside an index). */
  manifest: Descriptor;
  /** The manifest's exact bytes. */
  manifestBytes: Buffer;
  /** The config blob's descriptor. */
  config: Descriptor;
  /** The compressed layers' descriptors, in order. */
  layers: Descriptor[];
  /** sha256 of each uncompressed layer tar (the config's rootfs.diff_ids). */
  diffIds: string[];
  /** The platform the config declares. */
  platform: Platform;
}

/** A layout holding one image, from {@link buildImageLayout}. */
export interface ImageLayout extends BuiltImage {
  /** The layout directory. */
  layoutDir: string;
  /** The ref name annotated in index.json. */
  ref: string;
  /** The manifest digest (same as `manifest.digest`). */
  digest: string;
  /** Every blob digest in the layout: manifest, config, layers. */
  blobs: string[];
}

/** A layout holding an image index of several platforms, from {@link buildIndexLayout}. */
export interface IndexLayout {
  /** The layout directory. */
  layoutDir: string;
  /** The ref name annotated in index.json (on the index's descriptor). */
  ref: string;
  /** The image index's digest. */
  digest: string;
  /** The index's descriptor. */
  index: Descriptor;
  /** The index's exact bytes. */
  indexBytes: Buffer;
  /** One image per platform, in index order. */
  images: BuiltImage[];
  /** Every blob digest in the layout: index, manifests, configs, layers. */
  blobs: string[];
}

/** The platforms {@link buildIndexLayout} builds by default. */
export const DEFAULT_PLATFORMS: readonly Platform[] = [
  { architecture: 'amd64', os: 'linux' },
  { architecture: 'arm64', os: 'linux', variant: 'v8' },
];

const FIXED_TIME = '2024-01-01T00:00:00Z';
const FIXED_MTIME = Date.parse(FIXED_TIME) / 1000;

/** sha256 digest string (`sha256:<hex>`) of some bytes. */
export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** sha256 digest string of a file's content, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** A source of content bytes: random, or a deterministic stream when seeded. */
interface ByteSource {
  take(n: number): Buffer;
}

function byteSource(seed: string | undefined): ByteSource {
  if (seed === undefined) return { take: (n) => randomBytes(n) };
  // AES-256-CTR keystream keyed by the seed: fast, and the same seed gives the same bytes.
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16));
  return { take: (n) => cipher.update(Buffer.alloc(n)) };
}

// ---- a minimal ustar writer (POSIX.1-1988 "ustar" headers, 512-byte blocks) ----

const BLOCK = 512;

/** A file or directory to put in a tar archive. */
export interface TarEntry {
  name: string;
  /** Content for a regular file; a directory when absent. */
  data?: Buffer;
}

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: "${value}" does not fit in ${length} bytes`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits, zero-padded, then NUL.
  writeString(header, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function tarHeader(entry: TarEntry): Buffer {
  const header = Buffer.alloc(BLOCK);
  const isDir = entry.data === undefined;
  writeString(header, 0, 100, entry.name);
  writeOctal(header, 100, 8, isDir ? 0o755 : 0o644);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, entry.data?.length ?? 0);
  writeOctal(header, 136, 12, FIXED_MTIME);
  header.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  writeString(header, 156, 1, isDir ? '5' : '0');
  writeString(header, 257, 6, 'ustar\0');
  writeString(header, 263, 2, '00');
  writeString(header, 265, 32, 'root');
  writeString(header, 297, 32, 'root');
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** Builds a tar archive (uncompressed) of the entries, ending with two zero blocks. */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(tarHeader(entry));
    if (entry.data !== undefined) {
      parts.push(entry.data);
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

// ---- layout writing ----

async function writeBlob(layoutDir: string, data: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(data);
  await writeFile(join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
  return { mediaType, digest, size: data.length };
}

async function initLayout(layoutDir: string): Promise<void> {
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

async function writeIndexJson(layoutDir: string, top: Descriptor, ref: string): Promise<void> {
  const index = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [{ ...top, annotations: { [REF_NAME_ANNOTATION]: ref } }],
  };
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify(index));
}

function positive(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new Error(`images: ${name} must be an integer >= ${min}`);
  return value;
}

async function writeImage(layoutDir: string, options: ImageOptions, platform: Platform, source: ByteSource): Promise<BuiltImage> {
  const layerCount = positive('layers', options.layers ?? 2, 1);
  const layerSize = positive('layerSize', options.layerSize ?? 64 * 1024, 0);
  const filesPerLayer = positive('filesPerLayer', options.filesPerLayer ?? 3, 1);

  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < layerCount; i++) {
    const entries: TarEntry[] = [{ name: `layer-${i}/` }];
    for (let f = 0; f < filesPerLayer; f++) {
      const size = Math.floor(layerSize / filesPerLayer) + (f < layerSize % filesPerLayer ? 1 : 0);
      entries.push({ name: `layer-${i}/file-${f}.bin`, data: source.take(size) });
    }
    const tar = tarArchive(entries);
    diffIds.push(sha256(tar));
    layers.push(await writeBlob(layoutDir, gzipSync(tar), MediaTypes.ociLayerGzip));
  }

  const configJson = {
    created: FIXED_TIME,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    config: {
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
      Cmd: ['/bin/sh'],
      // Makes configs differ between calls even with zero-sized layers.
      Labels: { 'org.berth.test.nonce': source.take(8).toString('hex') },
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: FIXED_TIME, created_by: `berth test helper: layer ${i}` })),
  };
  const config = await writeBlob(layoutDir, Buffer.from(JSON.stringify(configJson)), MediaTypes.ociConfig);

  const manifestBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers }),
  );
  const manifest = await writeBlob(layoutDir, manifestBytes, MediaTypes.ociManifest);
  return { manifest, manifestBytes, config, layers, diffIds, platform };
}

/**
 * Writes an OCI image layout at `layoutDir` (created if missing) holding one linux/amd64
 * image, named `options.ref` in index.json. Content is random per call unless `options.seed`
 * is given.
 */
export async function buildImageLayout(layoutDir: string, options: ImageOptions = {}): Promise<ImageLayout> {
  const ref = options.ref ?? 'latest';
  await initLayout(layoutDir);
  const image = await writeImage(layoutDir, options, { architecture: 'amd64', os: 'linux' }, byteSource(options.seed));
  await writeIndexJson(layoutDir, image.manifest, ref);
  return {
    ...image,
    layoutDir,
    ref,
    digest: image.manifest.digest,
    blobs: [image.manifest.digest, image.config.digest, ...image.layers.map((l) => l.digest)],
  };
}

/**
 * Writes an OCI image layout at `layoutDir` (created if missing) holding a multi-platform
 * image: an OCI image index (named `options.ref` in index.json) of one image per platform
 * (default linux/amd64 and linux/arm64/v8), each with its own config and layers.
 */
export async function buildIndexLayout(
  layoutDir: string,
  options: ImageOptions & { platforms?: readonly Platform[] } = {},
): Promise<IndexLayout> {
  const ref = options.ref ?? 'latest';
  const platforms = options.platforms ?? DEFAULT_PLATFORMS;
  await initLayout(layoutDir);
  const images: BuiltImage[] = [];
  for (const platform of platforms) {
    const seed = options.seed === undefined ? undefined : `${options.seed}/${platform.os}/${platform.architecture}`;
    const image = await writeImage(layoutDir, options, platform, byteSource(seed));
    image.manifest = { ...image.manifest, platform };
    images.push(image);
  }
  const indexBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: images.map((i) => i.manifest) }),
  );
  const index = await writeBlob(layoutDir, indexBytes, MediaTypes.ociIndex);
  await writeIndexJson(layoutDir, index, ref);
  return {
    layoutDir,
    ref,
    digest: index.digest,
    index,
    indexBytes,
    images,
    blobs: [
      index.digest,
      ...images.flatMap((i) => [i.manifest.digest, i.config.digest, ...i.layers.map((l) => l.digest)]),
    ],
  };
}

// ---- reading layouts back (e.g. what skopeo pulled) ----

/**
 * Checks that every file under `<layoutDir>/blobs/<alg>/` hashes to its name. Resolves with
 * the digests found (sorted); rejects naming the first file whose content does not match.
 */
export async function verifyLayoutBlobs(layoutDir: string): Promise<string[]> {
  const dir = join(layoutDir, 'blobs', 'sha256');
  const digests: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const actual = await sha256File(join(dir, name));
    if (actual !== `sha256:${name}`) throw new Error(`layout blob ${join(dir, name)} has content ${actual}`);
    digests.push(actual);
  }
  return digests;
}

/** Reads a blob of a layout. Rejects when it is missing. */
export function readLayoutBlob(layoutDir: string, digest: string): Promise<Buffer> {
  const [alg, hex] = digest.split(':');
  if (alg === undefined || hex === undefined) throw new Error(`not a digest: ${digest}`);
  return readFile(join(layoutDir, 'blobs', alg, hex));
}

/**
 * The descriptor index.json gives for `ref` (or its only entry when `ref` is omitted).
 * Rejects when there is no such entry.
 */
export async function readLayoutRef(layoutDir: string, ref?: string): Promise<Descriptor> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  const manifests = index.manifests ?? [];
  const found =
    ref === undefined
      ? manifests.length === 1
        ? manifests[0]
        : undefined
      : manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === ref);
  if (found === undefined) {
    throw new Error(`${layoutDir}/index.json has no ${ref === undefined ? 'single entry' : `entry named ${ref}`}`);
  }
  return found;
}

/** An image manifest's parts, parsed (the fields the tests compare). */
export interface ParsedManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** An image index, parsed (the fields the tests compare). */
export interface ParsedIndex {
  mediaType?: string;
  manifests: Descriptor[];
}

/** Parses manifest bytes into its config and layers; throws when they are not an image manifest. */
export function parseManifest(bytes: Uint8Array | string): ParsedManifest {
  const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<ParsedManifest>;
  if (value.config === undefined || !Array.isArray(value.layers)) throw new Error('not an image manifest');
  return { mediaType: value.mediaType, config: value.config, layers: value.layers };
}

/** Parses index bytes into its manifests; throws when they are not an index / manifest list. */
export function parseIndex(bytes: Uint8Array | string): ParsedIndex {
  const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<ParsedIndex>;
  if (!Array.isArray(value.manifests)) throw new Error('not an image index');
  return { mediaType: value.mediaType, manifests: value.manifests };
}
